//! Issue #12: the holes found when licet-server was attacked from outside, one test (or more)
//! per numbered item, each of which failed before its fix. Driven through the real router over
//! a real temporary sled store.

use crate::common;
use licet_core::ids::LicenseId;

use axum::http::StatusCode;
use common::TestApp;
use licet_server::Config;
use serde_json::{Value, json};

fn open_config() -> Config {
    Config {
        rate_limit_ip: 0,
        rate_limit_license: 0,
        licensecm_rate_api: 0,
        licensecm_rate_validation: 0,
        login_rate_limit: 0,
        licensecm_registration: true,
        ..Config::default()
    }
}

/// Registers a LicenseCM user (registration switched on); returns (token, user).
async fn register(app: &TestApp, email: &str) -> (String, Value) {
    let (s, v, _) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "email": email, "password": "secret123" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (
        v["data"]["token"].as_str().expect("token").to_owned(),
        v["data"]["user"].clone(),
    )
}

async fn login(app: &TestApp, email: &str) -> String {
    let (s, v, _) = app
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({ "email": email, "password": "secret123" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"]["token"].as_str().expect("token").to_owned()
}

/// A LicenseCM admin the operator makes (`ops@example.com`), granted `products`; signed in.
async fn ops_admin(app: &TestApp, products: Value) -> String {
    let (s, v) = app
        .admin(
            "POST",
            "/v1/licensecm/admins",
            Some(json!({ "email": "ops@example.com", "password": "secret123", "products": products })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    login(app, "ops@example.com").await
}

/// A key with `scope`, limited to `product` if given.
async fn api_key(app: &TestApp, scope: &str, product: Option<&Value>) -> String {
    let (s, v) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "k", "scope": scope, "product_id": product.map(|p| p["id"].clone()) })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["key"].as_str().expect("key").to_owned()
}

// ----- 1. who owns what

#[tokio::test]
async fn licensecm_registration_is_off_by_default() {
    let app = TestApp::with_config(Config::default()).await;
    let (s, v, _) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "email": "first@example.com", "password": "secret123" })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _, _) = app
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({ "email": "first@example.com", "password": "secret123" })),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "no account was made");
}

#[tokio::test]
async fn the_first_registered_user_is_a_plain_user_who_sees_no_operator_product() {
    let app = TestApp::with_config(open_config()).await;
    let (p, _) = app.product("operator-app", json!({})).await;
    let lic = app.license(&p, json!({})).await;
    let (token, user) = register(&app, "stranger@example.com").await;
    assert_eq!(user["role"], json!("user"));
    let (s, _, _) = app
        .call("GET", "/api/admin/users", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v, _) = app.call("GET", "/api/licenses", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !v.to_string().contains(lic["key"].as_str().expect("key")),
        "an operator's license key leaked: {v}"
    );
    let (s, _, _) = app
        .call(
            "POST",
            "/api/licenses",
            Some(&token),
            Some(json!({ "product_id": p["id"], "max_uses": 1 })),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "minting for an operator product");
}

#[tokio::test]
async fn licensecm_admins_are_made_by_the_operator_and_reach_operator_products_only_when_granted() {
    let app = TestApp::with_config(open_config()).await;
    let (p, _) = app.product("operator-app", json!({})).await;
    let lic = app.license(&p, json!({})).await;

    // A product-limited admin key cannot make a LicenseCM admin; an unrestricted one can.
    let limited = api_key(&app, "admin", Some(&p)).await;
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/licensecm/admins",
            Some(&limited),
            Some(json!({ "email": "lcm@example.com", "password": "secret123" })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, admin) = app
        .admin(
            "POST",
            "/v1/licensecm/admins",
            Some(json!({ "email": "lcm@example.com", "password": "secret123" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{admin}");
    assert_eq!(admin["role"], json!("admin"));
    assert!(
        admin.get("password").is_none(),
        "the given password is never echoed"
    );
    assert!(admin.get("password_hash").is_none());
    let token = login(&app, "lcm@example.com").await;

    // It administers LicenseCM users' products…
    let (tenant, _) = register(&app, "tenant@example.com").await;
    let (s, tp, _) = app
        .call(
            "POST",
            "/api/products",
            Some(&tenant),
            Some(json!({ "name": "Tenant App" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tp}");
    let tp_id = tp["data"]["id"].as_str().expect("id");
    let (s, _, _) = app
        .call("GET", &format!("/api/products/{tp_id}"), Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    // …but not the operator's.
    let pid = p["id"].as_str().expect("id");
    let (s, _, _) = app
        .call("GET", &format!("/api/products/{pid}"), Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v, _) = app.call("GET", "/api/licenses", Some(&token), None).await;
    assert!(!v.to_string().contains(lic["key"].as_str().expect("key")));

    // An explicit grant by an unrestricted key opens that one product.
    let uid = admin["id"].as_str().expect("id");
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/licensecm/admins/{uid}"),
            Some(json!({ "products": [pid] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _, _) = app
        .call("GET", &format!("/api/products/{pid}"), Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);

    // Promoting an existing user keeps their password; a generated one is shown once.
    let (s, v) = app
        .admin(
            "POST",
            "/v1/licensecm/admins",
            Some(json!({ "email": "tenant@example.com" })),
        )
        .await;
    assert_eq!((s, &v["role"]), (StatusCode::OK, &json!("admin")), "{v}");
    let (s, v) = app
        .admin(
            "POST",
            "/v1/licensecm/admins",
            Some(json!({ "email": "new@example.com" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(v["password"].as_str().is_some_and(|p| p.len() >= 20), "{v}");
}

// ----- 2. products by name

#[tokio::test]
async fn wemx_and_verify_answer_only_for_products_enabled_for_them_and_names_cannot_be_copied() {
    let app = TestApp::with_config(open_config()).await;
    let (a, _) = app.product("product-a", json!({})).await;
    let (s, p) = app
        .admin(
            "PATCH",
            &format!("/v1/products/{}", a["id"].as_str().expect("id")),
            Some(json!({ "name": "Product A" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        p["compat"],
        json!({ "faxstore": true, "wemx": true, "verify": true, "licensecm": false })
    );
    let genuine = app.license(&a, json!({})).await;

    // Another name-addressed product cannot take the name, in any case or spacing.
    let (s, v) = app
        .admin(
            "POST",
            "/v1/products",
            Some(json!({ "code": "copy", "name": " product a " })),
        )
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::CONFLICT, &json!("duplicate_name"))
    );
    // Nor can a key limited to product B rename B (a name a family resolves is the
    // operator's), nor the operator rename B to it.
    let (b, _) = app.product("product-b", json!({})).await;
    let limited = api_key(&app, "admin", Some(&b)).await;
    let b_uri = format!("/v1/products/{}", b["id"].as_str().expect("id"));
    let (s, v, _) = app
        .call(
            "PATCH",
            &b_uri,
            Some(&limited),
            Some(json!({ "name": "PRODUCT A" })),
        )
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("forbidden")),
        "{v}"
    );
    let (s, v) = app
        .admin("PATCH", &b_uri, Some(json!({ "name": "PRODUCT A" })))
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::CONFLICT, &json!("duplicate_name")),
        "{v}"
    );

    // A self-registered user may call their product "Product A"; it answers through LicenseCM
    // only, so its key is worth nothing to WemX or the Verify API.
    let (tenant, _) = register(&app, "mallory@example.com").await;
    let (_, tp, _) = app
        .call(
            "POST",
            "/api/products",
            Some(&tenant),
            Some(json!({ "name": "Product A" })),
        )
        .await;
    let tp_id = tp["data"]["id"].as_str().expect("product").to_owned();
    let (s, tl, _) = app
        .call(
            "POST",
            "/api/licenses",
            Some(&tenant),
            Some(json!({ "product_id": tp_id, "max_uses": 5 })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tl}");
    let forged = tl["data"]["license_key"].as_str().expect("key").to_owned();
    let wemx = |key: String| {
        let app = &app;
        async move {
            app.call(
                "POST",
                "/api/v1/licenses/public/validate",
                None,
                Some(json!({ "license": key, "domain": "shop.example.com", "packages": "Product A" })),
            )
            .await
        }
    };
    let (s, v, _) = wemx(forged.clone()).await;
    assert_ne!(v["success"], json!(true), "{s} {v}");
    let (s, v, _) = wemx(genuine["key"].as_str().expect("key").to_owned()).await;
    assert_eq!((s, &v["success"]), (StatusCode::OK, &json!(true)), "{v}");

    // Switched off for WemX, the genuine product stops answering there too.
    let (s, _) = app
        .admin(
            "PATCH",
            &format!("/v1/products/{}", a["id"].as_str().expect("id")),
            Some(json!({ "compat": { "wemx": false } })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v, _) = wemx(genuine["key"].as_str().expect("key").to_owned()).await;
    assert_ne!(v["success"], json!(true), "{v}");
}

#[tokio::test]
async fn the_verify_api_answers_the_licenses_own_product_only_when_enabled() {
    let app = TestApp::with_config(open_config()).await;
    let (s, a) = app
        .admin(
            "POST",
            "/v1/products",
            Some(json!({ "code": "theme", "name": "Acme Theme Pro", "key_prefix": "CP-", "key_format": "XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (s, _) = app
        .admin(
            "POST",
            "/v1/policies",
            Some(json!({ "product_id": a["id"], "name": "std", "max_machines": 3 })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let l = app.license(&a, json!({})).await;
    let verify = |key: Value| {
        let app = &app;
        async move {
            app.call(
                "POST",
                "/api/v1/licenses/verify",
                None,
                Some(json!({ "license_key": key, "domain": "site.example.com", "ip": "203.0.113.9" })),
            )
            .await
        }
    };
    let (s, v, _) = verify(l["key"].clone()).await;
    assert_eq!(
        (s, &v["product"]),
        (StatusCode::OK, &json!("Acme Theme Pro")),
        "{v}"
    );
    let (s, _) = app
        .admin(
            "PATCH",
            &format!("/v1/products/{}", a["id"].as_str().expect("id")),
            Some(json!({ "compat": { "verify": false } })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v, _) = verify(l["key"].clone()).await;
    assert_eq!(
        (s, &v["valid"]),
        (StatusCode::NOT_FOUND, &json!(false)),
        "{v}"
    );
}

// ----- 3. no key reaches wider than itself

#[tokio::test]
async fn a_product_limited_admin_key_cannot_widen_itself() {
    let app = TestApp::new().await;
    let (a, _) = app.product("app-a", json!({})).await;
    let (b, _) = app.product("app-b", json!({})).await;
    let limited = api_key(&app, "admin", Some(&a)).await;
    let call = |method: &'static str, uri: String, body: Option<Value>| {
        let (app, limited) = (&app, &limited);
        async move { app.call(method, &uri, Some(limited), body).await }
    };
    for scope in ["admin", "read_write", "read_only"] {
        for product in [None, Some(a["id"].clone()), Some(b["id"].clone())] {
            let (s, v, _) = call(
                "POST",
                "/v1/api-keys".into(),
                Some(json!({ "name": "wider", "scope": scope, "product_id": product })),
            )
            .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "minted {scope} {product:?}: {v}");
        }
    }
    let (s, _, _) = call("GET", "/v1/api-keys".into(), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let bootstrap_id = {
        let (_, v) = app.admin("GET", "/v1/api-keys", None).await;
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|k| k["name"] == json!("bootstrap admin"))
            .and_then(|k| k["id"].as_str())
            .expect("the bootstrap key")
            .to_owned()
    };
    for (method, uri) in [
        ("GET", format!("/v1/api-keys/{bootstrap_id}")),
        ("POST", format!("/v1/api-keys/{bootstrap_id}/rotate")),
        ("DELETE", format!("/v1/api-keys/{bootstrap_id}")),
        ("GET", format!("/v1/api-keys/{bootstrap_id}/usage")),
    ] {
        let (s, _, _) = call(method, uri.clone(), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {uri}");
    }
    let (s, _) = app.admin("GET", "/v1/products", None).await;
    assert_eq!(s, StatusCode::OK, "the bootstrap key still works");
    let (s, _, _) = call(
        "POST",
        "/v1/products".into(),
        Some(json!({ "code": "third", "name": "Third" })),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "product creation needs no product limit"
    );
}

#[tokio::test]
async fn a_product_limited_key_reads_only_its_products_audit_entries() {
    let app = TestApp::new().await;
    let (a, pa) = app.product("app-a", json!({})).await;
    let (b, pb) = app.product("app-b", json!({})).await;
    let la = app.license(&a, json!({})).await;
    let lb = app.license(&b, json!({})).await;
    let (s, _, _) = app
        .activate(lb["key"].as_str().expect("key"), "machine-b")
        .await;
    assert!(s.is_success(), "{s}");
    // Entries whose detail names no product: found through the object their action is about.
    for (policy, license) in [(&pa, &la), (&pb, &lb)] {
        let id = policy["id"].as_str().expect("id");
        let (s, v) = app
            .admin(
                "PATCH",
                &format!("/v1/policies/{id}"),
                Some(json!({ "name": "renamed" })),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let id = license["id"].as_str().expect("id");
        let (s, v) = app
            .admin("DELETE", &format!("/v1/licenses/{id}/machines"), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let limited = api_key(&app, "admin", Some(&a)).await;
    let (s, v, _) = app
        .call("GET", "/v1/audit?limit=100", Some(&limited), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let items = v["items"].as_array().expect("items");
    assert!(
        items.iter().any(|e| e["subject"] == la["id"]),
        "its own license's creation is there: {v}"
    );
    for (action, subject) in [
        ("product.created", &a["id"]),
        ("policy.updated", &pa["id"]),
        ("license.machines_reset", &la["id"]),
    ] {
        assert!(
            items
                .iter()
                .any(|e| e["action"] == action && e["subject"] == *subject),
            "its own {action} is there: {v}"
        );
    }
    let text = v.to_string();
    for other in [&b["id"], &lb["id"], &pb["id"]] {
        assert!(
            !text.contains(other.as_str().expect("id")),
            "{other} leaked: {v}"
        );
    }
    assert!(
        items.iter().all(|e| e["action"] != "api_key.created"),
        "API keys span products: {v}"
    );
}

/// A product-limited key lists only its product's licenses, whole or as summaries, and
/// asking for another product's finds none.
#[tokio::test]
async fn a_product_limited_key_lists_only_its_products_licenses() {
    let app = TestApp::new().await;
    let (a, _) = app.product("app-a", json!({})).await;
    let (b, _) = app.product("app-b", json!({})).await;
    let la = app.license(&a, json!({})).await;
    app.license(&b, json!({})).await;
    let limited = api_key(&app, "admin", Some(&a)).await;
    for view in ["", "&summary=true"] {
        let (s, v, _) = app
            .call(
                "GET",
                &format!("/v1/licenses?limit=50{view}"),
                Some(&limited),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let ids: Vec<&Value> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|l| &l["id"])
            .collect();
        assert_eq!(ids, [&la["id"]], "{view}: {v}");
        let (s, v, _) = app
            .call(
                "GET",
                &format!(
                    "/v1/licenses?product_id={}{view}",
                    b["id"].as_str().expect("id")
                ),
                Some(&limited),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["items"], json!([]), "{view}: {v}");
    }
}

// ----- 6. and 7. revocation

/// The published list, verified with the server's key.
async fn published(app: &TestApp) -> Vec<u8> {
    use base64::Engine;
    let (s, list, _) = app.call("GET", "/v1/revocations", None, None).await;
    assert_eq!(s, StatusCode::OK);
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(list["list"].as_str().expect("list"))
        .expect("b64")
}

fn holds_license(app: &TestApp, list: &[u8], id: &str) -> bool {
    let keys = [app.state.tokens.keys().token.public_key().clone()];
    licet_verifier::RevocationList::verify(list, &keys[..], None)
        .expect("the list verifies")
        .contains_license(id)
}

#[tokio::test]
async fn deleting_a_license_revokes_its_tokens_first() {
    let app = TestApp::new().await;
    let (p, _) = app.product("acme", json!({})).await;
    for delete_via_licensecm in [false, true] {
        let l = app.license(&p, json!({})).await;
        let id = l["id"].as_str().expect("id");
        let (s, _, _) = app.activate(l["key"].as_str().expect("key"), "m").await;
        assert!(s.is_success());
        if delete_via_licensecm {
            // A LicenseCM admin granted the product deletes it through LicenseCM.
            let token = ops_admin(&app, json!([p["id"]])).await;
            let (s, v, _) = app
                .call("DELETE", &format!("/api/licenses/{id}"), Some(&token), None)
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
        } else {
            let (s, _) = app
                .admin("DELETE", &format!("/v1/licenses/{id}"), None)
                .await;
            assert_eq!(s, StatusCode::NO_CONTENT);
        }
        let list = published(&app).await;
        assert!(
            holds_license(&app, &list, id),
            "the deleted license is on the list (via LicenseCM: {delete_via_licensecm})"
        );
        let (s, _) = app.admin("GET", &format!("/v1/licenses/{id}"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "and it is gone");
    }
}

#[tokio::test]
async fn a_revocation_that_never_reached_a_list_is_published_by_a_retry() {
    let app = TestApp::new().await;
    let (p, _) = app.product("acme", json!({})).await;
    let l = app.license(&p, json!({})).await;
    let id = l["id"].as_str().expect("id");
    // The state a crash between the two steps used to leave: marked revoked, on no list.
    let mut stored = app
        .state
        .store
        .license(&LicenseId::from(id))
        .await
        .expect("read")
        .expect("license");
    stored.status = licet_server::model::LicenseStatus::Revoked;
    app.state
        .store
        .update_license(&stored)
        .await
        .expect("write");
    assert!(!holds_license(&app, &published(&app).await, id));

    let (s, v) = app
        .admin("POST", &format!("/v1/licenses/{id}/revoke"), None)
        .await;
    assert_eq!(
        (s, &v["status"]),
        (StatusCode::OK, &json!("revoked")),
        "{v}"
    );
    let first = v["revocation_sequence"].clone();
    assert!(
        holds_license(&app, &published(&app).await, id),
        "the retry published"
    );
    // Once published, another retry answers the same and publishes nothing new.
    let (s, v) = app
        .admin("POST", &format!("/v1/licenses/{id}/revoke"), None)
        .await;
    assert_eq!((s, &v["revocation_sequence"]), (StatusCode::OK, &first));
}

#[tokio::test]
async fn revoking_writes_the_status_and_the_list_in_one_store_operation() {
    let app = TestApp::new().await;
    let (p, _) = app.product("acme", json!({})).await;
    let l = app.license(&p, json!({})).await;
    let id = l["id"].as_str().expect("id");
    let stored = app
        .state
        .store
        .license(&LicenseId::from(id))
        .await
        .expect("read")
        .expect("license");
    let before = app.state.store.revocation_state().await.expect("state");
    // A signer that fails stands for a crash before the list is written: nothing changes.
    let failed = app
        .state
        .store
        .revoke_license(
            &licet_server::model::License {
                status: licet_server::model::LicenseStatus::Revoked,
                ..stored.clone()
            },
            &[],
            &|_| Err(licet_server::store::StoreError::backend("signer down")),
            &|_| licet_server::store::Record::none(),
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(
        app.state
            .store
            .license(&LicenseId::from(id))
            .await
            .expect("read")
            .expect("license")
            .status,
        licet_server::model::LicenseStatus::Active,
        "the status was not written without the list"
    );
    assert_eq!(
        app.state.store.revocation_state().await.expect("state"),
        before
    );
}

// ----- 14. entitlements are capped when written, never at activation

#[tokio::test]
async fn entitlements_and_domains_are_capped_when_written_so_activation_never_fails() {
    let app = TestApp::new().await;
    let code = "a".repeat(64);
    let (product, policy) = app
        .product(
            &code,
            json!({ "entitlements": (0..40).map(|i| format!("policy-{i}")).collect::<Vec<_>>() }),
        )
        .await;
    // 40 + 25 distinct: over 64 together, refused when the license is written.
    let (s, v) = app
        .admin(
            "POST",
            "/v1/licenses",
            Some(json!({ "product_id": product["id"], "entitlements": (0..25).map(|i| format!("license-{i}")).collect::<Vec<_>>() })),
        )
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_field")),
        "{v}"
    );
    // Shared ones count once.
    let (s, _) = app
        .admin(
            "POST",
            "/v1/licenses",
            Some(json!({ "product_id": product["id"], "entitlements": (0..24).map(|i| format!("policy-{i}")).chain((0..24).map(|i| format!("license-{i}"))).collect::<Vec<_>>() })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // A policy change that would push a license over is refused too.
    let pid = policy["id"].as_str().expect("id");
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/policies/{pid}"),
            Some(json!({ "entitlements": (0..41).map(|i| format!("policy-{i}")).collect::<Vec<_>>() })),
        )
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_field")),
        "{v}"
    );

    // Lists at exactly the byte budget still give a token with 16 parts and the longest
    // product code; one byte more is refused when written.
    let budget = licet_server::app::tokens::token_list_budget(&app.state.config.issuer);
    let (s, _) = app
        .admin(
            "PATCH",
            &format!("/v1/policies/{pid}"),
            Some(json!({ "entitlements": [] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut left = budget;
    let mut entitlements = Vec::new();
    while left > 0 {
        let len = (left - 3).min(250);
        let e = format!("{:0>width$}", entitlements.len(), width = len);
        left -= len + 3;
        entitlements.push(e);
    }
    assert!(entitlements.len() <= 64 && left == 0, "{budget}");
    let (s, l) = app
        .admin(
            "POST",
            "/v1/licenses",
            Some(json!({ "product_id": product["id"], "entitlements": entitlements })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{l}");
    let parts: Vec<String> = (0..16u64).map(|i| format!("{:016x}", i + 1)).collect();
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/client/activate",
            None,
            Some(json!({ "key": l["key"], "fingerprint": "f".repeat(256), "parts": parts })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut over = entitlements.clone();
    over.push("x".into());
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/licenses/{}", l["id"].as_str().expect("id")),
            Some(json!({ "entitlements": over })),
        )
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_field")),
        "{v}"
    );
}

// ----- 16. the data directory is the server's alone

/// Every directory and file under `dir` whose mode lets group or others in.
#[cfg(unix)]
fn open_to_others(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).expect("meta");
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).expect("dir") {
                stack.push(e.expect("entry").path());
            }
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            out.push((p, mode));
        }
    }
    out
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_created_private_and_an_open_one_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let fresh = tmp.path().join("fresh");
    let config = Config {
        data: fresh.clone(),
        ..Config::default()
    };
    let (store, _, created) = licet_server::open(&config).expect("open");
    assert!(created);
    store.close().expect("close");
    drop(store);
    let mode = std::fs::metadata(&fresh)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    assert_eq!(
        open_to_others(&fresh),
        vec![],
        "everything in it is private"
    );

    // A directory from an earlier version, readable by everyone, is tightened at start.
    let old = tmp.path().join("old");
    std::fs::create_dir_all(old.join("downloads")).expect("mkdir");
    std::fs::write(old.join("downloads/file.zip"), b"zip").expect("write");
    for (p, m) in [
        (old.clone(), 0o755),
        (old.join("downloads"), 0o755),
        (old.join("downloads/file.zip"), 0o644),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).expect("chmod");
    }
    let (store, _, _) = licet_server::open(&Config {
        data: old.clone(),
        ..Config::default()
    })
    .expect("open");
    store.close().expect("close");
    assert_eq!(open_to_others(&old), vec![]);
    assert_eq!(
        std::fs::read(old.join("downloads/file.zip")).expect("read"),
        b"zip",
        "contents are untouched"
    );
}

// ----- 5. one set of license rules on every client path

#[tokio::test]
async fn a_refusal_in_licensecm_is_a_refusal_on_every_client_path() {
    let app = TestApp::with_config(open_config()).await;
    let admin = ops_admin(&app, json!([])).await;
    let lcm = |method: &'static str, uri: String, body: Value| {
        let (app, admin) = (&app, &admin);
        async move { app.call(method, &uri, Some(admin), Some(body)).await }
    };
    let (_, p, _) = lcm(
        "POST",
        "/api/products".into(),
        json!({ "name": "Locked App" }),
    )
    .await;
    let product = p["data"]["id"].as_str().expect("product").to_owned();
    let (_, l, _) = lcm(
        "POST",
        "/api/licenses".into(),
        json!({ "product_id": product, "max_uses": 3, "hwid_locked": true }),
    )
    .await;
    let key = l["data"]["license_key"].as_str().expect("key").to_owned();
    let lcm_activate = |hwid: &'static str| {
        let (app, key, product) = (&app, key.clone(), product.clone());
        async move {
            app.call(
                "POST",
                "/api/client/activate",
                None,
                Some(json!({ "license_key": key, "hwid": hwid, "product_id": product })),
            )
            .await
        }
    };
    let native = |fingerprint: &'static str, extra: Value| {
        let (app, key) = (&app, key.clone());
        async move {
            let mut body = json!({ "key": key, "fingerprint": fingerprint });
            for (k, v) in extra.as_object().expect("object") {
                body[k] = v.clone();
            }
            app.call("POST", "/v1/client/activate", None, Some(body))
                .await
        }
    };
    let (s, v, _) = lcm_activate("machine-a").await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Bound to its first machine: LicenseCM says HWID_MISMATCH, and so does licet's own API.
    let (s, v, _) = lcm_activate("machine-b").await;
    assert_eq!(
        (s, &v["error_code"]),
        (StatusCode::FORBIDDEN, &json!("HWID_MISMATCH"))
    );
    let (s, v, _) = native("machine-b", json!({})).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("hwid_mismatch")),
        "no token for a machine LicenseCM refuses: {v}"
    );
    let (s, _, _) = native("machine-a", json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "the bound machine itself is fine");

    // A blacklisted hardware id.
    let (s, _, _) = lcm(
        "POST",
        "/api/security/blacklist".into(),
        json!({ "type": "hwid", "value": "machine-a", "reason": "chargeback" }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v, _) = lcm_activate("machine-a").await;
    assert_eq!(
        (s, &v["error_code"]),
        (StatusCode::FORBIDDEN, &json!("BLACKLISTED"))
    );
    let (s, v, _) = native("machine-a", json!({})).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("blacklisted")),
        "{v}"
    );
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/client/validate",
            None,
            Some(json!({ "key": key, "fingerprint": "machine-a" })),
        )
        .await;
    assert_eq!(
        (s, &v["code"]),
        (StatusCode::OK, &json!("blacklisted")),
        "{v}"
    );
    assert!(
        v["license"].is_null(),
        "a blocked client learns nothing: {v}"
    );
}

#[tokio::test]
async fn a_blacklisted_key_and_a_switched_off_product_are_refused_by_every_family() {
    let app = TestApp::with_config(open_config()).await;
    let (s, p) = app
        .admin(
            "POST",
            "/v1/products",
            Some(json!({ "code": "shop", "name": "Shop Plugin", "key_prefix": "CP-", "key_format": "XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX", "compat": { "licensecm": true } })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let (s, _) = app
        .admin(
            "POST",
            "/v1/policies",
            Some(json!({ "product_id": p["id"], "name": "std", "max_machines": 5 })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key").to_owned();
    let number = p["numeric_id"].as_u64().expect("number");

    // Every family, answering whether `key` may be used; true when it may.
    let passes = || {
        let (app, key, pid) = (&app, key.clone(), p["id"].clone());
        async move {
            let (s, _, _) = app
                .call(
                    "POST",
                    "/v1/client/activate",
                    None,
                    Some(json!({ "key": key, "fingerprint": "m1" })),
                )
                .await;
            let native = s.is_success();
            let req = axum::http::Request::post(format!("/api/check/{number}"))
                .header("authorization", key.as_str())
                .body(axum::body::Body::empty())
                .expect("request");
            let (_, v, _) = app.send(req).await;
            let faxstore = v["pass"] == json!(true);
            let (_, v, _) = app
                .call(
                    "POST",
                    "/api/v1/licenses/public/validate",
                    None,
                    Some(json!({ "license": key, "domain": "shop.example.com", "packages": "Shop Plugin" })),
                )
                .await;
            let wemx = v["success"] == json!(true);
            let (_, v, _) = app
                .call(
                    "POST",
                    "/api/v1/licenses/verify",
                    None,
                    Some(json!({ "license_key": key, "domain": "shop.example.com", "ip": "203.0.113.9" })),
                )
                .await;
            let verify = v["valid"] == json!(true);
            let (_, v, _) = app
                .call(
                    "POST",
                    "/api/client/validate",
                    None,
                    Some(json!({ "license_key": key, "hwid": "m1", "product_id": pid })),
                )
                .await;
            let licensecm = v["success"] == json!(true);
            [native, faxstore, wemx, verify, licensecm]
        }
    };
    assert_eq!(passes().await, [true; 5], "usable everywhere to begin with");

    // A LicenseCM admin blacklists the key: every family refuses it.
    let admin = ops_admin(&app, json!([p["id"]])).await;
    let (s, entry, _) = app
        .call(
            "POST",
            "/api/security/blacklist",
            Some(&admin),
            Some(json!({ "type": "license", "value": key, "reason": "leaked" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{entry}");
    assert_eq!(passes().await, [false; 5], "blacklisted everywhere");
    let id = entry["data"]["id"].as_str().expect("id");
    let (s, _, _) = app
        .call(
            "DELETE",
            &format!("/api/security/blacklist/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(passes().await, [true; 5]);

    // The product switched off: refused everywhere.
    let (s, v, _) = app
        .call(
            "PUT",
            &format!("/api/products/{}", p["id"].as_str().expect("id")),
            Some(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        passes().await,
        [false; 5],
        "a switched-off product answers nowhere"
    );
}

#[tokio::test]
async fn the_native_client_is_refused_in_a_virtual_machine_when_the_product_says_so() {
    let app = TestApp::with_config(open_config()).await;
    let (p, _) = app.product("vm-app", json!({ "max_machines": 3 })).await;
    let l = app.license(&p, json!({})).await;
    let token = ops_admin(&app, json!([p["id"]])).await;
    let vm = json!({ "key": l["key"], "fingerprint": "m1", "client_data": { "vm_indicators": ["hypervisor cpuid bit"] } });
    let (s, _, _) = app
        .call("POST", "/v1/client/activate", None, Some(vm.clone()))
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "VMs are allowed until the product says otherwise"
    );
    let (s, _, _) = app
        .call(
            "PUT",
            &format!("/api/products/{}", p["id"].as_str().expect("id")),
            Some(&token),
            Some(json!({ "block_vm": true })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v, _) = app
        .call("POST", "/v1/client/activate", None, Some(vm))
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("vm_blocked")),
        "{v}"
    );
}

// ----- 11. the client address behind a proxy

#[test]
fn the_client_address_is_the_right_most_untrusted_hop_and_cannot_be_spoofed() {
    let app = TestApp::blocking(Config {
        trusted_proxy_header: Some("x-forwarded-for".into()),
        rate_limit_ip: 3,
        ..open_config()
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (p, _) = rt.block_on(app.product("bound", json!({})));
    let l = rt.block_on(app.license(&p, json!({ "ip": "203.0.113.7" })));
    let key = l["key"].as_str().expect("key").to_owned();
    let number = p["numeric_id"].as_u64().expect("number");
    let url = common::serve(app.state.clone());
    // The test talks from 127.0.0.1, a trusted proxy by default.
    let check = |xff: &str| {
        let (s, t) = common::http(
            "POST",
            &format!("{url}/api/check/{number}"),
            &[("authorization", key.as_str()), ("x-forwarded-for", xff)],
            None,
        );
        (s, serde_json::from_str::<Value>(&t).unwrap_or(Value::Null))
    };
    let (s, v) = check("6.6.6.6, 203.0.113.7");
    assert_eq!(
        (s, &v["pass"]),
        (200, &json!(true)),
        "the proxy saw 203.0.113.7: {v}"
    );
    // The client writes the bound address first; the proxy appends the real one.
    let (_, v) = check("203.0.113.7, 198.51.100.9");
    assert_eq!(v["status"], json!("NOT AUTHORISED"), "spoofed: {v}");
    // Rotating the left-most entry does not escape the per-address limit (3 a minute; two
    // were spent above, one by each of two addresses).
    let statuses: Vec<u16> = (0..4)
        .map(|i| check(&format!("10.{i}.{i}.{i}, 6.6.{i}.{i}, 192.0.2.44")).0)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429], "one client, one bucket");
    // IPv6 clients are counted by their /64.
    let v6: Vec<u16> = (1..=4)
        .map(|i| check(&format!("2001:db8:7:7::{i:x}")).0)
        .collect();
    assert_eq!(v6, [200, 200, 200, 429]);
}

#[tokio::test]
async fn blacklisted_addresses_are_one_address_in_every_textual_form() {
    let app = TestApp::with_config(open_config()).await;
    let admin = ops_admin(&app, json!([])).await;
    for (written, stored) in [
        ("2001:0DB8:0000::0001", "2001:db8::1"),
        ("::ffff:192.0.2.33", "192.0.2.33"),
    ] {
        let (s, v, _) = app
            .call(
                "POST",
                "/api/security/blacklist",
                Some(&admin),
                Some(json!({ "type": "ip", "value": written })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["data"]["value"], json!(stored));
    }
    // A request from the canonical address meets the entry written in another form.
    let ip = licet_server::net::parse_canonical("2001:db8::1").expect("ip");
    let ip = ip.to_string();
    let ask = licet_server::rules::Admit {
        probe: licet_server::rules::Probe {
            key: "no-such-key",
            ip: Some(&ip),
            ..Default::default()
        },
        asked: licet_server::rules::Asked::Own,
        family: licet_server::rules::Family::Native,
    };
    let denied = licet_server::rules::admit(&app.state, &ask)
        .await
        .expect("store")
        .expect_err("blocked");
    assert!(
        matches!(denied.denial, licet_server::rules::Denial::Blacklisted(_)),
        "{denied:?}"
    );
}

// ----- 12. slow clients and shutdown

/// Reads until the server closes the connection; what it sent, or `None` if it did not close
/// within `within`.
fn read_until_closed(
    stream: &mut std::net::TcpStream,
    within: std::time::Duration,
) -> Option<String> {
    use std::io::Read;
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .expect("timeout");
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(String::from_utf8_lossy(&got).into_owned()),
        }
    }
    None
}

#[test]
fn half_sent_requests_idle_connections_and_trickled_bodies_are_cut_off() {
    use std::io::Write;
    let app = TestApp::blocking(Config {
        header_timeout: 1,
        request_timeout: 2,
        ..open_config()
    });
    let url = common::serve(app.state.clone());
    let addr = url.trim_start_matches("http://").to_owned();
    let bound = std::time::Duration::from_secs(15);

    // Half a request's headers, then nothing.
    let mut half = std::net::TcpStream::connect(&addr).expect("connect");
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    assert!(
        read_until_closed(&mut half, bound).is_some(),
        "a half-sent request is closed after the header timeout"
    );

    // A whole request, answered, then an idle keep-alive connection.
    let mut idle = std::net::TcpStream::connect(&addr).expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let answered = read_until_closed(&mut idle, bound).expect("the idle connection is closed");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

    // Headers in time, but a body that never comes: 408 after the request timeout.
    let mut trickle = std::net::TcpStream::connect(&addr).expect("connect");
    trickle
        .write_all(b"POST /v1/client/activate HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"key\":")
        .expect("write");
    let answer = read_until_closed(&mut trickle, bound).expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

#[test]
fn shutdown_closes_connections_left_open_after_the_shutdown_timeout_and_flushes() {
    use std::io::{BufRead, Write};
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--header-timeout",
            "120",
            "--shutdown-timeout",
            "1",
        ])
        .arg("--data")
        .arg(dir.path())
        .env("LICET_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the server starts");
    /// Kills the server if the test fails before it exits.
    struct Reap(u32);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    let _reap = Reap(child.id());
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let addr = loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).expect("read") > 0,
            "the server stopped"
        );
        if let Some(a) = line.trim().strip_prefix("listening on ") {
            break a.to_owned();
        }
    };
    // A client that sent half a request and stays: only the shutdown timeout ends it.
    let mut slow = std::net::TcpStream::connect(&addr).expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let start = std::time::Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the server waited for the slow client"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(exit.success(), "{exit}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut log)
        .expect("log");
    assert!(log.contains("closing connections still open"), "{log}");
    assert!(
        log.contains("database flushed"),
        "the clean-shutdown marker is written: {log}"
    );
    assert!(
        read_until_closed(&mut slow, std::time::Duration::from_secs(5)).is_some(),
        "the slow client's connection was closed"
    );
}

// ----- 8. and 9. webhooks

/// A loopback listener that counts connections; answers 200 after reading a request unless
/// it is `stuck`, in which case it holds every connection open without a word.
struct Listener {
    url: String,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    answered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    most_open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn listener(stuck: bool) -> Listener {
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    let (accepted, answered, open, most_open) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (a, d, o, m) = (
        accepted.clone(),
        answered.clone(),
        open.clone(),
        most_open.clone(),
    );
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut stream) = stream else { continue };
            a.fetch_add(1, Ordering::SeqCst);
            let now_open = o.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now_open, Ordering::SeqCst);
            let (d, o) = (d.clone(), o.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                if stuck {
                    // Hold the connection until the client gives up.
                    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                } else {
                    common::peer::read_request(&mut stream);
                    d.fetch_add(1, Ordering::SeqCst);
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    );
                }
                o.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Listener {
        url,
        accepted,
        answered,
        open,
        most_open,
    }
}

fn count(n: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> usize {
    n.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn webhook_urls_into_the_servers_own_network_are_refused_when_registered_and_when_sent() {
    let app = TestApp::with_config(Config {
        webhook_allow_private: false,
        ..open_config()
    })
    .await;
    let (token, user) = register(&app, "hooks@example.com").await;
    let target = listener(false);
    let port = target
        .url
        .rsplit(':')
        .next()
        .expect("port")
        .trim_end_matches("/hook")
        .to_owned();
    for url in [
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::127.0.0.1]:{port}/"),
        "http://169.254.169.254/latest/meta-data".into(),
        "http://100.64.0.1/".into(),
        "http://10.0.0.1/".into(),
        "http://[fd00::1]/".into(),
        "http://[fe80::1]/".into(),
        "http://224.0.0.1/".into(),
        "http://0.0.0.0/".into(),
        "http://255.255.255.255/".into(),
    ] {
        let (s, v, _) = app
            .call(
                "POST",
                "/api/webhooks",
                Some(&token),
                Some(json!({ "url": url, "events": ["license.created"] })),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url} was accepted: {v}");
    }

    // A webhook whose name pointed outside when it was registered and points inside now: it
    // is checked again at every delivery, and the failure says only "blocked".
    let w = licet_server::model::Webhook {
        id: "hook-1".into(),
        owner_id: user["id"].as_str().expect("id").to_owned(),
        url: target.url.clone(),
        events: vec!["license.created".into()],
        sealed_secret: app.state.tokens.keys().seal("secret"),
        is_active: true,
        created_at: common::T0,
        api: false,
        product_id: None,
    };
    app.state.store.put_webhook(&w).await.expect("store");
    let (s, v, _) = app
        .call("POST", "/api/webhooks/hook-1/test", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    assert_eq!(v["message"], json!("Delivery failed: blocked"), "{v}");
    let (_, p, _) = app
        .call(
            "POST",
            "/api/products",
            Some(&token),
            Some(json!({ "name": "Hooked" })),
        )
        .await;
    let (s, _, _) = app
        .call(
            "POST",
            "/api/licenses",
            Some(&token),
            Some(json!({ "product_id": p["data"]["id"], "max_uses": 1 })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        licet_server::events::drain_outbox(&app.state)
            .await
            .expect("drain"),
        0
    );
    let queued = app.state.store.deliveries().await.expect("outbox");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].last_error.as_deref(), Some("blocked"));
    assert_eq!(count(&target.accepted), 0, "nothing ever connected inside");
}

#[tokio::test]
async fn webhook_failures_are_reported_as_classes_never_as_raw_errors() {
    let app = TestApp::with_config(Config {
        webhook_allow_private: true,
        ..open_config()
    })
    .await;
    let (token, _) = register(&app, "hooks@example.com").await;
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (s, w, _) = app
        .call(
            "POST",
            "/api/webhooks",
            Some(&token),
            Some(json!({ "url": format!("http://127.0.0.1:{closed}/x"), "events": ["license.created"] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let id = w["data"]["id"].as_str().expect("id");
    let (s, v, _) = app
        .call(
            "POST",
            &format!("/api/webhooks/{id}/test"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    assert_eq!(v["message"], json!("Delivery failed: refused"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_that_never_answers_delays_no_other_and_holds_at_most_its_share() {
    let app = TestApp::with_config(Config {
        webhook_allow_private: true,
        webhook_timeout: 4,
        ..open_config()
    })
    .await;
    let (token, _) = register(&app, "hooks@example.com").await;
    let (stuck, good) = (listener(true), listener(false));
    for l in [&stuck, &good] {
        let (s, v, _) = app
            .call(
                "POST",
                "/api/webhooks",
                Some(&token),
                Some(json!({ "url": l.url, "events": ["license.created"] })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (_, p, _) = app
        .call(
            "POST",
            "/api/products",
            Some(&token),
            Some(json!({ "name": "Busy" })),
        )
        .await;
    for _ in 0..4 {
        let (s, _, _) = app
            .call(
                "POST",
                "/api/licenses",
                Some(&token),
                Some(json!({ "product_id": p["data"]["id"], "max_uses": 1 })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    assert_eq!(app.state.store.deliveries().await.expect("outbox").len(), 8);
    let state = app.state.clone();
    let round = tokio::spawn(async move { licet_server::events::drain_outbox(&state).await });
    // The good endpoint gets its share while the stuck one still holds its connections. Both
    // must be seen at once: the sends start in no fixed order, so the good endpoint may well
    // be answered before the stuck one's connections are even open (a busy machine showed
    // that), but a round that waited for the stuck one first could never show both.
    let mut served_while_stuck = false;
    for _ in 0..200 {
        if count(&good.answered) >= licet_server::events::PER_ENDPOINT && count(&stuck.open) > 0 {
            served_while_stuck = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        count(&good.answered),
        licet_server::events::PER_ENDPOINT,
        "the good endpoint was served"
    );
    assert!(
        served_while_stuck,
        "…while the stuck one was still waited on"
    );
    let sent = round.await.expect("join").expect("drain");
    assert_eq!(sent, licet_server::events::PER_ENDPOINT);
    assert_eq!(
        count(&stuck.most_open),
        licet_server::events::PER_ENDPOINT,
        "one endpoint never holds more than its share"
    );
    let errors: Vec<Option<String>> = app
        .state
        .store
        .deliveries()
        .await
        .expect("outbox")
        .into_iter()
        .filter(|d| d.attempts > 0)
        .map(|d| d.last_error)
        .collect();
    assert_eq!(
        errors,
        vec![Some("timeout".to_owned()); 2],
        "the stuck ones timed out"
    );
    // Capped per user.
    for i in 2..20 {
        let (s, _, _) = app
            .call(
                "POST",
                "/api/webhooks",
                Some(&token),
                Some(
                    json!({ "url": format!("{}?n={i}", good.url), "events": ["license.created"] }),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, v, _) = app
        .call(
            "POST",
            "/api/webhooks",
            Some(&token),
            Some(json!({ "url": good.url, "events": ["license.created"] })),
        )
        .await;
    assert_eq!(
        (s, &v["error_code"]),
        (StatusCode::BAD_REQUEST, &json!("LIMIT_REACHED"))
    );
}

// ----- 10. each product's download files are its own

#[tokio::test]
async fn a_key_cannot_register_a_file_another_product_uploaded() {
    let data = tempfile::tempdir().expect("tmp");
    let app = TestApp::with_config(Config {
        data: data.path().to_path_buf(),
        ..open_config()
    })
    .await;
    let (a, _) = app.product("app-a", json!({})).await;
    let (b, _) = app.product("app-b", json!({})).await;
    let (key_a, key_b) = (
        api_key(&app, "read_write", Some(&a)).await,
        api_key(&app, "read_write", Some(&b)).await,
    );
    let upload = axum::http::Request::post(format!(
        "/v1/downloads/upload?product_id={}&name=secret&file=secret.zip",
        b["id"].as_str().expect("id")
    ))
    .header("authorization", format!("Bearer {key_b}"))
    .header("content-type", "application/octet-stream")
    .body(axum::body::Body::from("B's paid content"))
    .expect("request");
    let (s, v, _) = app.send(upload).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(
        common::holds_file(
            &app.state,
            data.path(),
            b["id"].as_str().expect("id"),
            "secret.zip"
        )
        .await,
        "kept as B's own"
    );
    for file in [
        "secret.zip".to_owned(),
        format!("../{}/secret.zip", b["id"].as_str().expect("id")),
        format!("{}/secret.zip", b["id"].as_str().expect("id")),
    ] {
        let (s, v, _) = app
            .call(
                "POST",
                "/v1/downloads",
                Some(&key_a),
                Some(json!({ "product_id": a["id"], "name": "stolen", "file": file })),
            )
            .await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST,
            "A registered B's file as {file}: {s} {v}"
        );
    }
}

// ----- 13. what anonymous callers can write, and how long anything is kept

#[tokio::test]
async fn anonymous_failures_cost_one_log_entry_a_minute_and_logs_are_pruned() {
    let app = TestApp::with_config(Config {
        log_retention_days: 30,
        log_max_entries: 1_000,
        ..open_config()
    })
    .await;
    let (p, _) = app.product("acme", json!({})).await;
    let number = p["numeric_id"].as_u64().expect("number");
    let check = |key: &'static str| {
        let app = &app;
        async move {
            let info = "i".repeat(1000);
            let req = axum::http::Request::post(format!("/api/check/{number}?info={info}"))
                .header("authorization", key)
                .body(axum::body::Body::empty())
                .expect("request");
            app.send(req).await
        }
    };
    let anonymous = || async {
        common::audit_entries(&app.state)
            .await
            .into_iter()
            .filter(|e| e.action == "faxstore.check" && e.actor == "anonymous")
            .collect::<Vec<_>>()
    };
    for _ in 0..50 {
        let (s, v, _) = check("NO-SUCH-KEY-0000").await;
        assert_eq!((s, &v["pass"]), (StatusCode::OK, &json!(false)));
    }
    let logged = anonymous().await;
    assert_eq!(logged.len(), 1, "50 unknown-key checks, one entry");
    assert_eq!(
        logged[0].detail["info"].as_str().map(str::len),
        Some(200),
        "less of an anonymous caller's info is kept"
    );
    app.clock.advance(60);
    check("NO-SUCH-KEY-0000").await;
    let logged = anonymous().await;
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[1].detail["repeats_since_last"], json!(49));

    // Retention by age: past 30 days, entries go, index and all.
    let l = app.license(&p, json!({})).await;
    let lid = l["id"].as_str().expect("id").to_owned();
    assert!(
        app.state
            .store
            .audit_of(&lid, 0, 10)
            .await
            .expect("index")
            .1
            > 0
    );
    app.clock.advance(31 * 86_400);
    let fresh = app.license(&p, json!({})).await;
    let (audit, _) = licet_server::prune_logs(&app.state).await.expect("prune");
    assert!(audit >= 4, "{audit}");
    let left = common::audit_entries(&app.state).await;
    assert!(
        left.iter().all(|e| e.at >= common::T0 + 31 * 86_400),
        "{left:?}"
    );
    assert_eq!(
        app.state
            .store
            .audit_of(&lid, 0, 10)
            .await
            .expect("index")
            .1,
        0
    );
    assert!(
        left.iter().any(|e| e.subject == fresh["id"]),
        "the new entries stay"
    );

    // Retention by size: the newest `log_max_entries` stay.
    let small = TestApp::with_config(Config {
        log_max_entries: 5,
        ..open_config()
    })
    .await;
    let (p, _) = small.product("small", json!({})).await;
    for _ in 0..10 {
        small.license(&p, json!({})).await;
    }
    licet_server::prune_logs(&small.state).await.expect("prune");
    let left = common::audit_entries(&small.state).await;
    assert_eq!(left.len(), 5);
    assert!(
        left.iter().all(|e| e.action == "license.created"),
        "the oldest went first"
    );
}

// ----- 15. no full-store scans for registered users or anonymous callers

#[tokio::test]
async fn a_registered_users_lists_and_statistics_read_only_their_own_licenses() {
    let app = TestApp::with_config(open_config()).await;
    let (op, _) = app.product("operator", json!({})).await;
    for _ in 0..30 {
        app.license(&op, json!({})).await;
    }
    let (token, _) = register(&app, "tenant@example.com").await;
    let (_, p, _) = app
        .call(
            "POST",
            "/api/products",
            Some(&token),
            Some(json!({ "name": "Mine" })),
        )
        .await;
    let pid = p["data"]["id"].as_str().expect("id").to_owned();
    let mut mine = Vec::new();
    for _ in 0..3 {
        let (_, l, _) = app
            .call(
                "POST",
                "/api/licenses",
                Some(&token),
                Some(json!({ "product_id": pid, "max_uses": 1 })),
            )
            .await;
        mine.push(l["data"]["id"].as_str().expect("id").to_owned());
    }
    let before = app.state.store.license_scans();
    let (s, v, _) = app.call("GET", "/api/licenses", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK);
    let listed: Vec<&str> = v["data"]["licenses"]
        .as_array()
        .expect("licenses")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    assert_eq!(listed.len(), 3);
    assert!(mine.iter().all(|m| listed.contains(&m.as_str())));
    for path in [
        "/api/stats/dashboard",
        "/api/stats/licenses",
        "/api/products",
    ] {
        let (s, v, _) = app.call("GET", path, Some(&token), None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
    }
    let (_, v, _) = app
        .call("GET", "/api/stats/dashboard", Some(&token), None)
        .await;
    assert_eq!(v["data"]["total_licenses"], json!(3), "{v}");
    assert_eq!(
        app.state.store.license_scans(),
        before,
        "a registered user's requests walked every license"
    );
    // A deleted license leaves the index.
    let (s, _, _) = app
        .call(
            "DELETE",
            &format!("/api/licenses/{}", mine[0]),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v, _) = app.call("GET", "/api/licenses", Some(&token), None).await;
    assert_eq!(v["data"]["pagination"]["total"], json!(2));
}

#[tokio::test]
async fn metrics_are_counted_at_most_once_a_minute_and_can_require_a_token() {
    let app = TestApp::new().await;
    let (p, _) = app.product("acme", json!({})).await;
    app.license(&p, json!({})).await;
    let scrape = |auth: Option<&'static str>| {
        let app = &app;
        async move {
            let mut req = axum::http::Request::get("/metrics");
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let (s, v, _) = app
                .send(req.body(axum::body::Body::empty()).expect("request"))
                .await;
            (s, v.as_str().unwrap_or("").to_owned())
        }
    };
    let licenses = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("licet_licenses "))
            .map(str::to_owned)
    };
    let (s, first) = scrape(None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        licenses(&first).as_deref(),
        Some("licet_licenses 1"),
        "{first}"
    );
    app.license(&p, json!({})).await;
    for _ in 0..20 {
        let (_, again) = scrape(None).await;
        assert_eq!(
            licenses(&again),
            licenses(&first),
            "served from the snapshot"
        );
    }
    app.clock.advance(61);
    let (_, later) = scrape(None).await;
    assert_eq!(licenses(&later).as_deref(), Some("licet_licenses 2"));

    let guarded = TestApp::with_config(Config {
        metrics_token: Some(licet_server::config::Redacted("scrape-secret".into())),
        ..Config::default()
    })
    .await;
    for (auth, want) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("Bearer wrong"), StatusCode::UNAUTHORIZED),
        (Some("Bearer scrape-secret"), StatusCode::OK),
    ] {
        let mut req = axum::http::Request::get("/metrics");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let (s, _, _) = guarded
            .send(req.body(axum::body::Body::empty()).expect("request"))
            .await;
        assert_eq!(s, want, "{auth:?}");
    }
}
