//! A LicenseCM admin's security tools reach the products the admin reaches and no others: an
//! operator product it was not granted has no security events, client sessions or licenses
//! for it, whether listed, counted, terminated or blacklisted.

use axum::http::StatusCode;
use licet_core::ids::LicenseId;
use licet_server::model::Severity;
use serde_json::{Value, json};

use crate::common::TestApp;

/// A LicenseCM request with a user's bearer token.
async fn lcm(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (s, v, _) = app.call(method, path, Some(token), body).await;
    (s, v)
}

#[tokio::test]
async fn an_admin_s_security_tools_see_only_the_products_it_reaches() {
    let app = TestApp::new().await;
    // The operator's product, answering LicenseCM's clients, with a licensee's session and a
    // security event.
    let (op, _) = app.product("operator", json!({ "max_machines": 3 })).await;
    let uri = format!("/v1/products/{}", op["id"].as_str().expect("id"));
    let (s, v) = app
        .admin(
            "PATCH",
            &uri,
            Some(json!({ "compat": { "licensecm": true } })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let native = app.license(&op, json!({})).await;
    let native_key = native["key"].as_str().expect("key");
    let (s, v, _) = app
        .call(
            "POST",
            "/api/client/activate",
            None,
            Some(json!({ "license_key": native_key, "hwid": "op-hw", "product_id": op["id"] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let stored = app
        .state
        .store
        .license(&LicenseId::from(native["id"].as_str().expect("id")))
        .await
        .expect("read")
        .expect("license");
    app.state
        .journal
        .security_event(
            "hwid_mismatch",
            Severity::High,
            Some(&stored),
            None,
            Some("op-hw"),
            true,
            json!({}),
        )
        .await
        .expect("event");
    app.state
        .journal
        .security_event(
            "rate_limit_exceeded",
            Severity::Low,
            None,
            None,
            None,
            true,
            json!({ "license_key": native_key }),
        )
        .await
        .expect("event");

    // A LicenseCM admin the operator made, not granted the product, with a product of its own.
    let (s, v) = app
        .admin(
            "POST",
            "/v1/licensecm/admins",
            Some(json!({ "email": "cm-admin@example.com", "password": "secret123" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v, _) = app
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({ "email": "cm-admin@example.com", "password": "secret123" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["data"]["token"].as_str().expect("token").to_owned();
    let (s, own) = lcm(
        &app,
        "POST",
        "/api/products",
        &token,
        Some(json!({ "name": "Own" })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{own}");
    let own_id = own["data"]["id"].as_str().expect("id");
    let (s, lic) = lcm(
        &app,
        "POST",
        "/api/licenses",
        &token,
        Some(json!({ "product_id": own_id, "type": "subscription", "max_uses": 1 })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{lic}");
    let own_key = lic["data"]["license_key"].as_str().expect("key");
    let (s, v, _) = app
        .call(
            "POST",
            "/api/client/activate",
            None,
            Some(json!({ "license_key": own_key, "hwid": "own-hw", "product_id": own_id })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let native_id = native["id"].as_str().expect("id");
    let (s, events) = lcm(&app, "GET", "/api/security/events?limit=100", &token, None).await;
    assert_eq!(s, StatusCode::OK, "{events}");
    let text = events.to_string();
    assert!(
        !text.contains(native_id),
        "another product's license: {text}"
    );
    assert!(!text.contains(native_key), "another product's key: {text}");

    let (s, sessions) = lcm(
        &app,
        "GET",
        "/api/security/sessions?limit=100",
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{sessions}");
    let listed = sessions["data"]["sessions"].as_array().expect("sessions");
    assert_eq!(
        listed.len(),
        1,
        "its own licensee's session only: {sessions}"
    );
    assert!(!sessions.to_string().contains(native_id));

    let (s, overview) = lcm(&app, "GET", "/api/security/overview", &token, None).await;
    assert_eq!(s, StatusCode::OK, "{overview}");
    assert_eq!(
        overview["data"]["overview"]["active_sessions"],
        json!(1),
        "{overview}"
    );
    // Its own licensee's activation; not the operator's licensee's, nor the two events about
    // the operator's license and key.
    assert_eq!(
        overview["data"]["overview"]["today_events"],
        json!(1),
        "{overview}"
    );

    // The operator's licensee's session cannot be ended, nor its key blacklisted (an unknown
    // key answers the same); its own product's key can be.
    let op_session = app
        .state
        .store
        .sessions()
        .await
        .expect("sessions")
        .into_iter()
        .find(|x| x.license_id == native_id)
        .expect("the operator's session");
    let (s, v) = lcm(
        &app,
        "POST",
        &format!("/api/security/sessions/{}/terminate", op_session.id),
        &token,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let still = app
        .state
        .store
        .session(&op_session.id)
        .await
        .expect("read")
        .expect("session");
    assert!(still.ended_at.is_none(), "the session goes on");
    for key in [native_key, "NO-SUCH-KEY"] {
        let (s, v) = lcm(
            &app,
            "POST",
            "/api/security/blacklist",
            &token,
            Some(json!({ "type": "license", "value": key, "reason": "test" })),
        )
        .await;
        assert_eq!(
            (s, v["error_code"].as_str()),
            (StatusCode::NOT_FOUND, Some("LICENSE_NOT_FOUND")),
            "{key}: {v}"
        );
    }
    let (s, v) = lcm(
        &app,
        "POST",
        "/api/security/blacklist",
        &token,
        Some(json!({ "type": "license", "value": own_key, "reason": "test" })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}
