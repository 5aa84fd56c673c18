//! Router tests: every route through `oneshot`, over a real sled store and real keys.

use crate::common;
use licet_core::ids::LicenseId;

use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{T0, TestApp};
use ed25519_dalek::Verifier;
use licet_verifier::{Context, RevocationList, UnverifiedToken};
use serde_json::{Value, json};

fn token_bytes(answer: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(answer["token"].as_str().expect("token"))
        .expect("base64url")
}

/// Checks `Licet-Signature` over the body, as a client would.
fn signature_holds(app: &TestApp, headers: &axum::http::HeaderMap, body: &Value) -> bool {
    let h = headers
        .get("licet-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let sig = h
        .split(", ")
        .find_map(|p| p.strip_prefix("sig="))
        .unwrap_or("");
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(&sig) else {
        return false;
    };
    let mut msg = b"licet-response-v1\0".to_vec();
    msg.extend_from_slice(&serde_json::to_vec(body).expect("json"));
    app.state
        .tokens
        .keys()
        .token_dalek()
        .verifying_key()
        .verify(&msg, &sig)
        .is_ok()
}

/// Every answer carries a request id: the client's own when it sent one, else a new one for
/// each request, on answers of the routes, of unknown routes and of client refusals alike.
#[tokio::test]
async fn every_answer_carries_a_request_id_the_clients_own_when_it_sent_one() {
    let app = TestApp::new().await;
    let mut seen = std::collections::HashSet::new();
    for path in ["/healthz", "/v1/nothing", "/healthz"] {
        let (_, _, h) = app.call("GET", path, None, None).await;
        let id = h
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("a request id")
            .to_owned();
        assert_eq!(id.len(), 16, "{id}");
        assert!(seen.insert(id), "a new id for each request");
    }
    for (method, path, body) in [
        ("GET", "/healthz", None),
        ("GET", "/v1/nothing", None),
        // A client route's refusal, signed: the id survives the signing.
        (
            "POST",
            "/v1/client/validate",
            Some(json!({ "key": "NO-SUCH-KEY" })),
        ),
    ] {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("x-request-id", "trace-4711");
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(axum::body::Body::from(
                body.map(|b: Value| b.to_string()).unwrap_or_default(),
            ))
            .expect("request");
        let (s, v, h) = app.send(req).await;
        assert_eq!(
            h.get("x-request-id").and_then(|v| v.to_str().ok()),
            Some("trace-4711"),
            "{method} {path}: {s} {v}"
        );
    }
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let app = TestApp::new().await;
    let (s, v, h) = app.call("GET", "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    assert!(h.contains_key("x-request-id"));
    let (s, v, _) = app.call("GET", "/v1/nothing", None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "not_found");
}

#[tokio::test]
async fn authentication_and_scopes() {
    let app = TestApp::new().await;
    let (s, v, _) = app.call("GET", "/v1/products", None, None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (s, _, _) = app
        .call("GET", "/v1/products", Some("lk_nope_nope"), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A forged secret for a real key id.
    let last = if app.admin.ends_with('X') { 'Y' } else { 'X' };
    let forged = format!("{}{last}", &app.admin[..app.admin.len() - 1]);
    assert_ne!(forged, app.admin);
    let (s, _, _) = app.call("GET", "/v1/products", Some(&forged), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (p1, _) = app.product("one", json!({})).await;
    let (p2, _) = app.product("two", json!({})).await;
    let (s, ro) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "ro", "scope": "read_only" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let ro_key = ro["key"].as_str().expect("key").to_owned();
    assert!(ro.get("hash").is_none(), "the hash is never shown");
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/licenses",
            Some(&ro_key),
            Some(json!({ "product_id": p1["id"] })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    let (_, limited) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "p1 only", "scope": "read_write", "product_id": p1["id"] })),
        )
        .await;
    let limited = limited["key"].as_str().expect("key").to_owned();
    let (s, v, _) = app.call("GET", "/v1/products", Some(&limited), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
    let uri = format!("/v1/products/{}", p2["id"].as_str().expect("id"));
    let (s, _, _) = app.call("GET", &uri, Some(&limited), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another product is invisible");
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/licenses",
            Some(&limited),
            Some(json!({ "product_id": p2["id"] })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Only the hash is stored.
    let stored = app.state.store.api_keys().await.expect("keys");
    assert!(
        stored
            .iter()
            .all(|k| !k.hash.contains(&ro_key) && k.hash.len() == 64)
    );
}

#[tokio::test]
async fn jwts_minted_from_api_keys() {
    let app = TestApp::new().await;
    let (p, _) = app
        .product("acme", json!({ "entitlements": ["pro"] }))
        .await;
    let l = app.license(&p, json!({})).await;
    let (s, v) = app
        .admin("POST", "/v1/auth/token", Some(json!({ "ttl": 60 })))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let jwt = v["token"].as_str().expect("jwt").to_owned();
    assert_eq!(v["expires_at"], T0 + 60);
    let uri = format!(
        "/v1/licenses/validate?key={}&entitlements=pro",
        l["key"].as_str().expect("key")
    );
    let (s, v, h) = app.call("GET", &uri, Some(&jwt), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["valid"].as_bool(), v["code"].as_str()),
        (Some(true), Some("valid"))
    );
    assert!(signature_holds(&app, &h, &v));
    // GET /v1/licenses works with the JWT too.
    let (s, v, _) = app.call("GET", "/v1/licenses", Some(&jwt), None).await;
    assert_eq!(
        (s, v["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    // A JWT cannot mint another JWT.
    let (s, _, _) = app.call("POST", "/v1/auth/token", Some(&jwt), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Expired by the injected clock.
    app.clock.advance(61);
    let (s, v, _) = app.call("GET", &uri, Some(&jwt), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    // Tampered.
    let (_, v) = app.admin("POST", "/v1/auth/token", None).await;
    let good = v["token"].as_str().expect("jwt");
    // Change a character inside the signature (the last one may carry only padding bits).
    let at = good.len() - 10;
    let swapped = if &good[at..=at] == "A" { "B" } else { "A" };
    let bad = format!("{}{swapped}{}", &good[..at], &good[at + 1..]);
    let (s, _, _) = app.call("GET", &uri, Some(&bad), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Revoking the API key kills its JWTs.
    let (_, k) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "k", "scope": "read_only" })),
        )
        .await;
    let key = k["key"].as_str().expect("key").to_owned();
    let (_, v, _) = app.call("POST", "/v1/auth/token", Some(&key), None).await;
    let jwt = v["token"].as_str().expect("jwt").to_owned();
    let (s, _) = app
        .admin(
            "DELETE",
            &format!("/v1/api-keys/{}", k["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for cred in [&key, &jwt] {
        let (s, _, _) = app.call("GET", "/v1/licenses", Some(cred), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn api_key_rotation_usage_and_quota() {
    let app = TestApp::new().await;
    let (_, k) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "q", "scope": "read_only", "daily_quota": 3 })),
        )
        .await;
    let key = k["key"].as_str().expect("key").to_owned();
    for _ in 0..3 {
        let (s, _, _) = app.call("GET", "/v1/products", Some(&key), None).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, v, h) = app.call("GET", "/v1/products", Some(&key), None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("quota_exceeded"))
    );
    assert!(h.get("retry-after").is_some());
    let id = k["id"].as_str().expect("id");
    let (_, usage) = app
        .admin("GET", &format!("/v1/api-keys/{id}/usage"), None)
        .await;
    assert_eq!(usage["total"], 4);
    // The next day the quota is fresh.
    app.clock.advance(86_400);
    let (s, _, _) = app.call("GET", "/v1/products", Some(&key), None).await;
    assert_eq!(s, StatusCode::OK);

    let (s, rotated) = app
        .admin("POST", &format!("/v1/api-keys/{id}/rotate"), None)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let new_key = rotated["key"].as_str().expect("key");
    let (s, _, _) = app.call("GET", "/v1/products", Some(new_key), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = app.call("GET", "/v1/products", Some(&key), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the rotated key is revoked");
}

#[tokio::test]
async fn products_policies_and_licenses_crud() {
    let app = TestApp::new().await;
    let (p, pol) = app
        .product(
            "acme-pro",
            json!({ "max_machines": 3, "duration": 86400, "entitlements": ["pro"] }),
        )
        .await;
    let pid = p["id"].as_str().expect("id");
    assert_eq!(p["numeric_id"], 1);
    let (s, v) = app
        .admin(
            "POST",
            "/v1/products",
            Some(json!({ "code": "acme-pro", "name": "again" })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate"))
    );
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/products/{pid}"),
            Some(json!({ "name": "Acme Pro 2", "key_prefix": "ACME-" })),
        )
        .await;
    assert_eq!(
        (s, v["name"].as_str()),
        (StatusCode::OK, Some("Acme Pro 2"))
    );
    assert_eq!(
        v["default_policy_id"], pol["id"],
        "the first policy is the default"
    );

    let l = app
        .license(&p, json!({ "metadata": { "customer": "c-1", "tier": 2 } }))
        .await;
    let key = l["key"].as_str().expect("key");
    assert!(key.starts_with("ACME-") && key.len() == 5 + 19, "{key}");
    assert_eq!(l["expires_at"], T0 + 86_400, "policy duration");
    let lid = l["id"].as_str().expect("id").to_owned();

    let (s, v) = app
        .admin(
            "POST",
            "/v1/licenses/bulk",
            Some(json!({ "count": 25, "license": { "product_id": pid, "kind": "trial" } })),
        )
        .await;
    assert_eq!((s, v["created"].as_u64()), (StatusCode::CREATED, Some(25)));
    let (s, v) = app
        .admin(
            "POST",
            "/v1/licenses/bulk",
            Some(json!({ "count": 1001, "license": { "product_id": pid } })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );

    // Pagination walks all 26 exactly once.
    let mut seen = std::collections::BTreeSet::new();
    let mut after = String::new();
    loop {
        let uri = if after.is_empty() {
            "/v1/licenses?limit=10".to_owned()
        } else {
            format!("/v1/licenses?limit=10&after={after}")
        };
        let (_, page) = app.admin("GET", &uri, None).await;
        for item in page["items"].as_array().expect("items") {
            assert!(seen.insert(item["id"].as_str().expect("id").to_owned()));
        }
        match page["next"].as_str() {
            Some(n) => after = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 26);

    // `summary=true` lists the same licenses, page by page and cursor by cursor, each as the
    // seven fields of a summary with the values of the whole license.
    let fields = [
        "id",
        "key",
        "product_id",
        "policy_id",
        "status",
        "expires_at",
        "created_at",
    ];
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let cursor = if after.is_empty() {
            String::new()
        } else {
            format!("&after={after}")
        };
        let (_, whole) = app
            .admin("GET", &format!("/v1/licenses?limit=7{cursor}"), None)
            .await;
        let (s, summary) = app
            .admin(
                "GET",
                &format!("/v1/licenses?limit=7&summary=true{cursor}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{summary}");
        let want: Vec<Value> = whole["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|l| {
                Value::Object(
                    fields
                        .iter()
                        .map(|f| ((*f).to_owned(), l[*f].clone()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(summary["items"], Value::Array(want));
        assert_eq!(summary["next"], whole["next"]);
        pages += 1;
        match summary["next"].as_str() {
            Some(n) => after = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 4, "26 licenses, 7 a page");

    let (s, v) = app
        .admin("POST", &format!("/v1/licenses/{lid}/suspend"), None)
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("suspended"))
    );
    let (_, v) = app
        .admin("GET", "/v1/licenses?status=suspended", None)
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
    let (_, v) = app
        .admin("GET", "/v1/licenses?status=suspended&summary=true", None)
        .await;
    assert_eq!(
        (
            v["items"][0]["id"].as_str(),
            v["items"][0]["status"].as_str()
        ),
        (Some(lid.as_str()), Some("suspended")),
        "a summary says the status after the change"
    );
    let (_, v) = app
        .admin("POST", &format!("/v1/licenses/{lid}/reinstate"), None)
        .await;
    assert_eq!(v["status"], "active");
    app.clock.advance(86_400);
    let (_, v) = app.admin("GET", &format!("/v1/licenses/{lid}"), None).await;
    assert_eq!(v["status"], "expired");
    let (_, v) = app
        .admin(
            "POST",
            &format!("/v1/licenses/{lid}/renew"),
            Some(json!({ "duration": 3600 })),
        )
        .await;
    assert_eq!(
        (v["status"].as_str(), v["expires_at"].as_i64()),
        (Some("active"), Some(T0 + 86_400 + 3600))
    );
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/licenses/{lid}"),
            Some(json!({ "seats": 7, "domains": ["example.com"] })),
        )
        .await;
    assert_eq!((s, v["seats"].as_u64()), (StatusCode::OK, Some(7)));
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/licenses/{lid}"),
            Some(json!({ "domains": ["Not A Domain"] })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );

    // A product with licenses cannot be deleted; a policy in use neither.
    let (s, _) = app
        .admin("DELETE", &format!("/v1/products/{pid}"), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app
        .admin(
            "DELETE",
            &format!("/v1/policies/{}", pol["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app
        .admin("DELETE", &format!("/v1/licenses/{lid}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.admin("GET", &format!("/v1/licenses/{lid}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The audit log recorded it, filterable by action prefix and subject.
    let (_, v) = app
        .admin("GET", &format!("/v1/audit?subject={lid}"), None)
        .await;
    let actions: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "license.created",
            "license.suspended",
            "license.reinstated",
            "license.renewed",
            "license.updated",
            // Deleting revokes first (issue #12).
            "license.revoked",
            "license.deleted"
        ]
    );
    // Newest first, two at a time: the pages read back towards the oldest.
    let mut newest = Vec::new();
    let mut uri = format!("/v1/audit?subject={lid}&order=newest&limit=2");
    loop {
        let (s, v) = app.admin("GET", &uri, None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        newest.extend(
            v["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|e| e["action"].as_str().map(str::to_owned)),
        );
        match v["next"].as_str() {
            Some(n) => uri = format!("/v1/audit?subject={lid}&order=newest&limit=2&after={n}"),
            None => break,
        }
    }
    assert_eq!(
        newest,
        actions
            .iter()
            .rev()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    );
    let (s, v) = app.admin("GET", "/v1/audit?order=sideways", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (_, v) = app.admin("GET", "/v1/audit?action=policy.", None).await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn activation_gives_a_token_that_verifies_offline() {
    let app = TestApp::new().await;
    let (p, _) = app
        .product(
            "acme-pro",
            json!({ "max_machines": 2, "entitlements": ["pro"], "offline_grace": 3600 }),
        )
        .await;
    let l = app
        .license(
            &p,
            json!({ "domains": ["example.com"], "entitlements": ["sso"], "expires_at": T0 + 1000 }),
        )
        .await;
    let key = l["key"].as_str().expect("key");
    let (s, v, h) = app.activate(key, "machine-1").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(signature_holds(&app, &h, &v), "the answer is signed");
    assert_eq!(
        (v["nonce"].as_str(), v["server_time"].as_i64()),
        (Some("n-1"), Some(T0))
    );
    assert_eq!(
        v["expires_at"],
        T0 + 1000,
        "the license expiry is earlier than the token lifetime"
    );

    let token = token_bytes(&v);
    let keys = [app.state.tokens.keys().token.public_key().clone()];
    let ents = ["pro", "sso"];
    let ctx = Context::new(T0, "acme-pro")
        .fingerprint("machine-1")
        .domain("example.com")
        .entitlements(&ents);
    let lic = UnverifiedToken::decode(&token)
        .expect("decode")
        .verify(&keys[..], &ctx)
        .expect("valid offline");
    assert_eq!(lic.claims().license_id, l["id"].as_str().expect("id"));
    assert_eq!(lic.claims().offline_grace, Some(3600));
    let other = Context::new(T0, "acme-pro")
        .fingerprint("machine-2")
        .domain("example.com");
    let err = UnverifiedToken::decode(&token)
        .expect("decode")
        .verify(&keys[..], &other)
        .err();
    assert_eq!(err.map(|e| e.code()), Some("hwid_mismatch"));

    // Heartbeat refreshes; deactivation frees the seat.
    app.clock.advance(10);
    let body = json!({ "key": key, "fingerprint": "machine-1", "nonce": "n-2" });
    let (s, v, h) = app
        .call("POST", "/v1/client/heartbeat", None, Some(body.clone()))
        .await;
    assert_eq!((s, v["nonce"].as_str()), (StatusCode::OK, Some("n-2")));
    assert!(signature_holds(&app, &h, &v));
    let (s, v, _) = app
        .call("POST", "/v1/client/deactivate", None, Some(body.clone()))
        .await;
    assert_eq!(
        (s, v["deactivated"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (s, v, _) = app
        .call("POST", "/v1/client/heartbeat", None, Some(body))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("machine_not_found"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_activations_of_five_seats() {
    let app = Arc::new(TestApp::new().await);
    let (p, _) = app.product("seats", json!({ "max_machines": 5 })).await;
    // Several licenses, so that a race in the seat check has many chances to show.
    for round in 0..8 {
        let l = app.license(&p, json!({})).await;
        let key = l["key"].as_str().expect("key").to_owned();
        let start = Arc::new(tokio::sync::Barrier::new(64));
        let mut tasks = Vec::new();
        for i in 0..64 {
            let (app, key, start) = (app.clone(), key.clone(), start.clone());
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                app.activate(&key, &format!("fp-{i}")).await
            }));
        }
        let mut ok = Vec::new();
        let mut refused = 0;
        for t in tasks {
            let (s, v, _) = t.await.expect("task");
            match s {
                StatusCode::CREATED => {
                    ok.push(v["machine"]["fingerprint"].as_str().expect("fp").to_owned())
                }
                StatusCode::CONFLICT => {
                    assert_eq!(v["error"]["code"], "too_many_machines");
                    refused += 1;
                }
                other => panic!("unexpected {other}: {v}"),
            }
        }
        assert_eq!((ok.len(), refused), (5, 59), "round {round}");
        let id = l["id"].as_str().expect("id");
        assert_eq!(
            app.state
                .store
                .machines(&LicenseId::from(id))
                .await
                .expect("machines")
                .len(),
            5
        );
        // Re-activating an active machine does not take another seat.
        let (s, _, _) = app.activate(&key, &ok[0]).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(
            app.state
                .store
                .machines(&LicenseId::from(id))
                .await
                .expect("machines")
                .len(),
            5
        );
    }
}

#[tokio::test]
async fn floating_seats_are_culled_after_their_ttl() {
    let app = TestApp::new().await;
    let (p, _) = app.product("float", json!({ "floating": true, "max_machines": 1, "heartbeat_interval": 60, "heartbeat_ttl": 120 })).await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let (s, v, _) = app.activate(key, "a").await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["heartbeat"]["ttl"], 120);
    let (s, _, _) = app.activate(key, "b").await;
    assert_eq!(s, StatusCode::CONFLICT, "one seat, in use");
    // Within the TTL nothing is culled.
    app.clock.advance(120);
    assert_eq!(
        licet_server::licensing::cull_dead_machines(&app.state)
            .await
            .expect("cull"),
        0
    );
    app.clock.advance(1);
    assert_eq!(
        licet_server::licensing::cull_dead_machines(&app.state)
            .await
            .expect("cull"),
        1
    );
    assert!(
        app.state
            .store
            .machines(&LicenseId::from(l["id"].as_str().expect("id")))
            .await
            .expect("m")
            .is_empty()
    );
    let (s, _, _) = app.activate(key, "b").await;
    assert_eq!(s, StatusCode::CREATED, "the seat was freed");

    // A heartbeat overdue beyond the TTL is answered heartbeat_dead.
    app.clock.advance(200);
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/client/heartbeat",
            None,
            Some(json!({ "key": key, "fingerprint": "b" })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::GONE, Some("heartbeat_dead"))
    );

    // A node-locked policy's machines are not culled; once the policy floats, they are.
    let (p2, _) = app
        .product(
            "locked",
            json!({ "max_machines": 2, "heartbeat_interval": 60, "heartbeat_ttl": 120 }),
        )
        .await;
    let l2 = app.license(&p2, json!({})).await;
    let key2 = l2["key"].as_str().expect("key");
    assert_eq!(app.activate(key2, "x").await.0, StatusCode::CREATED);
    app.clock.advance(1000);
    let cull = || licet_server::licensing::cull_dead_machines(&app.state);
    assert_eq!(
        cull().await.expect("cull"),
        0,
        "nothing: b is gone, x is node-locked"
    );
    assert_eq!(cull().await.expect("cull"), 0);
    let policy = l2["policy_id"].as_str().expect("policy");
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/policies/{policy}"),
            Some(json!({ "floating": true })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        cull().await.expect("cull"),
        1,
        "x, now floating and overdue"
    );
}

#[tokio::test]
async fn revocation_reaches_the_list_and_offline_verification() {
    let app = TestApp::new().await;
    let (p, _) = app.product("acme", json!({})).await;
    let l = app.license(&p, json!({})).await;
    let (_, v, _) = app.activate(l["key"].as_str().expect("key"), "m").await;
    let token = token_bytes(&v);
    let (_, before, _) = app.call("GET", "/v1/revocations", None, None).await;
    let seq0 = before["sequence"].as_u64().expect("sequence");
    let (s, v) = app
        .admin(
            "POST",
            &format!("/v1/licenses/{}/revoke", l["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("revoked")));
    let (s, list, _) = app.call("GET", "/v1/revocations", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(list["sequence"].as_u64().expect("seq") > seq0);
    let bytes = URL_SAFE_NO_PAD
        .decode(list["list"].as_str().expect("list"))
        .expect("b64");
    let keys = [app.state.tokens.keys().token.public_key().clone()];
    let rl = RevocationList::verify(&bytes, &keys[..], Some(seq0)).expect("list verifies");
    let ctx = Context::new(T0, "acme").fingerprint("m").revocations(&rl);
    let err = UnverifiedToken::decode(&token)
        .expect("decode")
        .verify(&keys[..], &ctx)
        .err();
    assert_eq!(err.map(|e| e.code()), Some("revoked"));
    // The CBOR form is the same artefact.
    let req = axum::http::Request::get("/v1/revocations?format=cbor")
        .body(axum::body::Body::empty())
        .expect("req");
    let (s, _, h) = app.send(req).await;
    assert_eq!(
        (s, h.get("content-type").and_then(|v| v.to_str().ok())),
        (StatusCode::OK, Some("application/cbor"))
    );
    // A revoked license cannot activate, nor be reinstated.
    let (s, v, _) = app.activate(l["key"].as_str().expect("key"), "m2").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("revoked"))
    );
    let (s, _) = app
        .admin(
            "POST",
            &format!("/v1/licenses/{}/reinstate", l["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

#[tokio::test]
async fn validation_checks_in_order() {
    let app = TestApp::new().await;
    let (p, _) = app.product("acme", json!({ "floating": true, "heartbeat_interval": 60, "heartbeat_ttl": 60, "entitlements": ["pro"] })).await;
    let l = app.license(&p, json!({ "expires_at": T0 + 500 })).await;
    let key = l["key"].as_str().expect("key");
    let validate = |body: Value| async {
        app.call("POST", "/v1/client/validate", None, Some(body))
            .await
            .1["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(validate(json!({ "key": "NOPE" })).await, "not_found");
    assert_eq!(
        validate(json!({ "key": key, "product": "other" })).await,
        "product_scope_mismatch"
    );
    assert_eq!(
        validate(json!({ "key": key, "product": "acme", "fingerprint": "m" })).await,
        "no_machine"
    );
    app.activate(key, "m").await;
    assert_eq!(
        validate(json!({ "key": key, "fingerprint": "m", "entitlements": ["pro"] })).await,
        "valid"
    );
    assert_eq!(
        validate(json!({ "key": key, "entitlements": ["pro", "gold"] })).await,
        "entitlements_missing"
    );
    app.clock.advance(61);
    assert_eq!(
        validate(json!({ "key": key, "fingerprint": "m" })).await,
        "heartbeat_dead"
    );
    app.admin(
        "POST",
        &format!("/v1/licenses/{}/suspend", l["id"].as_str().expect("id")),
        None,
    )
    .await;
    assert_eq!(validate(json!({ "key": key })).await, "suspended");
    app.admin(
        "POST",
        &format!("/v1/licenses/{}/reinstate", l["id"].as_str().expect("id")),
        None,
    )
    .await;
    app.clock.advance(500);
    assert_eq!(validate(json!({ "key": key })).await, "expired");
}

#[tokio::test]
async fn bad_input_is_a_4xx_and_writes_nothing() {
    let app = TestApp::with_config(licet_server::Config {
        max_body_bytes: 2048,
        ..Default::default()
    })
    .await;
    let (p, _) = app.product("acme", json!({})).await;
    let before = app.audit_len().await;
    let licenses = || async {
        let page = licet_server::store::PageRequest {
            after: None,
            limit: 100,
        };
        app.state
            .store
            .licenses(&licet_server::store::LicenseFilter::default(), &page)
            .await
            .expect("list")
            .items
            .len()
    };
    let n = licenses().await;

    let raw = |body: &'static str| {
        axum::http::Request::post("/v1/licenses")
            .header("authorization", format!("Bearer {}", app.admin))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .expect("req")
    };
    let (s, v, _) = app.send(raw("{not json")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (s, v) = app
        .admin("POST", "/v1/licenses", Some(json!({ "product_id": 7 })))
        .await;
    assert!(s.is_client_error(), "{v}");
    assert_eq!(v["error"]["code"], "invalid_request");
    let (s, v) = app
        .admin(
            "POST",
            "/v1/licenses",
            Some(json!({ "product_id": p["id"], "sneaky": true })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_request"))
    );
    let big = json!({ "product_id": p["id"], "metadata": { "x": "y".repeat(4000) } });
    let (s, v) = app.admin("POST", "/v1/licenses", Some(big)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    let (s, v, _) = app.activate("NO-SUCH-KEY", "m").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("license_not_found"))
    );
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/client/activate",
            None,
            Some(json!({ "key": "K", "fingerprint": "" })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    let req = axum::http::Request::post("/v1/client/activate")
        .body(axum::body::Body::from("{}"))
        .expect("req");
    let (s, v, _) = app.send(req).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );

    assert_eq!(app.audit_len().await, before, "nothing was audited");
    assert_eq!(licenses().await, n, "nothing was written");
}

#[tokio::test]
async fn key_set_publishes_both_keys() {
    let app = TestApp::new().await;
    let (s, v, _) = app.call("GET", "/v1/keys", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let keys = v["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert_eq!(keys[1]["alg"], "RS256");
    for k in keys {
        let pem = k["public_key_pem"].as_str().expect("pem");
        let pk = licet_verifier::PublicKey::from_spki_pem(pem).expect("pem parses");
        assert_eq!(pk.kid().to_string(), k["kid"].as_str().expect("kid"));
        assert!(
            !URL_SAFE_NO_PAD
                .decode(k["cose_key"].as_str().expect("cose"))
                .expect("b64")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn rate_limits_per_ip_and_per_license_key() {
    let app = TestApp::with_config(licet_server::Config {
        rate_limit_ip: 5,
        rate_limit_license: 3,
        ..Default::default()
    })
    .await;
    let from = |ip: [u8; 4]| {
        let mut req = axum::http::Request::get("/healthz")
            .body(axum::body::Body::empty())
            .expect("req");
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                ip, 40_000,
            ))));
        req
    };
    for _ in 0..5 {
        assert_eq!(app.send(from([10, 0, 0, 1])).await.0, StatusCode::OK);
    }
    let (s, v, h) = app.send(from([10, 0, 0, 1])).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    let retry: u64 = h
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        app.send(from([10, 0, 0, 2])).await.0,
        StatusCode::OK,
        "another IP is not limited"
    );

    let (p, _) = app.product("acme", json!({ "max_machines": 10 })).await;
    let a = app.license(&p, json!({})).await;
    let b = app.license(&p, json!({})).await;
    let key = a["key"].as_str().expect("key");
    for i in 0..3 {
        assert_eq!(
            app.activate(key, &format!("m{i}")).await.0,
            StatusCode::CREATED
        );
    }
    let (s, v, _) = app.activate(key, "m3").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert_eq!(
        app.activate(b["key"].as_str().expect("key"), "m0").await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        app.state
            .store
            .machines(&LicenseId::from(a["id"].as_str().expect("id")))
            .await
            .expect("m")
            .len(),
        3,
        "the refused call wrote nothing"
    );
}

#[tokio::test]
async fn prometheus_metrics() {
    let app = TestApp::new().await;
    let (p, _) = app.product("acme", json!({ "max_machines": 5 })).await;
    let l = app.license(&p, json!({})).await;
    app.activate(l["key"].as_str().expect("key"), "m1").await;
    app.activate(l["key"].as_str().expect("key"), "m2").await;
    app.call(
        "GET",
        "/v1/licenses/lic_nope",
        Some(&app.admin.clone()),
        None,
    )
    .await;
    let req = axum::http::Request::get("/metrics")
        .body(axum::body::Body::empty())
        .expect("req");
    let resp = tower::ServiceExt::oneshot(licet_server::app(app.state.clone()), req)
        .await
        .expect("resp");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("licet_http_requests_total{method=\"POST\",route=\"/v1/client/activate\",status=\"201\"} 2"), "{text}");
    assert!(
        text.contains(
            "licet_http_requests_total{method=\"GET\",route=\"/v1/licenses/{id}\",status=\"404\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("licet_http_request_duration_seconds_count{route=\"/v1/client/activate\"} 2"),
        "{text}"
    );
    assert!(text.contains("licet_activations_total 2"), "{text}");
    assert!(text.contains("licet_active_seats 2"), "{text}");
    assert!(text.contains("licet_licenses 1"), "{text}");
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let app = TestApp::new().await;
    let (s, doc, _) = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, ops) in paths {
        for method in ops.as_object().expect("ops").keys() {
            operations += 1;
            // Every documented operation is routed: it never reaches the fallback.
            let uri = path.replace("{id}", "x");
            let req = axum::http::Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header("authorization", format!("Bearer {}", app.admin))
                .body(axum::body::Body::empty())
                .expect("req");
            let (_, v, _) = app.send(req).await;
            assert_ne!(
                v["error"]["message"], "no such route",
                "{method} {path} is documented but not routed"
            );
        }
    }
    assert!(operations >= 40, "{operations} operations documented");
    // And the document knows the request and model schemas.
    for schema in [
        "Product",
        "Policy",
        "License",
        "Machine",
        "NewLicense",
        "MachineRequest",
        "ErrorBody",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
}

#[tokio::test]
async fn machines_by_id_and_policy_changes() {
    let app = TestApp::new().await;
    let (p, pol) = app.product("acme", json!({ "max_machines": 1 })).await;
    let pid = pol["id"].as_str().expect("id");
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/policies/{pid}"),
            Some(json!({ "max_machines": 2, "entitlements": ["pro"] })),
        )
        .await;
    assert_eq!((s, v["max_machines"].as_u64()), (StatusCode::OK, Some(2)));
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/policies/{pid}"),
            Some(json!({ "heartbeat_ttl": 1 })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    let (_, v) = app
        .admin(
            "GET",
            &format!("/v1/policies?product_id={}", p["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1));

    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let (_, a, _) = app.activate(key, "m1").await;
    app.activate(key, "m2").await;
    assert_eq!(
        app.activate(key, "m3").await.0,
        StatusCode::CONFLICT,
        "the policy change applies"
    );
    let mid = a["machine"]["id"].as_str().expect("machine id");
    let (s, v) = app.admin("GET", &format!("/v1/machines/{mid}"), None).await;
    assert_eq!((s, v["fingerprint"].as_str()), (StatusCode::OK, Some("m1")));
    let (s, _) = app
        .admin("DELETE", &format!("/v1/machines/{mid}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.admin("GET", &format!("/v1/machines/{mid}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        app.activate(key, "m3").await.0,
        StatusCode::CREATED,
        "the seat was freed"
    );
    let (_, v) = app
        .admin(
            "GET",
            &format!("/v1/licenses/{}/machines", l["id"].as_str().expect("id")),
            None,
        )
        .await;
    let mut fps: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|m| m["fingerprint"].as_str())
        .collect();
    fps.sort_unstable();
    assert_eq!(fps, ["m2", "m3"]);
    let (_, v) = app
        .admin("GET", &format!("/v1/audit?subject={mid}"), None)
        .await;
    let actions: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    // Freeing the seat revoked the machine's token first.
    assert_eq!(
        actions,
        ["machine.activated", "token.revoked", "machine.deactivated"]
    );
}

#[tokio::test]
async fn published_cose_keys_read_back_to_the_same_keys() {
    let app = TestApp::new().await;
    let (s, v, _) = app.call("GET", "/v1/keys", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let keys = v["keys"].as_array().expect("keys");
    assert!(keys.len() >= 2, "the Ed25519 token key and the RSA key");
    for k in keys {
        let cose = URL_SAFE_NO_PAD
            .decode(k["cose_key"].as_str().expect("cose_key"))
            .expect("b64");
        let from_cose = licet_verifier::PublicKey::from_cose_key(&cose).expect("reads back");
        let from_pem =
            licet_verifier::PublicKey::from_spki_pem(k["public_key_pem"].as_str().expect("pem"))
                .expect("pem");
        assert_eq!(from_cose.kid(), from_pem.kid(), "{}", k["alg"]);
        assert_eq!(from_cose.algorithm(), from_pem.algorithm());
        // A wrong kid is refused.
        let mut tampered = cose.clone();
        let at = tampered
            .windows(8)
            .position(|w| w == from_cose.kid().as_bytes())
            .expect("kid inside");
        tampered[at] ^= 1;
        assert!(licet_verifier::PublicKey::from_cose_key(&tampered).is_err());
    }
}
