//! The real `licet-server` binary on a loopback port with a temporary data directory: the
//! whole online path, a restart, and a `kill -9` in the middle of a stream of activations.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

mod common;
// The harness's in-process store; these tests run the binary, whose flags choose its store.
use common::backends::sled as backend;
use common::binary::{Server, agent, call, setup};

#[test]
fn online_walk_then_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), &[]);
    let admin = server
        .bootstrap_key
        .clone()
        .expect("first start prints the admin key");
    let base = server.base.clone();
    let a = agent();

    let (_, l) = setup(&a, &base, &admin, 3);
    let key = l["key"].as_str().expect("key").to_owned();
    let (s, act) = call(
        &a,
        "POST",
        &format!("{base}/v1/client/activate"),
        None,
        Some(json!({ "key": key, "fingerprint": "fp-e2e" })),
    );
    assert_eq!(s, 201, "{act}");
    let token = URL_SAFE_NO_PAD
        .decode(act["token"].as_str().expect("token"))
        .expect("b64");

    // The key set comes from the server; the token verifies offline against it.
    let (_, keys) = call(&a, "GET", &format!("{base}/v1/keys"), None, None);
    let pem = keys["keys"][0]["public_key_pem"].as_str().expect("pem");
    let pk = [licet_verifier::PublicKey::from_spki_pem(pem).expect("key")];
    let now = act["server_time"].as_i64().expect("time");
    let ctx = licet_verifier::Context::new(now, "acme-pro")
        .fingerprint("fp-e2e")
        .entitlements(&["pro"]);
    let license = licet_verifier::verify(&token, &pk[..], &ctx).expect("verifies offline");
    assert_eq!(license.claims().license_id, l["id"].as_str().expect("id"));

    let (s, _) = call(
        &a,
        "POST",
        &format!("{base}/v1/client/heartbeat"),
        None,
        Some(json!({ "key": key, "fingerprint": "fp-e2e" })),
    );
    assert_eq!(s, 200);
    let (s, _) = call(
        &a,
        "POST",
        &format!(
            "{base}/v1/licenses/{}/revoke",
            l["id"].as_str().expect("id")
        ),
        Some(&admin),
        None,
    );
    assert_eq!(s, 200);
    let (s, list) = call(&a, "GET", &format!("{base}/v1/revocations"), None, None);
    assert_eq!(s, 200, "{list}");
    let list = URL_SAFE_NO_PAD
        .decode(list["list"].as_str().expect("list"))
        .expect("b64");
    let rl = licet_verifier::RevocationList::verify(&list, &pk[..], None).expect("list");
    let ctx = ctx.revocations(&rl);
    assert_eq!(
        licet_verifier::verify(&token, &pk[..], &ctx)
            .err()
            .map(|e| e.code()),
        Some("revoked")
    );
    let key_file = std::fs::read(dir.path().join("token-ed25519.pem")).expect("key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("token-ed25519.pem"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    server.stop();

    // Restart: same keys, no new bootstrap key, state intact.
    let server = Server::start(dir.path(), &[]);
    assert!(
        server.bootstrap_key.is_none(),
        "the admin key is printed only once"
    );
    assert_eq!(
        std::fs::read(dir.path().join("token-ed25519.pem")).expect("key file"),
        key_file,
        "keys are never regenerated"
    );
    let base = server.base.clone();
    let (s, again) = call(
        &a,
        "GET",
        &format!("{base}/v1/licenses/{}", l["id"].as_str().expect("id")),
        Some(&admin),
        None,
    );
    assert_eq!((s, again["status"].as_str()), (200, Some("revoked")));
    let (_, list2) = call(&a, "GET", &format!("{base}/v1/revocations"), None, None);
    assert!(list2["sequence"].as_u64() >= Some(rl.sequence()));
    assert_eq!(list2["revoked_licenses"], 1);
    server.stop();
}

#[test]
fn every_acknowledged_activation_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tmp");
    let unlimited = ["--rate-limit-ip", "0", "--rate-limit-license", "0"];
    let server = Server::start(dir.path(), &unlimited);
    let admin = server.bootstrap_key.clone().expect("admin key");
    let base = server.base.clone();
    let (_, l) = setup(&agent(), &base, &admin, 100_000);
    let key = l["key"].as_str().expect("key").to_owned();

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop_at = Instant::now() + Duration::from_secs(30);
    let mut workers = Vec::new();
    for w in 0..8 {
        let (base, key, acknowledged) = (base.clone(), key.clone(), acknowledged.clone());
        workers.push(std::thread::spawn(move || {
            let a = agent();
            for i in 0.. {
                if Instant::now() > stop_at {
                    break;
                }
                let fp = format!("w{w}-{i}");
                let (s, _) = call(
                    &a,
                    "POST",
                    &format!("{base}/v1/client/activate"),
                    None,
                    Some(json!({ "key": key, "fingerprint": fp })),
                );
                match s {
                    201 => acknowledged.lock().expect("lock").push(fp),
                    0 => break, // the server is gone
                    other => panic!("unexpected status {other}"),
                }
            }
        }));
    }
    // Kill the server mid-stream, once a good number of activations were answered.
    while acknowledged.lock().expect("lock").len() < 200 {
        assert!(Instant::now() < stop_at, "too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill9();
    for w in workers {
        w.join().expect("worker");
    }
    let acked = acknowledged.lock().expect("lock").clone();
    assert!(acked.len() >= 200);

    let server = Server::start(dir.path(), &unlimited);
    let a = agent();
    let mut present = std::collections::BTreeSet::new();
    let (s, v) = call(
        &a,
        "GET",
        &format!(
            "{}/v1/licenses/{}/machines",
            server.base,
            l["id"].as_str().expect("id")
        ),
        Some(&admin),
        None,
    );
    assert_eq!(s, 200);
    for m in v["items"].as_array().expect("items") {
        present.insert(m["fingerprint"].as_str().expect("fp").to_owned());
    }
    let lost: Vec<_> = acked.iter().filter(|fp| !present.contains(*fp)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged activations lost: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    server.stop();
}

/// Copies a directory tree, with the modes the server gives its files (0700 folders, 0600
/// files): git keeps neither, and the server refuses private keys others can read.
fn copy_tree(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).expect("mkdir");
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))
                .expect("chmod");
        }
    }
}

/// A data directory written by the release before the storage rebuild (commit 780ef14, by
/// `scripts/upgrade-fixture.py` through that release's own API) opens unchanged: the same
/// signing keys, records, audit log, revocation list, passwords and seats, and the rules still
/// hold on what it holds.
#[test]
fn a_store_written_by_the_previous_release_opens_unchanged() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-780ef14");
    let old: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.join("fixture.json")).expect("fixture.json"),
    )
    .expect("json");
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    copy_tree(&fixture.join("data"), &data);
    let server = Server::start(&data, &[]);
    assert!(
        server.bootstrap_key.is_none(),
        "an existing store keeps its admin key; none is made"
    );
    let base = server.base.clone();
    let a = agent();
    let admin = old["admin"].as_str().expect("admin");
    let get = |path: &str, auth: Option<&str>| {
        let (s, v) = call(&a, "GET", &format!("{base}{path}"), auth, None);
        assert_eq!(s, 200, "{path}: {v}");
        v
    };
    let post = |path: &str, auth: Option<&str>, body: Value| {
        call(&a, "POST", &format!("{base}{path}"), auth, Some(body))
    };

    // The same keys, records and log, answered as the old release answered them.
    // `valid_from` is the key file's modification time, which a checkout or a copy changes;
    // the keys themselves must be the same.
    let without_times = |v: &Value| {
        let mut v = v.clone();
        for k in v["keys"].as_array_mut().expect("keys") {
            k.as_object_mut().expect("key").remove("valid_from");
        }
        v
    };
    assert_eq!(
        without_times(&get("/v1/keys", None)),
        without_times(&old["keys"]),
        "the signing keys load"
    );
    assert_eq!(get("/v1/licenses?limit=100", Some(admin)), old["licenses"]);
    let seated = &old["seated"];
    let sid = seated["id"].as_str().expect("id");
    assert_eq!(
        get(&format!("/v1/licenses/{sid}/machines"), Some(admin)),
        old["machines"]
    );
    assert_eq!(
        get("/v1/customers?email=ann@example.net", Some(admin)),
        old["customers"]
    );
    let audit = get("/v1/audit?limit=200", Some(admin));
    let now = audit["items"].as_array().expect("items");
    for entry in old["audit"]["items"].as_array().expect("old items") {
        assert!(now.contains(entry), "the audit log keeps {entry}");
    }
    let downloads = get("/v1/downloads", Some(admin));
    assert!(
        downloads["items"]
            .as_array()
            .expect("items")
            .contains(&old["download"]),
        "{downloads}"
    );
    let limited = old["limited_key"]["key"].as_str().expect("key");
    let products = get("/v1/products", Some(limited));
    assert_eq!(
        products["items"][0]["id"], old["product"]["id"],
        "API keys still verify"
    );

    // The seat rule counts the stored machine: one seat of two is left.
    let key = seated["key"].as_str().expect("key");
    let (s, act) = post(
        "/v1/client/activate",
        None,
        json!({ "key": key, "fingerprint": "machine-two" }),
    );
    assert_eq!(s, 201, "{act}");
    let (s, v) = post(
        "/v1/client/activate",
        None,
        json!({ "key": key, "fingerprint": "machine-three" }),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("too_many_machines"))
    );
    // A new token verifies offline against the key set the old release published.
    let pem = old["keys"]["keys"][0]["public_key_pem"]
        .as_str()
        .expect("pem");
    let pk = [licet_verifier::PublicKey::from_spki_pem(pem).expect("key")];
    let token = URL_SAFE_NO_PAD
        .decode(act["token"].as_str().expect("token"))
        .expect("b64");
    let ctx = licet_verifier::Context::new(act["server_time"].as_i64().expect("time"), "acme")
        .fingerprint("machine-two")
        .entitlements(&["pro"]);
    licet_verifier::verify(&token, &pk[..], &ctx).expect("verifies offline");

    // States stored by the old release still refuse.
    for (name, code) in [("suspended", "suspended"), ("revoked", "revoked")] {
        let (s, v) = post(
            "/v1/client/validate",
            None,
            json!({ "key": old[name]["key"] }),
        );
        assert_eq!((s, v["code"].as_str()), (200, Some(code)), "{name}: {v}");
    }

    // Numbers continue where the old release stopped: the revocation list's sequence, and the
    // licenses' numbers.
    let (s, l) = post(
        "/v1/licenses",
        Some(admin),
        json!({ "product_id": old["product"]["id"] }),
    );
    assert_eq!(s, 201, "{l}");
    let highest = old["licenses"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|l| l["numeric_id"].as_u64())
        .max()
        .expect("numbers");
    assert!(l["numeric_id"].as_u64().expect("number") > highest, "{l}");
    // The floating license's machine checked in last days ago: the culler frees its seat and
    // revokes the token it still holds (its expiry unknown to the old release's record), on
    // the list after the old release's.
    let floating = old["floating"]["id"].as_str().expect("id");
    let culled = (0..300).any(|_| {
        let m = get(&format!("/v1/licenses/{floating}/machines"), Some(admin));
        let empty = m["items"].as_array().is_some_and(Vec::is_empty);
        if !empty {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        empty
    });
    assert!(culled, "the culler frees the dead floating seat");
    let old_sequence = old["revocations"]["sequence"].as_u64().expect("sequence");
    let list = get("/v1/revocations", None);
    assert_eq!(list["sequence"].as_u64(), Some(old_sequence + 1), "{list}");
    assert_eq!(
        list["revoked_tokens"].as_u64(),
        old["revocations"]["revoked_tokens"].as_u64().map(|n| n + 1),
        "{list}"
    );
    let lid = l["id"].as_str().expect("id");
    let (s, v) = post(
        &format!("/v1/licenses/{lid}/revoke"),
        Some(admin),
        json!({}),
    );
    assert_eq!(s, 200, "{v}");
    let list = get("/v1/revocations", None);
    assert_eq!(list["sequence"].as_u64(), Some(old_sequence + 2), "{list}");

    // LicenseCM: stored passwords verify, the owner sees their objects, the admin the
    // blacklist, and the one-use license refuses a second machine.
    let lcm = &old["licensecm"];
    let (s, login) = post(
        "/api/auth/login",
        None,
        json!({ "email": lcm["email"], "password": lcm["password"] }),
    );
    assert_eq!(s, 200, "{login}");
    let bob = login["data"]["token"].as_str().expect("token");
    let mine = get("/api/products", Some(bob));
    assert!(
        mine.to_string()
            .contains(lcm["product"]["id"].as_str().expect("id")),
        "{mine}"
    );
    let hooks = get("/api/webhooks", Some(bob));
    assert!(
        hooks
            .to_string()
            .contains(lcm["webhook"]["data"]["id"].as_str().expect("id")),
        "{hooks}"
    );
    let (s, v) = post(
        "/api/client/activate",
        None,
        json!({ "license_key": lcm["license"]["license_key"], "hwid": "hwid-two", "product_id": lcm["product"]["id"] }),
    );
    assert_eq!(v["success"], json!(false), "{s} {v}");
    let (s, login) = post(
        "/api/auth/login",
        None,
        json!({ "email": lcm["admin"]["email"], "password": lcm["admin"]["password"] }),
    );
    assert_eq!(s, 200, "{login}");
    let carol = login["data"]["token"].as_str().expect("token");
    let blacklist = get("/api/security/blacklist", Some(carol));
    assert!(
        blacklist.to_string().contains("198.51.100.9"),
        "{blacklist}"
    );

    server.stop();
}
