//! Device keys on the online client API, and borrowed floating seats (issue #15): a machine
//! activated with a device key is that key's (its token binds it, its requests must be signed
//! with it); a borrowed seat survives the culler until its date and comes back at once.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use licet_client::device::DeviceKey;
use licet_core::ids::LicenseId;
use serde_json::{Value, json};

use crate::common::TestApp;

/// A client request signed with `device` (`Licet-Device-Signature`), naming its key and time.
pub(crate) fn signed(
    app: &TestApp,
    path: &str,
    device: &DeviceKey,
    mut body: Value,
) -> Request<Body> {
    body["device_key"] = json!(licet_server::ids::hex(&device.public()));
    body["time"] = json!(app.state.clock.now());
    let bytes = serde_json::to_vec(&body).expect("json");
    let sig = device.sign_request(path, &bytes);
    Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .header(
            "licet-device-signature",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig),
        )
        .body(Body::from(bytes))
        .expect("request")
}

/// Reads the claims of the token in an activation answer.
fn with_claims<T>(v: &Value, read: impl FnOnce(&licet_verifier::Claims<'_>) -> T) -> T {
    let text = v["token"].as_str().expect("token");
    let bytes = licet_verifier::text::decode(text.as_bytes(), "LICET LICENSE").expect("text");
    let t = licet_verifier::UnverifiedToken::decode(&bytes).expect("token");
    read(&t.unverified_claims().expect("claims"))
}

fn token_claims(v: &Value) -> (Option<[u8; 32]>, Option<i64>, Option<i64>, [u8; 16]) {
    with_claims(v, |c| {
        (c.device_key, c.expires_at, c.refresh_after, c.token_id)
    })
}

#[tokio::test]
async fn a_machine_with_a_device_key_answers_only_to_that_key() {
    let app = TestApp::new().await;
    let (p, _) = app.product("dev", json!({ "max_machines": 1 })).await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let mine = DeviceKey::from_seed(&[1; 32]);
    let thief = DeviceKey::from_seed(&[2; 32]);
    let body = json!({ "key": key, "fingerprint": "fp-1", "nonce": "n" });
    let (s, v, _) = app
        .send(signed(&app, "/v1/client/activate", &mine, body.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        token_claims(&v).0,
        Some(mine.public()),
        "the token binds the device key"
    );

    // The license key and fingerprint alone no longer reach the seat.
    for path in [
        "/v1/client/heartbeat",
        "/v1/client/deactivate",
        "/v1/client/activate",
    ] {
        let (s, v, _) = app.call("POST", path, None, Some(body.clone())).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}: {v}");
        assert_eq!(v["error"]["code"], "device_signature_required", "{path}");
        // Another device, signing correctly with its own key, is refused.
        let (s, v, _) = app.send(signed(&app, path, &thief, body.clone())).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(v["error"]["code"], "device_key_mismatch", "{path}");
    }
    // A signature over another body (or path) is refused.
    let mut req = signed(&app, "/v1/client/heartbeat", &mine, body.clone());
    *req.uri_mut() = "/v1/client/deactivate".parse().expect("uri");
    let (s, v, _) = app.send(req).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_device_signature"))
    );
    // A recorded request is refused once it is more than five minutes old.
    let old = signed(&app, "/v1/client/heartbeat", &mine, body.clone());
    app.clock.advance(301);
    let (s, v, _) = app.send(old).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("stale_request"))
    );
    let machines = app
        .state
        .store
        .machines(&LicenseId::from(l["id"].as_str().expect("id")))
        .await
        .expect("m");
    assert_eq!(machines.len(), 1, "the seat is still held");

    // The device itself heartbeats and deactivates.
    let (s, v, _) = app
        .send(signed(&app, "/v1/client/heartbeat", &mine, body.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(token_claims(&v).0, Some(mine.public()));
    let (s, v, _) = app
        .send(signed(&app, "/v1/client/deactivate", &mine, body.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        app.state
            .store
            .machines(&LicenseId::from(l["id"].as_str().expect("id")))
            .await
            .expect("m")
            .is_empty()
    );
}

#[tokio::test]
async fn a_policy_may_require_a_device_key() {
    let app = TestApp::new().await;
    let (p, _) = app
        .product("req", json!({ "require_device_key": true }))
        .await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let (s, v, _) = app.activate(key, "fp").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("device_key_required"))
    );
    let d = DeviceKey::from_seed(&[3; 32]);
    let (s, v, _) = app
        .send(signed(
            &app,
            "/v1/client/activate",
            &d,
            json!({ "key": key, "fingerprint": "fp" }),
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The token says so (licet claim 12), so a verifier refuses any token of this license that
    // binds no device key, whichever path issued it.
    assert_eq!(
        with_claims(&v, |c| (c.device_key_required, c.device_key)),
        (true, Some(d.public()))
    );
}

#[tokio::test]
async fn a_seat_taken_before_its_policy_required_device_keys_gets_no_unbound_token() {
    let app = TestApp::new().await;
    let (p, pol) = app.product("late", json!({})).await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let (s, v, _) = app.activate(key, "fp").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(
        !with_claims(&v, |c| c.device_key_required),
        "a policy without the requirement does not claim it"
    );
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/policies/{}", pol["id"].as_str().expect("id")),
            Some(json!({ "require_device_key": true })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The check-in would re-sign the grant without a device key under a policy that now
    // demands one: refused with the policy's code, not a server error.
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/client/heartbeat",
            None,
            Some(json!({ "key": key, "fingerprint": "fp" })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("device_key_required")),
        "{v}"
    );
    // Activated again with a device key, the seat is that key's and its token binds it.
    let d = DeviceKey::from_seed(&[5; 32]);
    let (s, v, _) = app
        .send(signed(
            &app,
            "/v1/client/activate",
            &d,
            json!({ "key": key, "fingerprint": "fp" }),
        ))
        .await;
    assert!(s.is_success(), "{s}: {v}");
    assert_eq!(token_claims(&v).0, Some(d.public()));
}

#[tokio::test]
async fn a_borrowed_seat_outlives_the_culler_until_its_date_and_comes_back_early() {
    let app = TestApp::new().await;
    let (p, _) = app
        .product("borrow", json!({ "floating": true, "max_machines": 1, "heartbeat_interval": 60, "heartbeat_ttl": 120, "max_borrow": 86_400 }))
        .await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let d = DeviceKey::from_seed(&[4; 32]);
    let now = app.state.clock.now();
    let borrow = |until: i64, fp: &str| json!({ "key": key, "fingerprint": fp, "until": until });

    // Past max_borrow, in the past, or without `until`: refused, no seat taken.
    let (s, v, _) = app
        .send(signed(
            &app,
            "/v1/client/borrow",
            &d,
            borrow(now + 86_401, "a"),
        ))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("borrow_too_long"))
    );
    let (s, v, _) = app
        .send(signed(&app, "/v1/client/borrow", &d, borrow(now, "a")))
        .await;
    assert_eq!(v["error"]["code"], "borrow_too_long", "{s}");
    let (s, v, _) = app
        .send(signed(
            &app,
            "/v1/client/borrow",
            &d,
            json!({ "key": key, "fingerprint": "a" }),
        ))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    assert!(
        app.state
            .store
            .machines(&LicenseId::from(l["id"].as_str().expect("id")))
            .await
            .expect("m")
            .is_empty()
    );

    let until = now + 3_600;
    let (s, v, _) = app
        .send(signed(&app, "/v1/client/borrow", &d, borrow(until, "a")))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (device, exp, refresh, token_id) = token_claims(&v);
    assert_eq!(
        (device, exp, refresh),
        (Some(d.public()), Some(until), None),
        "valid until `until`, no check-ins"
    );

    // No heartbeat for far longer than the TTL: the culler leaves the seat, nobody else gets it.
    app.clock.advance(3_000);
    assert_eq!(
        licet_server::licensing::cull_dead_machines(&app.state)
            .await
            .expect("cull"),
        0
    );
    let (s, _, _) = app.activate(key, "b").await;
    assert_eq!(s, StatusCode::CONFLICT, "the borrowed seat is held");

    // Returned early (a signed deactivation): the seat is free at once, the token revoked.
    let (s, v, _) = app
        .send(signed(
            &app,
            "/v1/client/deactivate",
            &d,
            json!({ "key": key, "fingerprint": "a" }),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let revoked = app.state.store.revocation_state().await.expect("state");
    assert!(
        revoked
            .token_ids
            .contains(&licet_server::ids::hex(&token_id)),
        "the borrowed token is revoked"
    );
    let (s, v, _) = app.activate(key, "b").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // A second borrow on a full license is refused; once the borrow date passes the culler
    // frees the seat.
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/client/deactivate",
            None,
            Some(json!({ "key": key, "fingerprint": "b" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let until = app.state.clock.now() + 600;
    let (s, _, _) = app
        .send(signed(&app, "/v1/client/borrow", &d, borrow(until, "a")))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let other = DeviceKey::from_seed(&[5; 32]);
    let (s, v, _) = app
        .send(signed(
            &app,
            "/v1/client/borrow",
            &other,
            borrow(until, "c"),
        ))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("too_many_machines"))
    );
    app.clock.advance(600);
    assert_eq!(
        licet_server::licensing::cull_dead_machines(&app.state)
            .await
            .expect("cull"),
        1
    );
    let (s, _, _) = app.activate(key, "b").await;
    assert_eq!(s, StatusCode::CREATED, "the lease ended");
}

#[tokio::test]
async fn borrowing_needs_a_floating_policy_that_lends() {
    let app = TestApp::new().await;
    let (p, _) = app.product("nolend", json!({ "floating": true })).await;
    let l = app.license(&p, json!({})).await;
    let d = DeviceKey::from_seed(&[6; 32]);
    let until = app.state.clock.now() + 60;
    let (s, v, _) = app
        .send(signed(
            &app,
            "/v1/client/borrow",
            &d,
            json!({ "key": l["key"], "fingerprint": "a", "until": until }),
        ))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("borrow_not_allowed"))
    );
}
