//! `licet server …` against a real licet-server (its router, on a loopback port, over a real
//! sled store), as a vendor drives it with `LICET_URL` and `LICET_API_KEY`.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use licet_issuer::{KeySpec, SigningKey};
use licet_server::SledStore;
use licet_server::clock::SystemClock;
use licet_server::keys::ServerKeys;
use licet_server::{AppState, Config};
use serde_json::{Value, json};

/// Starts the server on a free port in a background thread; returns its URL and admin key.
fn start_server(dir: &Path) -> (String, String) {
    start_server_with(dir, None)
}

/// As [`start_server`], serving HTTPS with `tls` when given.
fn start_server_with(
    dir: &Path,
    tls: Option<Arc<licet_server::tls::Certificates>>,
) -> (String, String) {
    let keys = ServerKeys::new(
        SigningKey::generate(KeySpec::Ed25519).expect("ed25519"),
        SigningKey::generate(KeySpec::RsaPkcs1(2048)).expect("rsa"),
    )
    .expect("keys");
    let store = SledStore::open(&dir.join("db")).expect("store");
    let state = AppState::new(
        Arc::new(store),
        Arc::new(keys),
        Arc::new(SystemClock),
        Config {
            data: dir.to_path_buf(),
            ..Config::default()
        },
    )
    .expect("state")
    // As licet-server on sled keeps them: rotated token keys are files of the data directory.
    .with_key_source(licet_server::keys::ring::KeySource::Files(
        dir.to_path_buf(),
    ));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // As licet-server starts: the root secret taken up (made on first start), then the key.
    rt.block_on(state.tokens.take_up_root())
        .expect("root secret");
    // The vendor's public key as an application ships it: a file of its own, pinned.
    std::fs::write(
        dir.join("pinned.pem"),
        state.tokens.keys().token.public_key().to_spki_pem(),
    )
    .expect("pinned key");
    let admin = rt
        .block_on(licet_server::bootstrap_admin_key(&state))
        .expect("bootstrap")
        .expect("key");
    let https = tls.is_some();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let timeouts = licet_server::serve::Timeouts::of(&state.config);
            licet_server::serve::serve(
                listener,
                licet_server::app(state),
                timeouts,
                tls.map(|t| t.acceptor().expect("acceptor")),
                std::future::pending(),
            )
            .await
            .expect("serve");
        });
    });
    let scheme = if https { "https" } else { "http" };
    (format!("{scheme}://{addr}"), admin)
}

struct Cli<'a> {
    url: &'a str,
    key: &'a str,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_licet"))
            .arg("server")
            .args(args)
            .env("LICET_URL", self.url)
            .env("LICET_API_KEY", self.key)
            .output()
            .expect("licet runs")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let o = self.run(&all);
        assert!(
            o.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).expect("json")
    }
}

#[test]
fn manage_a_server_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let (url, admin) = start_server(dir.path());
    let cli = Cli {
        url: &url,
        key: &admin,
    };

    let product = cli.json(&[
        "products", "create", "--code", "acme-pro", "--name", "Acme Pro",
    ]);
    let pid = product["id"].as_str().expect("id");
    cli.json(&[
        "policies",
        "create",
        "--product",
        pid,
        "--name",
        "std",
        "--max-machines",
        "2",
        "--days",
        "30",
        "--entitlement",
        "pro",
    ]);
    let list = cli.json(&["products", "list"]);
    assert_eq!(list["items"][0]["code"], "acme-pro");
    assert_eq!(
        list["items"][0]["numeric_id"], 1,
        "the FaxStore-style numeric alias"
    );
    let bound = cli.json(&["licenses", "create", "--product", pid, "--ip", "10.0.0.1"]);
    assert_eq!(bound["ip"], "10.0.0.1");

    let license = cli.json(&[
        "licenses",
        "create",
        "--product",
        pid,
        "--domain",
        "example.com",
    ]);
    let lid = license["id"].as_str().expect("id");
    assert_eq!(license["status"], "active");
    let bulk = cli.json(&[
        "licenses",
        "create",
        "--product",
        pid,
        "--count",
        "3",
        "--kind",
        "trial",
    ]);
    assert_eq!(bulk["created"], 3);
    let all = cli.json(&["licenses", "list", "--product", pid]);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(5));
    // A product's code works wherever its id does; an unknown one is named.
    let by_code = cli.json(&["licenses", "create", "--product", "acme-pro"]);
    assert_eq!(by_code["product_id"], pid, "{by_code}");
    let all = cli.json(&["licenses", "list", "--product", "acme-pro"]);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(6));
    let o = cli.run(&["licenses", "create", "--product", "acme-nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("acme-nope"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Without --json, times read as RFC 3339, not unix seconds.
    let shown = cli.run(&["licenses", "show", by_code["id"].as_str().expect("id")]);
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    let created = by_code["created_at"].as_i64().expect("created_at");
    let rfc = chrono::DateTime::from_timestamp(created, 0)
        .expect("time")
        .to_rfc3339();
    assert!(text.contains(&format!("created_at: {rfc}")), "{text}");

    assert_eq!(
        cli.json(&["licenses", "suspend", lid])["status"],
        "suspended"
    );
    assert_eq!(
        cli.json(&["licenses", "reinstate", lid])["status"],
        "active"
    );
    assert_eq!(cli.json(&["licenses", "revoke", lid])["status"], "revoked");
    assert_eq!(cli.json(&["licenses", "show", lid])["status"], "revoked");

    // The server's refusal: exit 1 with its code.
    let o = cli.run(&["licenses", "reinstate", lid]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("refused: revoked"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = cli.run(&["licenses", "show", "lic_missing"]);
    assert_eq!(o.status.code(), Some(1));

    let machines = cli.json(&["machines", "list", lid]);
    assert_eq!(machines["items"].as_array().map(Vec::len), Some(0));

    // Keys: a read-only key cannot create; revoked keys stop working.
    let ro = cli.json(&["api-keys", "create", "--name", "ro", "--scope", "read_only"]);
    let ro_key = ro["key"].as_str().expect("key");
    let ro_cli = Cli {
        url: &url,
        key: ro_key,
    };
    assert_eq!(
        ro_cli.json(&["products", "list"])["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let o = ro_cli.run(&["products", "create", "--code", "x", "--name", "x"]);
    assert_eq!(o.status.code(), Some(1));
    let o = cli.run(&["api-keys", "revoke", ro["id"].as_str().expect("id")]);
    assert!(o.status.success());
    assert_eq!(ro_cli.run(&["products", "list"]).status.code(), Some(1));

    // The signing keys: one token key, then a rotation, kept as a private file of the data
    // directory; the old key is still published, as retiring.
    let before = cli.json(&["keys", "list"]);
    let first = before["keys"][0]["kid"].as_str().expect("kid").to_owned();
    // The public key a vendor embeds: shown in the list, exported as PEM without an API key.
    let pem = before["keys"][0]["public_key_pem"].as_str().expect("pem");
    let listed = String::from_utf8_lossy(&cli.run(&["keys", "list"]).stdout).into_owned();
    let one_line: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(listed.contains(&one_line), "{listed}");
    let exported = dir.path().join("vendor.pem");
    let o = Command::new(env!("CARGO_BIN_EXE_licet"))
        .args(["server", "keys", "export", "--pem", "--out"])
        .arg(&exported)
        .env("LICET_URL", &url)
        .env_remove("LICET_API_KEY")
        .output()
        .expect("licet runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&exported).expect("pem"), pem);
    assert_eq!(before["keys"][0]["status"], "active");
    assert_eq!(
        ro_cli.run(&["keys", "rotate"]).status.code(),
        Some(1),
        "a revoked key rotates nothing"
    );
    let rotated = cli.json(&["keys", "rotate"]);
    assert_eq!(rotated["generation"], 1);
    assert_eq!(rotated["previous"]["kid"], json!(first));
    let file = dir.path().join("token-ed25519.1.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("the new key's file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The root secret: a private file of the data directory beside the keys, rotated on its
    // own into the next one.
    let rooted = cli.json(&["keys", "rotate-root"]);
    let version = rooted["version"].as_u64().expect("version");
    assert!(version >= 2, "{rooted}");
    #[cfg(unix)]
    for v in [version - 1, version] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(format!("root-secret.{v}")))
            .expect("the root secret's file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let o = cli.run(&["keys", "list"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("kid\talg\tstatus"), "{text}");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "two generations and the RSA key: {text}");
    assert!(
        rows[0].contains(rotated["kid"].as_str().expect("kid")) && rows[0].contains("\tactive\t")
    );
    assert!(
        rows[1].contains(&first) && rows[1].contains("\tretiring\t"),
        "{text}"
    );

    // Text output is a table.
    let o = cli.run(&["licenses", "list"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("id\tkey\tstatus"), "{text}");
    assert_eq!(text.lines().count(), 7, "a header and six licenses");

    // No server, or no key: exit 2.
    let nowhere = Cli {
        url: "http://127.0.0.1:9",
        key: &admin,
    };
    assert_eq!(nowhere.run(&["products", "list"]).status.code(), Some(2));
    let o = Command::new(env!("CARGO_BIN_EXE_licet"))
        .args(["server", "products", "list"])
        .env_remove("LICET_API_KEY")
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2));
}

/// A POST of JSON with ureq: (status, body).
fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent.post(url).send_json(body).expect("transport");
    let status = resp.status().as_u16();
    let v = resp.body_mut().read_json().unwrap_or(Value::Null);
    (status, v)
}

#[test]
fn wemx_and_faxstore_catalogues_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let (url, admin) = start_server(dir.path());
    let cli = Cli {
        url: &url,
        key: &admin,
    };
    // A WemX package keeps the id its clients use, and makes WemX-style keys.
    let product = cli.json(&[
        "products",
        "create",
        "--code",
        "example",
        "--name",
        "Example",
        "--numeric-id",
        "84",
        "--key-prefix",
        "LCE-",
        "--key-format",
        "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh",
    ]);
    assert_eq!(product["numeric_id"], 84);
    let pid = product["id"].as_str().expect("id");
    cli.json(&[
        "policies",
        "create",
        "--product",
        pid,
        "--name",
        "std",
        "--max-machines",
        "2",
    ]);
    let price = cli.json(&[
        "prices",
        "create",
        "--product",
        pid,
        "--name",
        "Monthly",
        "--kind",
        "recurring",
        "--period-days",
        "30",
        "--amount",
        "999",
        "--id",
        "122",
    ]);
    assert_eq!(price["id"], 122);
    let prices = cli.json(&["prices", "list", pid]);
    assert_eq!(prices["items"][0]["kind"], "recurring");
    // A second product gets the next free number, not 85 by accident of order.
    let other = cli.json(&["products", "create", "--code", "addon", "--name", "Addon"]);
    assert_eq!(other["numeric_id"], 1);
    let taken = cli.run(&[
        "products",
        "create",
        "--code",
        "x",
        "--name",
        "X",
        "--numeric-id",
        "84",
    ]);
    assert_eq!(
        taken.status.code(),
        Some(1),
        "a taken numeric id is refused"
    );

    let made = cli.json(&["licenses", "create", "--product", pid]);
    let key = made["key"].as_str().expect("key");
    assert!(key.starts_with("LCE-") && key.len() == 40, "{key}");
    assert!(
        key[4..]
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let imported = cli.json(&[
        "licenses",
        "create",
        "--product",
        pid,
        "--key",
        "LCE-e75803b9-1b3a-4801-a3ea-30cc1eb0e4b2",
        "--extra-product",
        other["id"].as_str().expect("id"),
    ]);
    assert_eq!(imported["key"], "LCE-e75803b9-1b3a-4801-a3ea-30cc1eb0e4b2");
    let lid = imported["id"].as_str().expect("id");
    let domain = cli.json(&[
        "licenses",
        "add-domain",
        lid,
        "https://demo.example.net",
        "--type",
        "development",
    ]);
    assert_eq!(domain["domain_type"], "development");

    // A download, uploaded from a local file and served through WemX's API.
    let local = dir.path().join("example.zip");
    std::fs::write(&local, b"zip-bytes").expect("write");
    let up = cli.json(&[
        "downloads",
        "upload",
        "--product",
        pid,
        "--name",
        "example",
        local.to_str().expect("utf-8"),
    ]);
    assert_eq!(up["file"], "example.zip");
    assert_eq!(up["size"], 9);
    assert!(
        dir.path()
            .join("downloads")
            .join(pid)
            .join("example.zip")
            .exists()
    );
    let listed = cli.json(&["downloads", "list", "--product", pid]);
    assert_eq!(listed["items"][0]["name"], "example");
    let (s, v) = post_json(
        &format!("{url}/api/v1/licenses/public/validate"),
        &serde_json::json!({ "license": imported["key"], "domain": "demo.example.net", "packages": "Addon" }),
    );
    assert_eq!(
        (s, &v["package"], &v["type"]),
        (200, &Value::from("Addon"), &Value::from("development")),
        "{v}"
    );
    let (s, v) = post_json(
        &format!("{url}/api/v1/licenses/public/download"),
        &serde_json::json!({ "license": imported["key"], "domain": "demo.example.net", "packages": "Example", "resource_name": "example" }),
    );
    assert_eq!(s, 200, "{v}");
    let mut got = ureq::get(v["download_url"].as_str().expect("url"))
        .call()
        .expect("download");
    assert_eq!(got.body_mut().read_to_vec().expect("bytes"), b"zip-bytes");

    // Customers come from WemX's private API; the CLI finds them and resets passwords.
    let (s, v) = post_json_auth(
        &format!("{url}/api/v1/licenses/private/create"),
        &admin,
        &serde_json::json!({ "email": "ann@example.net", "domain": "ann.example.net", "package_id": 84, "price_id": 122 }),
    );
    assert_eq!(s, 200, "{v}");
    let found = cli.json(&["customers", "list", "--email", "ann@example.net"]);
    let cid = found["items"][0]["id"].to_string();
    let shown = cli.json(&["customers", "show", &cid]);
    assert_eq!(shown["orders"][0]["price_id"], 122);
    let reset = cli.json(&["customers", "password", &cid]);
    assert_eq!(reset["password"].as_str().map(str::len), Some(20));
}

fn post_json_auth(url: &str, key: &str, body: &Value) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(url)
        .header("authorization", format!("Bearer {key}"))
        .send_json(body)
        .expect("transport");
    let status = resp.status().as_u16();
    let v = resp.body_mut().read_json().unwrap_or(Value::Null);
    (status, v)
}

#[test]
fn activate_status_deactivate_this_machine() {
    let dir = tempfile::tempdir().expect("tmp");
    let (url, admin) = start_server(dir.path());
    let cli = Cli {
        url: &url,
        key: &admin,
    };
    let p = cli.json(&[
        "products", "create", "--code", "acme-cli", "--name", "Acme CLI",
    ]);
    let pid = p["id"].as_str().expect("id");
    cli.json(&["policies", "create", "--product", pid, "--name", "std"]);
    let lic = cli.json(&["licenses", "create", "--product", pid]);
    let key = lic["key"].as_str().expect("key");
    let state = dir.path().join("state");
    let state = state.to_str().expect("utf-8");
    let pinned = dir.path().join("pinned.pem");
    let licet = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_licet"))
            .args(args)
            .env_remove("LICET_STATE_DIR")
            .env("LICET_PUBKEY", &pinned)
            .output()
            .expect("licet runs")
    };
    let o = licet(&["status", "--product", "acme-cli", "--state-dir", state]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("not activated"));
    let o = licet(&[
        "activate",
        "--url",
        &url,
        "--key",
        key,
        "--product",
        "acme-cli",
        "--state-dir",
        state,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("valid until"));
    let o = licet(&[
        "status",
        "--product",
        "acme-cli",
        "--state-dir",
        state,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["licensed"], Value::Bool(true));
    assert_eq!(v["status"], "valid", "{v}");
    let (exp, refresh) = (
        v["expires_at"].as_i64().expect("expires_at"),
        v["refresh_after"].as_i64().expect("refresh_after"),
    );
    assert!(refresh < exp, "{v}");
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains(
            &chrono::DateTime::from_timestamp(exp, 0)
                .expect("time")
                .to_rfc3339()
        )),
        "{v}"
    );
    // The trust anchor is the pinned key, never a key kept in the license state: without it
    // nothing is judged, and with another vendor's key the license does not verify.
    let o = Command::new(env!("CARGO_BIN_EXE_licet"))
        .args(["status", "--product", "acme-cli", "--state-dir", state])
        .env_remove("LICET_STATE_DIR")
        .env_remove("LICET_PUBKEY")
        .output()
        .expect("licet runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--pubkey"));
    let other = dir.path().join("other.pem");
    let other_key = SigningKey::generate(KeySpec::Ed25519).expect("key");
    std::fs::write(&other, other_key.public_key().to_spki_pem()).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_licet"))
        .args(["status", "--product", "acme-cli", "--state-dir", state])
        .env_remove("LICET_STATE_DIR")
        .env("LICET_PUBKEY", &other)
        .output()
        .expect("licet runs");
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let kept = walk_files(Path::new(state));
    assert!(
        !kept.iter().any(|f| f.ends_with("keys.bin")),
        "no keys are kept in the state: {kept:?}"
    );
    // The seat is taken on the server.
    let machines = cli.json(&["machines", "list", lic["id"].as_str().expect("id")]);
    assert_eq!(machines["items"].as_array().map(Vec::len), Some(1));
    let o = licet(&[
        "activate",
        "--url",
        &url,
        "--key",
        "NOPE-NOPE-NOPE-NOPE",
        "--product",
        "acme-cli",
        "--state-dir",
        state,
    ]);
    assert_eq!(o.status.code(), Some(1), "an unknown key is refused");
    let o = licet(&["status", "--product", "acme-cli", "--state-dir", state]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a mistyped key does not cost the license"
    );
    let o = licet(&["deactivate", "--product", "acme-cli", "--state-dir", state]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let machines = cli.json(&["machines", "list", lic["id"].as_str().expect("id")]);
    assert_eq!(
        machines["items"].as_array().map(Vec::len),
        Some(0),
        "the seat is free again"
    );
    let o = licet(&["status", "--product", "acme-cli", "--state-dir", state]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn licensecm_admins_and_product_families_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let (url, admin) = start_server(dir.path());
    let cli = Cli {
        url: &url,
        key: &admin,
    };
    let product = cli.json(&[
        "products",
        "create",
        "--code",
        "acme-pro",
        "--name",
        "Acme Pro",
        "--disable",
        "wemx",
        "--enable",
        "licensecm",
    ]);
    assert_eq!(
        product["compat"],
        serde_json::json!({ "faxstore": true, "wemx": false, "verify": true, "licensecm": true })
    );
    let pid = product["id"].as_str().expect("id");
    let changed = cli.json(&["products", "families", pid, "--disable", "verify,faxstore"]);
    assert_eq!(
        changed["compat"],
        serde_json::json!({ "faxstore": false, "wemx": false, "verify": false, "licensecm": true })
    );
    let o = cli.run(&[
        "products",
        "families",
        pid,
        "--enable",
        "wemx",
        "--disable",
        "wemx",
    ]);
    assert_eq!(o.status.code(), Some(2), "a contradiction is a usage error");

    let made = cli.json(&[
        "licensecm-admins",
        "create",
        "--email",
        "ops@example.com",
        "--product",
        pid,
    ]);
    assert_eq!(made["role"], "admin");
    assert_eq!(made["granted_products"][0], pid);
    assert!(
        made["password"].as_str().is_some_and(|p| p.len() >= 20),
        "the generated password is shown once: {made}"
    );
    let id = made["id"].as_str().expect("id");
    let listed = cli.json(&["licensecm-admins", "list"]);
    assert_eq!(listed["items"][0]["email"], "ops@example.com");
    assert!(listed["items"][0].get("password").is_none());
    let ungranted = cli.json(&["licensecm-admins", "grant", id]);
    assert_eq!(ungranted["granted_products"], serde_json::json!([]));
    let demoted = cli.json(&["licensecm-admins", "demote", id]);
    assert_eq!(demoted["role"], "user");
    assert!(
        cli.json(&["licensecm-admins", "list"])["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}

/// Issue #12, item 19: `--online` checks in now; the old behaviour is `--online-if-due`.
#[test]
fn status_online_checks_in_now_and_reports_a_revocation_at_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let (url, admin) = start_server(dir.path());
    let cli = Cli {
        url: &url,
        key: &admin,
    };
    let p = cli.json(&[
        "products", "create", "--code", "acme-on", "--name", "Acme On",
    ]);
    let pid = p["id"].as_str().expect("id");
    cli.json(&["policies", "create", "--product", pid, "--name", "std"]);
    let lic = cli.json(&["licenses", "create", "--product", pid]);
    let state = dir.path().join("state");
    let state = state.to_str().expect("utf-8");
    let pinned = dir.path().join("pinned.pem");
    let licet = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_licet"))
            .args(args)
            .args(["--product", "acme-on", "--state-dir", state])
            .env_remove("LICET_STATE_DIR")
            .env("LICET_PUBKEY", &pinned)
            .output()
            .expect("licet runs");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, out) = licet(&[
        "activate",
        "--url",
        &url,
        "--key",
        lic["key"].as_str().expect("key"),
    ]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = licet(&["status", "--online"]);
    assert_eq!(code, Some(0), "{out}");
    cli.json(&["licenses", "revoke", lic["id"].as_str().expect("id")]);
    // Offline, and online only when due, the token still reads valid: it is not due yet.
    assert_eq!(licet(&["status"]).0, Some(0));
    assert_eq!(licet(&["status", "--online-if-due"]).0, Some(0));
    let (code, out) = licet(&["status", "--online"]);
    assert_eq!((code, out.trim()), (Some(1), "revoked"));
    assert_eq!(licet(&["status"]).0, Some(1), "and it is forgotten");
}

/// The air-gapped walk through the CLI (issue #15): the machine's side never reaches a server
/// (no URL is given to it), the vendor's side is a real server; the seat is counted after each
/// step, and the receipt comes back the same way.
/// Runs the `licet` binary with no state or server taken from the environment: exit code,
/// standard output and standard error.
/// Runs it with the vendor's keys pinned in `LICET_PUBKEY` when `pubkey` names them.
fn run_licet_pinned(pubkey: Option<&Path>, args: &[&str]) -> (Option<i32>, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_licet"));
    c.args(args)
        .env_remove("LICET_STATE_DIR")
        .env_remove("LICET_URL")
        .env_remove("LICET_PUBKEY");
    if let Some(p) = pubkey {
        c.env("LICET_PUBKEY", p);
    }
    let o = c.output().expect("licet runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn the_air_gapped_walk_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let (url, admin) = start_server(dir.path());
    let cli = Cli {
        url: &url,
        key: &admin,
    };
    let p = cli.json(&["products", "create", "--code", "air-cli", "--name", "Air"]);
    let pid = p["id"].as_str().expect("id");
    let pol = cli.json(&[
        "policies",
        "create",
        "--product",
        pid,
        "--name",
        "std",
        "--offline-lease",
        "3600",
        "--require-device-key",
    ]);
    assert_eq!(
        (
            pol["offline_lease"].as_u64(),
            pol["require_device_key"].as_bool()
        ),
        (Some(3600), Some(true))
    );
    let lic = cli.json(&["licenses", "create", "--product", pid]);
    let key = lic["key"].as_str().expect("key");
    let seats = || {
        cli.json(&["machines", "list", lic["id"].as_str().expect("id")])["items"]
            .as_array()
            .map_or(0, Vec::len)
    };
    // The vendor's published key, as the application would carry it.
    let set: Value = ureq::get(&format!("{url}/v1/keys"))
        .call()
        .expect("keys")
        .body_mut()
        .read_json()
        .expect("json");
    let pem: String = set["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["alg"] == "EdDSA")
        .filter_map(|k| k["public_key_pem"].as_str())
        .collect();
    let pubkey = dir.path().join("vendor.pem");
    std::fs::write(&pubkey, pem).expect("pem");
    let pubkey = pubkey.to_str().expect("utf-8");
    let state = dir.path().join("state");
    let state = state.to_str().expect("utf-8");
    let file = |n: &str| dir.path().join(n).to_str().expect("utf-8").to_owned();
    let pinned = dir.path().join("pinned.pem");
    let licet = |args: &[&str]| run_licet_pinned(Some(&pinned), args);

    let (code, _, err) = licet(&[
        "offline",
        "request",
        "--product",
        "air-cli",
        "--key",
        key,
        "--note",
        "hall 3",
        "--out",
        &file("request.txt"),
        "--state-dir",
        state,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("bytes, QR version"), "{err}");
    // The QR form prints too, and a PNG image is written.
    let (code, out, err) = licet(&[
        "offline",
        "request",
        "--product",
        "air-cli",
        "--key",
        key,
        "--qr",
        "--state-dir",
        state,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains('█') || out.contains('▀'),
        "a QR code in the terminal"
    );
    let (code, _, err) = licet(&[
        "offline",
        "request",
        "--product",
        "air-cli",
        "--key",
        key,
        "--qr",
        "--out",
        &file("request.png"),
        "--state-dir",
        state,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        std::fs::read(file("request.png"))
            .expect("png")
            .starts_with(b"\x89PNG")
    );
    assert_eq!(seats(), 0, "a request takes no seat");
    // The last request is the pending one: the earlier file answers another request.
    let (code, _, err) = licet(&[
        "offline",
        "request",
        "--product",
        "air-cli",
        "--key",
        key,
        "--out",
        &file("request.txt"),
        "--pubkey",
        pubkey,
        "--state-dir",
        state,
    ]);
    assert_eq!(code, Some(0), "{err}");

    let o = cli.run(&[
        "offline",
        "activate",
        &file("request.txt"),
        "--out",
        &file("response.txt"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(seats(), 1);
    let o = cli.run(&[
        "offline",
        "activate",
        &file("request.txt"),
        "--out",
        &file("again.txt"),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no second seat"));
    assert_eq!(
        std::fs::read(file("again.txt")).ok(),
        std::fs::read(file("response.txt")).ok()
    );
    assert_eq!(seats(), 1);

    let (code, out, _) = licet(&["status", "--product", "air-cli", "--state-dir", state]);
    assert_eq!(
        code,
        Some(1),
        "not licensed before the response is installed: {out}"
    );
    let (code, out, err) = licet(&[
        "offline",
        "install",
        &file("response.txt"),
        "--product",
        "air-cli",
        "--state-dir",
        state,
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, _) = licet(&[
        "status",
        "--product",
        "air-cli",
        "--state-dir",
        state,
        "--json",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json")["licensed"],
        true
    );

    // A machine with another device key (another state) cannot install the response.
    let other = dir.path().join("other");
    let other = other.to_str().expect("utf-8");
    licet(&[
        "offline",
        "request",
        "--product",
        "air-cli",
        "--key",
        key,
        "--state-dir",
        other,
    ]);
    let (code, out, _) = licet(&[
        "offline",
        "install",
        &file("response.txt"),
        "--product",
        "air-cli",
        "--pubkey",
        pubkey,
        "--state-dir",
        other,
    ]);
    assert_eq!(
        (code, out.trim()),
        (Some(1), "not installed: device_key_mismatch")
    );

    // The receipt: the license is gone at once, the seat when the vendor takes the receipt.
    let (code, _, err) = licet(&[
        "offline",
        "deactivate",
        "--product",
        "air-cli",
        "--out",
        &file("receipt.txt"),
        "--state-dir",
        state,
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, _) = licet(&["status", "--product", "air-cli", "--state-dir", state]);
    assert_eq!(code, Some(1), "no license next to its receipt");
    assert_eq!(seats(), 1);
    let v = cli.json(&["offline", "deactivate", &file("receipt.txt")]);
    assert_eq!(v["deactivated"], true);
    assert_eq!(seats(), 0);
    let o = cli.run(&["offline", "deactivate", &file("receipt.txt")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("receipt_replayed"));
}

#[test]
fn borrow_and_return_a_floating_seat_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let (url, admin) = start_server(dir.path());
    let cli = Cli {
        url: &url,
        key: &admin,
    };
    let p = cli.json(&["products", "create", "--code", "trip-cli", "--name", "Trip"]);
    let pid = p["id"].as_str().expect("id");
    let pol = cli.json(&[
        "policies",
        "create",
        "--product",
        pid,
        "--name",
        "floating",
        "--floating",
        "--max-machines",
        "1",
        "--max-borrow",
        "86400",
    ]);
    assert_eq!(pol["max_borrow"].as_u64(), Some(86_400));
    let lic = cli.json(&["licenses", "create", "--product", pid]);
    let (key, lid) = (
        lic["key"].as_str().expect("key"),
        lic["id"].as_str().expect("id"),
    );
    let machines = || {
        cli.json(&["machines", "list", lid])["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let pinned = dir.path().join("pinned.pem");
    let licet = |state: &str, args: &[&str]| {
        let (code, out, _) =
            run_licet_pinned(Some(&pinned), &[args, &["--state-dir", state]].concat());
        (code, out)
    };
    let laptop = dir.path().join("laptop");
    let laptop = laptop.to_str().expect("utf-8");
    let (code, out) = licet(
        laptop,
        &[
            "activate",
            "--url",
            &url,
            "--key",
            key,
            "--product",
            "trip-cli",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let rfc3339 = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .expect("time")
            .to_rfc3339()
    };

    // Longer than max_borrow: refused, and the seat is still an ordinary one.
    let (code, out) = licet(
        laptop,
        &[
            "borrow",
            "--product",
            "trip-cli",
            "--until",
            &rfc3339(now + 2 * 86_400),
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("borrow_too_long"), "{out}");
    assert_eq!(machines()[0].get("lease"), None);

    // Twelve hours: a token valid until then, and a seat leased until then.
    let until = now + 12 * 3600;
    let (code, out) = licet(
        laptop,
        &[
            "borrow",
            "--product",
            "trip-cli",
            "--until",
            &rfc3339(until),
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("valid until"), "{out}");
    let m = machines();
    assert_eq!(m.len(), 1);
    assert_eq!(
        (m[0]["lease"].as_str(), m[0]["lease_until"].as_i64()),
        (Some("borrowed"), Some(until))
    );
    assert!(m[0]["device_key"].as_str().is_some_and(|k| k.len() == 64));
    let (code, out) = licet(laptop, &["status", "--product", "trip-cli", "--json"]);
    assert_eq!(code, Some(0), "{out}");
    let shown = rfc3339(until);
    assert!(
        out.contains(&shown),
        "status shows the borrow's end {shown}: {out}"
    );

    // The one seat is lent: another machine (its own fingerprint) cannot take it.
    let desk = || {
        post_json(
            &format!("{url}/v1/client/activate"),
            &serde_json::json!({ "key": key, "fingerprint": "desk-4242" }),
        )
    };
    let (status, body) = desk();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("too_many_machines")),
        "{body}"
    );

    // Back early: the seat returns at once, and the desk gets it.
    let (code, out) = licet(laptop, &["return", "--product", "trip-cli"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(machines().is_empty());
    let (code, _) = licet(laptop, &["status", "--product", "trip-cli"]);
    assert_eq!(code, Some(1), "no license after the return");
    let (status, body) = desk();
    assert_eq!(status, 201, "{body}");
}

/// Every file under `dir`.
fn walk_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}

#[test]
fn https_with_a_given_ca_and_a_warning_for_plain_http_elsewhere() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let dir = tempfile::tempdir().expect("tmp");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "licet test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("leaf");
    let (ca_file, cert, key_file) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    std::fs::write(&ca_file, ca.pem()).expect("ca");
    std::fs::write(&cert, leaf.pem()).expect("cert");
    std::fs::write(&key_file, key.serialize_pem()).expect("key");
    let tls = licet_server::tls::Certificates::load(&cert, &key_file).expect("tls");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("dir");
    let (url, admin) = start_server_with(&data, Some(tls));
    assert!(url.starts_with("https://"));
    let ca_arg = ca_file.to_str().expect("utf-8");
    let cli = Cli {
        url: &url,
        key: &admin,
    };

    // With the CA the server's certificate chains to, the CLI manages the server over HTTPS.
    let product = cli.json(&[
        "--ca-cert",
        ca_arg,
        "products",
        "create",
        "--code",
        "acme-pro",
        "--name",
        "Acme Pro",
    ]);
    let pid = product["id"].as_str().expect("id");
    cli.json(&[
        "--ca-cert",
        ca_arg,
        "policies",
        "create",
        "--product",
        pid,
        "--name",
        "std",
    ]);
    let license = cli.json(&["--ca-cert", ca_arg, "licenses", "create", "--product", pid]);
    // Without it, the system's roots do not know the test CA, and nothing is sent.
    let o = cli.run(&["products", "list"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
    assert!(
        err.contains("certificate") || err.contains("issuer"),
        "{err}"
    );

    // The online client activates over HTTPS with the same CA (from the environment).
    let o = Command::new(env!("CARGO_BIN_EXE_licet"))
        .args(["activate", "--url", &url, "--product", "acme-pro", "--key"])
        .arg(license["key"].as_str().expect("key"))
        .arg("--pubkey")
        .arg(data.join("pinned.pem"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("LICET_CA_CERT", &ca_file)
        .output()
        .expect("licet runs");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("valid"),
        "{o:?}"
    );

    // Plain HTTP to another machine is warned about; to this one it is not.
    let o = Cli {
        url: "http://licet-test.invalid:47293",
        key: &admin,
    }
    .run(&["products", "list"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("plain HTTP to another machine"), "{err}");
    let o = Cli {
        url: &url.replacen("https://", "http://", 1),
        key: &admin,
    }
    .run(&["products", "list"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("plain HTTP"));
}
