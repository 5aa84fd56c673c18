//! The store Verify API: the seed's example request as written, the failure statuses, activation
//! slots under concurrency, and Laravel-style validation errors.

use crate::common;
use licet_core::ids::LicenseId;

use std::sync::Arc;

use common::{TestApp, http, serve};
use serde_json::{Value, json};

const SEED_KEY: &str = "CP-AB12CD-34EF56-GH78IJ-90KLMN-XYZ123";
/// 2027-12-31T00:00:00Z, after the tests' clock (2027-01-15).
const EXPIRY: i64 = 1_830_211_200;

struct Store {
    app: TestApp,
    url: String,
    product_id: String,
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn store(slots: u32) -> Store {
    let app = TestApp::new_blocking();
    let url = serve(app.state.clone());
    let admin = format!("Bearer {}", app.admin);
    let h = [
        ("authorization", admin.as_str()),
        ("content-type", "application/json"),
    ];
    let p = json_of(&http("POST", &format!("{url}/v1/products"), &h, Some(&json!({
        "code": "acme-theme-pro", "name": "Acme Theme Pro", "key_prefix": "CP-", "key_format": "XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX"
    }).to_string())).1);
    let (s, t) = http(
        "POST",
        &format!("{url}/v1/policies"),
        &h,
        Some(&json!({ "product_id": p["id"], "name": "std", "max_machines": slots }).to_string()),
    );
    assert_eq!(s, 201, "{t}");
    Store {
        product_id: p["id"].as_str().expect("id").to_owned(),
        app,
        url,
    }
}

impl Store {
    fn license(&self, extra: Value) -> Value {
        let admin = format!("Bearer {}", self.app.admin);
        let mut body = extra;
        body["product_id"] = json!(self.product_id);
        let (s, t) = http(
            "POST",
            &format!("{}/v1/licenses", self.url),
            &[
                ("authorization", admin.as_str()),
                ("content-type", "application/json"),
            ],
            Some(&body.to_string()),
        );
        assert_eq!(s, 201, "{t}");
        json_of(&t)
    }

    /// The seed's headers and body shape.
    fn verify(&self, body: &str) -> (u16, Value) {
        let (s, t) = http(
            "POST",
            &format!("{}/api/v1/licenses/verify", self.url),
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            Some(body),
        );
        (s, json_of(&t))
    }
}

fn body(key: &str, domain: &str) -> String {
    json!({ "license_key": key, "domain": domain, "ip": "203.0.113.42" }).to_string()
}

#[test]
fn the_seed_request_as_written() {
    let st = store(2);
    st.license(json!({ "key": SEED_KEY, "expires_at": EXPIRY }));
    let seed = r#"{
    "license_key": "CP-AB12CD-34EF56-GH78IJ-90KLMN-XYZ123",
    "domain": "customer-site.example.com",
    "ip": "203.0.113.42"
  }"#;
    let (s, v) = st.verify(seed);
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({ "valid": true, "product": "Acme Theme Pro", "expiry": "2027-12-31", "lifetime": false })
    );
    // Known domain and IP: no new slot; a lifetime key says so.
    assert_eq!(st.verify(seed).0, 200);
    let lifetime = st.license(json!({}));
    let key = lifetime["key"].as_str().expect("key");
    assert!(key.starts_with("CP-") && key.len() == 37, "{key}");
    let (s, v) = st.verify(&body(key, "other.example"));
    assert_eq!(
        (s, v["expiry"].clone(), v["lifetime"].as_bool()),
        (200, Value::Null, Some(true))
    );
}

#[test]
fn failures_and_slots() {
    let st = store(2);
    let l = st.license(json!({ "key": SEED_KEY, "expires_at": EXPIRY }));
    let reason = |r: (u16, Value)| {
        (
            r.0,
            r.1["valid"].as_bool(),
            r.1["reason"].as_str().unwrap_or("").to_owned(),
        )
    };
    assert_eq!(
        reason(st.verify(&body("AB12CD-34EF56", "a.example"))),
        (403, Some(false), "Invalid license format.".into())
    );
    assert_eq!(
        reason(st.verify(&body("CP-ZZZZZZ-ZZZZZZ-ZZZZZZ-ZZZZZZ-ZZZZZZ", "a.example"))),
        (404, Some(false), "License not found.".into())
    );
    // Slots: the first call takes two (its domain and the caller's IP), then one is left… none.
    assert_eq!(st.verify(&body(SEED_KEY, "a.example")).0, 200);
    assert_eq!(
        reason(st.verify(&body(SEED_KEY, "b.example"))),
        (
            403,
            Some(false),
            "Max activations exceeded or unrecognized environment.".into()
        )
    );
    assert_eq!(
        st.verify(&body(SEED_KEY, "A.EXAMPLE.")).0,
        200,
        "domains compare normalised"
    );
    // Freeing a slot (an admin removes an environment) lets a new one in.
    let id = l["id"].as_str().expect("id");
    let machines =
        common::block_on(st.app.state.store.machines(&LicenseId::from(id))).expect("machines");
    let domain = machines
        .iter()
        .find(|m| m.fingerprint == "domain:a.example")
        .expect("recorded");
    common::block_on(st.app.state.store.remove_machine(domain)).expect("remove");
    assert_eq!(st.verify(&body(SEED_KEY, "b.example")).0, 200);

    let admin = format!("Bearer {}", st.app.admin);
    let (s, _) = http(
        "POST",
        &format!("{}/v1/licenses/{id}/revoke", st.url),
        &[("authorization", admin.as_str())],
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(
        reason(st.verify(&body(SEED_KEY, "b.example"))),
        (403, Some(false), "License has been revoked.".into())
    );
    let expired =
        st.license(json!({ "key": "CP-EXPIRE-D00000-000000-000000-000001", "expires_at": 1_000 }));
    let _ = expired;
    assert_eq!(
        reason(st.verify(&body("CP-EXPIRE-D00000-000000-000000-000001", "a.example"))),
        (403, Some(false), "License expired.".into())
    );
}

#[test]
fn slots_are_never_exceeded_under_concurrency() {
    let st = Arc::new(store(3));
    let l = st.license(json!({ "key": SEED_KEY }));
    let barrier = Arc::new(std::sync::Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (st, barrier) = (st.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                st.verify(&body(SEED_KEY, &format!("site-{i}.example"))).0
            })
        })
        .collect();
    let codes: Vec<u16> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    // Three slots: the loopback IP and two domains.
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 2, "{codes:?}");
    assert!(codes.iter().all(|&c| c == 200 || c == 403));
    assert_eq!(
        common::block_on(
            st.app
                .state
                .store
                .machine_count(l["id"].as_str().expect("id"))
        )
        .expect("count"),
        3
    );
}

#[test]
fn validation_errors_are_laravels_and_write_nothing() {
    let st = store(5);
    let l = st.license(json!({ "key": SEED_KEY }));
    let (s, v) = st.verify(r#"{"license_key": "CP-AB12CD-34EF56-GH78IJ-90KLMN-XYZ123", "domain": "x.example", "ip": "not-an-ip"}"#);
    assert_eq!(s, 422);
    assert_eq!(
        v,
        json!({ "message": "The given data was invalid.", "errors": { "ip": ["The ip must be a valid IP address."] } })
    );
    let (s, v) = st.verify("{}");
    assert_eq!(s, 422);
    assert_eq!(
        v["errors"]["license_key"][0],
        "The license key field is required."
    );
    assert_eq!(v["errors"]["domain"][0], "The domain field is required.");
    assert_eq!(v["errors"]["ip"][0], "The ip field is required.");
    let (s, v) = st.verify(r#"{"license_key": 5, "domain": "x", "ip": "1.2.3.4"}"#);
    assert_eq!(
        (s, v["errors"]["license_key"][0].as_str()),
        (422, Some("The license key must be a string."))
    );
    let (s, _) = st.verify("{not json");
    assert_eq!(s, 422);
    assert!(
        common::block_on(
            st.app
                .state
                .store
                .machines(&LicenseId::from(l["id"].as_str().expect("id")))
        )
        .expect("m")
        .is_empty(),
        "nothing written"
    );
}
