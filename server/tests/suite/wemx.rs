//! WemX's licensing service: the seed's example requests as written (against a real server on a
//! loopback port), per-domain IP binding, `max_domains` and first installs under concurrency,
//! `transaction_id` and `due_date` rules, single-use download URLs, the private API with
//! customers and orders, and bad input in WemX's own error shape.

use crate::common;

use std::sync::Arc;

use common::{TestApp, http, serve};
use licet_server::Config;
use serde_json::{Value, json};

const SEED_KEY: &str = "LCE-e75803b9-1b3a-4801-a3ea-30cc1eb0e4b2";
const UUID_FORMAT: &str = "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh";

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A server with WemX's package "Example" (numeric id 84, price 122: recurring, 30 days; price
/// 123: single) and a data directory of its own.
struct Wemx {
    app: TestApp,
    url: String,
    product_id: String,
    _data: tempfile::TempDir,
}

fn wemx(seats: u32) -> Wemx {
    wemx_with(seats, 4096)
}

fn wemx_with(seats: u32, max_upload_bytes: u64) -> Wemx {
    let data = tempfile::tempdir().expect("tmp");
    let app = TestApp::blocking(Config {
        rate_limit_ip: 0,
        rate_limit_license: 0,
        data: data.path().to_path_buf(),
        trusted_proxy_header: Some("x-forwarded-for".into()),
        max_upload_bytes,
        ..Config::default()
    });
    let url = serve(app.state.clone());
    let w = Wemx {
        app,
        url,
        product_id: String::new(),
        _data: data,
    };
    let p = w.admin_ok("POST", "/v1/products", json!({
        "code": "example", "name": "Example", "numeric_id": 84, "key_prefix": "LCE-", "key_format": UUID_FORMAT
    }));
    let product_id = p["id"].as_str().expect("id").to_owned();
    w.admin_ok(
        "POST",
        "/v1/policies",
        json!({ "product_id": product_id, "name": "std", "max_machines": seats }),
    );
    w.admin_ok(
        "POST",
        &format!("/v1/products/{product_id}/prices"),
        json!({ "id": 122, "name": "Monthly", "kind": "recurring", "period_days": 30, "amount": 999 }),
    );
    w.admin_ok(
        "POST",
        &format!("/v1/products/{product_id}/prices"),
        json!({ "id": 123, "name": "Once", "kind": "single", "amount": 4999 }),
    );
    Wemx { product_id, ..w }
}

impl Wemx {
    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {}", self.app.admin);
        let body = body.map(|b| b.to_string());
        let (s, t) = http(
            method,
            &format!("{}{path}", self.url),
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ],
            body.as_deref(),
        );
        (
            s,
            if t.is_empty() {
                Value::Null
            } else {
                json_of(&t)
            },
        )
    }

    fn admin_ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (s, v) = self.admin(method, path, Some(body));
        assert!(s == 200 || s == 201, "{method} {path}: {s} {v}");
        v
    }

    fn license(&self, extra: Value) -> Value {
        let mut body = extra;
        body["product_id"] = json!(self.product_id);
        self.admin_ok("POST", "/v1/licenses", body)
    }

    /// A public request from `ip` (through the trusted proxy header), JSON body.
    fn public(&self, path: &str, ip: &str, body: &str) -> (u16, Value) {
        let (s, t) = http(
            "POST",
            &format!("{}{path}", self.url),
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
                ("x-forwarded-for", ip),
            ],
            Some(body),
        );
        (s, json_of(&t))
    }

    fn validate(&self, ip: &str, body: Value) -> (u16, Value) {
        self.public("/api/v1/licenses/public/validate", ip, &body.to_string())
    }

    fn private(&self, path: &str, auth: Option<&str>, body: &str) -> (u16, Value) {
        let bearer = auth.map(|a| format!("Bearer {a}"));
        let mut h = vec![
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ];
        if let Some(b) = &bearer {
            h.push(("authorization", b.as_str()));
        }
        let (s, t) = http("POST", &format!("{}{path}", self.url), &h, Some(body));
        (s, json_of(&t))
    }

    fn upload(&self, name: &str, file: &str, content: &str) -> (u16, Value) {
        let auth = format!("Bearer {}", self.app.admin);
        let (s, t) = http(
            "POST",
            &format!(
                "{}/v1/downloads/upload?product_id={}&name={name}&file={file}",
                self.url, self.product_id
            ),
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/octet-stream"),
            ],
            Some(content),
        );
        (s, json_of(&t))
    }

    fn domain_count(&self, license_id: &str) -> usize {
        let (_, v) = self.admin("GET", &format!("/v1/licenses/{license_id}/machines"), None);
        v["items"].as_array().map_or(0, Vec::len)
    }

    fn audit_len(&self) -> usize {
        let (_, v) = self.admin("GET", "/v1/audit?limit=100", None);
        v["items"].as_array().map_or(0, Vec::len)
    }
}

/// GET of a download URL: status, body bytes, content-disposition.
fn get_download(url: &str) -> (u16, Vec<u8>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent.get(url).call().expect("transport");
    let disposition = resp
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec().unwrap_or_default();
    (status, body, disposition)
}

fn keys_of(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    k.sort_unstable();
    k
}

fn is_laravel_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 27 && s.ends_with(".000000Z") && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[test]
fn seed_examples_work_unchanged() {
    let w = wemx(3);
    let imported = w.license(json!({ "key": SEED_KEY }));

    // Validate (the seed's body; its `//` comments are documentation, not JSON).
    let (s, v) = w.public(
        "/api/v1/licenses/public/validate",
        "203.0.113.5",
        r#"{
  "license": "LCE-e75803b9-1b3a-4801-a3ea-30cc1eb0e4b2",
  "domain": "demo.example.net",
  "packages": "Example"
}"#,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        keys_of(&v),
        ["license", "message", "package", "success", "type"]
    );
    assert_eq!(v["success"], json!(true));
    assert_eq!(v["message"], json!("License verified successfully."));
    assert_eq!(v["package"], json!("Example"));
    assert_eq!(v["type"], json!("production"));
    let l = &v["license"];
    assert_eq!(
        keys_of(l),
        [
            "created_at",
            "id",
            "key",
            "last_installed_at",
            "max_domains",
            "order_id",
            "updated_at"
        ]
    );
    assert_eq!(l["key"], json!(SEED_KEY));
    assert_eq!(l["id"], imported["numeric_id"]);
    assert!(l["id"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(l["max_domains"], json!(3));
    assert_eq!(l["order_id"], Value::Null);
    for t in ["created_at", "updated_at", "last_installed_at"] {
        assert!(is_laravel_time(&l[t]), "{t}: {}", l[t]);
    }

    // Domains (the seed's path).
    let (s, t) = http(
        "GET",
        &format!(
            "{}/api/v1/licenses/public/LCE-e75803b9-1b3a-4801-a3ea-30cc1eb0e4b2/domains",
            w.url
        ),
        &[("accept", "application/json")],
        None,
    );
    assert_eq!(s, 200, "{t}");
    let d = json_of(&t);
    assert_eq!(keys_of(&d), ["domains", "success"]);
    let domains = d["domains"].as_array().expect("domains");
    assert_eq!(domains.len(), 1);
    assert_eq!(
        keys_of(&domains[0]),
        [
            "created_at",
            "domain",
            "id",
            "last_used_at",
            "license_id",
            "protocol",
            "type",
            "updated_at"
        ]
    );
    assert_eq!(domains[0]["domain"], json!("demo.example.net"));
    assert_eq!(domains[0]["protocol"], json!("https://"));
    assert_eq!(domains[0]["type"], json!("production"));
    assert_eq!(domains[0]["license_id"], l["id"]);
    assert!(is_laravel_time(&domains[0]["last_used_at"]));

    // Download (the seed's body), after registering the resource.
    let (s, up) = w.upload("example", "example.zip", "PK-example-archive");
    assert_eq!(s, 201, "{up}");
    let (s, v) = w.public(
        "/api/v1/licenses/public/download",
        "203.0.113.5",
        r#"{
	"license": "LCE-e75803b9-1b3a-4801-a3ea-30cc1eb0e4b2",
  	"domain": "demo.wemx.net",
  	"packages": "Example",
  	"resource_name": "example"
}"#,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(keys_of(&v), ["download_url", "message", "success"]);
    assert_eq!(v["message"], json!("Download started."));
    let url = v["download_url"].as_str().expect("url");
    assert!(
        url.starts_with(&format!("{}/api/v1/licenses/public/download/", w.url)),
        "{url}"
    );
    let (s, body, disposition) = get_download(url);
    assert_eq!(s, 200);
    assert_eq!(body, b"PK-example-archive");
    assert_eq!(disposition, "attachment; filename=\"example.zip\"");
    let (s, body, _) = get_download(url);
    assert_eq!(s, 410, "a download URL works once");
    assert!(String::from_utf8_lossy(&body).contains("already been used"));

    // Create (the seed's headers and body).
    let (s, v) = w.private(
        "/api/v1/licenses/private/create",
        Some(&w.app.admin),
        r#"{
	"email": "mfmjqpfbnaqnrpxrgx@cazlq.com",
  	"domain": "example.net",
  	"package_id": 84,
  	"price_id": 122
}"#,
    );
    assert_eq!((s, v), (200, json!({ "success": true })));
    let (_, found) = w.admin(
        "GET",
        "/v1/customers?email=mfmjqpfbnaqnrpxrgx@cazlq.com",
        None,
    );
    let customer = &found["items"][0];
    assert_eq!(keys_of(customer), ["created_at", "email", "id"]);
    let (_, c) = w.admin("GET", &format!("/v1/customers/{}", customer["id"]), None);
    let order = &c["orders"][0];
    assert_eq!(order["price_id"], json!(122));
    let key = order["license_key"].as_str().expect("key");
    assert!(key.starts_with("LCE-") && key.len() == 40, "{key}");
    assert_eq!(
        order["due_date"],
        json!(common::T0 + 30 * 86_400),
        "a recurring price falls due after its period"
    );

    // Update the due date (the seed's body names order 232: sell until there is one).
    let mut last = order["id"].as_u64().expect("order id");
    while last < 232 {
        let (s, v) = w.private(
            "/api/v1/licenses/private/create",
            Some(&w.app.admin),
            r#"{"email": "bulk@example.net", "domain": "bulk.example.net", "package_id": 84, "price_id": 122}"#,
        );
        assert_eq!(s, 200, "{v}");
        last += 1;
    }
    let (s, v) = w.private(
        "/api/v1/licenses/private/update-due-date",
        Some(&w.app.admin),
        r#"{
	"order_id": 232,
	"due_date": "2028-01-01T20:55:13.000000Z"
}"#,
    );
    assert_eq!((s, v), (200, json!({ "success": true })));
    let (_, o) = w.admin("GET", "/v1/orders/232", None);
    assert_eq!(o["due_date"], json!(1_830_372_913));
    let (_, l) = w.admin(
        "GET",
        &format!("/v1/licenses/{}", o["license_id"].as_str().expect("id")),
        None,
    );
    assert_eq!(l["expires_at"], json!(1_830_372_913));
}

#[test]
fn first_install_binds_the_domain_to_its_ip_and_max_domains_holds() {
    let w = wemx(2);
    let l = w.license(json!({}));
    let key = l["key"].as_str().expect("key");
    let body = |domain: &str| json!({ "license": key, "domain": domain, "packages": "Example" });

    let (s, v) = w.validate("203.0.113.5", body("https://Demo.Example.net/"));
    assert_eq!(s, 200, "{v}");
    let (s, _) = w.validate("203.0.113.5", body("demo.example.net"));
    assert_eq!(s, 200, "the same machine again");
    let (s, v) = w.validate("198.51.100.7", body("demo.example.net"));
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["success"], json!(false));
    assert!(
        v["message"].as_str().expect("msg").contains("different IP"),
        "{v}"
    );
    let (s, v) = w.validate("198.51.100.7", body("dev.example.net"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["type"], json!("development"));
    let (s, v) = w.validate("198.51.100.7", body("third.example.net"));
    assert_eq!(s, 403, "{v}");
    assert!(
        v["message"]
            .as_str()
            .expect("msg")
            .contains("not authorised"),
        "{v}"
    );
    assert_eq!(w.domain_count(l["id"].as_str().expect("id")), 2);

    // Packages: a license covers its product; another name is refused.
    let (s, v) = w.validate(
        "203.0.113.5",
        json!({ "license": key, "domain": "demo.example.net", "packages": "Other" }),
    );
    assert_eq!(s, 403, "{v}");
    let (s, v) = w.validate(
        "203.0.113.5",
        json!({ "license": key, "domain": "demo.example.net", "packages": "Other, Example" }),
    );
    assert_eq!((s, &v["package"]), (200, &json!("Example")), "{v}");

    // Unknown, suspended, expired.
    let (s, v) = w.validate(
        "203.0.113.5",
        json!({ "license": "LCE-nope", "domain": "demo.example.net", "packages": "Example" }),
    );
    assert_eq!(
        (s, v),
        (
            404,
            json!({ "success": false, "message": "License not found." })
        )
    );
    w.admin_ok(
        "POST",
        &format!("/v1/licenses/{}/suspend", l["id"].as_str().expect("id")),
        json!({}),
    );
    let (s, v) = w.validate("203.0.113.5", body("demo.example.net"));
    assert_eq!(s, 403, "{v}");
    assert!(v["message"].as_str().expect("m").contains("suspended"));
}

#[test]
fn concurrent_first_installs_never_exceed_max_domains() {
    let w = Arc::new(wemx(2));
    let l = w.license(json!({}));
    let key = l["key"].as_str().expect("key").to_owned();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let w = Arc::clone(&w);
            let key = key.clone();
            std::thread::spawn(move || {
                w.validate(
                    &format!("203.0.113.{}", i + 1),
                    json!({ "license": key, "domain": format!("site{i}.example.net"), "packages": "Example" }),
                )
                .0
            })
        })
        .collect();
    let statuses: Vec<u16> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 403).count(),
        6,
        "{statuses:?}"
    );
    assert_eq!(w.domain_count(l["id"].as_str().expect("id")), 2);
}

#[test]
fn a_transaction_id_is_accepted_once_even_under_concurrency() {
    let w = Arc::new(wemx(5));
    let l = w.license(json!({}));
    let key = l["key"].as_str().expect("key").to_owned();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let w = Arc::clone(&w);
            let key = key.clone();
            std::thread::spawn(move || {
                w.validate(
                    "203.0.113.5",
                    json!({ "license": key, "domain": "demo.example.net", "packages": "Example", "transaction_id": "txn-1" }),
                )
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert_eq!(
        answers.iter().filter(|a| a.0 == 200).count(),
        1,
        "{answers:?}"
    );
    let refused: Vec<_> = answers.iter().filter(|a| a.0 == 409).collect();
    assert_eq!(refused.len(), 7, "{answers:?}");
    assert_eq!(
        refused[0].1,
        json!({ "success": false, "message": "This transaction id has already been used." })
    );
    // A refused request does not spend its transaction id.
    let (s, _) = w.validate(
        "203.0.113.5",
        json!({ "license": key, "domain": "demo.example.net", "packages": "Nope", "transaction_id": "txn-2" }),
    );
    assert_eq!(s, 403);
    let (s, v) = w.validate(
        "203.0.113.5",
        json!({ "license": key, "domain": "demo.example.net", "packages": "Example", "transaction_id": "txn-2", "data": {"version": "1.2.0"} }),
    );
    assert_eq!(s, 200, "{v}");
    let (_, stored) = w.admin(
        "GET",
        &format!("/v1/licenses/{}", l["id"].as_str().expect("id")),
        None,
    );
    assert_eq!(stored["data"], json!({"version": "1.2.0"}));
}

#[test]
fn a_domain_refused_its_seat_does_not_spend_the_transaction_id() {
    // Eight new domains race for one seat, each with its own transaction id: the seven refused
    // leave their ids unspent, even those that passed the first check before the seat was
    // taken (the id is spent only once the domain holds its seat).
    let w = Arc::new(wemx(1));
    let l = w.license(json!({}));
    let key = l["key"].as_str().expect("key").to_owned();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let w = Arc::clone(&w);
            let key = key.clone();
            std::thread::spawn(move || {
                let (s, _) = w.validate(
                    "203.0.113.5",
                    json!({ "license": key, "domain": format!("site{i}.example.net"), "packages": "Example", "transaction_id": format!("txn-{i}") }),
                );
                (i, s)
            })
        })
        .collect();
    let answers: Vec<(usize, u16)> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let winner = answers
        .iter()
        .find(|a| a.1 == 200)
        .map(|a| a.0)
        .expect("one domain takes the seat");
    assert_eq!(
        answers.iter().filter(|a| a.1 == 403).count(),
        7,
        "{answers:?}"
    );
    for (i, _) in answers.iter().filter(|a| a.1 == 403) {
        let (s, v) = w.validate(
            "203.0.113.5",
            json!({ "license": key, "domain": format!("site{winner}.example.net"), "packages": "Example", "transaction_id": format!("txn-{i}") }),
        );
        assert_eq!(s, 200, "txn-{i} was spent by a refused request: {v}");
    }
}

/// Sells a license through the private API and returns (key, order id).
fn sell(w: &Wemx, email: &str, price_id: u64) -> (String, u64) {
    let (s, v) = w.private(
        "/api/v1/licenses/private/create",
        Some(&w.app.admin),
        &json!({ "email": email, "domain": "shop.example.net", "package_id": 84, "price_id": price_id }).to_string(),
    );
    assert_eq!(s, 200, "{v}");
    let (_, found) = w.admin("GET", &format!("/v1/customers?email={email}"), None);
    let (_, c) = w.admin(
        "GET",
        &format!("/v1/customers/{}", found["items"][0]["id"]),
        None,
    );
    let orders = c["orders"].as_array().expect("orders");
    let o = orders.last().expect("order");
    (
        o["license_key"].as_str().expect("key").to_owned(),
        o["id"].as_u64().expect("id"),
    )
}

#[test]
fn due_dates_public_and_private() {
    let w = wemx(3);
    let (key, order) = sell(&w, "buyer@example.net", 122);
    let due = common::T0 + 30 * 86_400;
    let body = |extra: Value| {
        let mut b = json!({ "license": key, "domain": "shop.example.net", "packages": "Example" });
        for (k, v) in extra.as_object().expect("obj") {
            b[k] = v.clone();
        }
        b
    };
    let (s, v) = w.validate("203.0.113.5", body(json!({ "due_date": "2020-01-01" })));
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        v["errors"]["due_date"],
        json!(["The due date field must be a date after now."])
    );
    // The public API may bring a due date forward ...
    let sooner = common::T0 + 10 * 86_400;
    let sooner_text = chrono::DateTime::from_timestamp(sooner, 0)
        .expect("t")
        .to_rfc3339();
    let (s, v) = w.validate("203.0.113.5", body(json!({ "due_date": sooner_text })));
    assert_eq!(s, 200, "{v}");
    let (_, o) = w.admin("GET", &format!("/v1/orders/{order}"), None);
    assert_eq!(o["due_date"], json!(sooner));
    // ... but never push it later.
    let later = chrono::DateTime::from_timestamp(due, 0)
        .expect("t")
        .to_rfc3339();
    let (s, v) = w.validate("203.0.113.5", body(json!({ "due_date": later })));
    assert_eq!(s, 403, "{v}");
    // Past due: expired, until the private API extends it.
    w.app.clock.advance(11 * 86_400);
    let (s, v) = w.validate("203.0.113.5", body(json!({})));
    assert_eq!(s, 403, "{v}");
    assert!(v["message"].as_str().expect("m").contains("expired"));
    let (s, v) = w.private(
        "/api/v1/licenses/private/update-due-date",
        Some(&w.app.admin),
        &json!({ "order_id": order, "due_date": "2027-12-31" }).to_string(),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = w.validate("203.0.113.5", body(json!({})));
    assert_eq!(s, 200, "{v}");
    let (s, v) = w.private(
        "/api/v1/licenses/private/update-due-date",
        Some(&w.app.admin),
        &json!({ "order_id": order, "due_date": "2001-01-01" }).to_string(),
    );
    assert_eq!(s, 422, "{v}");
    let (s, v) = w.private(
        "/api/v1/licenses/private/update-due-date",
        Some(&w.app.admin),
        &json!({ "order_id": 999_999, "due_date": "2030-01-01" }).to_string(),
    );
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        v["errors"]["order_id"],
        json!(["The selected order id is invalid."])
    );

    // A single-price license has no due date to set.
    let (once, _) = sell(&w, "buyer@example.net", 123);
    let (s, v) = w.validate(
        "203.0.113.5",
        json!({ "license": once, "domain": "shop.example.net", "packages": "Example", "due_date": "2030-01-01" }),
    );
    assert_eq!(s, 422, "{v}");
    assert!(
        v["errors"]["due_date"][0]
            .as_str()
            .expect("m")
            .contains("recurring")
    );
}

#[test]
fn a_file_of_several_chunks_is_served_whole() {
    // Past two chunks of a store that keeps files (256 KiB each), not a multiple of one.
    let w = wemx_with(1, 1 << 20);
    let l = w.license(json!({}));
    let content: String = (0..700_001u32)
        .map(|i| char::from(b'a' + u8::try_from(i % 23).unwrap_or(0)))
        .collect();
    let (s, up) = w.upload("big", "big.bin", &content);
    assert_eq!((s, up["size"].as_u64()), (201, Some(700_001)), "{up}");
    let (s, v) = w.public(
        "/api/v1/licenses/public/download",
        "203.0.113.5",
        &json!({ "license": l["key"], "domain": "demo.example.net", "packages": "Example", "resource_name": "big" }).to_string(),
    );
    assert_eq!(s, 200, "{v}");
    let (s, body, _) = get_download(v["download_url"].as_str().expect("url"));
    assert_eq!(s, 200);
    assert_eq!(body.len(), content.len());
    assert!(body == content.as_bytes(), "the bytes uploaded, in order");
    use sha2::Digest;
    let sha = licet_server::ids::hex(&sha2::Sha256::digest(&body));
    assert_eq!(json!(sha), up["sha256"]);
}

#[test]
fn download_urls_are_single_use_expiring_and_unforgeable() {
    let w = wemx(3);
    let l = w.license(json!({}));
    let key = l["key"].as_str().expect("key");
    let (s, up) = w.upload("example", "v1/example.zip", "archive-bytes");
    assert_eq!(s, 201, "{up}");
    assert_eq!(up["size"], json!(13));
    let ask = |resource: &str| {
        w.public(
            "/api/v1/licenses/public/download",
            "203.0.113.5",
            &json!({ "license": key, "domain": "demo.example.net", "packages": "Example", "resource_name": resource }).to_string(),
        )
    };
    let (s, v) = ask("missing");
    assert_eq!(
        (s, v),
        (
            404,
            json!({ "success": false, "message": "Resource not found." })
        )
    );
    // Expired.
    let (_, v) = ask("example");
    let url = v["download_url"].as_str().expect("url").to_owned();
    w.app.clock.advance(301);
    let (s, body, _) = get_download(&url);
    assert_eq!(s, 410);
    assert!(String::from_utf8_lossy(&body).contains("expired"));
    // Forged: a token with a changed byte, or any made-up token.
    let (_, v) = ask("example");
    let url = v["download_url"].as_str().expect("url").to_owned();
    let (head, token) = url.rsplit_once('/').expect("token");
    let mut forged = token.as_bytes().to_vec();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    let forged = format!("{head}/{}", String::from_utf8(forged).expect("ascii"));
    assert_eq!(get_download(&forged).0, 404);
    assert_eq!(get_download(&format!("{head}/not-a-token")).0, 404);
    // The real one still works once.
    let (s, body, _) = get_download(&url);
    assert_eq!((s, body.as_slice()), (200, &b"archive-bytes"[..]));
    // Many clients racing for one URL: exactly one gets the file.
    let (_, v) = ask("example");
    let url = Arc::new(v["download_url"].as_str().expect("url").to_owned());
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let url = Arc::clone(&url);
            std::thread::spawn(move || get_download(&url).0)
        })
        .collect();
    let statuses: Vec<u16> = racers
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 410).count(),
        7,
        "{statuses:?}"
    );
    // Revoked between grant and use.
    let (_, v) = ask("example");
    let url = v["download_url"].as_str().expect("url").to_owned();
    w.admin_ok(
        "POST",
        &format!("/v1/licenses/{}/revoke", l["id"].as_str().expect("id")),
        json!({}),
    );
    assert_eq!(get_download(&url).0, 403);

    // Uploads: the size limit leaves nothing behind; paths cannot leave the folder.
    let big = "x".repeat(5000);
    let (s, v) = w.upload("big", "big.bin", &big);
    assert_eq!(s, 413, "{v}");
    // Each product's files live in a folder of their own (or, on a store that keeps files,
    // in the store under the product), and the refused upload left nothing.
    let folder = w._data.path().join("downloads").join(&w.product_id);
    let holds = |file: &str| {
        common::block_on(common::holds_file(
            &w.app.state,
            w._data.path(),
            &w.product_id,
            file,
        ))
    };
    assert!(holds("v1/example.zip") && !holds("big.bin"));
    let leftovers: Vec<_> = std::fs::read_dir(&folder)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if w.app.state.store.keeps_files() {
        assert_eq!(
            leftovers,
            Vec::<String>::new(),
            "nothing on this instance's disk"
        );
    } else {
        assert_eq!(leftovers, ["v1"], "{leftovers:?}");
    }
    let (s, _) = w.upload("evil", "../evil.bin", "x");
    assert_eq!(s, 400);
    let (s, _) = w.upload("example", "other.zip", "x");
    assert_eq!(s, 409, "a name is unique per product");
    // Registering a file an operator put in the folder (copied into the store where it keeps
    // files, so that every instance serves it).
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(folder.join("manual.zip"), b"hello").expect("write");
    let (s, v) = w.admin(
        "POST",
        "/v1/downloads",
        Some(json!({ "product_id": w.product_id, "name": "manual", "file": "manual.zip" })),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        v["sha256"],
        json!("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    );
    assert!(holds("manual.zip"));
    let (s, _) = w.admin(
        "POST",
        "/v1/downloads",
        Some(json!({ "product_id": w.product_id, "name": "ghost", "file": "ghost.zip" })),
    );
    assert_eq!(s, 404);
}

#[test]
fn private_api_customers_and_auth() {
    let w = wemx(3);
    let create = |auth: Option<&str>, body: Value| {
        w.private("/api/v1/licenses/private/create", auth, &body.to_string())
    };
    let good = json!({ "email": "Ann@Example.net", "domain": "ann.example.net", "package_id": 84, "price_id": 122 });
    let (s, v) = create(None, good.clone());
    assert_eq!(
        (s, v),
        (
            401,
            json!({ "success": false, "message": "Unauthenticated." })
        )
    );
    let (s, _) = create(Some("lk_nope_nope"), good.clone());
    assert_eq!(s, 401);
    let (_, ro) = w.admin(
        "POST",
        "/v1/api-keys",
        Some(json!({ "name": "ro", "scope": "read_only" })),
    );
    let (s, v) = create(ro["key"].as_str(), good.clone());
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["success"], json!(false));

    let before = w.audit_len();
    let (s, v) = create(Some(&w.app.admin), json!({}));
    assert_eq!(s, 422);
    assert_eq!(
        v["message"],
        json!("The domain field is required. (and 3 more errors)")
    );
    assert_eq!(
        keys_of(&v["errors"]),
        ["domain", "email", "package_id", "price_id"]
    );
    let mut bad = good.clone();
    bad["package_id"] = json!(85);
    let (s, v) = create(Some(&w.app.admin), bad);
    assert_eq!(s, 422);
    assert_eq!(
        v["errors"]["package_id"],
        json!(["The selected package id is invalid."])
    );
    let mut bad = good.clone();
    bad["price_id"] = json!(9);
    let (s, v) = create(Some(&w.app.admin), bad);
    assert_eq!(s, 422);
    assert_eq!(
        v["errors"]["price_id"],
        json!(["The selected price id is invalid."])
    );
    let mut bad = good.clone();
    bad["email"] = json!("not-an-email");
    assert_eq!(create(Some(&w.app.admin), bad).0, 422);
    assert_eq!(w.audit_len(), before, "refused requests write nothing");

    // One customer per address, however it is written; two orders.
    assert_eq!(create(Some(&w.app.admin), good.clone()).0, 200);
    assert_eq!(create(Some(&w.app.admin), good).0, 200);
    let (_, found) = w.admin("GET", "/v1/customers?email=ann@example.net", None);
    let id = found["items"][0]["id"].as_u64().expect("id");
    let (_, c) = w.admin("GET", &format!("/v1/customers/{id}"), None);
    assert_eq!(c["orders"].as_array().map(Vec::len), Some(2));
    assert!(c.get("password_hash").is_none());
    // The password is stored as an argon2id hash only; a reset hands out one that verifies.
    let stored = common::block_on(w.app.state.store.customer(id))
        .expect("read")
        .expect("customer");
    assert!(
        stored.password_hash.starts_with("$argon2id$"),
        "{}",
        stored.password_hash
    );
    let (s, r) = w.admin("POST", &format!("/v1/customers/{id}/password"), None);
    assert_eq!(s, 200, "{r}");
    let password = r["password"].as_str().expect("password");
    let stored = common::block_on(w.app.state.store.customer(id))
        .expect("read")
        .expect("customer");
    assert!(licet_server::app::credentials::verify_password(
        password,
        &stored.password_hash
    ));
    assert!(!licet_server::app::credentials::verify_password(
        "wrong",
        &stored.password_hash
    ));
}

#[test]
fn bad_input_gets_wemx_errors_and_writes_nothing() {
    let w = wemx(3);
    let l = w.license(json!({}));
    let key = l["key"].as_str().expect("key");
    let before = w.audit_len();
    let cases: Vec<(&str, String)> = vec![
        ("/api/v1/licenses/public/validate", "not json".into()),
        ("/api/v1/licenses/public/validate", "[]".into()),
        ("/api/v1/licenses/public/validate", json!({ "license": 5, "domain": [], "packages": {} }).to_string()),
        ("/api/v1/licenses/public/validate", json!({ "license": key, "domain": "exa mple", "packages": "Example" }).to_string()),
        ("/api/v1/licenses/public/validate", json!({ "license": key, "domain": "a.net", "packages": "Example", "data": "text" }).to_string()),
        ("/api/v1/licenses/public/validate", json!({ "license": key, "domain": "a.net", "packages": "Example", "data": {"x": "y".repeat(5000)} }).to_string()),
        ("/api/v1/licenses/public/validate", json!({ "license": key, "domain": "a.net", "packages": "Example", "due_date": "soon" }).to_string()),
        ("/api/v1/licenses/public/validate", json!({ "license": "k".repeat(300), "domain": "a.net", "packages": "Example" }).to_string()),
        ("/api/v1/licenses/public/download", json!({ "license": key, "domain": "a.net", "packages": "Example" }).to_string()),
        ("/api/v1/licenses/public/download", "\u{0}\u{1}".into()),
    ];
    for (path, body) in &cases {
        let (s, v) = w.public(path, "203.0.113.5", body);
        assert_eq!(s, 422, "{path} {body}: {v}");
        assert_eq!(v["success"], json!(false), "{v}");
        assert!(v["message"].is_string() && v["errors"].is_object(), "{v}");
    }
    for body in ["not json", "{\"order_id\": \"x\", \"due_date\": 5}", "{}"] {
        let (s, v) = w.private(
            "/api/v1/licenses/private/update-due-date",
            Some(&w.app.admin),
            body,
        );
        assert_eq!(s, 422, "{body}: {v}");
    }
    let (s, _) = http(
        "GET",
        &format!(
            "{}/api/v1/licenses/public/{}/domains",
            w.url,
            "x".repeat(300)
        ),
        &[],
        None,
    );
    assert_eq!(s, 404);
    assert_eq!(w.audit_len(), before, "nothing was written");
    assert_eq!(w.domain_count(l["id"].as_str().expect("id")), 0);

    // Form bodies work as JSON ones do (Laravel reads both).
    let (s, t) = http(
        "POST",
        &format!("{}/api/v1/licenses/public/validate", w.url),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-forwarded-for", "203.0.113.5"),
        ],
        Some(&format!(
            "license={key}&domain=form.example.net&packages=Example"
        )),
    );
    assert_eq!(s, 200, "{t}");
}

#[test]
fn wemx_can_be_switched_off_and_is_in_the_openapi_document() {
    let on = licet_server::openapi_document(&Config::default());
    let paths = serde_json::to_value(&on).expect("json")["paths"].clone();
    for p in [
        "/api/v1/licenses/public/validate",
        "/api/v1/licenses/public/{license}/domains",
        "/api/v1/licenses/public/download",
        "/api/v1/licenses/public/download/{token}",
        "/api/v1/licenses/private/create",
        "/api/v1/licenses/private/update-due-date",
        "/v1/downloads",
        "/v1/products/{id}/prices",
        "/v1/customers",
    ] {
        assert!(paths.get(p).is_some(), "{p} missing");
    }
    let off = Config {
        compat_wemx: false,
        ..Config::default()
    };
    let doc = serde_json::to_value(licet_server::openapi_document(&off)).expect("json");
    assert!(
        doc["paths"]
            .get("/api/v1/licenses/public/validate")
            .is_none()
    );
    let app = TestApp::blocking(off);
    let url = serve(app.state.clone());
    let (s, _) = http(
        "POST",
        &format!("{url}/api/v1/licenses/public/validate"),
        &[("content-type", "application/json")],
        Some("{}"),
    );
    assert_eq!(s, 404);
}

#[test]
fn a_license_may_cover_several_packages() {
    let w = wemx(3);
    let addon = w.admin_ok(
        "POST",
        "/v1/products",
        json!({ "code": "addon", "name": "Addon" }),
    );
    let l = w.license(json!({ "extra_products": [addon["id"]] }));
    let key = l["key"].as_str().expect("key");
    let (s, v) = w.validate(
        "203.0.113.5",
        json!({ "license": key, "domain": "demo.example.net", "packages": "Addon,Example" }),
    );
    assert_eq!((s, &v["package"]), (200, &json!("Addon")), "{v}");
    // Another license of the product alone does not cover the add-on.
    let plain = w.license(json!({}));
    let (s, _) = w.validate(
        "203.0.113.5",
        json!({ "license": plain["key"], "domain": "demo.example.net", "packages": "Addon" }),
    );
    assert_eq!(s, 403);
    // Unknown or repeated extra products are refused.
    let mut body = json!({ "extra_products": ["prd_nope"] });
    body["product_id"] = json!(w.product_id);
    assert_eq!(w.admin("POST", "/v1/licenses", Some(body)).0, 400);
    let mut body = json!({ "extra_products": [w.product_id] });
    body["product_id"] = json!(w.product_id);
    assert_eq!(w.admin("POST", "/v1/licenses", Some(body)).0, 400);
}
