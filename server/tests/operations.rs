//! What an operator does around the running server, with the real `licet-server` binary on a
//! loopback port: a lost admin key remade from the console, the pointers at `/`, the access
//! log, a backup taken under load and restored.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

mod common;
// The harness's in-process store; these tests run the binary, whose flags choose its store.
use common::backends::sled as backend;
use common::binary::{Server, agent, call, fresh_database, master_key, setup};

/// `licet-server api-keys create …` with `args`: (exit status, stdout, stderr).
fn console(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args(["api-keys", "create"])
        .args(args)
        .env("LICET_LOG", "warn")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("licet-server runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The API keys' names, as `admin` lists them.
fn key_names(base: &str, admin: &str) -> Vec<String> {
    let (s, v) = call(
        &agent(),
        "GET",
        &format!("{base}/v1/api-keys"),
        Some(admin),
        None,
    );
    assert_eq!(s, 200, "{v}");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|k| k["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The audit entries of `action`, as `admin` reads them.
fn audited(base: &str, admin: &str, action: &str) -> Vec<Value> {
    let (s, v) = call(
        &agent(),
        "GET",
        &format!("{base}/v1/audit?action={action}"),
        Some(admin),
        None,
    );
    assert_eq!(s, 200, "{v}");
    v["items"].as_array().expect("items").clone()
}

#[test]
fn a_lost_admin_key_is_remade_from_the_console_with_the_server_stopped() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8");
    let server = Server::start(&data, &[]);
    let first = server.bootstrap_key.clone().expect("bootstrap key");

    // While the server holds the sled store, the console refuses and says why.
    let (ok, out, err) = console(&["--data", data_arg, "--scope", "admin"]);
    assert!(!ok, "{out}");
    assert!(err.contains("stop it first"), "{err}");
    assert!(out.is_empty(), "no key is printed: {out}");
    assert_eq!(key_names(&server.base, &first), ["bootstrap admin"]);
    server.stop();

    let (ok, made, err) = console(&[
        "--scope",
        "admin",
        "--name",
        "recovered",
        "--data",
        data_arg,
    ]);
    assert!(ok, "{err}");
    assert!(made.starts_with("lk_"), "{made}");

    // The bootstrap key is not shown again (keys exist); the new one is an admin key.
    let server = Server::start(&data, &[]);
    assert!(server.bootstrap_key.is_none());
    let mut names = key_names(&server.base, &made);
    names.sort();
    assert_eq!(names, ["bootstrap admin", "recovered"]);
    let entries = audited(&server.base, &made, "api_key.created");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor"], "console");
    assert_eq!(entries[0]["detail"]["scope"], "admin");

    // A read-only key made the same way reads but cannot make keys.
    server.stop();
    let (ok, reader, err) = console(&[
        "--data",
        data_arg,
        "--scope",
        "read-only",
        "--name",
        "auditor",
    ]);
    assert!(ok, "{err}");
    let server = Server::start(&data, &[]);
    let (s, _) = call(
        &agent(),
        "GET",
        &format!("{}/v1/products", server.base),
        Some(&reader),
        None,
    );
    assert_eq!(s, 200);
    let (s, v) = call(
        &agent(),
        "GET",
        &format!("{}/v1/api-keys", server.base),
        Some(&reader),
        None,
    );
    assert_eq!(s, 403, "{v}");

    // A directory that holds no store is named, and nothing is made there.
    let empty = dir.path().join("elsewhere");
    let (ok, _, err) = console(&["--data", empty.to_str().expect("utf-8"), "--scope", "admin"]);
    assert!(!ok);
    assert!(err.contains("no store here"), "{err}");
    assert!(!empty.exists());
}

#[test]
fn on_postgres_the_console_makes_a_key_while_the_servers_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = fresh_database();
    let key = master_key(dir.path(), "master.key");
    let key_arg = key.to_str().expect("utf-8");
    let server = Server::start(
        &dir.path().join("unused"),
        &["--database-url", &url, "--master-key-file", key_arg],
    );
    let first = server.bootstrap_key.clone().expect("bootstrap key");
    let (ok, made, err) = console(&[
        "--database-url",
        &url,
        "--master-key-file",
        key_arg,
        "--scope",
        "admin",
        "--name",
        "recovered",
    ]);
    assert!(ok, "{err}");
    let mut names = key_names(&server.base, &made);
    names.sort();
    assert_eq!(names, ["bootstrap admin", "recovered"]);
    assert_eq!(
        audited(&server.base, &first, "api_key.created")[0]["actor"],
        "console"
    );
}

#[test]
fn the_root_points_to_the_dashboard_the_api_document_and_the_docs() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), &[]);
    let (s, v) = call(&agent(), "GET", &format!("{}/", server.base), None, None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["dashboard"], "/admin");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    // Every link it gives answers.
    for link in ["dashboard", "openapi", "health"] {
        let path = v[link].as_str().expect(link);
        let got = agent()
            .get(format!("{}{path}", server.base))
            .call()
            .expect("get");
        assert_eq!(got.status(), 200, "{path}");
    }
    assert!(v["docs"].as_str().expect("docs").starts_with("https://"));
    let mut page = agent()
        .get(format!("{}/", server.base))
        .header("accept", "text/html,application/xhtml+xml")
        .call()
        .expect("page");
    let html = page.body_mut().read_to_string().expect("html");
    assert!(html.contains("href=\"/admin\""), "{html}");
    assert!(html.contains("href=\"/openapi.json\""), "{html}");
    server.stop();

    let server = Server::start(dir.path(), &["--dashboard", "false"]);
    let (_, v) = call(&agent(), "GET", &format!("{}/", server.base), None, None);
    assert_eq!(v["dashboard"], Value::Null, "no dashboard, no link: {v}");
}

#[test]
fn the_access_log_has_a_line_per_request_and_no_license_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("server.log");
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--access-log", "true"],
        Stdio::from(std::fs::File::create(&log).expect("log file")),
        "info",
    );
    let a = agent();
    call(&a, "GET", &format!("{}/healthz", server.base), None, None);
    call(
        &a,
        "GET",
        &format!("{}/no/such/route", server.base),
        None,
        None,
    );
    call(
        &a,
        "GET",
        &format!(
            "{}/api/v1/licenses/public/SECRET-LICENSE-KEY-1234",
            server.base
        ),
        None,
        None,
    );
    server.stop();
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("licet::access"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains("route=\"/healthz\"") && lines[0].contains("status=200"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("route=\"unmatched\"") && lines[1].contains("status=404"),
        "{}",
        lines[1]
    );
    assert!(
        lines
            .iter()
            .all(|l| l.contains("ip=127.0.0.1") && l.contains("request_id="))
    );
    assert!(!text.contains("SECRET-LICENSE-KEY-1234"), "{text}");
    assert!(!text.contains("\u{1b}["), "no colour in a file");

    // Off by default.
    let log = dir.path().join("quiet.log");
    let server = Server::start_with(
        &dir.path().join("data"),
        &[],
        Stdio::from(std::fs::File::create(&log).expect("log file")),
        "info",
    );
    call(&a, "GET", &format!("{}/healthz", server.base), None, None);
    server.stop();
    assert!(
        !std::fs::read_to_string(&log)
            .expect("log")
            .contains("licet::access")
    );
}

/// One acknowledged activation: its fingerprint, when its answer came, its token.
struct Acked {
    fingerprint: String,
    at: Instant,
    token: Vec<u8>,
}

#[test]
fn a_backup_taken_under_load_restores_every_acknowledged_activation() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let limits = ["--rate-limit-ip", "0", "--rate-limit-license", "0"];
    let server = Server::start(&data, &limits);
    let admin = server.bootstrap_key.clone().expect("bootstrap key");
    let base = server.base.clone();
    let (_, license) = setup(&agent(), &base, &admin, 10_000);
    let key = license["key"].as_str().expect("key").to_owned();

    // A steady stream of activations, each remembered when its 201 arrives.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, base, key) = (stop.clone(), base.clone(), key.clone());
        std::thread::spawn(move || {
            let a = agent();
            let mut acked = Vec::new();
            let mut failed = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let fingerprint = format!("fp-{i}");
                let (s, v) = call(
                    &a,
                    "POST",
                    &format!("{base}/v1/client/activate"),
                    None,
                    Some(json!({ "key": key, "fingerprint": fingerprint })),
                );
                if s == 201 {
                    let token = URL_SAFE_NO_PAD
                        .decode(v["token"].as_str().expect("token"))
                        .expect("b64");
                    acked.push(Acked {
                        fingerprint,
                        at: Instant::now(),
                        token,
                    });
                } else {
                    failed.push((s, v));
                }
            }
            (acked, failed)
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let passphrase = dir.path().join("passphrase");
    std::fs::write(&passphrase, "a passphrase of some length\n").expect("write");
    let backup = dir.path().join("licet.backup");
    let began = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args(["backup", "--to"])
        .arg(&backup)
        .arg("--passphrase-file")
        .arg(&passphrase)
        .arg("--data")
        .arg(&data)
        .env("LICET_LOG", "warn")
        .output()
        .expect("backup runs");
    let ended = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let (acked, failed) = load.join().expect("load");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("the running server held writes for"),
        "{said}"
    );
    assert!(
        failed.is_empty(),
        "every activation is answered: {failed:?}"
    );
    let before: Vec<&Acked> = acked.iter().filter(|a| a.at < began).collect();
    let during = acked
        .iter()
        .filter(|a| a.at > began && a.at < ended)
        .count();
    assert!(before.len() >= 5, "{} before", before.len());
    assert!(during > 0, "the server kept answering while the backup ran");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup)
            .expect("backup")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The signing key is not in the file in the clear.
    let sealed = std::fs::read(&backup).expect("read");
    let pem = std::fs::read_to_string(data.join("token-ed25519.pem")).expect("pem");
    let body = pem.lines().nth(1).expect("a base64 line");
    assert!(!String::from_utf8_lossy(&sealed).contains(body));
    assert!(!data.read_dir().expect("dir").any(|e| {
        e.expect("entry")
            .file_name()
            .to_string_lossy()
            .starts_with("backup-")
    }));
    server.stop();

    let restore = |to: &Path, passphrase: &Path| {
        Command::new(env!("CARGO_BIN_EXE_licet-server"))
            .args(["restore", "--from"])
            .arg(&backup)
            .arg("--passphrase-file")
            .arg(passphrase)
            .arg("--data")
            .arg(to)
            .env("LICET_LOG", "warn")
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("restore runs")
    };
    // A wrong passphrase restores nothing, and says so.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase at all").expect("write");
    let restored = dir.path().join("restored");
    let out = restore(&restored, &wrong);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot decrypt"));
    assert!(!restored.exists());
    // Nor into a directory that holds something.
    let out = restore(&data, &passphrase);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));

    let out = restore(&restored, &passphrase);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(&restored, &limits);
    assert!(
        server.bootstrap_key.is_none(),
        "the restored store has its keys"
    );
    let (s, machines) = call(
        &agent(),
        "GET",
        &format!(
            "{}/v1/licenses/{}/machines",
            server.base,
            license["id"].as_str().expect("id")
        ),
        Some(&admin),
        None,
    );
    assert_eq!(s, 200, "{machines}");
    let there: std::collections::HashSet<&str> = machines["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["fingerprint"].as_str().expect("fingerprint"))
        .collect();
    for a in &before {
        assert!(
            there.contains(a.fingerprint.as_str()),
            "{} is lost",
            a.fingerprint
        );
    }
    // Tokens issued before the backup verify against the restored server's keys, and it
    // signs new ones with the same key.
    let (_, keys) = call(
        &agent(),
        "GET",
        &format!("{}/v1/keys", server.base),
        None,
        None,
    );
    let pem = keys["keys"][0]["public_key_pem"].as_str().expect("pem");
    let pk = [licet_verifier::PublicKey::from_spki_pem(pem).expect("key")];
    for a in [before[0], before[before.len() - 1]] {
        let now = chrono_now();
        let ctx = licet_verifier::Context::new(now, "acme-pro").fingerprint(&a.fingerprint);
        licet_verifier::verify(&a.token, &pk[..], &ctx).expect("an old token verifies");
    }
    let (s, v) = call(
        &agent(),
        "POST",
        &format!("{}/v1/client/activate", server.base),
        None,
        Some(json!({ "key": key, "fingerprint": "after-restore" })),
    );
    assert_eq!(s, 201, "{v}");
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A certificate authority made for one test, and a server certificate it signed for
/// `localhost` and 127.0.0.1: (CA certificate DER, server chain PEM, server key PEM).
fn authority(name: &str) -> (Vec<u8>, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("leaf");
    (ca.der().to_vec(), leaf.pem(), key.serialize_pem())
}

/// An agent that trusts only `ca`.
fn trusting(ca: &[u8]) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let root = Certificate::from_der(ca).to_owned();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&[root]))
                .build(),
        )
        .build()
        .into()
}

/// The status of `GET url` through `agent`, or the transport error.
fn status(agent: &ureq::Agent, url: &str) -> Result<u16, String> {
    agent
        .get(url)
        .call()
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[test]
fn tls_serves_https_and_takes_up_a_renewed_certificate_without_dropping_connections() {
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let write = |chain: &str, k: &str| {
        std::fs::write(&cert, chain).expect("cert");
        std::fs::write(&key, k).expect("key");
    };
    let (ca1, chain1, key1) = authority("first CA");
    write(&chain1, &key1);
    let tls = [
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ];
    let server = Server::start(&dir.path().join("data"), &tls);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let health = format!("{}/healthz", server.base);
    let old = trusting(&ca1);
    assert_eq!(status(&old, &health), Ok(200));
    // The API works over it.
    let (s, v) = call(
        &old,
        "GET",
        &format!("{}/v1/api-keys", server.base),
        server.bootstrap_key.as_deref(),
        None,
    );
    assert_eq!(s, 200, "{v}");
    // Nobody else's CA is trusted, and plain HTTP gets no answer.
    let (ca_other, _, _) = authority("another CA");
    assert!(status(&trusting(&ca_other), &health).is_err());
    assert!(status(&agent(), &health.replacen("https", "http", 1)).is_err());

    // A renewal by a new CA, taken up on SIGHUP: new handshakes get it, the open keep-alive
    // connection (made under the first certificate) goes on answering.
    let (ca2, chain2, key2) = authority("second CA");
    write(&chain2, &key2);
    let pid = server.child.id().to_string();
    hang_up(&pid);
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&trusting(&ca2), &health).is_err() {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not taken up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        status(&old, &health),
        Ok(200),
        "the open connection was kept"
    );
    assert!(
        status(&trusting(&ca1), &health).is_err(),
        "new handshakes get the new one"
    );

    // A renewal written without a signal is seen by its files' change.
    std::thread::sleep(Duration::from_millis(1100)); // a new modification time
    let (ca3, chain3, key3) = authority("third CA");
    write(&chain3, &key3);
    let deadline = Instant::now() + Duration::from_secs(15);
    while status(&trusting(&ca3), &health).is_err() {
        assert!(
            Instant::now() < deadline,
            "the changed files were not taken up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A broken renewal (a key that is not the certificate's) is refused; the certificate in
    // use stays.
    write(&chain1, &key2);
    hang_up(&pid);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status(&trusting(&ca3), &health), Ok(200));
    server.stop();

    // And a start with one is refused with the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .args(tls)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not the certificate's"), "{err}");
}

/// Sends SIGHUP to the process `pid`, as `systemctl reload` does.
fn hang_up(pid: &str) {
    let sent = Command::new("kill")
        .args(["-HUP", pid])
        .status()
        .expect("kill");
    assert!(sent.success());
}

/// A file of the repository's `packaging/` or root.
fn repository_file(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_systemd_unit_is_valid_hardened_and_its_settings_run_the_server() {
    let unit = repository_file("packaging/licet-server.service");
    for line in [
        "DynamicUser=yes",
        "StateDirectory=licet",
        "StateDirectoryMode=0700",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "PrivateTmp=yes",
        "KillSignal=SIGTERM",
    ] {
        assert!(
            unit.lines().any(|l| l.trim() == line),
            "the unit lacks {line}"
        );
    }
    // systemd's own check, with the binary where the unit expects it (this test build).
    let dir = tempfile::tempdir().expect("tmp");
    let checked = dir.path().join("licet-server.service");
    let binary = env!("CARGO_BIN_EXE_licet-server");
    std::fs::write(
        &checked,
        unit.replace("/usr/local/bin/licet-server", binary),
    )
    .expect("write");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&checked)
        .output()
        .expect("systemd-analyze runs (the test command installs systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");

    // The environment the unit sets is one the server starts with, and the unit's reload
    // (SIGHUP) leaves a server without TLS running.
    let env: Vec<(String, String)> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(
        env.iter()
            .any(|(k, v)| k == "LICET_DATA" && v == "/var/lib/licet"),
        "{env:?}"
    );
    let mut child = Command::new(binary)
        .envs(env.iter().filter(|(k, _)| k != "LICET_DATA").cloned())
        .env("LICET_DATA", dir.path().join("state"))
        .env("LICET_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let addr = loop {
        let line = lines.next().expect("listening").expect("utf-8");
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let reload = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecReload="))
        .expect("ExecReload");
    assert!(reload.contains("-HUP"), "{reload}");
    let pid = child.id().to_string();
    hang_up(&pid);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "SIGHUP ended the server"
    );
    let (s, _) = call(
        &agent(),
        "GET",
        &format!("http://{addr}/healthz"),
        None,
        None,
    );
    assert_eq!(s, 200);
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "a clean stop on SIGTERM: {status:?}");
}

#[test]
fn the_container_recipe_builds_in_one_stage_and_runs_unprivileged_on_a_volume() {
    let recipe = repository_file("Dockerfile");
    let lines: Vec<&str> = recipe
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let instruction = |name: &str| -> Vec<&str> {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix(name).map(str::trim))
            .collect()
    };
    let stages = instruction("FROM ");
    assert_eq!(stages.len(), 2, "a build stage and a run stage: {stages:?}");
    assert!(stages[0].ends_with(" AS build"), "{stages:?}");
    assert!(recipe.contains("cargo build --release --locked -p licet-server"));
    assert!(recipe.contains("COPY --from=build"));
    // Everything after the last FROM is the image that runs.
    let run = &recipe[recipe.rfind("\nFROM ").expect("run stage")..];
    let user = run
        .lines()
        .find_map(|l| l.trim().strip_prefix("USER "))
        .expect("the run stage names a user");
    let uid = user.split(':').next().expect("uid");
    assert!(uid != "0" && uid != "root", "runs as {user}");
    assert!(
        run.contains(&format!("--uid {uid}")),
        "the user {uid} is made in the image"
    );
    let volume = run
        .lines()
        .find_map(|l| l.trim().strip_prefix("VOLUME "))
        .expect("a volume");
    assert!(volume.contains("\"/var/lib/licet\""), "{volume}");
    assert!(
        run.contains("LICET_DATA=/var/lib/licet"),
        "the data directory is the volume"
    );
    assert!(run.contains("install -d -m 0700 -o licet -g licet /var/lib/licet"));
    let port = run
        .lines()
        .find_map(|l| l.trim().strip_prefix("EXPOSE "))
        .expect("a port");
    assert!(
        run.contains(&format!("LICET_LISTEN=0.0.0.0:{port}")),
        "{port}"
    );
    assert!(run.contains("ENTRYPOINT [\"/usr/local/bin/licet-server\"]"));
    // The build context leaves out what is big and not needed.
    let ignore = repository_file(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target"));
}
