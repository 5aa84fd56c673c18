//! The root secret: what derives sessions, CSRF tokens, sealed secrets and URLs is a secret of
//! its own, not the first token key's seed, so a leaked key file forges no session; rotating it
//! ends every session, seals the stored secrets again and carries over a restart.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use licet_server::dashboard::session::{Principal, issue};
use licet_server::{AppState, Config};
use serde_json::json;

use crate::common::{self, TestApp};

/// The status of the dashboard's overview with `cookie`: 200 signed in, a redirect if not.
async fn overview(app: &TestApp, cookie: &str) -> StatusCode {
    let req = Request::builder()
        .uri("/admin")
        .header("cookie", format!("licet_admin={cookie}"))
        .body(Body::empty())
        .expect("request");
    app.send(req).await.0
}

/// The id of the bootstrap admin key.
async fn admin_id(app: &TestApp) -> String {
    let keys = app.state.store.api_keys().await.expect("keys");
    keys.first().expect("the bootstrap key").id.clone()
}

#[tokio::test]
async fn a_leaked_signing_key_forges_no_dashboard_session() {
    let app = TestApp::new().await;
    assert!(
        app.state.tokens.keys().root_version() >= 1,
        "a root of its own"
    );
    let id = admin_id(&app).await;
    // Whoever holds the first token key's file derives what the server derived from it.
    let forger = AppState::new(
        app.state.store.clone(),
        common::keys(),
        Arc::new(app.clock.clone()),
        Config::default(),
    )
    .expect("state");
    assert_eq!(forger.tokens.keys().root_version(), 0);
    let (forged, _) = issue(&forger, Principal::Key(id.clone()));
    assert_ne!(overview(&app, &forged).await, StatusCode::OK, "forged");
    let (genuine, _) = issue(&app.state, Principal::Key(id));
    assert_eq!(overview(&app, &genuine).await, StatusCode::OK, "genuine");
}

#[tokio::test]
async fn rotating_the_root_ends_sessions_reseals_secrets_and_survives_a_restart() {
    let app = TestApp::with_config(Config {
        webhook_allow_private: true,
        ..Config::default()
    })
    .await;
    let id = admin_id(&app).await;
    let (before, _) = issue(&app.state, Principal::Key(id.clone()));
    assert_eq!(overview(&app, &before).await, StatusCode::OK);
    let (s, hook) = app
        .admin(
            "POST",
            "/v1/webhooks",
            Some(json!({ "url": "http://127.0.0.1:9/h", "events": ["license.created"], "secret": "whsec_kept_across_rotation_1234" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let hook_id = hook["id"].as_str().expect("id");
    let version = app.state.tokens.keys().root_version();

    // Only an operator's unrestricted key rotates it.
    let (p, _) = app.product("rooted", json!({})).await;
    let (s, limited) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "l", "scope": "admin", "product_id": p["id"] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{limited}");
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/keys/rotate-root",
            Some(limited["key"].as_str().expect("key")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    let (s, r) = app.admin("POST", "/v1/keys/rotate-root", None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["version"], json!(version + 1));
    assert!(r["resealed"].as_u64().expect("n") >= 1, "{r}");
    assert_ne!(
        overview(&app, &before).await,
        StatusCode::OK,
        "sessions end"
    );
    let stored = app
        .state
        .store
        .webhook(hook_id)
        .await
        .expect("read")
        .expect("hook");
    assert!(
        stored
            .sealed_secret
            .starts_with(&format!("v{}.", version + 1)),
        "sealed again under the new root: {}",
        stored.sealed_secret
    );
    let keys = app.state.tokens.keys();
    let opened = keys.unseal(&stored.sealed_secret).expect("opens");
    assert_eq!(opened.as_str(), "whsec_kept_across_rotation_1234");

    // A restart (another instance on the same store and key source) takes up the same root.
    let (after, _) = issue(&app.state, Principal::Key(id));
    let restarted = AppState::new(
        app.state.store.clone(),
        common::keys(),
        Arc::new(app.clock.clone()),
        Config::default(),
    )
    .expect("state")
    .with_key_source(app.state.tokens.key_source().expect("source").clone());
    restarted.tokens.take_up_root().await.expect("root");
    assert_eq!(restarted.tokens.keys().root_version(), version + 1);
    let again = TestApp {
        state: restarted,
        clock: app.clock.clone(),
        admin: app.admin.clone(),
    };
    assert_eq!(overview(&again, &after).await, StatusCode::OK);
}
