//! Bad input across every compatibility family: malformed, missing, mistyped, oversized and
//! binary requests get each family's own error shape, never a 5xx, and write nothing.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use serde_json::{Value, json};

/// The shape a family answers in.
#[derive(Debug, Clone, Copy)]
enum Family {
    FaxStore,
    Verify,
    Wemx,
}

impl Family {
    fn check(self, status: StatusCode, v: &Value, what: &str) {
        assert!(!status.is_server_error(), "{what}: {status} {v}");
        // FaxStore answers every check it could evaluate with 200 and `pass` (docs/compat.md).
        if !matches!(self, Family::FaxStore) {
            assert!(!status.is_success(), "{what}: bad input passed: {v}");
        }
        match self {
            Family::FaxStore => {
                assert_eq!(v["pass"], json!(false), "{what}: {v}");
                assert!(
                    v["status"].is_string() && v["details"].is_string(),
                    "{what}: {v}"
                );
            }
            Family::Verify => {
                let laravel = v["message"].is_string() && v["errors"].is_object();
                let refusal = v["valid"] == json!(false) && v["reason"].is_string();
                assert!(laravel || refusal, "{what}: {v}");
            }
            Family::Wemx => {
                assert_eq!(v["success"], json!(false), "{what}: {v}");
                assert!(v["message"].is_string(), "{what}: {v}");
            }
        }
    }
}

/// Everything that must not change.
async fn snapshot(app: &TestApp, license_id: &str) -> (usize, Value, Value) {
    let (_, machines) = app
        .admin("GET", &format!("/v1/licenses/{license_id}/machines"), None)
        .await;
    let (_, license) = app
        .admin("GET", &format!("/v1/licenses/{license_id}"), None)
        .await;
    (app.audit_len().await, machines, license)
}

#[tokio::test]
async fn every_family_refuses_bad_input_in_its_own_shape() {
    let app = TestApp::with_config(licet_server::Config {
        rate_limit_ip: 0,
        rate_limit_license: 0,
        compat_faxstore_v1: true,
        max_body_bytes: 4096,
        ..licet_server::Config::default()
    })
    .await;
    let (product, _) = app.product("example", json!({ "max_machines": 2 })).await;
    let l = app.license(&product, json!({})).await;
    let key = l["key"].as_str().expect("key").to_owned();
    let license_id = l["id"].as_str().expect("id").to_owned();
    let before = snapshot(&app, &license_id).await;

    let huge = "x".repeat(10_000);
    let nested = "[".repeat(5000) + &"]".repeat(5000);
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"".to_vec()),
        ("application/json", b"not json".to_vec()),
        ("application/json", b"{\"license\":".to_vec()),
        ("application/json", b"[1,2,3]".to_vec()),
        ("application/json", b"null".to_vec()),
        ("application/json", nested.into_bytes()),
        ("application/json", vec![0xff, 0xfe, 0x00, 0x9f]),
        ("application/json", json!({ "license": huge }).to_string().into_bytes()),
        ("application/x-www-form-urlencoded", b"%%%=&&=%zz".to_vec()),
        ("text/plain", b"\x00\x01\x02".to_vec()),
        (
            "application/json",
            json!({ "license": [key], "license_key": {"k": key}, "domain": 7, "packages": false, "proIds": {"a": 1}, "ip": [] }).to_string().into_bytes(),
        ),
    ];
    let routes: Vec<(Family, &str, &str, bool)> = vec![
        (Family::FaxStore, "POST", "/api/check/1", true),
        (Family::FaxStore, "POST", "/api/check/multiple", true),
        (Family::FaxStore, "POST", "/api/check/notanumber", true),
        (Family::FaxStore, "POST", "/api/checkitem/1", true),
        (Family::Verify, "POST", "/api/v1/licenses/verify", false),
        (
            Family::Wemx,
            "POST",
            "/api/v1/licenses/public/validate",
            false,
        ),
        (
            Family::Wemx,
            "POST",
            "/api/v1/licenses/public/download",
            false,
        ),
        (
            Family::Wemx,
            "POST",
            "/api/v1/licenses/private/create",
            false,
        ),
        (
            Family::Wemx,
            "POST",
            "/api/v1/licenses/private/update-due-date",
            false,
        ),
    ];
    // FaxStore checks that could be evaluated (a wrong key, say) are answered 200 and logged as
    // "previous auths", by design; malformed ones are neither.
    let mut evaluated = 0;
    let mut distinct = std::collections::BTreeSet::new();
    for (family, method, path, key_header) in &routes {
        for (ctype, body) in &bodies {
            let mut req = Request::builder()
                .method(*method)
                .uri(*path)
                .header("content-type", *ctype);
            if *key_header {
                // FaxStore's key travels in the header; make it a wrong one.
                req = req.header("authorization", "NOT-A-KEY");
            } else if path.contains("/private/") {
                req = req.header("authorization", format!("Bearer {}", app.admin));
            }
            let req = req.body(Body::from(body.clone())).expect("request");
            let (status, v, _) = app.send(req).await;
            if matches!(family, Family::FaxStore) && status == StatusCode::OK {
                evaluated += 1;
                // Checks without a known key are logged once a minute per route and outcome
                // (issue #12), so each distinct pair is one entry.
                let route = if path.starts_with("/api/checkitem/") {
                    "checkitem"
                } else if path.ends_with("/multiple") {
                    "multiple"
                } else {
                    "check"
                };
                distinct.insert((route, v["status"].as_str().unwrap_or("").to_owned()));
            }
            let what = format!(
                "{method} {path} [{ctype}] {}",
                String::from_utf8_lossy(&body[..body.len().min(40)])
            );
            family.check(status, &v, &what);
        }
    }
    // GET routes with junk in the path.
    for path in [
        "/api/v1/licenses/public/%00%ff/domains",
        "/api/v1/licenses/public/download/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/v1/licenses/public/download/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let req = Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let (status, v, _) = app.send(req).await;
        Family::Wemx.check(status, &v, path);
    }
    let after = snapshot(&app, &license_id).await;
    assert!(evaluated > 0 && evaluated < bodies.len() * 4, "{evaluated}");
    assert_eq!(
        after.0,
        before.0 + distinct.len(),
        "only evaluated checks are logged, once a minute per route and outcome: {distinct:?}"
    );
    assert_eq!(
        (after.1, after.2),
        (before.1, before.2),
        "bad input changed state"
    );
}

/// An Authorization header that is not visible ASCII is named as such, not as a missing one.
#[tokio::test]
async fn a_non_ascii_authorization_header_is_named() {
    let app = TestApp::new().await;
    let req = Request::builder()
        .method("GET")
        .uri("/v1/products")
        .header(
            "authorization",
            axum::http::HeaderValue::from_bytes(b"Bearer lk_caf\xc3\xa9").expect("obs-text"),
        )
        .body(Body::empty())
        .expect("request");
    let (s, v, _) = app.send(req).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("visible ASCII"), "{message}");
    let (s, v, _) = app.call("GET", "/v1/products", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("missing Authorization")),
        "{v}"
    );
}
