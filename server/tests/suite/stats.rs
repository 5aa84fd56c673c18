//! The overview's figures (`GET /v1/stats`): validations, activations and refusals counted by
//! every API family under their product and stable code, per UTC day; what a key limited to
//! one product sees; the summary of licenses kept for a minute; the expiring licenses read
//! fresh.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};

/// A product every family answers for, with keys the Verify API accepts.
async fn product(app: &TestApp, code: &str) -> Value {
    let (s, p) = app
        .admin(
            "POST",
            "/v1/products",
            Some(json!({
                "code": code, "name": code, "key_prefix": "CP-",
                "key_format": "XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX",
                "compat": { "faxstore": true, "wemx": true, "verify": true, "licensecm": true }
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let (s, pol) = app
        .admin(
            "POST",
            "/v1/policies",
            Some(json!({ "product_id": p["id"], "name": "std", "max_machines": 3 })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pol}");
    p
}

async fn stats(app: &TestApp, key: &str, query: &str) -> (StatusCode, Value) {
    let (s, v, _) = app
        .call("GET", &format!("/v1/stats{query}"), Some(key), None)
        .await;
    (s, v)
}

fn today(v: &Value) -> &Value {
    v["days"].as_array().and_then(|d| d.last()).expect("days")
}

fn refusals(v: &Value) -> Vec<(String, u64)> {
    v["refusals"]
        .as_array()
        .expect("refusals")
        .iter()
        .map(|r| {
            (
                r["code"].as_str().expect("code").to_owned(),
                r["count"].as_u64().expect("count"),
            )
        })
        .collect()
}

/// Validates `key` once through each family; the codes each answered.
async fn validate_everywhere(app: &TestApp, key: &str, product: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let (_, v, _) = app
        .call(
            "POST",
            "/v1/client/validate",
            None,
            Some(json!({ "key": key })),
        )
        .await;
    out.push(v["code"].clone());
    let (s, v, _) = app
        .call(
            "POST",
            "/api/v1/licenses/verify",
            None,
            Some(json!({ "license_key": key, "domain": "shop.example.com", "ip": "203.0.113.9" })),
        )
        .await;
    out.push(json!(s.as_u16()));
    assert!(v.get("valid").is_some(), "{v}");
    let (s, v, _) = app
        .call(
            "POST",
            "/api/v1/licenses/public/validate",
            None,
            Some(json!({ "license": key, "domain": "shop.example.com", "packages": product["name"] })),
        )
        .await;
    out.push(json!(s.as_u16()));
    assert!(v.get("success").is_some(), "{v}");
    let (_, v, _) = app
        .call(
            "POST",
            "/api/client/validate",
            None,
            Some(json!({ "license_key": key, "hwid": "hw-1", "product_id": product["id"] })),
        )
        .await;
    out.push(v["error_code"].clone());
    out
}

#[tokio::test]
async fn every_family_counts_validations_and_refusals_under_the_product_and_code() {
    let app = TestApp::new().await;
    let a = product(&app, "alpha").await;
    let b = product(&app, "beta").await;
    let good = app.license(&a, json!({})).await;
    let held = app.license(&a, json!({})).await;
    let (s, v) = app
        .admin(
            "POST",
            &format!("/v1/licenses/{}/suspend", held["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let other = app.license(&b, json!({})).await;

    // Yesterday: one native validation of beta's license.
    let (_, v, _) = app
        .call(
            "POST",
            "/v1/client/validate",
            None,
            Some(json!({ "key": other["key"] })),
        )
        .await;
    assert_eq!(v["code"], json!("valid"), "{v}");
    app.clock.advance(86_400);

    // Today: an activation, then every family's validation of the good license and of the
    // suspended one, and keys nobody issued.
    let (s, v, _) = app
        .activate(good["key"].as_str().expect("key"), "machine-1")
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let good_answers = validate_everywhere(&app, good["key"].as_str().expect("key"), &a).await;
    assert_eq!(good_answers[0], json!("valid"));
    assert_eq!(good_answers[1], json!(200));
    assert_eq!(good_answers[2], json!(200));
    let held_answers = validate_everywhere(&app, held["key"].as_str().expect("key"), &a).await;
    assert_eq!(held_answers[0], json!("suspended"), "{held_answers:?}");
    assert_eq!(held_answers[1], json!(403));
    assert_eq!(held_answers[2], json!(403));
    assert_eq!(held_answers[3], json!("LICENSE_SUSPENDED"));
    let nobodys = validate_everywhere(&app, "CP-AAAAAA-BBBBBB-CCCCCC-DDDDDD-EEEEEE", &a).await;
    assert_eq!(nobodys[1], json!(404));
    assert_eq!(nobodys[3], json!("LICENSE_NOT_FOUND"));

    // The unrestricted key sees everything, the unknown keys' refusals included.
    let (s, all) = stats(&app, &app.admin, "").await;
    assert_eq!(s, StatusCode::OK, "{all}");
    assert_eq!(all["days"].as_array().map(Vec::len), Some(30));
    assert_eq!(all["products"], json!(2));
    let days = all["days"].as_array().expect("days");
    assert_eq!(days[28]["validations"], json!(1), "{all}");
    assert_eq!(days[28]["refusals"], json!(0), "{all}");
    // One activation by the native client, one new domain through the Verify API.
    assert_eq!(today(&all)["activations"], json!(2), "{all}");
    // Three keys through four families: twelve validations, eight of them refused.
    assert_eq!(today(&all)["validations"], json!(12), "{all}");
    assert_eq!(today(&all)["refusals"], json!(8), "{all}");
    let by_code = refusals(&all);
    let count_of = |code: &str| {
        by_code
            .iter()
            .find(|(c, _)| c == code)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(count_of("suspended"), 4, "{by_code:?}");
    // The native API's code for a key it does not know is `not_found`; the families' are
    // counted as `license_not_found`, the code of the native activation's.
    assert_eq!(count_of("not_found"), 1, "{by_code:?}");
    assert_eq!(count_of("license_not_found"), 3, "{by_code:?}");
    assert_eq!(by_code.len(), 3, "{by_code:?}");
    assert_eq!(
        all["licenses"],
        json!({ "active": 2, "suspended": 1 }),
        "{all}"
    );
    assert_eq!(
        all["seats"],
        json!(2),
        "machine-1 and the shop's domain: {all}"
    );

    // A key limited to alpha: alpha's figures and nothing else.
    let (s, k) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "alpha figures", "scope": "read_write", "product_id": a["id"] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let limited = k["key"].as_str().expect("key").to_owned();
    let (s, mine) = stats(&app, &limited, "").await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert_eq!(mine["products"], json!(1));
    assert_eq!(
        mine["days"][28]["validations"],
        json!(0),
        "beta's validation: {mine}"
    );
    assert_eq!(
        refusals(&mine),
        vec![("suspended".to_owned(), 4)],
        "only alpha's refusals, none of keys nobody issued"
    );
    assert_eq!(
        mine["licenses"],
        json!({ "active": 1, "suspended": 1 }),
        "{mine}"
    );
    assert_eq!(mine["by_product"].as_array().map(Vec::len), Some(1));
    // Asking for beta by id finds nothing; the unrestricted key may narrow to beta.
    let (s, v) = stats(
        &app,
        &limited,
        &format!("?product_id={}", b["id"].as_str().expect("id")),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, beta) = stats(
        &app,
        &app.admin,
        &format!("?product_id={}", b["id"].as_str().expect("id")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{beta}");
    assert_eq!(beta["days"][28]["validations"], json!(1));
    assert_eq!(today(&beta)["validations"], json!(0));
    assert_eq!(beta["licenses"], json!({ "active": 1 }));
    let (s, v) = stats(&app, &app.admin, "?nonsense=1").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn the_summary_is_kept_a_minute_and_the_expiring_list_is_read_fresh() {
    let app = TestApp::new().await;
    let (p, _) = app.product("acme", json!({})).await;
    let now = common::T0;
    let soon = app
        .license(&p, json!({ "expires_at": now + 3 * 86_400 }))
        .await;
    let sooner = app.license(&p, json!({ "expires_at": now + 86_400 })).await;
    app.license(&p, json!({ "expires_at": now + 20 * 86_400 }))
        .await;
    app.license(&p, json!({})).await;

    let (s, first) = stats(&app, &app.admin, "").await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["licenses"], json!({ "active": 4 }), "{first}");
    let ids: Vec<&Value> = first["expiring"]
        .as_array()
        .expect("expiring")
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(
        ids,
        vec![&sooner["id"], &soon["id"]],
        "soonest first, within 14 days"
    );
    assert_eq!(first["expiring"][0]["key"], sooner["key"]);
    assert_eq!(first["expiring_more"], json!(false));

    // Within the minute: a new license is not summed up yet, but a suspended one leaves the
    // expiring list at once, and a renewed one moves.
    app.clock.advance(30);
    app.license(&p, json!({})).await;
    let (s, v) = app
        .admin(
            "POST",
            &format!(
                "/v1/licenses/{}/suspend",
                sooner["id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .admin(
            "POST",
            &format!("/v1/licenses/{}/renew", soon["id"].as_str().expect("id")),
            Some(json!({ "duration": 7 * 86_400 })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, cached) = stats(&app, &app.admin, "").await;
    assert_eq!(cached["summary_at"], first["summary_at"]);
    assert_eq!(
        cached["licenses"],
        json!({ "active": 4 }),
        "served from the summary: {cached}"
    );
    let expiring = cached["expiring"].as_array().expect("expiring");
    assert_eq!(expiring.len(), 1, "{cached}");
    assert_eq!(expiring[0]["id"], soon["id"]);
    assert_eq!(expiring[0]["expires_at"], json!(now + 10 * 86_400));

    // After the minute it is summed up again, with status as of then.
    app.clock.advance(31);
    let (_, fresh) = stats(&app, &app.admin, "").await;
    assert_eq!(fresh["summary_at"], json!(now + 61));
    assert_eq!(
        fresh["licenses"],
        json!({ "active": 4, "suspended": 1 }),
        "{fresh}"
    );
    app.clock.advance(11 * 86_400);
    let (_, later) = stats(&app, &app.admin, "").await;
    assert_eq!(
        later["licenses"],
        json!({ "active": 3, "expired": 1, "suspended": 1 }),
        "an expiry passed is a status: {later}"
    );
    let left: Vec<&Value> = later["expiring"]
        .as_array()
        .expect("expiring")
        .iter()
        .map(|e| &e["expires_at"])
        .collect();
    assert_eq!(left, vec![&json!(now + 20 * 86_400)], "{later}");
}
