//! What a scoped key may not do: switch a product's compatibility families or take a name a
//! family resolves, use up another product's webhook quota, read the server's figures with a
//! read-only key; and a policy's check-in times bounded rather than wrapping.

use axum::http::StatusCode;
use licet_server::Config;
use serde_json::{Value, json};

use crate::common::TestApp;

async fn key(app: &TestApp, body: Value) -> String {
    let (s, k) = app.admin("POST", "/v1/api-keys", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    k["key"].as_str().expect("key").to_owned()
}

#[tokio::test]
async fn only_an_unrestricted_admin_key_switches_families_or_renames_into_them() {
    let app = TestApp::new().await;
    let (p, _) = app.product("fam", json!({})).await;
    let id = p["id"].as_str().expect("id");
    let uri = format!("/v1/products/{id}");
    let limited_rw = key(
        &app,
        json!({ "name": "rw", "scope": "read_write", "product_id": id }),
    )
    .await;
    let limited_admin = key(
        &app,
        json!({ "name": "adm", "scope": "admin", "product_id": id }),
    )
    .await;
    let compat = p["compat"].clone();
    for k in [&limited_rw, &limited_admin] {
        for family in ["faxstore", "wemx", "verify", "licensecm"] {
            let flipped = !compat[family].as_bool().expect("bool");
            let body = json!({ "compat": { family: flipped } });
            let (s, v, _) = app.call("PATCH", &uri, Some(k), Some(body)).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{family}: {v}");
        }
        // The form as it stands (the families unchanged) is no switch.
        let (s, v, _) = app
            .call(
                "PATCH",
                &uri,
                Some(k),
                Some(json!({ "compat": compat, "token_lifetime": 120 })),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (_, now) = app.admin("GET", &uri, None).await;
    assert_eq!(now["compat"], compat, "no family was switched");

    // Answering a family that resolves products by name, the name is the operator's too.
    let (s, v) = app
        .admin("PATCH", &uri, Some(json!({ "compat": { "wemx": true } })))
        .await;
    assert_eq!(s, StatusCode::OK, "the operator switches: {v}");
    let rename = json!({ "name": "Someone Else's Product" });
    let (s, v, _) = app
        .call("PATCH", &uri, Some(&limited_rw), Some(rename.clone()))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (_, now) = app.admin("GET", &uri, None).await;
    assert_eq!(now["name"], p["name"]);
    let (s, v) = app.admin("PATCH", &uri, Some(rename)).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // A product no family finds by name may be renamed by its own key.
    let (q, _) = app.product("plain", json!({})).await;
    let qid = q["id"].as_str().expect("id");
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/products/{qid}"),
            Some(json!({ "compat": { "wemx": false, "faxstore": false, "verify": false, "licensecm": false } })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let own = key(
        &app,
        json!({ "name": "q", "scope": "read_write", "product_id": qid }),
    )
    .await;
    let (s, v, _) = app
        .call(
            "PATCH",
            &format!("/v1/products/{qid}"),
            Some(&own),
            Some(json!({ "name": "Plainer" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn one_product_cannot_use_up_the_webhooks_of_another() {
    let app = TestApp::with_config(Config {
        webhook_allow_private: true,
        ..Config::default()
    })
    .await;
    let (a, _) = app.product("hooks-a", json!({})).await;
    let (b, _) = app.product("hooks-b", json!({})).await;
    let ka = key(
        &app,
        json!({ "name": "a", "scope": "admin", "product_id": a["id"] }),
    )
    .await;
    let kb = key(
        &app,
        json!({ "name": "b", "scope": "admin", "product_id": b["id"] }),
    )
    .await;
    let hook = json!({ "url": "http://127.0.0.1:9/hook", "events": ["license.created"] });
    let make = |k: &str| {
        let app = &app;
        let (k, hook) = (k.to_owned(), hook.clone());
        async move {
            let (s, v, _) = app.call("POST", "/v1/webhooks", Some(&k), Some(hook)).await;
            (s, v)
        }
    };
    for i in 0..10 {
        let (s, v) = make(&ka).await;
        assert_eq!(s, StatusCode::CREATED, "{i}: {v}");
    }
    let (s, v) = make(&ka).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("limit_reached")),
        "{v}"
    );
    let (s, v) = make(&kb).await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "another product's quota is its own: {v}"
    );
    let (s, v) = make(&app.admin.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "the operator's too: {v}");
}

#[tokio::test]
async fn the_figures_are_for_keys_that_act() {
    let app = TestApp::new().await;
    let reader = key(&app, json!({ "name": "ro", "scope": "read_only" })).await;
    let writer = key(&app, json!({ "name": "rw", "scope": "read_write" })).await;
    let (s, v, _) = app.call("GET", "/v1/stats", Some(&reader), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v, _) = app.call("GET", "/v1/stats", Some(&writer), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn check_in_times_are_bounded_not_wrapped() {
    let app = TestApp::new().await;
    let (p, _) = app.product("beats", json!({})).await;
    for policy in [
        json!({ "floating": true, "heartbeat_interval": u64::MAX / 2 }),
        json!({ "floating": true, "heartbeat_interval": 86_401 }),
        json!({ "floating": true, "heartbeat_interval": 60, "heartbeat_ttl": 8 * 86_400 }),
        json!({ "offline_grace": 400 * 86_400 }),
        json!({ "refresh_after": u64::MAX }),
    ] {
        let mut body = policy.clone();
        body["product_id"] = p["id"].clone();
        body["name"] = json!("big");
        let (s, v) = app.admin("POST", "/v1/policies", Some(body)).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_field")),
            "{policy}: {v}"
        );
    }
}
