//! The application side against the real `licet-server` binary on a loopback port: activate →
//! offline status → heartbeats rotate the token; the server stops → grace → grace ends; a clock
//! moved back is reported; the server restarts → check-ins work; a revocation clears the cache
//! at the next contact, and a newer revocation list revokes offline; a tampered cache reads as
//! no license; a machine with a replaced disk keeps its license.

#[path = "common/peer.rs"]
mod peer;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use licet_client::fingerprint::Fingerprint;
use licet_client::online::{Client, Config, Status};
use licet_client::state::Slot;
use licet_verifier::PublicKey;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

/// The server binary on `port` with its data in `data`; returns the process and, on first
/// start, the bootstrap admin key.
fn start(data: &Path, port: u16) -> (Child, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args(["--data"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--rate-limit-ip", "0", "--rate-limit-license", "0"])
        .env("LICET_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut admin = None;
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(k) = line.split_whitespace().find(|w| w.starts_with("lk_")) {
            admin = Some(k.to_owned());
        }
        if line.starts_with("listening on") {
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, admin)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn admin(url: &str, key: &str, method: &str, path: &str, body: Value) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .expect("request");
    let mut resp = agent.run(req).expect("transport");
    let status = resp.status().as_u16();
    let v: Value = resp.body_mut().read_json().unwrap_or(Value::Null);
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {v}"
    );
    v
}

/// Six components of a machine named `tag`, some replaced.
fn machine(tag: &str, replaced: &[&str]) -> Fingerprint {
    let values: Vec<(&'static str, String, Vec<u8>)> = [
        ("machine-id", format!("id-{tag}")),
        ("cpu", "AMD EPYC 7B13|2".to_owned()),
        ("memory", "8".to_owned()),
        ("disk", format!("/dev/sda|{tag}")),
        ("mac", format!("mac-{tag}")),
        ("hostname", tag.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| {
        let v = if replaced.contains(&name) {
            format!("{value}-new")
        } else {
            value
        };
        (name, name.to_owned(), v.into_bytes())
    })
    .collect();
    Fingerprint::from_values("acme-desk", &values)
}

/// A running server with product `acme-desk`, a policy (`policy` fields added) and one
/// license; everything a test needs to reach it.
struct Fixture {
    server: Child,
    url: String,
    admin: String,
    license_id: String,
    license_key: String,
    keys: Vec<PublicKey>,
    data: tempfile::TempDir,
    port: u16,
}

fn fixture(policy: Value) -> Fixture {
    let data = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (server, key) = start(data.path(), port);
    let admin_key = key.expect("bootstrap key");
    let p = admin(
        &url,
        &admin_key,
        "POST",
        "/v1/products",
        json!({ "code": "acme-desk", "name": "Acme Desk" }),
    );
    let mut body = policy;
    body["product_id"] = p["id"].clone();
    body["name"] = json!("desk");
    admin(&url, &admin_key, "POST", "/v1/policies", body);
    let lic = admin(
        &url,
        &admin_key,
        "POST",
        "/v1/licenses",
        json!({ "product_id": p["id"] }),
    );
    let keyset = admin(&url, &admin_key, "GET", "/v1/keys", json!({}));
    let keys: Vec<PublicKey> = keyset["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| PublicKey::from_spki_pem(k["public_key_pem"].as_str()?).ok())
        .collect();
    assert!(!keys.is_empty());
    Fixture {
        server,
        url,
        admin: admin_key,
        license_id: lic["id"].as_str().expect("id").to_owned(),
        license_key: lic["key"].as_str().expect("key").to_owned(),
        keys,
        data,
        port,
    }
}

impl Fixture {
    /// The license's machines, as the admin API lists them.
    fn machines(&self) -> Value {
        admin(
            &self.url,
            &self.admin,
            "GET",
            &format!("/v1/licenses/{}/machines", self.license_id),
            json!({}),
        )
    }

    fn revoke(&self) {
        admin(
            &self.url,
            &self.admin,
            "POST",
            &format!("/v1/licenses/{}/revoke", self.license_id),
            json!({}),
        );
    }

    fn stop(&mut self) {
        self.server.kill().expect("kill");
        self.server.wait().expect("wait");
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

struct App {
    client: Client,
    offset: Arc<AtomicI64>,
}

fn app(url: &str, keys: &[PublicKey], state: &Path, fp: Fingerprint) -> App {
    let offset = Arc::new(AtomicI64::new(0));
    let o = Arc::clone(&offset);
    let mut c = Config::new(url, "acme-desk", keys.to_vec());
    c.state_dir = Some(state.to_path_buf());
    c.fingerprint = Some(fp);
    // The server's own time is real; the test moves only the application's clock, so answers
    // may be far from it.
    c.max_skew = 30 * DAY as u64;
    c.clock = Arc::new(move || chrono::Utc::now().timestamp() + o.load(Ordering::SeqCst));
    App {
        client: Client::new(c).expect("client"),
        offset,
    }
}

#[test]
fn activate_work_offline_survive_downtime_and_revocation() {
    let mut f =
        fixture(json!({ "max_machines": 3, "offline_grace": 3 * DAY, "refresh_after": DAY }));
    let states = tempfile::tempdir().expect("tmp");
    let (url, keys, license_key) = (f.url.clone(), f.keys.clone(), f.license_key.clone());
    let a = app(&url, &keys, &states.path().join("a"), machine("a", &[]));
    let b = app(&url, &keys, &states.path().join("b"), machine("b", &[]));
    let d = app(&url, &keys, &states.path().join("d"), machine("d", &[]));
    assert_eq!(a.client.status(), Status::NeedsActivation);
    for x in [&a, &b, &d] {
        let s = x.client.activate(&license_key).expect("activate");
        assert!(matches!(s, Status::Valid { .. }), "{s:?}");
    }
    // Offline, the stored token is enough.
    assert!(a.client.status().is_licensed());
    // Heartbeats rotate the token: the same grant (token id) re-signed with the time of the
    // check-in, so a second passes first (the server's clock is real; within one second the
    // same grant signs to the same bytes).
    let first = a.client.state().load(Slot::Token).expect("token");
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    a.client.heartbeat().expect("heartbeat");
    let second = a.client.state().load(Slot::Token).expect("token");
    assert_ne!(first, second, "a fresh token each check-in");
    // A replaced disk: same machine, same cache, same license.
    let upgraded = app(
        &url,
        &keys,
        &states.path().join("a"),
        machine("a", &["disk"]),
    );
    assert!(
        upgraded.client.status().is_licensed(),
        "{:?}",
        upgraded.client.status()
    );
    assert!(matches!(
        upgraded.client.heartbeat(),
        Ok(Status::Valid { .. })
    ));
    // Moving the cache to another machine does not move the license.
    let thief = app(&url, &keys, &states.path().join("a"), machine("z", &[]));
    assert_eq!(thief.client.status(), Status::NeedsActivation);

    // The server goes away: grace, then its end; a clock moved back is reported.
    f.stop();
    b.offset.store(DAY + DAY / 2, Ordering::SeqCst);
    let s = b.client.ensure().expect("ensure offline");
    assert!(matches!(s, Status::Grace { .. }), "{s:?}");
    assert!(s.is_licensed());
    b.offset.store(3 * DAY + DAY / 2, Ordering::SeqCst);
    assert_eq!(
        b.client.ensure().expect("ensure offline"),
        Status::GraceEnded
    );
    assert!(!b.client.status().is_licensed());
    b.offset.store(0, Ordering::SeqCst);
    assert!(
        matches!(b.client.status(), Status::ClockRolledBack { behind_by } if behind_by > 3 * DAY as u64),
        "{:?}",
        b.client.status()
    );

    // The server comes back: check-ins work again.
    f.server = start(f.data.path(), f.port).0;
    assert!(matches!(a.client.heartbeat(), Ok(Status::Valid { .. })));
    // A copy of d's state, tampered with, is no license at all.
    let e_dir = states.path().join("e");
    std::fs::create_dir_all(e_dir.join("acme-desk")).expect("mkdir");
    for f in ["token.bin", "meta.bin"] {
        std::fs::copy(
            states.path().join("d/acme-desk").join(f),
            e_dir.join("acme-desk").join(f),
        )
        .expect("copy");
    }
    let e = app(&url, &keys, &e_dir, machine("d", &[]));
    // The token binds d's device key (issue #15): the license state alone is no license.
    assert_eq!(
        e.client.status(),
        Status::Invalid(licet_verifier::Error::DeviceKeyRequired),
        "a copy without the device key does not read"
    );
    std::fs::copy(
        states.path().join("d/acme-desk/device.key"),
        e_dir.join("acme-desk/device.key"),
    )
    .expect("copy");
    assert!(
        e.client.status().is_licensed(),
        "an intact copy of the whole state, on the same machine, reads"
    );
    let token_file = e_dir.join("acme-desk/token.bin");
    let mut t = std::fs::read(&token_file).expect("read");
    let mid = t.len() / 2;
    t[mid] ^= 0x40;
    std::fs::write(&token_file, t).expect("write");
    assert_eq!(e.client.status(), Status::NeedsActivation);

    // Revocation: the next contact clears the cache; a newer list revokes offline.
    f.revoke();
    assert_eq!(a.client.heartbeat().expect("answer"), Status::Revoked);
    assert_eq!(a.client.state().load(Slot::Token), None, "cleared at once");
    assert_eq!(a.client.status(), Status::NeedsActivation);
    assert!(d.client.status().is_licensed(), "d has not heard yet");
    d.client.refresh_revocations().expect("list");
    assert_eq!(d.client.status(), Status::Revoked);
    assert_eq!(d.client.status(), Status::NeedsActivation, "and forgotten");
}

#[test]
fn background_heartbeats_rotate_the_token_and_stop() {
    let f = fixture(json!({ "floating": true, "max_machines": 1 }));
    let states = tempfile::tempdir().expect("tmp");
    let mut c = Config::new(&f.url, "acme-desk", f.keys.clone());
    c.state_dir = Some(states.path().to_path_buf());
    c.fingerprint = Some(machine("h", &[]));
    c.heartbeat_interval = Some(std::time::Duration::from_millis(150));
    let client = Arc::new(Client::new(c).expect("client"));
    client.activate(&f.license_key).expect("activate");
    let first = client.state().load(Slot::Token).expect("token");
    let (tx, rx) = std::sync::mpsc::channel();
    let beats = Arc::clone(&client).spawn_heartbeats(move |r| {
        let _ = tx.send(matches!(r, Ok(s) if s.is_licensed()));
    });
    // Check-ins for longer than a second: each re-signs the seat's grant with the time it
    // was made, so a token of a later second differs from the first.
    let since = std::time::Instant::now();
    let mut beats_seen = 0;
    while beats_seen < 3 || since.elapsed() < std::time::Duration::from_millis(1_100) {
        let ok = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a heartbeat");
        assert!(ok);
        beats_seen += 1;
    }
    beats.stop();
    assert_ne!(client.state().load(Slot::Token).expect("token"), first);
    // Stopped: no more check-ins arrive.
    while rx.try_recv().is_ok() {}
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(rx.try_recv().is_err());
    // A revoked license stops the thread by itself.
    let beats = Arc::clone(&client).spawn_heartbeats(|_| {});
    f.revoke();
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(client.status(), Status::NeedsActivation);
    beats.stop();
}

#[test]
fn the_server_key_set_is_used_only_when_trusted() {
    // Each client's activation takes a seat on the server, trusted by the client or not.
    let mut f = fixture(json!({ "max_machines": 5 }));
    let states = tempfile::tempdir().expect("tmp");
    let url = f.url.clone();
    let license_key = f.license_key.clone();
    let license_key = license_key.as_str();
    let wrong = licet_issuer::SigningKey::generate(licet_issuer::KeySpec::Ed25519).expect("key");
    let config = |trust: bool, dir: &str| {
        let mut c = Config::new(&url, "acme-desk", vec![wrong.public_key().clone()]);
        c.state_dir = Some(states.path().join(dir));
        c.fingerprint = Some(machine(dir, &[]));
        c.trust_server_keys = trust;
        c
    };
    // Pinned to another key: the server's answers are not trusted, nothing is stored.
    let strict = Client::new(config(false, "s")).expect("client");
    assert!(matches!(
        strict.activate(license_key),
        Err(licet_client::online::ClientError::Untrusted(
            licet_verifier::Error::UnknownKey
        ))
    ));
    assert_eq!(strict.state().load(Slot::Token), None);
    assert!(strict.refresh_keys().expect("key set") >= 1);
    assert!(
        strict.activate(license_key).is_err(),
        "fetched keys are not trusted by default"
    );
    // Trusting the server's key set does not trust a key that no pinned key vouches for: the
    // set is fetched and cached, and still refused.
    let open = Client::new(config(true, "o")).expect("client");
    assert!(open.refresh_keys().expect("key set") >= 1);
    assert!(
        open.activate(license_key).is_err(),
        "a published key no pinned key endorsed"
    );
    assert_eq!(open.state().load(Slot::Token), None);

    // Pinned to the server's key as it was before a rotation: the new key is taken up from the
    // set through the old one's endorsement; without trusting the set it is not.
    admin(&url, &f.admin, "POST", "/v1/keys/rotate", json!({}));
    let pinned_old = |trust: bool, dir: &str| {
        let mut c = Config::new(&url, "acme-desk", f.keys.clone());
        c.state_dir = Some(states.path().join(dir));
        c.fingerprint = Some(machine(dir, &[]));
        c.trust_server_keys = trust;
        Client::new(c).expect("client")
    };
    let stale = pinned_old(false, "p1");
    assert!(
        stale.activate(license_key).is_err(),
        "the new key is not pinned"
    );
    let chained = pinned_old(true, "p2");
    assert!(chained.refresh_keys().expect("key set") >= 2);
    let got = chained.activate(license_key);
    assert!(matches!(got, Ok(Status::Valid { .. })), "{got:?}");
    f.stop();
    assert!(
        chained.status().is_licensed(),
        "the cached key set works offline"
    );
}

#[test]
fn a_retired_key_of_the_published_set_is_not_taken_up() {
    let (active, retired) = (
        licet_issuer::SigningKey::generate(licet_issuer::KeySpec::Ed25519).expect("key"),
        licet_issuer::SigningKey::generate(licet_issuer::KeySpec::Ed25519).expect("key"),
    );
    let set = |entries: Vec<(&licet_issuer::SigningKey, &str)>| {
        json!({ "keys": entries.into_iter().map(|(k, status)| published(k, status)).collect::<Vec<_>>() })
        .to_string()
    };
    let states = tempfile::tempdir().expect("tmp");
    let client = |url: &str, dir: &str| {
        let mut c = Config::new(url, "acme-desk", vec![active.public_key().clone()]);
        c.state_dir = Some(states.path().join(dir));
        c.trust_server_keys = true;
        Client::new(c).expect("client")
    };
    let both = impostor(
        200,
        vec![],
        set(vec![(&active, "active"), (&retired, "retired")]),
    );
    assert_eq!(client(&both, "a").refresh_keys().expect("key set"), 1);
    let only_retired = impostor(200, vec![], set(vec![(&retired, "retired")]));
    assert!(client(&only_retired, "b").refresh_keys().is_err());
    let retiring = impostor(
        200,
        vec![],
        set(vec![(&active, "active"), (&retired, "retiring")]),
    );
    assert_eq!(
        client(&retiring, "c").refresh_keys().expect("key set"),
        2,
        "a retiring key still verifies"
    );
}

/// A key-set entry as the server publishes it.
fn published(k: &licet_issuer::SigningKey, status: &str) -> serde_json::Value {
    serde_json::to_value(licet_api::client::PublishedKey {
        kid: k.public_key().kid().to_string(),
        alg: "EdDSA".into(),
        purpose: "tokens".into(),
        status: status.into(),
        valid_from: None,
        valid_until: None,
        public_key_pem: k.public_key().to_spki_pem(),
        cose_key: String::new(),
        endorsed_by: None,
        endorsement: None,
    })
    .expect("json")
}

/// A loopback server that answers every request with `status`, `headers` and `body`.
fn impostor(status: u16, headers: Vec<(String, String)>, body: String) -> String {
    use std::io::Write;
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            peer::read_request(&mut s);
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            let _ = s.write_all(format!("{head}\r\n{body}").as_bytes());
        }
    });
    url
}

/// Issue #12, item 17: only a refusal the server signed for this request makes the client
/// forget its license.
#[test]
fn unsigned_or_replayed_refusals_do_not_erase_a_license() {
    let f = fixture(json!({ "max_machines": 3 }));
    let states = tempfile::tempdir().expect("tmp");
    let (url, keys) = (f.url.clone(), f.keys.clone());
    let dir = states.path().join("a");
    let a = app(&url, &keys, &dir, machine("a", &[]));
    a.client.activate(&f.license_key).expect("activate");
    // A signed refusal, captured: the server's real answer to another request.
    f.revoke();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let fp = machine("a", &[]);
    let mut resp = agent
        .post(format!("{url}/v1/client/heartbeat"))
        .header("content-type", "application/json")
        .send(
            json!({ "key": f.license_key, "fingerprint": fp.id(), "nonce": "captured" })
                .to_string(),
        )
        .expect("transport");
    assert_eq!(resp.status().as_u16(), 403);
    let signature = resp
        .headers()
        .get("licet-signature")
        .and_then(|v| v.to_str().ok())
        .expect("the refusal is signed")
        .to_owned();
    let captured = resp.body_mut().read_to_string().expect("body");
    assert!(
        captured.contains("\"revoked\"") && captured.contains("captured"),
        "{captured}"
    );

    for (what, fake) in [
        (
            "unsigned",
            impostor(
                403,
                vec![],
                json!({ "error": { "code": "revoked", "message": "x" } }).to_string(),
            ),
        ),
        (
            "replayed",
            impostor(
                403,
                vec![("licet-signature".into(), signature.clone())],
                captured.clone(),
            ),
        ),
    ] {
        let victim = app(&fake, &keys, &dir, machine("a", &[]));
        let e = victim.client.heartbeat().expect_err(what);
        assert!(
            matches!(e, licet_client::online::ClientError::Unreachable(_)),
            "{what}: {e:?}"
        );
        assert!(
            victim.client.status().is_licensed(),
            "{what}: the license stays"
        );
    }
    // The server's own signed refusal, to this request, is acted on.
    assert_eq!(a.client.heartbeat().expect("answer"), Status::Revoked);
    assert!(!a.client.status().is_licensed());
}

/// Issue #12, item 18: copying back older state files, or removing one, does not bring a
/// revoked or rolled-back license back.
#[test]
fn copied_back_or_removed_state_files_are_noticed() {
    let f = fixture(json!({ "max_machines": 3 }));
    let states = tempfile::tempdir().expect("tmp");
    let (url, keys) = (f.url.clone(), f.keys.clone());
    let dir = states.path().join("a");
    let files = dir.join("acme-desk");
    let a = app(&url, &keys, &dir, machine("a", &[]));
    a.client.activate(&f.license_key).expect("activate");
    a.client.refresh_revocations().expect("list");
    assert!(a.client.status().is_licensed());
    let backup = states.path().join("backup");
    std::fs::create_dir_all(&backup).expect("mkdir");
    for name in ["token.bin", "revocations.bin", "meta.bin"] {
        std::fs::copy(files.join(name), backup.join(name)).expect("backup");
    }
    let restore = |names: &[&str]| {
        for name in names {
            std::fs::copy(backup.join(name), files.join(name)).expect("restore");
        }
    };

    // The clock record cannot be deleted to reset the clock guard: it lives in the record,
    // and a token without its record is a rollback.
    std::fs::remove_file(files.join("meta.bin")).expect("rm");
    assert_eq!(a.client.status(), Status::StateRolledBack);
    restore(&["meta.bin"]);
    assert!(a.client.status().is_licensed());

    // Revoked, learnt from a newer list offline: the token is forgotten.
    f.revoke();
    a.client.refresh_revocations().expect("newer list");
    assert_eq!(a.client.status(), Status::Revoked);
    assert_eq!(a.client.status(), Status::NeedsActivation);
    // Copying back the old token and the old list does not bring it back…
    restore(&["token.bin", "revocations.bin"]);
    assert_eq!(a.client.status(), Status::StateRolledBack);
    // …nor does removing the list the record says was seen.
    std::fs::remove_file(files.join("revocations.bin")).expect("rm");
    assert_eq!(a.client.status(), Status::StateRolledBack);
    assert!(!a.client.status().is_licensed());
}

#[test]
fn a_cached_key_set_is_trusted_only_along_endorsements_from_a_pinned_key() {
    use base64::Engine;
    use licet_client::online::trusted_from;
    let new_key =
        || licet_issuer::SigningKey::generate(licet_issuer::KeySpec::Ed25519).expect("key");
    let (g0, g1, g2, rogue) = (new_key(), new_key(), new_key(), new_key());
    // `by` vouches for `of` the way a rotation does.
    let endorse = |by: &licet_issuer::SigningKey, of: &licet_issuer::SigningKey| {
        use ed25519_dalek::Signer;
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let dalek = ed25519_dalek::SigningKey::from_pkcs8_pem(&by.to_pkcs8_pem().expect("pem"))
            .expect("ed25519");
        let mut m = licet_verifier::KEY_ENDORSEMENT_LABEL.to_vec();
        m.extend_from_slice(of.public_key().ed25519_bytes().expect("ed25519"));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(dalek.sign(&m).to_bytes())
    };
    let entry = |k: &licet_issuer::SigningKey, by: Option<(&licet_issuer::SigningKey, String)>| {
        let mut e = published(k, "active");
        if let Some((b, sig)) = by {
            e["endorsed_by"] = json!(b.public_key().kid().to_string());
            e["endorsement"] = json!(sig);
        }
        e
    };
    let forged = new_key();
    let stranger = new_key();
    let set = json!({ "keys": [
        // Listed newest first, as the server lists them: the chain is followed in any order.
        entry(&g2, Some((&g1, endorse(&g1, &g2)))),
        entry(&g1, Some((&g0, endorse(&g0, &g1)))),
        entry(&g0, None),
        // Naming the pinned key as endorser, signed by another.
        entry(&forged, Some((&g0, endorse(&rogue, &forged)))),
        // Endorsed by a key nobody trusts.
        entry(&stranger, Some((&rogue, endorse(&rogue, &stranger)))),
        entry(&rogue, None),
    ]})
    .to_string();
    let kids = |keys: Vec<licet_verifier::PublicKey>| -> Vec<String> {
        keys.iter().map(|k| k.kid().to_string()).collect()
    };
    let trusted = kids(trusted_from(vec![g0.public_key().clone()], set.as_bytes()));
    let want = |k: &licet_issuer::SigningKey| k.public_key().kid().to_string();
    assert_eq!(trusted.len(), 3, "{trusted:?}");
    for k in [&g0, &g1, &g2] {
        assert!(trusted.contains(&want(k)));
    }
    // Pinned to a later generation only, the earlier ones are not taken up.
    assert_eq!(
        kids(trusted_from(vec![g2.public_key().clone()], set.as_bytes())),
        [want(&g2)]
    );
    // A set in the old form (PEMs) vouches for nothing.
    let pems = format!(
        "{}{}",
        g1.public_key().to_spki_pem(),
        rogue.public_key().to_spki_pem()
    );
    assert_eq!(
        kids(trusted_from(vec![g0.public_key().clone()], pems.as_bytes())),
        [want(&g0)]
    );
}

#[test]
fn the_client_names_its_host_and_platform_unless_told_not_to() {
    let f = fixture(json!({ "max_machines": 3 }));
    let states = tempfile::tempdir().expect("tmp");
    let told = app(&f.url, &f.keys, &states.path().join("a"), machine("a", &[]));
    told.client.activate(&f.license_key).expect("activate");
    let mut c = Config::new(&f.url, "acme-desk", f.keys.clone());
    c.state_dir = Some(states.path().join("b"));
    c.fingerprint = Some(machine("b", &[]));
    c.send_host_details = false;
    Client::new(c)
        .expect("client")
        .activate(&f.license_key)
        .expect("activate");
    let ms = f.machines();
    let by_fp = |fp: &Fingerprint| {
        ms["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|m| m["fingerprint"] == fp.id())
            .cloned()
            .expect("the machine")
    };
    let a = by_fp(&machine("a", &[]));
    let host = sysinfo::System::host_name().expect("this machine has a host name");
    assert_eq!(a["hostname"], json!(host), "{a}");
    assert_eq!(
        a["platform"],
        json!(licet_client::online::platform()),
        "{a}"
    );
    assert!(a["platform"].as_str().expect("platform").contains('-'));
    let b = by_fp(&machine("b", &[]));
    assert!(b["hostname"].is_null() && b["platform"].is_null(), "{b}");
}

#[test]
fn a_client_for_another_product_is_refused_before_a_seat_is_taken() {
    let f = fixture(json!({ "max_machines": 1 }));
    let states = tempfile::tempdir().expect("tmp");
    let mut c = Config::new(&f.url, "acme-other", f.keys.clone());
    c.state_dir = Some(states.path().join("other"));
    c.fingerprint = Some(machine("o", &[]));
    let other = Client::new(c).expect("client");
    match other.activate(&f.license_key) {
        Err(licet_client::online::ClientError::Refused { code, .. }) => {
            assert_eq!(code, "wrong_product");
        }
        got => panic!("{got:?}"),
    }
    let ms = f.machines();
    assert_eq!(ms["items"], json!([]), "no seat was taken");
    // The one seat is still there for the right product.
    let right = app(
        &f.url,
        &f.keys,
        &states.path().join("right"),
        machine("r", &[]),
    );
    assert!(matches!(
        right.client.activate(&f.license_key),
        Ok(Status::Valid { .. })
    ));
}
