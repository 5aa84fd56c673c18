//! The authorization matrix: every operation in `/openapi.json`, called by every
//! kind of caller — nobody, `read_only`, `read_write`, an `admin` key limited to product A, an
//! unrestricted admin, a LicenseCM user and a LicenseCM admin — against objects of product B
//! and of another LicenseCM tenant. Nothing may come back or change that the caller may not
//! see; no call may be a 5xx. New routes are covered as soon as they are in the document.

use crate::common;
use licet_core::ids::LicenseId;

use axum::http::StatusCode;
use common::TestApp;
use licet_server::Config;
use serde_json::{Value, json};

/// The objects of the world every caller is turned loose on.
struct World {
    /// Product B (nobody's but the operator's; A is the limited key's).
    b: Value,
    b_policy: String,
    b_license: Value,
    b_machine: String,
    b_price: u64,
    b_download: u64,
    customer: u64,
    order: u64,
    bootstrap_key: String,
    /// Tenant 2 of LicenseCM: its user, product, license, webhook, blacklist entry.
    t2_user: String,
    t2_product: String,
    t2_license: String,
    t2_license_key: String,
    t2_webhook: String,
    blacklist_entry: String,
    /// A LicenseCM client session of B's license (B answers LicenseCM's clients), which a
    /// LicenseCM admin not granted B may neither see nor end.
    b_session: String,
}

/// The callers: (name, bearer credential).
struct Callers {
    list: Vec<(&'static str, Option<String>)>,
}

async fn ok(app: &TestApp, method: &str, uri: &str, auth: Option<&str>, body: Value) -> Value {
    let (s, v, _) = app.call(method, uri, auth, Some(body)).await;
    assert!(s.is_success(), "{method} {uri}: {s} {v}");
    v
}

async fn world(app: &TestApp) -> (World, Callers) {
    let admin = app.admin.clone();
    let adm = Some(admin.as_str());
    let (a, _) = app.product("app-a", json!({})).await;
    let (b, b_pol) = app.product("app-b", json!({ "max_machines": 5 })).await;
    let b_license = app.license(&b, json!({})).await;
    let (s, m, _) = app
        .activate(b_license["key"].as_str().expect("key"), "b-machine")
        .await;
    assert!(s.is_success(), "{m}");
    let bid = b["id"].as_str().expect("id").to_owned();
    let price = ok(
        app,
        "POST",
        &format!("/v1/products/{bid}/prices"),
        adm,
        json!({ "name": "Monthly", "kind": "recurring", "period_days": 30, "amount": 100 }),
    )
    .await;
    let upload = axum::http::Request::post(format!(
        "/v1/downloads/upload?product_id={bid}&name=secret&file=secret.zip"
    ))
    .header("authorization", format!("Bearer {admin}"))
    .body(axum::body::Body::from("B's file"))
    .expect("request");
    let (s, download, _) = app.send(upload).await;
    assert_eq!(s, StatusCode::CREATED, "{download}");
    let order = ok(
        app,
        "POST",
        "/api/v1/licenses/private/create",
        adm,
        json!({ "email": "buyer@example.com", "domain": "shop.example.com", "package_id": b["numeric_id"], "price_id": price["id"] }),
    )
    .await;
    assert_eq!(order["success"], json!(true), "{order}");
    let (_, customers) = app.admin("GET", "/v1/customers", None).await;
    let customer = customers["items"][0]["id"].as_u64().expect("customer");
    let (_, c) = app
        .admin("GET", &format!("/v1/customers/{customer}"), None)
        .await;
    let order_id = c["orders"][0]["id"].as_u64().expect("order");
    let (_, keys) = app.admin("GET", "/v1/api-keys", None).await;
    let bootstrap_key = keys["items"][0]["id"].as_str().expect("key").to_owned();

    // Keys of each scope, and one limited to A.
    let key = |scope: &'static str, product: Option<Value>| {
        let adm = admin.clone();
        async move {
            ok(
                app,
                "POST",
                "/v1/api-keys",
                Some(&adm),
                json!({ "name": scope, "scope": scope, "product_id": product }),
            )
            .await["key"]
                .as_str()
                .expect("key")
                .to_owned()
        }
    };
    let read_only = key("read_only", None).await;
    let read_write = key("read_write", None).await;
    let limited = key("admin", Some(a["id"].clone())).await;

    // LicenseCM: two tenants and an admin the operator made (granted nothing).
    let register = |email: &'static str| async move {
        let v = ok(
            app,
            "POST",
            "/api/auth/register",
            None,
            json!({ "email": email, "password": "secret123" }),
        )
        .await;
        (
            v["data"]["token"].as_str().expect("token").to_owned(),
            v["data"]["user"]["id"].as_str().expect("id").to_owned(),
        )
    };
    let (t1, _) = register("t1@example.com").await;
    let (t2, t2_user) = register("t2@example.com").await;
    let pt2 = ok(
        app,
        "POST",
        "/api/products",
        Some(&t2),
        json!({ "name": "Tenant Two" }),
    )
    .await;
    let t2_product = pt2["data"]["id"].as_str().expect("id").to_owned();
    let lt2 = ok(
        app,
        "POST",
        "/api/licenses",
        Some(&t2),
        json!({ "product_id": t2_product, "max_uses": 2 }),
    )
    .await;
    let hook = ok(
        app,
        "POST",
        "/api/webhooks",
        Some(&t2),
        json!({ "url": "https://93.184.216.34/hook", "events": ["license.created"] }),
    )
    .await;
    ok(
        app,
        "POST",
        "/v1/licensecm/admins",
        adm,
        json!({ "email": "lcm-admin@example.com", "password": "secret123" }),
    )
    .await;
    let lcm_admin = ok(
        app,
        "POST",
        "/api/auth/login",
        None,
        json!({ "email": "lcm-admin@example.com", "password": "secret123" }),
    )
    .await["data"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let entry = ok(
        app,
        "POST",
        "/api/security/blacklist",
        Some(&lcm_admin),
        json!({ "type": "hwid", "value": "blocked-hw" }),
    )
    .await;
    // B answers LicenseCM's clients too: its licensee has a client session, and a security
    // event names its license; neither is for a LicenseCM admin it was not granted to.
    ok(
        app,
        "PATCH",
        &format!("/v1/products/{bid}"),
        adm,
        json!({ "compat": { "licensecm": true } }),
    )
    .await;
    ok(
        app,
        "POST",
        "/api/client/activate",
        None,
        json!({ "license_key": b_license["key"], "hwid": "b-lcm-hw", "product_id": bid }),
    )
    .await;
    let b_session = app
        .state
        .store
        .sessions()
        .await
        .expect("sessions")
        .into_iter()
        .find(|x| x.license_id == b_license["id"].as_str().unwrap_or(""))
        .expect("B's client session")
        .id;
    let b_stored = app
        .state
        .store
        .license(&LicenseId::from(b_license["id"].as_str().expect("id")))
        .await
        .expect("read")
        .expect("B's license");
    app.state
        .journal
        .security_event(
            "hwid_mismatch",
            licet_server::model::Severity::High,
            Some(&b_stored),
            None,
            Some("b-lcm-hw"),
            true,
            json!({}),
        )
        .await
        .expect("event");
    let world = World {
        b_session,
        b_policy: b_pol["id"].as_str().expect("id").to_owned(),
        b_machine: m["machine"]["id"].as_str().expect("id").to_owned(),
        b_license,
        b,
        b_price: price["id"].as_u64().expect("price"),
        b_download: download["id"].as_u64().expect("download"),
        customer,
        order: order_id,
        bootstrap_key,
        t2_user,
        t2_product,
        t2_license: lt2["data"]["id"].as_str().expect("id").to_owned(),
        t2_license_key: lt2["data"]["license_key"].as_str().expect("key").to_owned(),
        t2_webhook: hook["data"]["id"].as_str().expect("id").to_owned(),
        blacklist_entry: entry["data"]["id"].as_str().expect("id").to_owned(),
    };
    let callers = Callers {
        list: vec![
            ("nobody", None),
            ("read_only", Some(read_only)),
            ("licensecm_user", Some(t1)),
            ("admin_limited_to_a", Some(limited)),
            ("licensecm_admin", Some(lcm_admin)),
            // Unrestricted keys may change B: they go last.
            ("read_write", Some(read_write)),
            ("unrestricted_admin", Some(admin)),
        ],
    };
    (world, callers)
}

/// The path with its parameters filled with objects of product B or of tenant 2.
fn fill(path: &str, w: &World) -> String {
    let b = w.b["id"].as_str().unwrap_or("");
    let id = if path.starts_with("/v1/products/") {
        b.to_owned()
    } else if path.starts_with("/v1/policies/") {
        w.b_policy.clone()
    } else if path.starts_with("/v1/licenses/") {
        w.b_license["id"].as_str().unwrap_or("").to_owned()
    } else if path.starts_with("/v1/machines/") {
        w.b_machine.clone()
    } else if path.starts_with("/v1/api-keys/") {
        w.bootstrap_key.clone()
    } else if path.starts_with("/v1/prices/") {
        w.b_price.to_string()
    } else if path.starts_with("/v1/downloads/") {
        w.b_download.to_string()
    } else if path.starts_with("/v1/customers/") {
        w.customer.to_string()
    } else if path.starts_with("/v1/orders/") {
        w.order.to_string()
    } else if path.starts_with("/v1/licensecm/admins/") || path.starts_with("/api/admin/users/") {
        w.t2_user.clone()
    } else if path.starts_with("/api/products/") {
        w.t2_product.clone()
    } else if path.starts_with("/api/licenses/") || path.starts_with("/api/security/licenses/") {
        w.t2_license.clone()
    } else if path.starts_with("/api/webhooks/") {
        w.t2_webhook.clone()
    } else if path.starts_with("/api/security/blacklist/") {
        w.blacklist_entry.clone()
    } else if path.starts_with("/api/security/sessions/") {
        w.b_session.clone()
    } else {
        "no-such-object".to_owned()
    };
    path.replace("{id}", &id)
        .replace("{product_id}", &w.b["numeric_id"].to_string())
        .replace("{license}", w.b_license["key"].as_str().unwrap_or(""))
        .replace(
            "{token}",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
}

/// A body from the operation's declared schema: every declared property with a plausible
/// value, ids pointing at product B, so that a write gets past validation and meets the rules.
fn body(doc: &Value, op: &Value, w: &World, n: usize) -> Option<Value> {
    let schema = op
        .pointer("/requestBody/content/application~1json/schema")
        .cloned()?;
    let resolve = |s: &Value| -> Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => doc
                .pointer(&r.replacen('#', "", 1))
                .cloned()
                .unwrap_or(Value::Null),
            None => s.clone(),
        }
    };
    let schema = resolve(&schema);
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Some(json!({}));
    };
    let mut out = serde_json::Map::new();
    for (k, p) in props {
        let p = resolve(p);
        let ty = p
            .get("type")
            .and_then(|t| t.as_str().or_else(|| t.as_array()?.first()?.as_str()))
            .unwrap_or("string");
        let v = match k.as_str() {
            "product_id" => w.b["id"].clone(),
            "policy_id" => json!(w.b_policy),
            "products" | "extra_products" => json!([w.b["id"]]),
            "email" => json!(format!("m{n}@example.com")),
            "code" => json!(format!("matrix-{n}")),
            "name" | "display_name" => json!(format!("Matrix {n}")),
            "url" => json!("https://93.184.216.34/matrix"),
            "events" => json!(["license.created"]),
            "scope" => json!("admin"),
            "role" => json!("admin"),
            "password" => json!("secret123"),
            "key" | "license_key" | "license" => w.b_license["key"].clone(),
            "type" => json!("ip"),
            "value" | "ip" => json!("203.0.113.77"),
            _ => match ty {
                "integer" | "number" => json!(1),
                "boolean" => json!(false),
                "array" => json!([]),
                "object" => json!({}),
                _ => json!("x"),
            },
        };
        out.insert(k.clone(), v);
    }
    Some(Value::Object(out))
}

/// What a caller must never see in an answer: the other side's keys and ids.
fn secrets_for(caller: &str, w: &World) -> Vec<String> {
    let b_key = w.b_license["key"].as_str().unwrap_or("").to_owned();
    let b_id = w.b["id"].as_str().unwrap_or("").to_owned();
    match caller {
        "nobody" | "licensecm_user" | "read_only" => vec![
            b_key,
            b_id,
            w.t2_license_key.clone(),
            w.b_license["id"].as_str().unwrap_or("").to_owned(),
        ]
        .into_iter()
        .filter(|_| caller != "read_only")
        .chain(std::iter::once(w.bootstrap_key.clone()).filter(|_| caller != "read_only"))
        .collect(),
        // Key ids name actors in its audit entries; keys themselves it may not list.
        "admin_limited_to_a" => vec![b_key, b_id, w.t2_license_key.clone()],
        // And B's license, which its security events and client sessions would name.
        "licensecm_admin" => vec![
            b_key,
            b_id,
            w.b_license["id"].as_str().unwrap_or("").to_owned(),
        ],
        _ => vec![],
    }
}

/// Operations a caller may succeed at against B's or tenant 2's objects, beyond reading public
/// things: for a LicenseCM admin, tenant 2's objects are its to administer.
fn may_succeed(caller: &str, method: &str, path: &str) -> bool {
    let public = path.starts_with("/api/auth/")
        || path.starts_with("/api/client/")
        || path.starts_with("/v1/client/")
        || path.starts_with("/api/check")
        || path.starts_with("/api/v1/licenses/verify")
        || path.starts_with("/api/v1/licenses/public/")
        || matches!(
            path,
            "/" | "/healthz" | "/metrics" | "/v1/keys" | "/v1/revocations" | "/openapi.json"
        );
    if public {
        return true;
    }
    match caller {
        "unrestricted_admin" => true,
        "read_only" | "read_write" => {
            path.starts_with("/v1/")
                && !path.starts_with("/v1/api-keys")
                && !path.starts_with("/v1/keys/")
                && !path.starts_with("/v1/licensecm")
                && (method == "GET" || caller == "read_write" || path == "/v1/auth/token")
        }
        // A's objects only, and its own lists (answered without B's).
        "admin_limited_to_a" => {
            (!path.contains('{')
                && path.starts_with("/v1/")
                && !path.starts_with("/v1/api-keys")
                && !path.starts_with("/v1/licensecm")
                && !path.starts_with("/v1/customers")
                && method == "GET")
                || path == "/v1/auth/token"
        }
        // Its own lists and objects (none of tenant 2's).
        "licensecm_user" => {
            !path.contains('{')
                && path.starts_with("/api/")
                && !path.starts_with("/api/admin")
                && !path.starts_with("/api/security")
        }
        // Not B's client session, which is the operator's.
        "licensecm_admin" => {
            path.starts_with("/api/") && !path.starts_with("/api/security/sessions/{id}")
        }
        _ => false,
    }
}

#[tokio::test]
async fn no_caller_reaches_past_its_credential_on_any_documented_operation() {
    let app = TestApp::with_config(Config {
        rate_limit_ip: 0,
        rate_limit_license: 0,
        licensecm_rate_api: 0,
        licensecm_rate_validation: 0,
        login_rate_limit: 0,
        licensecm_registration: true,
        webhook_allow_private: false,
        ..Config::default()
    })
    .await;
    let (w, callers) = world(&app).await;
    let (_, doc, _) = app.call("GET", "/openapi.json", None, None).await;
    let mut ops: Vec<(String, String, Value)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("methods") {
            ops.push((method.to_ascii_uppercase(), path.clone(), op.clone()));
        }
    }
    assert!(
        ops.len() > 100,
        "the document lists every operation: {}",
        ops.len()
    );
    let mut n = 0;
    let mut checked = 0;
    for (caller, cred) in &callers.list {
        // The admins go last: they may legitimately change what the others are judged on.
        let secrets = secrets_for(caller, &w);
        for (method, path, op) in &ops {
            n += 1;
            let uri = fill(path, &w);
            let b = if method == "GET" || method == "DELETE" {
                None
            } else {
                body(&doc, op, &w, n)
            };
            let (s, v, _) = app.call(method, &uri, cred.as_deref(), b).await;
            checked += 1;
            assert!(
                !s.is_server_error(),
                "{caller}: {method} {uri} answered {s}: {v}"
            );
            let secured = op.get("security").is_some()
                || path.starts_with("/api/admin")
                || path.starts_with("/api/security")
                || path.starts_with("/api/webhooks");
            if *caller == "nobody" && secured {
                assert!(!s.is_success(), "nobody: {method} {uri} answered {s}: {v}");
            }
            if s.is_success() {
                assert!(
                    may_succeed(caller, method, path),
                    "{caller}: {method} {uri} answered {s} against objects it may not reach: {v}"
                );
                if may_succeed("nobody", method, path) {
                    // Public routes answer about what the caller sent (a key it holds).
                    continue;
                }
                let text = v.to_string();
                for secret in &secrets {
                    assert!(
                        secret.is_empty() || !text.contains(secret.as_str()),
                        "{caller}: {method} {uri} showed {secret}: {text}"
                    );
                }
            }
        }
        if *caller == "licensecm_admin" {
            // Before the unrestricted admin: nothing of the operator's was changed by anyone.
            let (_, b) = app
                .admin(
                    "GET",
                    &format!("/v1/products/{}", w.b["id"].as_str().expect("id")),
                    None,
                )
                .await;
            assert_eq!(b["name"], w.b["name"], "product B was renamed");
            let (_, l) = app
                .admin(
                    "GET",
                    &format!("/v1/licenses/{}", w.b_license["id"].as_str().expect("id")),
                    None,
                )
                .await;
            let (_, keys) = app.admin("GET", "/v1/api-keys", None).await;
            let bootstrap = keys["items"]
                .as_array()
                .expect("keys")
                .iter()
                .find(|k| k["id"] == json!(w.bootstrap_key))
                .expect("the bootstrap key");
            assert!(
                bootstrap["revoked_at"].is_null(),
                "the bootstrap key was revoked"
            );
            assert!(
                keys["items"]
                    .as_array()
                    .expect("keys")
                    .iter()
                    .filter(|k| k["product_id"].is_null() && k["scope"] == json!("admin"))
                    .count()
                    == 1,
                "someone minted an unrestricted admin key: {keys}"
            );
            // B's license is as the operator made it: only the unrestricted keys, which go
            // last, may suspend, revoke or move it.
            for field in ["status", "product_id", "policy_id", "seats", "kind"] {
                assert_eq!(
                    l[field], w.b_license[field],
                    "B's license {field} changed: {l}"
                );
            }
            assert_eq!(l["status"], "active", "{l}");
            let session = app
                .state
                .store
                .session(&w.b_session)
                .await
                .expect("read")
                .expect("B's session");
            assert!(session.ended_at.is_none(), "B's client session was ended");
        }
    }
    assert!(checked >= 7 * 100, "{checked}");
}
