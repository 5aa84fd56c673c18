//! Several release `licet-server` processes on one PostgreSQL database (issue #14): exact
//! seats across instances, one key set, one revocation list, and the refusals of a start
//! without the right key-encryption key.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

mod common;
// The harness's in-process store; these tests run the binary, whose flags choose its store.
use common::backends::sled as backend;
use common::binary::{
    Server, agent, call, call_once, download, fresh_database, master_key, setup, upload,
};

fn on_postgres<'a>(url: &'a str, key: &'a Path) -> [&'a str; 4] {
    [
        "--database-url",
        url,
        "--master-key-file",
        key.to_str().expect("utf-8 path"),
    ]
}

/// The fingerprints of a license's machines, as an instance lists them.
fn fingerprints(base: &str, admin: &str, license_id: &str) -> Vec<String> {
    let (s, ms) = call(
        &agent(),
        "GET",
        &format!("{base}/v1/licenses/{license_id}/machines"),
        Some(admin),
        None,
    );
    assert_eq!(s, 200, "{ms}");
    ms["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["fingerprint"].as_str().expect("fingerprint").to_owned())
        .collect()
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
    let url = fresh_database();
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
    let (product, l) = setup(&http, &a.base, &admin, 5);
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
        assert_eq!(fingerprints(base, &admin, &license_id).len(), 5);
    }

    // Both instances publish one key set; a token verifies offline with the key set of the
    // instance that did not issue it.
    let (_, keys_a) = call(&http, "GET", &format!("{}/v1/keys", a.base), None, None);
    let (_, keys_b) = call(&http, "GET", &format!("{}/v1/keys", b.base), None, None);
    assert_eq!(
        keys_a["keys"][0]["public_key_pem"], keys_b["keys"][0]["public_key_pem"],
        "one signing key"
    );
    let (issuer, answer) = (won[0].0 % 2, &won[0].2);
    let other = if issuer == 0 { &keys_b } else { &keys_a };
    let pem = other["keys"][0]["public_key_pem"].as_str().expect("pem");
    let pk = [licet_verifier::PublicKey::from_spki_pem(pem).expect("key")];
    let token = URL_SAFE_NO_PAD
        .decode(answer["token"].as_str().expect("token"))
        .expect("b64");
    let now = answer["server_time"].as_i64().expect("time");
    let fingerprint = format!("fp-{}", won[0].0);
    let ctx = licet_verifier::Context::new(now, "acme-pro").fingerprint(&fingerprint);
    licet_verifier::verify(&token, &pk[..], &ctx)
        .expect("a token of one instance verifies with the other's key set");

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

    // The token key rotates on A; B signs with the new key within its refresh (10 s), and
    // both the old token and B's new one verify with B's published set.
    let (s, rotated) = call(
        &http,
        "POST",
        &format!("{}/v1/keys/rotate", a.base),
        Some(&admin),
        None,
    );
    assert_eq!(s, 200, "{rotated}");
    let new_kid = rotated["kid"].as_str().expect("kid").to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let keys_b = loop {
        let (_, keys_b) = call(&http, "GET", &format!("{}/v1/keys", b.base), None, None);
        if keys_b["keys"][0]["kid"] == json!(new_kid) {
            break keys_b;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "B never took up the rotated key: {keys_b}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert_eq!(keys_b["keys"][1]["status"], "retiring", "{keys_b}");
    let (s, fresh) = call(
        &http,
        "POST",
        &format!("{}/v1/licenses", b.base),
        Some(&admin),
        Some(json!({ "product_id": product["id"] })),
    );
    assert_eq!(s, 201, "{fresh}");
    let (s, answer) = call(
        &http,
        "POST",
        &format!("{}/v1/client/activate", b.base),
        None,
        Some(json!({ "key": fresh["key"], "fingerprint": "after-rotation" })),
    );
    assert_eq!(s, 201, "{answer}");
    let set = common::token_keys(&keys_b);
    let new_token = URL_SAFE_NO_PAD
        .decode(answer["token"].as_str().expect("token"))
        .expect("b64");
    let lic = licet_verifier::verify(
        &new_token,
        &set[..],
        &licet_verifier::Context::new(now, "acme-pro").fingerprint("after-rotation"),
    )
    .expect("B's new token verifies with the set");
    assert_eq!(lic.kid().to_string(), new_kid);
    licet_verifier::verify(&token, &set[..], &ctx).expect("the old token still verifies");

    // A download uploaded through A is served by B: the file is in the database, not on A's
    // disk.
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    upload(
        &http,
        &a.base,
        &admin,
        product["id"].as_str().expect("id"),
        ("app", "app.bin"),
        &content,
    );
    assert!(
        !dir.path().join("a/downloads").exists(),
        "nothing on A's disk"
    );
    let (s, grant) = call(
        &http,
        "POST",
        &format!("{}/api/v1/licenses/public/download", b.base),
        None,
        Some(
            json!({ "license": fresh["key"], "domain": "shop.example.com", "packages": "Acme Pro", "resource_name": "app" }),
        ),
    );
    assert_eq!(s, 200, "{grant}");
    let body = download(&http, grant["download_url"].as_str().expect("url"));
    assert!(body == content, "B serves the bytes uploaded through A");

    // A policy changed through A is seen by B within the bound of B's catalog cache (B has
    // read the policy for the activations above, and reads it once more here).
    let policy = format!("/v1/policies/{}", l["policy_id"].as_str().expect("policy"));
    let (s, before) = call(
        &http,
        "GET",
        &format!("{}{policy}", b.base),
        Some(&admin),
        None,
    );
    assert_eq!((s, &before["max_machines"]), (200, &json!(5)), "{before}");
    let (s, changed) = call(
        &http,
        "PATCH",
        &format!("{}{policy}", a.base),
        Some(&admin),
        Some(json!({ "max_machines": 9 })),
    );
    assert_eq!(s, 200, "{changed}");
    let at = std::time::Instant::now();
    loop {
        let (s, seen) = call(
            &http,
            "GET",
            &format!("{}{policy}", b.base),
            Some(&admin),
            None,
        );
        assert_eq!(s, 200, "{seen}");
        if seen["max_machines"] == json!(9) {
            break;
        }
        assert!(
            at.elapsed() < licet_store_postgres::CATALOG_STALE_AT_MOST,
            "B still answered the policy as it was {:?} after the change: {seen}",
            at.elapsed()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
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

#[test]
fn a_database_that_goes_away_is_503_and_the_server_recovers_by_itself() {
    let cluster = licet_store_postgres::testing::Cluster::start();
    let dir = tempfile::tempdir().expect("tmp");
    let url = cluster.url();
    let key = master_key(dir.path(), "master.key");
    let mut args = on_postgres(&url, &key).to_vec();
    // No rate limits: the clients below activate as fast as the server answers.
    args.extend([
        "--db-wait",
        "2",
        "--rate-limit-ip",
        "0",
        "--rate-limit-license",
        "0",
    ]);
    let server = Server::start(&dir.path().join("a"), &args);
    let admin = server.bootstrap_key.clone().expect("admin key");
    let http = agent();
    let (_, l) = setup(&http, &server.base, &admin, 1_000);
    let license_key = l["key"].as_str().expect("key").to_owned();
    let license_id = l["id"].as_str().expect("id").to_owned();

    // 8 clients activate new machines without pause while the database stops and comes back.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let base = server.base.clone();
    let (acknowledged, statuses, outage) = std::thread::scope(|s| {
        let clients: Vec<_> = (0..8)
            .map(|c| {
                let (base, key, stop) = (&base, &license_key, &stop);
                s.spawn(move || {
                    let client = agent();
                    let (mut acked, mut seen, mut slowest) = (Vec::new(), Vec::new(), 0u128);
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let fp = format!("fp-{c}-{n}");
                        n += 1;
                        let t = std::time::Instant::now();
                        let (status, v) = call(
                            &client,
                            "POST",
                            &format!("{base}/v1/client/activate"),
                            None,
                            Some(json!({ "key": key, "fingerprint": fp })),
                        );
                        slowest = slowest.max(t.elapsed().as_millis());
                        match status {
                            201 => acked.push(fp),
                            503 => {
                                assert_eq!(v["error"]["code"], "store_unavailable", "{v}");
                                // Retry shortly, as a client told 503 would.
                                std::thread::sleep(std::time::Duration::from_millis(50));
                            }
                            _ => {}
                        }
                        seen.push(status);
                    }
                    (acked, seen, slowest)
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(500));
        cluster.stop();
        std::thread::sleep(std::time::Duration::from_secs(3));
        let (down, health) = call(&http, "GET", &format!("{base}/healthz"), None, None);
        cluster.resume();
        // Back without a restart of the server: /healthz answers ok again. (No assertion in
        // here: a panic before `stop` is set would leave the clients running forever.)
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut recovered = false;
        while !recovered && std::time::Instant::now() < deadline {
            recovered = call(&agent(), "GET", &format!("{base}/healthz"), None, None).0 == 200;
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        if recovered {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut acked = Vec::new();
        let mut seen = Vec::new();
        let mut slowest = 0;
        for c in clients {
            let (a, s, t) = c.join().expect("client");
            acked.extend(a);
            seen.extend(s);
            slowest = slowest.max(t);
        }
        ((acked, slowest, recovered), seen, (down, health))
    });
    let (acknowledged, slowest_ms, recovered) = acknowledged;
    assert!(
        recovered,
        "the server did not recover within 30 s of the database's return"
    );
    assert_eq!(
        (outage.0, outage.1["status"].as_str()),
        (503, Some("store_unavailable")),
        "/healthz says the store is down"
    );
    assert!(
        statuses.contains(&503),
        "some activations met the outage: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 503),
        "a client sees its seat or 503, never a 500 or a hang: {statuses:?}"
    );
    // Bounded: the pool's wait (2 s) and a connect attempt, never the client's 10 s timeout.
    assert!(slowest_ms < 9_000, "a request took {slowest_ms} ms");
    let after = statuses.iter().rev().take_while(|s| **s == 201).count();
    assert!(after > 0, "activations succeed again after the outage");

    // Every acknowledged activation is stored.
    let mut stored = fingerprints(&base, &admin, &license_id);
    let mut acked = acknowledged.clone();
    stored.sort();
    acked.sort();
    for fp in &acked {
        assert!(stored.contains(fp), "acknowledged {fp} was lost");
    }
    server.stop();
}

#[test]
fn an_instance_killed_mid_activation_loses_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = fresh_database();
    let key = master_key(dir.path(), "master.key");
    let mut args = on_postgres(&url, &key).to_vec();
    args.extend(["--rate-limit-ip", "0", "--rate-limit-license", "0"]);
    let a = Server::start(&dir.path().join("a"), &args);
    let admin = a.bootstrap_key.clone().expect("admin key");
    let b = Server::start(&dir.path().join("b"), &args);
    let http = agent();
    let (_, l) = setup(&http, &a.base, &admin, 100_000);
    let license_key = l["key"].as_str().expect("key").to_owned();
    let license_id = l["id"].as_str().expect("id").to_owned();
    let bases = [a.base.clone(), b.base.clone()];

    // 8 clients activate new machines without pause, half through each instance; a client of
    // A that cannot reach it goes to B, as a load balancer would send it.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let killed = std::sync::atomic::AtomicBool::new(false);
    let mut a = Some(a);
    let (acked, calls) = std::thread::scope(|s| {
        let clients: Vec<_> = (0..8)
            .map(|c| {
                let (bases, key, stop, killed) = (&bases, &license_key, &stop, &killed);
                s.spawn(move || {
                    let client = agent();
                    let (mut acked, mut calls) = (Vec::new(), Vec::new());
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let fp = format!("fp-{c}-{n}");
                        n += 1;
                        let mut to = c % 2;
                        let after_kill = killed.load(std::sync::atomic::Ordering::Relaxed);
                        let body = json!({ "key": key, "fingerprint": fp });
                        let mut status = call_once(
                            &client,
                            "POST",
                            &format!("{}/v1/client/activate", bases[to]),
                            None,
                            Some(body.clone()),
                        )
                        .0;
                        calls.push((to, after_kill, status));
                        if status == 0 && to == 0 {
                            to = 1;
                            status = call_once(
                                &agent(),
                                "POST",
                                &format!("{}/v1/client/activate", bases[to]),
                                None,
                                Some(body),
                            )
                            .0;
                            calls.push((to, after_kill, status));
                        }
                        if status == 201 {
                            acked.push(fp);
                        }
                    }
                    (acked, calls)
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(1_500));
        if let Some(a) = a.take() {
            a.kill9();
        }
        killed.store(true, std::sync::atomic::Ordering::Relaxed);
        std::thread::sleep(std::time::Duration::from_millis(1_500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut acked, mut calls) = (Vec::new(), Vec::new());
        for c in clients {
            let (x, y) = c.join().expect("client");
            acked.extend(x);
            calls.extend(y);
        }
        (acked, calls)
    });
    let through = |to: usize, after: bool| {
        calls
            .iter()
            .filter(|(t, k, _)| *t == to && *k == after)
            .map(|(_, _, s)| *s)
            .collect::<Vec<u16>>()
    };
    assert!(
        through(0, false).iter().filter(|s| **s == 201).count() > 0,
        "A served before it was killed"
    );
    let b_after = through(1, true);
    assert!(b_after.len() > 8, "B was asked after A died: {b_after:?}");
    for to in [0, 1] {
        for after in [false, true] {
            for s in through(to, after) {
                // A's calls end with the transport failing (0); B's all succeed.
                assert!(
                    s == 201 || (to == 0 && s == 0),
                    "instance {to} (after the kill: {after}) answered {s}"
                );
            }
        }
    }

    // Every activation either instance acknowledged is stored.
    let stored = fingerprints(&b.base, &admin, &license_id);
    let missing: Vec<&String> = acked.iter().filter(|fp| !stored.contains(fp)).collect();
    assert!(missing.is_empty(), "acknowledged and lost: {missing:?}");
    assert!(acked.len() > 50, "{}", acked.len());
    b.stop();
}

#[test]
fn both_instances_running_deliver_each_event_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = fresh_database();
    let key = master_key(dir.path(), "master.key");
    let mut args = on_postgres(&url, &key).to_vec();
    args.extend(["--webhook-allow-private", "true"]);
    let a = Server::start(&dir.path().join("a"), &args);
    let admin = a.bootstrap_key.clone().expect("admin key");
    let b = Server::start(&dir.path().join("b"), &args);
    let http = agent();
    // A receiver that takes 1.5 s per answer keeps each delivery in the outbox across the
    // drain rounds (every 2 s) of both instances: without one drain at a time, they overlap
    // and send it twice.
    let hook = common::slow_receiver(std::time::Duration::from_millis(1_500));
    let (s, w) = call(
        &http,
        "POST",
        &format!("{}/v1/webhooks", a.base),
        Some(&admin),
        Some(json!({ "url": hook.url, "events": ["license.created"] })),
    );
    assert_eq!(s, 201, "{w}");
    // Ten licenses, made through both instances: ten license.created events in the outbox,
    // which both instances' drains look at every 2 seconds.
    let (p, first) = setup(&http, &a.base, &admin, 1);
    let mut ids = vec![first["id"].as_str().expect("id").to_owned()];
    for i in 0..9 {
        let base = if i % 2 == 0 { &b.base } else { &a.base };
        let (s, l) = call(
            &http,
            "POST",
            &format!("{base}/v1/licenses"),
            Some(&admin),
            Some(json!({ "product_id": p["id"] })),
        );
        assert_eq!(s, 201, "{l}");
        ids.push(l["id"].as_str().expect("id").to_owned());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while common::deliveries(&hook).len() < ids.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Several more rounds of both drains: a second delivery would arrive now.
    std::thread::sleep(std::time::Duration::from_secs(5));
    let got = common::deliveries(&hook);
    for id in &ids {
        let n = got
            .iter()
            .filter(|(_, body)| body.contains(id.as_str()))
            .count();
        assert_eq!(n, 1, "license {id} was announced {n} times: {got:?}");
    }
    assert_eq!(got.len(), ids.len(), "one delivery per event");
    a.stop();
    b.stop();
}
