//! Rotation of the token key (issue #14): a new generation signs, the old one stays in
//! `/v1/keys` as retiring and verifies until what it signed has expired, then is retired;
//! tokens name their key, so a verifier holding the published set keeps working across it.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{T0, TestApp};
use licet_server::Config;
use licet_verifier::{Context, UnverifiedToken};
use serde_json::{Value, json};

fn token_of(answer: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(answer["token"].as_str().expect("token"))
        .expect("base64url")
}

fn kid_of(token: &[u8]) -> String {
    let t = UnverifiedToken::decode(token).expect("decode");
    licet_server::ids::hex(t.header().kid)
}

async fn key_set(app: &TestApp) -> Value {
    let (s, v, _) = app.call("GET", "/v1/keys", None, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_key_rotates_while_clients_activate_and_every_token_verifies_against_the_set() {
    let app = Arc::new(TestApp::new().await);
    let (p, _) = app
        .product("rotating", json!({ "max_machines": 1000 }))
        .await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key").to_owned();
    let before = app.state.tokens.keys().token.kid().to_string();

    // Eight clients activate new machines until told to stop; the key rotates among them.
    let stop = Arc::new(AtomicBool::new(false));
    let tokens = Arc::new(std::sync::Mutex::new(Vec::<(String, Vec<u8>)>::new()));
    let mut clients = Vec::new();
    for c in 0..8 {
        let (app, key, stop, tokens) = (app.clone(), key.clone(), stop.clone(), tokens.clone());
        clients.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let fp = format!("client-{c}-{i}");
                let (s, v, _) = app.activate(&key, &fp).await;
                assert_eq!(s, StatusCode::CREATED, "{v}");
                tokens.lock().expect("lock").push((fp, token_of(&v)));
                i += 1;
            }
        }));
    }
    let count = |n: usize| {
        let tokens = tokens.clone();
        async move {
            while tokens.lock().expect("lock").len() < n {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    };
    count(40).await;
    let (s, r) = app.admin("POST", "/v1/keys/rotate", None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["generation"], 1);
    assert_eq!(r["previous"]["kid"], json!(before));
    let after = r["kid"].as_str().expect("kid").to_owned();
    assert_ne!(after, before);
    let rotated_at = tokens.lock().expect("lock").len();
    count(rotated_at + 40).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("client");
    }

    // Offline, with nothing but the published set: every token verifies, old and new.
    let set = key_set(&app).await;
    let keys = common::token_keys(&set);
    assert_eq!(keys.len(), 2, "{set}");
    let tokens = tokens.lock().expect("lock").clone();
    let mut by_kid = std::collections::BTreeMap::<String, usize>::new();
    for (fp, t) in &tokens {
        let ctx = Context::new(T0, "rotating").fingerprint(fp);
        UnverifiedToken::decode(t)
            .expect("decode")
            .verify(&keys[..], &ctx)
            .unwrap_or_else(|e| panic!("{fp}: {e:?}"));
        *by_kid.entry(kid_of(t)).or_default() += 1;
    }
    assert!(
        by_kid.get(&before).copied().unwrap_or(0) >= 40,
        "{by_kid:?}"
    );
    assert!(by_kid.get(&after).copied().unwrap_or(0) >= 40, "{by_kid:?}");
    assert_eq!(by_kid.len(), 2, "{by_kid:?}");
    // The new key alone would not do: the old tokens need the old key, found by their kid.
    let only_new = [keys[0].clone()];
    let old = tokens
        .iter()
        .find(|(_, t)| kid_of(t) == before)
        .expect("an old token");
    assert_eq!(
        UnverifiedToken::decode(&old.1)
            .expect("decode")
            .verify(
                &only_new[..],
                &Context::new(T0, "rotating").fingerprint(&old.0)
            )
            .err()
            .map(|e| e.code()),
        Some("unknown_key")
    );
}

#[tokio::test]
async fn a_retiring_key_verifies_until_what_it_signed_expires_then_is_retired() {
    let app = TestApp::new().await;
    // The longest-lived tokens: five days (longer than the revocation list and the JWTs).
    let (s, p) = app
        .admin(
            "POST",
            "/v1/products",
            Some(json!({ "code": "long", "name": "Long", "token_lifetime": 5 * 86_400 })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let (s, pol) = app
        .admin(
            "POST",
            "/v1/policies",
            Some(json!({ "product_id": p["id"], "name": "standard", "max_machines": 5 })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pol}");
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let (s, v, _) = app.activate(key, "m-old").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let old_token = token_of(&v);
    let (s, jwt) = app
        .admin("POST", "/v1/auth/token", Some(json!({ "ttl": 600 })))
        .await;
    assert_eq!(s, StatusCode::OK, "{jwt}");
    let jwt = jwt["token"].as_str().expect("jwt").to_owned();
    let sealed = app.state.tokens.keys().seal("a webhook secret");
    let derived = app.state.tokens.keys().derive(b"a purpose");

    let (s, r) = app.admin("POST", "/v1/keys/rotate", None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let until = r["previous"]["valid_until"].as_i64().expect("valid_until");
    assert!(
        (T0 + 5 * 86_400..=T0 + 5 * 86_400 + 3600).contains(&until),
        "the old key verifies as long as its longest token lives, and little more: {until}"
    );
    let set = key_set(&app).await;
    let ring: Vec<(&str, &str)> = set["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["alg"] == "EdDSA")
        .map(|k| {
            (
                k["kid"].as_str().unwrap_or(""),
                k["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(ring.len(), 2, "{set}");
    assert_eq!(ring[0], (r["kid"].as_str().expect("kid"), "active"));
    assert_eq!(ring[1].1, "retiring");
    assert_eq!(set["keys"][1]["valid_until"], json!(until));

    // What the old key did keeps working: its JWT, its sealed secrets, derived keys.
    let (s, _, _) = app.call("GET", "/v1/licenses", Some(&jwt), None).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "a JWT of the old key still authenticates"
    );
    assert_eq!(
        app.state
            .tokens
            .keys()
            .unseal(&sealed)
            .as_deref()
            .map(String::as_str),
        Some("a webhook secret")
    );
    assert_eq!(*app.state.tokens.keys().derive(b"a purpose"), *derived);
    // New things are the new key's: a token, and the revocation list (re-signed).
    let (s, v, _) = app.activate(key, "m-new").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(kid_of(&token_of(&v)), r["kid"].as_str().expect("kid"));
    let (s, list, _) = app.call("GET", "/v1/revocations", None, None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let list = URL_SAFE_NO_PAD
        .decode(list["list"].as_str().expect("list"))
        .expect("base64url");
    let new_key = [app.state.tokens.keys().token.public_key().clone()];
    assert!(
        licet_verifier::RevocationList::verify(&list, &new_key[..], None).is_ok(),
        "the list is signed by the new key"
    );

    // Past its validity the old key is retired and verifies nothing.
    app.clock.set(until);
    let set = key_set(&app).await;
    assert_eq!(set["keys"][1]["status"], "retired", "{set}");
    let keys = common::token_keys(&set);
    assert_eq!(keys.len(), 1);
    let ctx = Context::new(until - 1, "long").fingerprint("m-old");
    assert!(
        UnverifiedToken::decode(&old_token)
            .expect("decode")
            .verify(&keys[..], &ctx)
            .is_err()
    );
    let (s, v, _) = app.call("GET", "/v1/licenses", Some(&jwt), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
}

#[tokio::test]
async fn only_an_unrestricted_admin_rotates_and_a_restart_keeps_the_ring() {
    let app = TestApp::new().await;
    let (p, _) = app.product("guarded", json!({})).await;
    let mk = |scope: &'static str, product: Option<Value>| {
        let app = &app;
        async move {
            let (s, v) = app
                .admin(
                    "POST",
                    "/v1/api-keys",
                    Some(json!({ "name": scope, "scope": scope, "product_id": product })),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["key"].as_str().expect("key").to_owned()
        }
    };
    let before = app.state.tokens.keys().token.kid().to_string();
    for (cred, want) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(mk("read_only", None).await), StatusCode::FORBIDDEN),
        (Some(mk("read_write", None).await), StatusCode::FORBIDDEN),
        (
            Some(mk("admin", Some(p["id"].clone())).await),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let (s, v, _) = app
            .call("POST", "/v1/keys/rotate", cred.as_deref(), None)
            .await;
        assert_eq!(s, want, "{v}");
    }
    assert_eq!(app.state.tokens.keys().token.kid().to_string(), before);

    // Two rotations; a server opened afresh on the same store takes up both.
    for generation in 1..=2 {
        let (s, r) = app.admin("POST", "/v1/keys/rotate", None).await;
        assert_eq!(
            (s, r["generation"].as_u64()),
            (StatusCode::OK, Some(generation)),
            "{r}"
        );
    }
    let active = app.state.tokens.keys().token.kid().to_string();
    let reopened = licet_server::keys::ring::load_newer(
        common::keys(),
        &*app.state.store,
        app.state.tokens.key_source().expect("a key source"),
    )
    .await
    .expect("the ring loads");
    assert_eq!(reopened.generation(), 2);
    assert_eq!(reopened.token.kid().to_string(), active);
    assert_eq!(reopened.ring().len(), 3);
    // Another instance's refresh finds the same.
    let other = licet_server::AppState::new(
        app.state.store.clone(),
        common::keys(),
        Arc::new(app.clock.clone()),
        Config::default(),
    )
    .expect("state")
    .with_key_source(app.state.tokens.key_source().expect("a key source").clone());
    assert!(other.tokens.refresh_keys().await.expect("refresh"));
    assert_eq!(other.tokens.keys().token.kid().to_string(), active);
    assert!(
        !other.tokens.refresh_keys().await.expect("refresh"),
        "nothing new"
    );
    // A server given its keys, with nowhere to keep new ones, says so.
    let fixed = TestApp::with_config(Config::default()).await;
    let fixed_state = licet_server::AppState::new(
        fixed.state.store.clone(),
        common::keys(),
        Arc::new(fixed.clock.clone()),
        Config::default(),
    )
    .expect("state");
    let fixed = TestApp {
        state: fixed_state,
        clock: fixed.clock.clone(),
        admin: fixed.admin.clone(),
    };
    let (s, v) = fixed.admin("POST", "/v1/keys/rotate", None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("keys_not_rotatable")),
        "{v}"
    );
}

#[tokio::test]
async fn a_retiring_key_verifies_as_long_as_its_longest_lease_or_borrow() {
    for (policy, lasts) in [
        (json!({ "offline_lease": 40 * 86_400 }), 40 * 86_400),
        (
            json!({ "floating": true, "max_borrow": 50 * 86_400 }),
            50 * 86_400,
        ),
    ] {
        let app = TestApp::new().await;
        let (s, p) = app
            .admin(
                "POST",
                "/v1/products",
                Some(json!({ "code": "leased", "name": "Leased", "token_lifetime": 60 })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        let mut body = policy.clone();
        body["product_id"] = p["id"].clone();
        body["name"] = json!("leases");
        let (s, pol) = app.admin("POST", "/v1/policies", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{pol}");
        let (s, r) = app.admin("POST", "/v1/keys/rotate", None).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let until = r["previous"]["valid_until"].as_i64().expect("valid_until");
        assert!(
            (T0 + lasts..=T0 + lasts + 3600).contains(&until),
            "{policy}: a lease's token outlives the key's published end: {until}"
        );
    }
}

#[tokio::test]
async fn a_leaked_retiring_key_mints_no_jwt_that_outlives_its_retirement() {
    let app = TestApp::new().await;
    // The generation that signs now leaks; then the operator rotates.
    let old = app.state.tokens.keys();
    let pem = old.token.to_pkcs8_pem().expect("pem");
    let kid = old.token.public_key().kid().to_string();
    let (s, k) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "victim", "scope": "admin" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let sub = k["id"].as_str().expect("id").to_owned();
    app.clock.advance(10);
    let (s, r) = app.admin("POST", "/v1/keys/rotate", None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let rotated_at = app.state.clock.now();
    app.clock.advance(10);

    let forge = |iat: i64, exp: i64| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        h.kid = Some(kid.clone());
        let claims = json!({ "sub": sub, "scope": "admin", "iss": app.state.config.issuer, "iat": iat, "exp": exp });
        let key = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).expect("key");
        jsonwebtoken::encode(&h, &claims, &key).expect("jwt")
    };
    let now = app.state.clock.now();
    for (why, iat, exp) in [
        ("issued after the key retired", now, now + 600),
        ("twenty days long", rotated_at - 5, rotated_at + 20 * 86_400),
        ("issued in the future", now + 3_600, now + 4_000),
    ] {
        let (s, v, _) = app
            .call("GET", "/v1/licenses", Some(&forge(iat, exp)), None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{why}: {v}");
    }
    // One the old key really issued before it retired, within the longest life, still works.
    let (s, v, _) = app
        .call(
            "GET",
            "/v1/licenses",
            Some(&forge(rotated_at - 5, rotated_at + 600)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn each_generation_is_vouched_for_by_the_one_before_it() {
    let app = TestApp::new().await;
    let first = app.state.tokens.keys().token.public_key().clone();
    for _ in 0..2 {
        let (s, r) = app.admin("POST", "/v1/keys/rotate", None).await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let set = key_set(&app).await;
    let ring: Vec<&Value> = set["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["alg"] == "EdDSA")
        .collect();
    assert_eq!(ring.len(), 3);
    let key = |k: &Value| {
        licet_verifier::PublicKey::from_spki_pem(k["public_key_pem"].as_str().expect("pem"))
            .expect("key")
    };
    assert_eq!(
        key(ring[2]).kid(),
        first.kid(),
        "the first generation, last"
    );
    assert!(ring[2].get("endorsement").is_none());
    for pair in ring.windows(2) {
        let (newer, older) = (pair[0], pair[1]);
        assert_eq!(newer["endorsed_by"], older["kid"]);
        let sig = URL_SAFE_NO_PAD
            .decode(newer["endorsement"].as_str().expect("endorsement"))
            .expect("base64url");
        assert!(key(older).endorses(&key(newer), &sig));
        assert!(!key(newer).endorses(&key(older), &sig), "one way only");
    }
    // A client that pinned the first generation trusts all three from the set.
    let trusted = licet_client::online::trusted_from(vec![first], set.to_string().as_bytes());
    assert_eq!(trusted.len(), 3);
}
