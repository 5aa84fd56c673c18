//! licet's own webhooks (`/v1/webhooks`, issue #13): every state change the native API makes
//! is announced, through the same outbox as LicenseCM's; a product-limited admin key's webhooks
//! hear only its product; deliveries are listed with where they stand; a test send goes through
//! the outbox and says what the receiver answered.

use crate::common;

use axum::http::StatusCode;
use common::{TestApp, deliveries, receiver};
use licet_server::Config;
use serde_json::{Value, json};

pub(crate) async fn app() -> TestApp {
    TestApp::with_config(Config {
        rate_limit_ip: 0,
        rate_limit_license: 0,
        licensecm_rate_api: 0,
        licensecm_rate_validation: 0,
        login_rate_limit: 0,
        webhook_allow_private: true,
        ..Config::default()
    })
    .await
}

/// Sends what is due until nothing more is delivered (a round sends at most two at a time to
/// one endpoint); how many were delivered.
async fn drain(app: &TestApp) -> usize {
    let mut total = 0;
    loop {
        let n = licet_server::events::drain_outbox(&app.state)
            .await
            .expect("drain");
        if n == 0 {
            return total;
        }
        total += n;
    }
}

/// Event names in the order of [`ALL`]: two deliveries may be in flight to one endpoint at
/// once, so they may arrive in either order.
fn sorted(mut events: Vec<String>) -> Vec<String> {
    events.sort_by_key(|e| ALL.iter().position(|x| x == e).unwrap_or(usize::MAX));
    events
}

fn events_of(got: &[(Vec<(String, String)>, String)]) -> Vec<String> {
    got.iter()
        .map(|(_, body)| {
            let v: Value = serde_json::from_str(body).expect("json");
            v["event"].as_str().unwrap_or("").to_owned()
        })
        .collect()
}

const ALL: &[&str] = &[
    "license.created",
    "license.activated",
    "license.deactivated",
    "license.suspended",
    "license.reinstated",
    "license.renewed",
    "license.revoked",
    "license.deleted",
];

#[tokio::test]
async fn the_native_api_announces_every_change_to_the_webhooks_that_may_hear_it() {
    let app = app().await;
    let (a, _) = app.product("app-a", json!({ "duration": 86_400 })).await;
    let (b, _) = app.product("app-b", json!({ "duration": 86_400 })).await;
    let (s, limited) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "a only", "scope": "admin", "product_id": a["id"] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{limited}");
    let limited = limited["key"].as_str().expect("key").to_owned();

    let everything = receiver(vec![]);
    let (s, hook) = app
        .admin(
            "POST",
            "/v1/webhooks",
            Some(json!({ "url": everything.url, "events": ALL, "secret": "s3cret" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    assert_eq!(hook["secret"], json!("s3cret"), "shown once, on creation");
    assert_eq!(hook["product_id"], Value::Null);
    let only_a = receiver(vec![]);
    let (s, hook_a, _) = app
        .call(
            "POST",
            "/v1/webhooks",
            Some(&limited),
            Some(json!({ "url": only_a.url, "events": ALL })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook_a}");
    assert_eq!(
        hook_a["product_id"], a["id"],
        "a limited key's webhook hears its product"
    );
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/webhooks",
            Some(&limited),
            Some(json!({ "url": only_a.url, "events": ALL, "product_id": b["id"] })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // B's license through its life, on the native API.
    let l = app.license(&b, json!({})).await;
    let id = l["id"].as_str().expect("id");
    let key = l["key"].as_str().expect("key");
    for action in ["suspend", "suspend", "reinstate", "renew"] {
        let (s, v) = app
            .admin("POST", &format!("/v1/licenses/{id}/{action}"), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{action}: {v}");
    }
    let (s, v, _) = app.activate(key, "machine-1").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v, _) = app.activate(key, "machine-1").await;
    assert!(s.is_success(), "a known machine again: {v}");
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/client/deactivate",
            None,
            Some(json!({ "key": key, "fingerprint": "machine-1" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .admin("POST", &format!("/v1/licenses/{id}/revoke"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .admin("DELETE", &format!("/v1/licenses/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");

    assert_eq!(drain(&app).await, 8);
    let got = deliveries(&everything);
    assert_eq!(
        sorted(events_of(&got)),
        sorted(ALL.iter().map(|e| (*e).to_owned()).collect()),
        "each change once: a second suspend changes nothing, a known machine takes no new seat"
    );
    let (headers, body) = got
        .iter()
        .find(|(_, b)| b.contains("license.suspended"))
        .expect("suspended");
    let sig = headers
        .iter()
        .find(|(k, _)| k == "x-webhook-signature")
        .map(|(_, v)| v.clone())
        .expect("signed");
    assert_eq!(sig, licet_server::events::sign(b"s3cret", body.as_bytes()));
    let suspended: Value = serde_json::from_str(body).expect("json");
    assert_eq!(suspended["data"]["license_key"], json!(key));
    assert!(
        deliveries(&only_a).is_empty(),
        "B's events are not A's key's"
    );

    // A's license: heard by both.
    let la = app.license(&a, json!({})).await;
    let (s, _) = app
        .admin(
            "POST",
            &format!("/v1/licenses/{}/suspend", la["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(drain(&app).await, 4);
    assert_eq!(
        sorted(events_of(&deliveries(&only_a))),
        ["license.created", "license.suspended"]
    );

    // The limited key sees its webhook only.
    let (_, listed, _) = app.call("GET", "/v1/webhooks", Some(&limited), None).await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(listed["items"][0]["id"], hook_a["id"]);
    assert!(listed["items"][0].get("secret").is_none());
    let all_id = hook["id"].as_str().expect("id");
    for (method, path) in [
        ("GET", format!("/v1/webhooks/{all_id}")),
        ("GET", format!("/v1/webhooks/{all_id}/deliveries")),
        ("POST", format!("/v1/webhooks/{all_id}/test")),
        ("DELETE", format!("/v1/webhooks/{all_id}")),
    ] {
        let (s, _, _) = app.call(method, &path, Some(&limited), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}");
    }
    // LicenseCM's API does not show licet's webhooks, nor the reverse.
    let (s, _, _) = app
        .call(
            "GET",
            &format!("/api/webhooks/{all_id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_ne!(s, StatusCode::OK);

    // Deliveries, newest first, with where they stand.
    let (s, ds) = app
        .admin("GET", &format!("/v1/webhooks/{all_id}/deliveries"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{ds}");
    let items = ds["items"].as_array().expect("items");
    assert_eq!(items.len(), 10);
    assert!(
        items
            .windows(2)
            .all(|w| w[0]["id"].as_u64() > w[1]["id"].as_u64()),
        "newest first: {ds}"
    );
    assert_eq!(
        items[0]["event"],
        json!("license.suspended"),
        "A's suspension was the last"
    );
    assert!(
        items.iter().all(|d| d["state"] == json!("delivered")
            && d["last_status"] == json!(200)
            && d["attempts"] == json!(1)),
        "{ds}"
    );

    // The limited key reads its own webhook's story in the audit log, and not the other's.
    let a_id = hook_a["id"].as_str().expect("id");
    for (method, path, body) in [
        (
            "PATCH",
            format!("/v1/webhooks/{a_id}"),
            Some(json!({ "active": false })),
        ),
        ("POST", format!("/v1/webhooks/{a_id}/test"), None),
        ("DELETE", format!("/v1/webhooks/{a_id}"), None),
    ] {
        let (s, v, _) = app.call(method, &path, Some(&limited), body).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
    }
    let (s, log, _) = app
        .call(
            "GET",
            "/v1/audit?action=webhook.&limit=100",
            Some(&limited),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let seen: Vec<(&str, &str)> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["subject"].as_str().unwrap_or(""),
            )
        })
        .collect();
    for action in [
        "webhook.created",
        "webhook.updated",
        "webhook.tested",
        "webhook.deleted",
    ] {
        assert!(seen.contains(&(action, a_id)), "{action}: {log}");
    }
    assert!(
        seen.iter().all(|(_, subject)| *subject == a_id),
        "only its own webhook: {log}"
    );
}

#[tokio::test]
async fn a_test_send_goes_through_the_outbox_and_a_failure_is_retried() {
    let app = app().await;
    let r = receiver(vec![503]);
    let (_, hook) = app
        .admin(
            "POST",
            "/v1/webhooks",
            Some(json!({ "url": r.url, "events": ["license.created"] })),
        )
        .await;
    let id = hook["id"].as_str().expect("id");
    let secret = hook["secret"].as_str().expect("a secret was made");
    let (s, first) = app
        .admin("POST", &format!("/v1/webhooks/{id}/test"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(
        (&first["state"], &first["last_status"], &first["attempts"]),
        (&json!("pending"), &json!(503), &json!(1)),
        "{first}"
    );
    assert!(first["next_attempt_at"].is_i64());
    app.clock.advance(11);
    assert_eq!(drain(&app).await, 1, "retried after the backoff");
    let got = deliveries(&r);
    assert_eq!(events_of(&got), ["webhook.test", "webhook.test"]);
    let (headers, body) = &got[1];
    assert!(headers.iter().any(|(k, v)| k == "x-webhook-signature"
        && *v == licet_server::events::sign(secret.as_bytes(), body.as_bytes())));
    let (_, ds) = app
        .admin("GET", &format!("/v1/webhooks/{id}/deliveries"), None)
        .await;
    assert_eq!(ds["items"][0]["state"], json!("delivered"), "{ds}");
    assert_eq!(ds["items"][0]["attempts"], json!(2));
    // Bad input: stable codes, nothing stored.
    for bad in [
        json!({ "url": "ftp://x", "events": ["license.created"] }),
        json!({ "url": r.url, "events": ["license.nope"] }),
        json!({ "url": r.url, "events": [] }),
        json!({ "url": r.url, "events": ["license.created"], "secret": "" }),
    ] {
        let (s, v) = app.admin("POST", "/v1/webhooks", Some(bad.clone())).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_field")),
            "{bad}: {v}"
        );
    }
    let (_, listed) = app.admin("GET", "/v1/webhooks", None).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    // A read-write key manages no webhooks.
    let (_, rw) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "rw", "scope": "read_write" })),
        )
        .await;
    let (s, _, _) = app
        .call("GET", "/v1/webhooks", rw["key"].as_str(), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .admin("DELETE", &format!("/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .admin("GET", &format!("/v1/webhooks/{id}/deliveries"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
