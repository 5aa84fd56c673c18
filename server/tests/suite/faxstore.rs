//! FaxStore compatibility: the seed document's requests, as written there, against the real
//! server on a loopback port; then the failure statuses, IP binding, logging and bad input.

use crate::common;

use common::{TestApp, http, serve};
use serde_json::{Value, json};

struct Fixture {
    app: TestApp,
    url: String,
    key: String,
    license_id: String,
    number: u64,
    other_number: u64,
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn fixture(config: licet_server::Config) -> Fixture {
    let app = TestApp::blocking(config);
    let url = serve(app.state.clone());
    let admin = format!("Bearer {}", app.admin);
    let h = [
        ("authorization", admin.as_str()),
        ("content-type", "application/json"),
    ];
    let post = |path: &str, body: Value| {
        json_of(&http("POST", &format!("{url}{path}"), &h, Some(&body.to_string())).1)
    };
    let p = post(
        "/v1/products",
        json!({ "code": "fax-item", "name": "FaxStore item" }),
    );
    post(
        "/v1/policies",
        json!({ "product_id": p["id"], "name": "std" }),
    );
    let other = post(
        "/v1/products",
        json!({ "code": "other-item", "name": "Other" }),
    );
    post(
        "/v1/policies",
        json!({ "product_id": other["id"], "name": "std" }),
    );
    let l = post("/v1/licenses", json!({ "product_id": p["id"] }));
    Fixture {
        key: l["key"].as_str().expect("key").to_owned(),
        license_id: l["id"].as_str().expect("id").to_owned(),
        number: p["numeric_id"].as_u64().expect("numeric id"),
        other_number: other["numeric_id"].as_u64().expect("numeric id"),
        app,
        url,
    }
}

impl Fixture {
    /// The seed's headers: `User-Agent: '*'`, `Accept: 'application/json, text/plain, */*'`,
    /// `authorization: USERS_LICENSE_KEY`.
    fn check(&self, path_and_query: &str, key: &str, body: Option<(&str, &str)>) -> (u16, Value) {
        let mut h = vec![
            ("user-agent", "*"),
            ("accept", "application/json, text/plain, */*"),
            ("authorization", key),
        ];
        if let Some((ctype, _)) = body {
            h.push(("content-type", ctype));
        }
        let (s, text) = http(
            "POST",
            &format!("{}{path_and_query}", self.url),
            &h,
            body.map(|b| b.1),
        );
        (s, json_of(&text))
    }

    fn patch_license(&self, body: Value) {
        let admin = format!("Bearer {}", self.app.admin);
        let h = [
            ("authorization", admin.as_str()),
            ("content-type", "application/json"),
        ];
        let (s, t) = http(
            "PATCH",
            &format!("{}/v1/licenses/{}", self.url, self.license_id),
            &h,
            Some(&body.to_string()),
        );
        assert_eq!(s, 200, "{t}");
    }

    fn admin_post(&self, path: &str) {
        let admin = format!("Bearer {}", self.app.admin);
        let (s, t) = http(
            "POST",
            &format!("{}{path}", self.url),
            &[("authorization", admin.as_str())],
            None,
        );
        assert_eq!(s, 200, "{t}");
    }
}

#[test]
fn the_seed_requests_work_unchanged() {
    let f = fixture(licet_server::Config::default());
    // Single Request, with the documented parameters in the query string.
    let (s, v) = f.check(
        &format!(
            "/api/check/{}?info=string%20of%20details&log=false",
            f.number
        ),
        &f.key,
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(v["status"], "AUTHORISED");
    assert_eq!(v["pass"], true);
    assert_eq!(v["details"], format!("Authorisation completed - {}", f.url));
    // Multiple Request with proIds: [8, 16] in every accepted spelling.
    let other = f.other_number;
    let n = f.number;
    for q in [
        format!("proIds={other}&proIds={n}&info=x"),
        format!("proIds[]={other}&proIds[]={n}"),
        format!("proIds={other},{n}"),
    ] {
        let (s, v) = f.check(&format!("/api/check/multiple?{q}"), &f.key, None);
        assert_eq!(
            (s, v["status"].as_str(), v["proId"].as_u64()),
            (200, Some("AUTHORISED"), Some(n)),
            "{q}"
        );
    }
    let body = json!({ "proIds": [other, n], "info": "from body", "log": false }).to_string();
    let (_, v) = f.check(
        "/api/check/multiple",
        &f.key,
        Some(("application/json", &body)),
    );
    assert_eq!(
        (v["pass"].as_bool(), v["proId"].as_u64()),
        (Some(true), Some(n))
    );
    // The newer docs' JSON and form bodies for the single check.
    let (_, v) = f.check(
        &format!("/api/check/{n}"),
        &f.key,
        Some(("application/json", r#"{"info":"json","log":true}"#)),
    );
    assert_eq!(v["pass"], true);
    let (_, v) = f.check(
        &format!("/api/check/{n}"),
        &f.key,
        Some(("application/x-www-form-urlencoded", "info=form&log=true")),
    );
    assert_eq!(v["pass"], true);
}

#[test]
fn every_documented_failure() {
    let f = fixture(licet_server::Config::default());
    let n = f.number;
    let status = |v: &Value| {
        (
            v["status"].as_str().unwrap_or("").to_owned(),
            v["pass"].as_bool(),
        )
    };
    let (s, v) = f.check("/api/check/99999", &f.key, None);
    assert_eq!(
        (s, status(&v)),
        (200, ("NOT FOUND (Unauthorised)".into(), Some(false)))
    );
    let (_, v) = f.check(&format!("/api/check/{n}"), "NO-SUCH-KEY", None);
    assert_eq!(status(&v), ("NOT FOUND (License key)".into(), Some(false)));
    let (_, v) = f.check(&format!("/api/check/{}", f.other_number), &f.key, None);
    assert_eq!(
        status(&v).0,
        "NOT FOUND (License key)",
        "a key of another product"
    );
    let (_, v) = f.check("/api/check/multiple?proIds=99998,99999", &f.key, None);
    assert_eq!(status(&v).0, "NOT FOUND (Unauthorised)");
    assert!(v.get("proId").is_none());

    // IP binding: the license's IP must be the caller's (127.0.0.1 here).
    f.patch_license(json!({ "ip": "10.1.2.3" }));
    let (_, v) = f.check(&format!("/api/check/{n}"), &f.key, None);
    assert_eq!(status(&v).0, "NOT AUTHORISED");
    f.patch_license(json!({ "ip": "127.0.0.1" }));
    let (_, v) = f.check(&format!("/api/check/{n}"), &f.key, None);
    assert_eq!(status(&v).0, "AUTHORISED");
    f.patch_license(json!({ "ip": null }));

    // The owner's switch, then staff disabling.
    f.patch_license(json!({ "owner_active": false }));
    let (_, v) = f.check(&format!("/api/check/{n}"), &f.key, None);
    assert_eq!(status(&v).0, "NOT ACTIVE");
    f.patch_license(json!({ "owner_active": true }));
    f.admin_post(&format!("/v1/licenses/{}/suspend", f.license_id));
    let (_, v) = f.check(&format!("/api/check/{n}"), &f.key, None);
    assert_eq!(status(&v).0, "KEY DISABLED");
    let (_, v) = f.check(
        &format!("/api/check/multiple?proIds=99999,{n}"),
        &f.key,
        None,
    );
    assert_eq!(
        status(&v).0,
        "KEY DISABLED",
        "the key's own product gives the most telling failure"
    );
}

#[test]
fn checks_are_logged_unless_log_is_false() {
    let f = fixture(licet_server::Config::default());
    let n = f.number;
    f.check(&format!("/api/check/{n}?info=first"), &f.key, None);
    f.check(
        &format!("/api/check/{n}?info=hidden&log=false"),
        &f.key,
        None,
    );
    f.check(
        &format!("/api/check/{n}"),
        &f.key,
        Some(("application/json", r#"{"info":"third"}"#)),
    );
    let events: Vec<_> = common::block_on(common::audit_entries(&f.app.state))
        .into_iter()
        .filter(|e| e.action == "faxstore.check")
        .collect();
    let infos: Vec<&str> = events
        .iter()
        .filter_map(|e| e.detail["info"].as_str())
        .collect();
    assert_eq!(infos, ["first", "third"]);
    assert!(
        events
            .iter()
            .all(|e| e.ip.as_deref() == Some("127.0.0.1") && e.detail["status"] == "AUTHORISED")
    );
}

#[test]
fn bad_input_gets_the_faxstore_shape_and_writes_nothing() {
    let f = fixture(licet_server::Config::default());
    let n = f.number;
    let before = common::block_on(common::audit_entries(&f.app.state)).len();
    for (path, body) in [
        (
            format!("/api/check/{n}"),
            Some(("application/json", "{not json")),
        ),
        ("/api/check/multiple?proIds=eight".to_owned(), None),
        ("/api/check/multiple".to_owned(), None),
        (format!("/api/check/{n}?log=perhaps"), None),
    ] {
        let (s, v) = f.check(&path, &f.key, body);
        assert_eq!(
            (s, v["status"].as_str(), v["pass"].as_bool()),
            (400, Some("BAD REQUEST"), Some(false)),
            "{path}"
        );
    }
    // No key at all is an answer, not an error.
    let (s, text) = http("POST", &format!("{}/api/check/{n}", f.url), &[], None);
    assert_eq!(s, 200);
    assert_eq!(json_of(&text)["status"], "NOT FOUND (License key)");
    let after = common::block_on(common::audit_entries(&f.app.state)).len();
    assert_eq!(after, before + 1, "only the keyless check was logged");
}

#[test]
fn the_v1_route_only_when_enabled() {
    let f = fixture(licet_server::Config::default());
    let (s, _) = f.check(&format!("/api/checkitem/{}", f.number), &f.key, None);
    assert_eq!(s, 404, "off by default");
    let f = fixture(licet_server::Config {
        compat_faxstore_v1: true,
        ..licet_server::Config::default()
    });
    let (s, v) = f.check(&format!("/api/checkitem/{}", f.number), &f.key, None);
    assert_eq!(
        (s, v["status"].as_str(), v["pass"].as_bool()),
        (200, Some("OK"), Some(true))
    );
    let (_, v) = f.check(&format!("/api/checkitem/{}", f.number), "WRONG", None);
    assert_eq!(
        (v["status"].as_str(), v["pass"].as_bool()),
        (Some("NOT FOUND"), Some(false))
    );
    // And the family can be switched off entirely.
    let f = fixture(licet_server::Config {
        compat_faxstore: false,
        ..licet_server::Config::default()
    });
    let (s, _) = f.check(&format!("/api/check/{}", f.number), &f.key, None);
    assert_eq!(s, 404);
}
