//! One seat rule for every family (issue #13): LicenseCM's activation takes seats through the
//! same store operation as licet's own, so dead floating seats are given back to it too, and
//! seats taken through one family count in the other; concurrent activations through both
//! never exceed a license's seats.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};

/// A product that answers LicenseCM's client API too, with a policy; and a license of it.
async fn licensed(app: &TestApp, policy: Value) -> (String, String) {
    let (s, p) = app
        .admin(
            "POST",
            "/v1/products",
            Some(json!({ "code": "both", "name": "Both", "compat": { "licensecm": true } })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let mut body = policy;
    body["product_id"] = p["id"].clone();
    body["name"] = json!("seats");
    let (s, pol) = app.admin("POST", "/v1/policies", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{pol}");
    let l = app
        .license(&p, json!({ "policy_id": pol["id"].clone() }))
        .await;
    (
        p["id"].as_str().expect("product").to_owned(),
        l["key"].as_str().expect("key").to_owned(),
    )
}

async fn lcm_activate(app: &TestApp, product: &str, key: &str, hwid: &str) -> (StatusCode, Value) {
    let (s, v, _) = app
        .call(
            "POST",
            "/api/client/activate",
            None,
            Some(json!({ "license_key": key, "hwid": hwid, "product_id": product })),
        )
        .await;
    (s, v)
}

async fn native_activate(app: &TestApp, key: &str, fingerprint: &str) -> (StatusCode, Value) {
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/client/activate",
            None,
            Some(json!({ "key": key, "fingerprint": fingerprint })),
        )
        .await;
    (s, v)
}

async fn machines(app: &TestApp, key: &str) -> Vec<String> {
    let l = app
        .state
        .store
        .license_by_key(key)
        .await
        .expect("read")
        .expect("license");
    let mut fps: Vec<String> = app
        .state
        .store
        .machines(&l.id)
        .await
        .expect("machines")
        .into_iter()
        .map(|m| m.fingerprint)
        .collect();
    fps.sort();
    fps
}

#[tokio::test]
async fn licensecm_activation_reaps_dead_floating_seats_like_the_native_one() {
    let app = TestApp::new().await;
    let (product, key) = licensed(
        &app,
        json!({ "floating": true, "max_machines": 1, "heartbeat_interval": 30, "heartbeat_ttl": 60 }),
    )
    .await;
    let (s, v) = lcm_activate(&app, &product, &key, "machine-a").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // While A is alive, the only seat is A's.
    let (s, v) = lcm_activate(&app, &product, &key, "machine-b").await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("MAX_USES_EXCEEDED")),
        "{v}"
    );
    // A misses its heartbeats: its seat goes to B, and A's record goes with it.
    app.clock.advance(61);
    let (s, v) = lcm_activate(&app, &product, &key, "machine-b").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(machines(&app, &key).await, ["machine-b"]);
}

#[tokio::test]
async fn seats_taken_through_one_family_count_in_the_other() {
    let app = TestApp::new().await;
    let (product, key) = licensed(&app, json!({ "max_machines": 2 })).await;
    assert_eq!(
        native_activate(&app, &key, "native-1").await.0,
        StatusCode::CREATED
    );
    let (s, v) = lcm_activate(&app, &product, &key, "lcm-1").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = native_activate(&app, &key, "native-2").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("too_many_machines")),
        "{v}"
    );
    let (s, v) = lcm_activate(&app, &product, &key, "lcm-2").await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("MAX_USES_EXCEEDED")),
        "{v}"
    );
    // A machine that has a seat keeps it through either family.
    assert_eq!(
        native_activate(&app, &key, "lcm-1").await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        lcm_activate(&app, &product, &key, "native-1").await.0,
        StatusCode::OK
    );
    assert_eq!(machines(&app, &key).await, ["lcm-1", "native-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_activations_through_both_families_never_exceed_the_seats() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let (product, key) = licensed(&app, json!({ "max_machines": 3 })).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (app, product, key) = (app.clone(), product.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let (s, _) = native_activate(&app, &key, &format!("native-{i}")).await;
                s == StatusCode::CREATED
            } else {
                let (s, _) = lcm_activate(&app, &product, &key, &format!("lcm-{i}")).await;
                s == StatusCode::OK
            }
        }));
    }
    let mut seated = 0;
    for t in tasks {
        if t.await.expect("task") {
            seated += 1;
        }
    }
    assert_eq!(seated, 3);
    assert_eq!(machines(&app, &key).await.len(), 3);
}

#[tokio::test]
async fn the_operator_adds_domains_within_the_seats_and_never_twice() {
    let app = TestApp::new().await;
    let (_, key) = licensed(&app, json!({ "max_machines": 2 })).await;
    let id = app
        .state
        .store
        .license_by_key(&key)
        .await
        .expect("read")
        .expect("license")
        .id;
    let add = |domain: &'static str| {
        let (app, id) = (&app, id.clone());
        async move {
            app.admin(
                "POST",
                &format!("/v1/licenses/{id}/domains"),
                Some(json!({ "domain": domain })),
            )
            .await
        }
    };
    let (s, m) = add("https://shop.example.net").await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["fingerprint"], "domain:shop.example.net");
    let (s, v) = add("shop.example.net").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate")),
        "{v}"
    );
    assert_eq!(
        native_activate(&app, &key, "a-machine").await.0,
        StatusCode::CREATED
    );
    let (s, v) = add("other.example.net").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("too_many_machines")),
        "{v}"
    );
    assert_eq!(
        machines(&app, &key).await,
        ["a-machine", "domain:shop.example.net"]
    );
    let (_, audit) = app
        .admin("GET", "/v1/audit?action=domain.added", None)
        .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");
}

#[tokio::test]
async fn resetting_a_license_s_machines_frees_every_seat_with_an_entry_each() {
    let app = TestApp::new().await;
    let (p, _) = app
        .product("resettable", json!({ "max_machines": 2 }))
        .await;
    let l = app.license(&p, json!({})).await;
    let (key, id) = (
        l["key"].as_str().expect("key"),
        l["id"].as_str().expect("id"),
    );
    for fp in ["m-1", "m-2"] {
        assert_eq!(app.activate(key, fp).await.0, StatusCode::CREATED);
    }
    assert_eq!(app.activate(key, "m-3").await.0, StatusCode::CONFLICT);
    let (other, _) = app.product("other", json!({})).await;
    let key_of = |body: Value| {
        let app = &app;
        async move {
            let (s, k) = app.admin("POST", "/v1/api-keys", Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{k}");
            k["key"].as_str().expect("key").to_owned()
        }
    };
    let elsewhere =
        key_of(json!({ "name": "other", "scope": "read_write", "product_id": other["id"] })).await;
    let reader = key_of(json!({ "name": "ro", "scope": "read_only" })).await;
    let uri = format!("/v1/licenses/{id}/machines");
    let (s, v, _) = app.call("DELETE", &uri, Some(&elsewhere), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another product's key: {v}");
    let (s, v, _) = app.call("DELETE", &uri, Some(&reader), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a read-only key: {v}");
    assert_eq!(machines(&app, key).await.len(), 2, "nothing changed");

    let (s, v) = app.admin("DELETE", &uri, None).await;
    assert_eq!((s, &v), (StatusCode::OK, &json!({ "released": 2 })));
    assert!(machines(&app, key).await.is_empty());
    let (_, audit) = app
        .admin(
            "GET",
            &format!("/v1/audit?license={id}&order=newest&limit=5"),
            None,
        )
        .await;
    let entries = audit["items"].as_array().expect("items");
    assert_eq!(entries[0]["action"], json!("license.machines_reset"));
    assert_eq!(entries[0]["detail"]["released"], json!(2));
    // Each machine: its token revoked, then its seat freed (newest first).
    for pair in entries[1..].chunks(2) {
        assert_eq!(pair[0]["action"], json!("machine.deactivated"), "{pair:?}");
        assert_eq!(pair[0]["detail"]["reason"], json!("reset"), "{pair:?}");
        assert_eq!(pair[1]["action"], json!("token.revoked"), "{pair:?}");
        assert_eq!(pair[1]["subject"], pair[0]["subject"], "{pair:?}");
    }
    assert_eq!(entries.len(), 5);
    // The seats are free for other machines; a second reset has nothing to do.
    assert_eq!(app.activate(key, "m-3").await.0, StatusCode::CREATED);
    let (s, v) = app.admin("DELETE", &uri, None).await;
    assert_eq!((s, &v), (StatusCode::OK, &json!({ "released": 1 })));
    let (s, v) = app.admin("DELETE", &uri, None).await;
    assert_eq!((s, &v), (StatusCode::OK, &json!({ "released": 0 })));
    let (s, _) = app
        .admin("DELETE", "/v1/licenses/lic_nonesuch/machines", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
