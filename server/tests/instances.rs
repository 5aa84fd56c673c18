//! Several release `licet-server` processes on one PostgreSQL database (issue #14): exact
//! seats across instances, one key set, one revocation list, and the refusals of a start
//! without the right key-encryption key.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

mod common;
use common::binary::{Server, agent, call, setup};

/// A fresh schema of the test database, as a connection string for the server.
fn database() -> String {
    let name = common::block_on(async { licet_store_postgres::testing::schema().await.0 });
    licet_store_postgres::testing::database_url(&name)
}

/// A master key file of 32 random bytes, mode 0600.
fn master_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut key = [0u8; 32];
    {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .expect("random bytes");
    }
    std::fs::write(&path, key).expect("write the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    path
}

fn on_postgres<'a>(url: &'a str, key: &'a Path) -> [&'a str; 4] {
    [
        "--database-url",
        url,
        "--master-key-file",
        key.to_str().expect("utf-8 path"),
    ]
}

/// What a server start that must fail printed, and that it failed.
fn refused_start(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .arg("--data")
        .arg(data)
        .env("LICET_LOG", "error")
        .output()
        .expect("run licet-server");
    assert!(!out.status.success(), "the server must refuse to start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn two_instances_share_seats_keys_and_revocations() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = database();
    let key = master_key(dir.path(), "master.key");
    let pg = on_postgres(&url, &key);
    let a = Server::start(&dir.path().join("a"), &pg);
    let admin = a
        .bootstrap_key
        .clone()
        .expect("the first instance prints the admin key");
    let b = Server::start(&dir.path().join("b"), &pg);
    assert!(
        b.bootstrap_key.is_none(),
        "the second instance finds the admin key in the database"
    );
    let http = agent();
    let (_, l) = setup(&http, &a.base, &admin, 5);
    let license_key = l["key"].as_str().expect("key").to_owned();
    let license_id = l["id"].as_str().expect("id").to_owned();

    // 64 activations of a 5-seat license at once, half through each instance.
    // Each client first opens its connection (a read), then all wait for each other, so that
    // the activations arrive together rather than as the threads come up.
    let bases = [a.base.clone(), b.base.clone()];
    let start = std::sync::Barrier::new(64);
    let answers: Vec<(usize, u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let (base, key, start) = (&bases[i % 2], &license_key, &start);
                s.spawn(move || {
                    let client = agent();
                    let (ready, _) = call(&client, "GET", &format!("{base}/healthz"), None, None);
                    assert_eq!(ready, 200);
                    start.wait();
                    let (status, v) = call(
                        &client,
                        "POST",
                        &format!("{base}/v1/client/activate"),
                        None,
                        Some(json!({ "key": key, "fingerprint": format!("fp-{i}") })),
                    );
                    (i, status, v)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let won: Vec<&(usize, u16, Value)> = answers.iter().filter(|(_, s, _)| *s == 201).collect();
    assert_eq!(won.len(), 5, "exactly the seats: {answers:?}");
    for (_, status, v) in answers.iter().filter(|(_, s, _)| *s != 201) {
        assert_eq!(
            (*status, v["error"]["code"].as_str()),
            (409, Some("too_many_machines")),
            "{v}"
        );
    }
    for base in &bases {
        let (s, ms) = call(
            &http,
            "GET",
            &format!("{base}/v1/licenses/{license_id}/machines"),
            Some(&admin),
            None,
        );
        assert_eq!(s, 200, "{ms}");
        assert_eq!(ms["items"].as_array().map(Vec::len), Some(5), "{ms}");
    }

    // Both instances publish one key set; a token from A verifies offline with B's.
    let (_, keys_a) = call(&http, "GET", &format!("{}/v1/keys", a.base), None, None);
    let (_, keys_b) = call(&http, "GET", &format!("{}/v1/keys", b.base), None, None);
    assert_eq!(
        keys_a["keys"][0]["public_key_pem"], keys_b["keys"][0]["public_key_pem"],
        "one signing key"
    );
    let pem = keys_b["keys"][0]["public_key_pem"].as_str().expect("pem");
    let pk = [licet_verifier::PublicKey::from_spki_pem(pem).expect("key")];
    let from_a = won
        .iter()
        .find(|(i, _, _)| i % 2 == 0)
        .expect("some seat went through A");
    let token = URL_SAFE_NO_PAD
        .decode(from_a.2["token"].as_str().expect("token"))
        .expect("b64");
    let now = from_a.2["server_time"].as_i64().expect("time");
    let fingerprint = format!("fp-{}", from_a.0);
    let ctx = licet_verifier::Context::new(now, "acme-pro").fingerprint(&fingerprint);
    licet_verifier::verify(&token, &pk[..], &ctx).expect("A's token verifies with B's key set");

    // A revocation made on B is in A's list.
    let (s, _) = call(
        &http,
        "POST",
        &format!("{}/v1/licenses/{license_id}/revoke", b.base),
        Some(&admin),
        None,
    );
    assert_eq!(s, 200);
    let (s, list) = call(
        &http,
        "GET",
        &format!("{}/v1/revocations", a.base),
        None,
        None,
    );
    assert_eq!(s, 200, "{list}");
    let list = URL_SAFE_NO_PAD
        .decode(list["list"].as_str().expect("list"))
        .expect("b64");
    let rl = licet_verifier::RevocationList::verify(&list, &pk[..], None).expect("list");
    assert_eq!(
        licet_verifier::verify(&token, &pk[..], &ctx.revocations(&rl))
            .err()
            .map(|e| e.code()),
        Some("revoked")
    );
    a.stop();
    b.stop();

    // A third instance with another key-encryption key cannot open the keys, and says so;
    // without one, PostgreSQL is refused outright.
    let other = master_key(dir.path(), "other.key");
    let err = refused_start(&dir.path().join("c"), &on_postgres(&url, &other));
    assert!(err.contains("same --master-key-file"), "{err}");
    let err = refused_start(&dir.path().join("c"), &["--database-url", &url]);
    assert!(err.contains("master-key-file"), "{err}");
    // A key file others can read is refused, and so is one of the wrong length.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = refused_start(&dir.path().join("c"), &on_postgres(&url, &other));
        assert!(err.contains("0600"), "{err}");
    }
    let short = dir.path().join("short.key");
    std::fs::write(&short, [7u8; 16]).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let err = refused_start(&dir.path().join("c"), &on_postgres(&url, &short));
    assert!(err.contains("exactly 32 bytes"), "{err}");
}
