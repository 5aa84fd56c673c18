//! LicenseCM on licet-server, against a real server on a loopback port: the seed's Quick Start
//! as written, tenancy, the client API (plain and encrypted) with sessions, signatures and
//! challenges, the security tooling, webhooks through the durable outbox (retries and a
//! restart), the expiry sweeper with notifications, and LicenseCM's shape for middleware
//! failures.

use crate::common;

use std::net::TcpListener;
use std::sync::Arc;

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{Aes256Gcm, AesGcm};
use base64::Engine;
use common::{T0, TestApp, deliveries, http, receiver, serve};
use hmac::Mac;
use licet_server::Config;
use serde_json::{Value, json};

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("key");
    m.update(msg);
    hex(&m.finalize().into_bytes())
}

struct Lcm {
    app: TestApp,
    url: String,
}

fn config() -> Config {
    Config {
        rate_limit_ip: 0,
        rate_limit_license: 0,
        licensecm_rate_api: 0,
        licensecm_rate_validation: 0,
        login_rate_limit: 0,
        webhook_allow_private: true,
        licensecm_registration: true,
        ..Config::default()
    }
}

fn lcm_with(c: Config) -> Lcm {
    let app = TestApp::blocking(c);
    let url = serve(app.state.clone());
    Lcm { app, url }
}

fn lcm() -> Lcm {
    lcm_with(config())
}

impl Lcm {
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut h = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            h.push(("authorization", a.as_str()));
        }
        let body = body.map(|b| b.to_string());
        let (s, t) = http(method, &format!("{}{path}", self.url), &h, body.as_deref());
        (s, json_of(&t))
    }

    fn ok(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, Some(token), body);
        assert!(s == 200 || s == 201, "{method} {path}: {s} {v}");
        assert_eq!(v["success"], json!(true), "{v}");
        v["data"].clone()
    }

    /// Registers a user; returns their token and id.
    fn user(&self, email: &str) -> (String, String) {
        let (s, v) = self.call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "email": email, "password": "secret123", "display_name": email })),
        );
        assert_eq!(s, 201, "{v}");
        (
            v["data"]["token"].as_str().expect("token").to_owned(),
            v["data"]["user"]["id"].as_str().expect("id").to_owned(),
        )
    }

    /// A LicenseCM admin, made by the operator with the bootstrap API key (nobody becomes an
    /// admin by registering); returns their token and id.
    fn admin_user(&self, email: &str) -> (String, String) {
        let (s, v) = http(
            "POST",
            &format!("{}/v1/licensecm/admins", self.url),
            &[
                ("content-type", "application/json"),
                ("authorization", &format!("Bearer {}", self.app.admin)),
            ],
            Some(&json!({ "email": email, "password": "secret123" }).to_string()),
        );
        assert_eq!(s, 201, "{v}");
        let (s, v) = self.call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({ "email": email, "password": "secret123" })),
        );
        assert_eq!(s, 200, "{v}");
        (
            v["data"]["token"].as_str().expect("token").to_owned(),
            v["data"]["user"]["id"].as_str().expect("id").to_owned(),
        )
    }

    /// A product of the user: (id, secret).
    fn product(&self, token: &str, name: &str) -> (String, String) {
        let p = self.ok(
            "POST",
            "/api/products",
            token,
            Some(json!({ "name": name })),
        );
        (
            p["id"].as_str().expect("id").to_owned(),
            p["secret_key"].as_str().expect("secret").to_owned(),
        )
    }

    fn license(&self, token: &str, product: &str, extra: Value) -> Value {
        let mut b = json!({ "product_id": product, "type": "subscription", "max_uses": 1, "hwid_locked": true });
        for (k, v) in extra.as_object().expect("obj") {
            b[k] = v.clone();
        }
        self.ok("POST", "/api/licenses", token, Some(b))
    }

    /// A client request (plain), from `ip` through no proxy.
    fn client(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", &format!("/api/client/{path}"), None, Some(body))
    }

    /// How many security events of `event_type` the admin `token` sees.
    fn event_count(&self, token: &str, event_type: &str) -> usize {
        self.ok(
            "GET",
            &format!("/api/security/events?event_type={event_type}"),
            token,
            None,
        )["events"]
            .as_array()
            .map_or(0, Vec::len)
    }
}

/// Verifies `data.signature` the way the SDKs do: RSASSA-PKCS1-v1_5 / SHA-512 with the public
/// key from `/api/client/public-key` over the JSON encoding of `data.data`.
fn verify_signature(pem: &str, data: &Value) {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    let key = rsa::PublicKey::from_public_key_pem(pem).expect("spki pem");
    let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha512>::new(key);
    let signed = serde_json::to_string(&data["data"]).expect("json");
    assert!(
        data["data"].is_string(),
        "data.data must be a string: {data}"
    );
    let sig = base64::engine::general_purpose::STANDARD
        .decode(data["signature"].as_str().expect("signature"))
        .expect("base64");
    let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).expect("signature");
    verifier
        .verify(signed.as_bytes(), &sig)
        .expect("the signature verifies");
}

#[test]
fn quick_start_as_written() {
    let l = lcm();
    let run = |path: &str, auth: Option<&str>, body: &str| {
        let bearer = auth.map(|t| format!("Bearer {t}"));
        let mut h = vec![("Content-Type", "application/json")];
        if let Some(b) = &bearer {
            h.push(("Authorization", b.as_str()));
        }
        let (s, t) = http("POST", &format!("{}{path}", l.url), &h, Some(body));
        (s, json_of(&t))
    };
    let (s, v) = run(
        "/api/auth/register",
        None,
        r#"{"email":"john@example.com","password":"secret123","display_name":"John"}"#,
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["success"], json!(true));
    let user = &v["data"]["user"];
    assert_eq!(user["email"], json!("john@example.com"));
    assert_eq!(user["display_name"], json!("John"));
    assert_eq!(
        user["role"],
        json!("user"),
        "registering never makes an admin, not even the first user"
    );
    assert!(
        v["data"]["token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    let (s, v) = run(
        "/api/auth/login",
        None,
        r#"{"email":"john@example.com","password":"secret123"}"#,
    );
    assert_eq!(s, 200, "{v}");
    let token = v["data"]["token"].as_str().expect("token").to_owned();
    let (s, v) = run(
        "/api/products",
        Some(&token),
        r#"{"name":"My App","description":"My application"}"#,
    );
    assert_eq!(s, 201, "{v}");
    let p = &v["data"];
    let secret = p["secret_key"].as_str().expect("secret");
    assert!(secret.starts_with("sk_live_") && secret.len() >= 32 && secret.is_ascii());
    assert_eq!(p["name"], json!("My App"));
    assert_eq!(p["is_active"], json!(true));
    let product = p["id"].as_str().expect("id");
    let (s, v) = run(
        "/api/licenses",
        Some(&token),
        &r#"{"product_id":"PRODUCT_ID","type":"subscription","max_uses":1,"hwid_locked":true}"#
            .replace("PRODUCT_ID", product),
    );
    assert_eq!(s, 201, "{v}");
    let key = v["data"]["license_key"].as_str().expect("key");
    let groups: Vec<&str> = key.split('-').collect();
    assert!(
        groups.len() == 4 && groups.iter().all(|g| g.len() == 4),
        "{key}"
    );
    assert_eq!(v["data"]["status"], json!("active"));
    assert_eq!(v["data"]["current_uses"], json!(0));

    // Refresh and me.
    let fresh = l.ok("POST", "/api/auth/refresh", &token, None);
    let me = l.ok(
        "GET",
        "/api/auth/me",
        fresh["token"].as_str().expect("t"),
        None,
    );
    assert_eq!(me["email"], json!("john@example.com"));
    assert!(
        me["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 20)
    );
    let (s, v) = run(
        "/api/auth/login",
        None,
        r#"{"email":"john@example.com","password":"wrong-pass"}"#,
    );
    assert_eq!((s, &v["error_code"]), (401, &json!("INVALID_CREDENTIALS")));
    let (s, v) = l.call("GET", "/api/auth/me", Some("not.a.token"), None);
    assert_eq!((s, v["success"].clone()), (401, json!(false)));
}

#[test]
fn one_user_cannot_reach_anothers_data() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (bob, _) = l.user("bob@example.com");
    let (eve, eve_id) = l.user("eve@example.com");
    let (product, _) = l.product(&bob, "Bob's app");
    let lic = l.license(&bob, &product, json!({}));
    let lid = lic["id"].as_str().expect("id");
    let hook = l.ok(
        "POST",
        "/api/webhooks",
        &bob,
        Some(json!({ "url": "http://127.0.0.1:9/hook", "events": ["license.created"] })),
    );
    let hid = hook["id"].as_str().expect("id");

    for (method, path, body) in [
        ("GET", format!("/api/products/{product}"), None),
        (
            "PUT",
            format!("/api/products/{product}"),
            Some(json!({ "name": "mine" })),
        ),
        ("DELETE", format!("/api/products/{product}"), None),
        (
            "POST",
            format!("/api/products/{product}/regenerate-secret"),
            None,
        ),
        ("GET", format!("/api/licenses/{lid}"), None),
        (
            "PUT",
            format!("/api/licenses/{lid}"),
            Some(json!({ "status": "suspended" })),
        ),
        ("DELETE", format!("/api/licenses/{lid}"), None),
        ("POST", format!("/api/licenses/{lid}/reset-hwid"), None),
        ("GET", format!("/api/licenses/{lid}/logs"), None),
        ("GET", format!("/api/webhooks/{hid}"), None),
        (
            "PUT",
            format!("/api/webhooks/{hid}"),
            Some(json!({ "is_active": false })),
        ),
        ("DELETE", format!("/api/webhooks/{hid}"), None),
    ] {
        let (s, v) = l.call(method, &path, Some(&eve), body);
        assert_eq!(s, 404, "{method} {path}: {v}");
        assert_eq!(v["success"], json!(false));
    }
    let (s, _) = l.call(
        "POST",
        "/api/licenses",
        Some(&eve),
        Some(json!({ "product_id": product })),
    );
    assert_eq!(s, 404, "no licenses on another user's product");
    assert_eq!(l.ok("GET", "/api/products", &eve, None), json!([]));
    assert_eq!(
        l.ok("GET", "/api/licenses", &eve, None)["licenses"],
        json!([])
    );
    assert_eq!(l.ok("GET", "/api/webhooks", &eve, None), json!([]));
    assert_eq!(
        l.ok("GET", "/api/stats/dashboard", &eve, None)["total_licenses"],
        json!(0)
    );
    // Security tooling and user management are the admin's.
    for path in [
        "/api/security/blacklist",
        "/api/security/events",
        "/api/admin/users",
    ] {
        let (s, v) = l.call("GET", path, Some(&eve), None);
        assert_eq!(s, 403, "{path}: {v}");
    }
    // Bob's data is intact; the admin sees it.
    assert_eq!(
        l.ok("GET", &format!("/api/licenses/{lid}"), &bob, None)["status"],
        json!("active")
    );
    assert_eq!(
        l.ok("GET", &format!("/api/products/{product}"), &admin, None)["name"],
        json!("Bob's app")
    );
    assert_eq!(
        l.ok("GET", "/api/stats/dashboard", &bob, None)["total_licenses"],
        json!(1)
    );
    // Global figures for the admin, or one user's.
    let (s, _) = l.call("GET", "/api/stats/dashboard?user_id=x", Some(&eve), None);
    assert_eq!(s, 403);
    let admin_product = l.product(&admin, "Admin's app").0;
    l.license(&admin, &admin_product, json!({}));
    assert_eq!(
        l.ok("GET", "/api/stats/dashboard", &admin, None)["total_licenses"],
        json!(2)
    );
    let bob_id = l.ok("GET", "/api/auth/me", &bob, None)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let one = l.ok(
        "GET",
        &format!("/api/stats/dashboard?user_id={bob_id}"),
        &admin,
        None,
    );
    assert_eq!(
        (one["total_products"].clone(), one["total_licenses"].clone()),
        (json!(1), json!(1))
    );
    // Switching a user off ends their access at once.
    l.ok(
        "PUT",
        &format!("/api/admin/users/{eve_id}"),
        &admin,
        Some(json!({ "is_active": false })),
    );
    assert_eq!(l.call("GET", "/api/auth/me", Some(&eve), None).0, 401);
}

#[test]
fn client_flow_sessions_signatures_and_refusals() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (product, _) = l.product(&admin, "App");
    let lic = l.license(
        &admin,
        &product,
        json!({ "metadata": { "plan": "pro", "features": ["a", "b"] } }),
    );
    let key = lic["license_key"].as_str().expect("key").to_owned();
    let hwid = "a".repeat(64);
    let body = |extra: Value| {
        let mut b = json!({ "license_key": key, "hwid": hwid, "product_id": product });
        for (k, v) in extra.as_object().expect("obj") {
            b[k] = v.clone();
        }
        b
    };
    let pem = {
        let (s, v) = l.call("GET", "/api/client/public-key", None, None);
        assert_eq!(s, 200);
        v["data"]["public_key"].as_str().expect("pem").to_owned()
    };
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));

    let (s, v) = l.client("activate", body(json!({ "client_data": { "platform": "win32", "os_version": "10.0.19041", "vm_indicators": [], "debug_indicators": [] } })));
    assert_eq!(s, 200, "{v}");
    let d = &v["data"];
    assert_eq!(d["activated"], json!(true));
    let token = d["session"]["token"].as_str().expect("token").to_owned();
    let expires = d["session"]["expires_at"].as_str().expect("expires");
    assert_eq!(expires.len(), 20, "YYYY-MM-DDTHH:MM:SSZ: {expires}");
    assert_eq!(d["license"]["type"], json!("subscription"));
    assert_eq!(d["license"]["metadata"]["features"], json!(["a", "b"]));
    assert!(
        d["license"].get("expires_at").is_none(),
        "absent fields are left out, not null"
    );
    verify_signature(&pem, d);
    assert!(d["watermark"].as_str().is_some_and(|w| w.len() == 32));
    // The offline token verifies with licet's own verifier.
    let offline = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(d["offline_token"].as_str().expect("offline"))
        .expect("b64");
    let verified = licet_verifier::verify(
        &offline,
        l.app.state.tokens.keys().token.public_key(),
        &licet_verifier::Context::any_product(T0).fingerprint(&hwid),
    );
    assert!(verified.is_ok(), "{verified:?}");

    // Heartbeats rotate the token; the previous one works for a short grace only.
    let mut current = token.clone();
    for _ in 0..3 {
        let (s, v) = l.client("heartbeat", body(json!({ "session_token": current })));
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["data"]["valid"], json!(true));
        let next = v["data"]["new_token"].as_str().expect("rotated").to_owned();
        assert_ne!(next, current);
        current = next;
    }
    let (s, v) = l.client("heartbeat", body(json!({ "session_token": token })));
    assert_eq!(s, 401, "the first token is long gone: {v}");
    assert_eq!(v["error_code"], json!("SESSION_EXPIRED"));
    let msg = v["message"].as_str().expect("m");
    assert!(msg.contains("expired") || msg.contains("invalid"), "{msg}");
    // Without a token: accepted, no rotation.
    let (s, v) = l.client("heartbeat", body(json!({})));
    assert_eq!(s, 200, "{v}");
    assert!(v["data"].get("new_token").is_none());

    // Validate, with the challenge it hands out.
    let (s, v) = l.client("validate", body(json!({})));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["valid"], json!(true));
    verify_signature(&pem, &v["data"]);
    let challenge = v["data"]["challenge"]
        .as_str()
        .expect("challenge")
        .to_owned();
    let response = hmac_hex(hwid.as_bytes(), challenge.as_bytes());
    let vc =
        json!({ "license_key": key, "hwid": hwid, "challenge": challenge, "response": response });
    let (s, v) = l.client("verify-challenge", vc.clone());
    assert_eq!((s, &v["data"]["valid"]), (200, &json!(true)), "{v}");
    let (s, _) = l.client("verify-challenge", vc);
    assert_eq!(s, 403, "a challenge is single-use");

    // Refusals.
    let (s, v) = l.client(
        "activate",
        json!({ "license_key": key, "hwid": "b".repeat(64), "product_id": product }),
    );
    assert_eq!((s, &v["error_code"]), (403, &json!("HWID_MISMATCH")), "{v}");
    let two = l.license(
        &admin,
        &product,
        json!({ "max_uses": 1, "hwid_locked": false }),
    );
    let two_key = two["license_key"].as_str().expect("k");
    assert_eq!(
        l.client(
            "activate",
            json!({ "license_key": two_key, "hwid": "m1", "product_id": product })
        )
        .0,
        200
    );
    let (s, v) = l.client(
        "activate",
        json!({ "license_key": two_key, "hwid": "m2", "product_id": product }),
    );
    assert_eq!(
        (s, &v["error_code"]),
        (403, &json!("MAX_USES_EXCEEDED")),
        "{v}"
    );
    let (s, v) = l.client(
        "validate",
        json!({ "license_key": "NOPE-NOPE-NOPE-NOPE", "hwid": hwid, "product_id": product }),
    );
    assert_eq!((s, &v["error_code"]), (404, &json!("LICENSE_NOT_FOUND")));
    let (s, v) = l.client(
        "validate",
        json!({ "license_key": key, "hwid": hwid, "product_id": "prd_nope" }),
    );
    assert_eq!((s, &v["error_code"]), (404, &json!("PRODUCT_NOT_FOUND")));

    // Deactivate frees the use and ends the session.
    let (s, v) = l.client("deactivate", body(json!({})));
    assert_eq!((s, &v["data"]["deactivated"]), (200, &json!(true)), "{v}");
    let (s, _) = l.client("heartbeat", body(json!({ "session_token": current })));
    assert_eq!(s, 401);
    let got = l.ok(
        "GET",
        &format!("/api/licenses/{}", lic["id"].as_str().expect("id")),
        &admin,
        None,
    );
    assert_eq!(got["current_uses"], json!(0));

    // Suspended and expired.
    let lid = lic["id"].as_str().expect("id");
    l.ok(
        "PUT",
        &format!("/api/licenses/{lid}"),
        &admin,
        Some(json!({ "status": "suspended" })),
    );
    let (s, v) = l.client("validate", body(json!({})));
    assert_eq!((s, &v["error_code"]), (403, &json!("LICENSE_SUSPENDED")));
    l.ok(
        "PUT",
        &format!("/api/licenses/{lid}"),
        &admin,
        Some(json!({ "status": "active", "expires_at": "2020-01-01T00:00:00Z" })),
    );
    let (s, v) = l.client("validate", body(json!({})));
    assert_eq!((s, &v["error_code"]), (403, &json!("LICENSE_EXPIRED")));

    // The activity log shows what the client did.
    let logs = l.ok(
        "GET",
        &format!("/api/licenses/{lid}/logs?limit=50"),
        &admin,
        None,
    );
    let actions: Vec<&str> = logs["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter_map(|x| x["action"].as_str())
        .collect();
    for a in ["activation", "heartbeat", "validation", "deactivation"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let activation = logs["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .find(|x| x["action"] == json!("activation"))
        .expect("activation logged");
    assert_eq!(activation["hwid"].as_str().map(str::len), Some(64));
    assert_eq!(activation["ip_address"], json!("127.0.0.1"));
}

/// An envelope as the SDKs build it; `iv_len` bytes of IV of which the cipher uses `used`.
fn envelope(
    secret: &str,
    product: &str,
    payload: &Value,
    iv_len: usize,
    used: usize,
    ts: i64,
) -> Value {
    let key: [u8; 32] = secret.as_bytes()[..32].try_into().expect("32");
    let iv: Vec<u8> = (0..iv_len).map(|i| (i * 7 + 3) as u8).collect();
    let mut buf = serde_json::to_vec(payload).expect("json");
    let tag = if used == 12 {
        let n: [u8; 12] = iv[..12].try_into().expect("12");
        Aes256Gcm::new((&key).into())
            .encrypt_inout_detached(&n.into(), b"", buf.as_mut_slice().into())
            .expect("enc")
            .to_vec()
    } else {
        let n: [u8; 16] = iv[..16].try_into().expect("16");
        AesGcm::<Aes256, U16>::new((&key).into())
            .encrypt_inout_detached(&n.into(), b"", buf.as_mut_slice().into())
            .expect("enc")
            .to_vec()
    };
    let (iv, data, tag) = (hex(&iv), hex(&buf), hex(&tag));
    let signature = hmac_hex(
        secret.as_bytes(),
        format!("{iv}:{data}:{tag}:{ts}").as_bytes(),
    );
    json!({ "encrypted": true, "iv": iv, "data": data, "tag": tag, "signature": signature, "product_id": product, "timestamp": ts })
}

fn open_answer(secret: &str, v: &Value) -> Value {
    assert_eq!(v["encrypted"], json!(true), "{v}");
    let key: [u8; 32] = secret.as_bytes()[..32].try_into().expect("32");
    let iv = unhex(v["iv"].as_str().expect("iv"));
    assert_eq!(iv.len(), 12);
    let mut buf = unhex(v["data"].as_str().expect("data"));
    let tag: [u8; 16] = unhex(v["tag"].as_str().expect("tag"))
        .try_into()
        .expect("tag");
    let n: [u8; 12] = iv.try_into().expect("12");
    Aes256Gcm::new((&key).into())
        .decrypt_inout_detached(&n.into(), b"", buf.as_mut_slice().into(), &tag.into())
        .expect("decrypts");
    serde_json::from_slice(&buf).expect("json")
}

#[test]
fn encrypted_requests_in_every_iv_style_and_their_refusals() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (product, secret) = l.product(&admin, "App");
    let lic = l.license(
        &admin,
        &product,
        json!({ "max_uses": 5, "hwid_locked": false }),
    );
    let key = lic["license_key"].as_str().expect("key");
    let ts = T0 * 1000;
    for (i, (len, used)) in [(16, 16), (16, 12), (12, 12)].into_iter().enumerate() {
        let inner = json!({ "license_key": key, "hwid": format!("hw-{i}"), "product_id": product });
        let env = envelope(&secret, &product, &inner, len, used, ts + i as i64);
        let (s, v) = l.call("POST", "/api/client/activate", None, Some(env));
        assert_eq!(s, 200, "{len}/{used}: {v}");
        let answer = open_answer(&secret, &v);
        assert_eq!(answer["success"], json!(true));
        assert_eq!(answer["data"]["activated"], json!(true));
    }
    let inner = json!({ "license_key": key, "hwid": "hw-0", "product_id": product });
    // Replay: the same envelope twice.
    let env = envelope(&secret, &product, &inner, 16, 16, ts + 10);
    assert_eq!(
        l.call("POST", "/api/client/validate", None, Some(env.clone()))
            .0,
        200
    );
    let (s, v) = l.call("POST", "/api/client/validate", None, Some(env));
    assert_eq!(
        (s, &v["error_code"]),
        (403, &json!("SECURITY_VIOLATION")),
        "{v}"
    );
    assert!(v.get("encrypted").is_none(), "errors are never encrypted");
    // Tampered HMAC, stale timestamp, wrong secret.
    let mut env = envelope(&secret, &product, &inner, 16, 16, ts + 11);
    let sig = env["signature"].as_str().expect("sig").to_owned();
    env["signature"] = json!(format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    ));
    assert_eq!(
        l.call("POST", "/api/client/validate", None, Some(env)).0,
        403
    );
    let env = envelope(&secret, &product, &inner, 16, 16, ts - 3_600_000);
    assert_eq!(
        l.call("POST", "/api/client/validate", None, Some(env)).0,
        403
    );
    let env = envelope(
        "sk_live_wrongwrongwrongwrongwrongwrongwrong",
        &product,
        &inner,
        16,
        16,
        ts + 12,
    );
    assert_eq!(
        l.call("POST", "/api/client/validate", None, Some(env)).0,
        403
    );
    assert!(l.event_count(&admin, "replay_attack") >= 1);
    // Repeats from one address are recorded once a minute, with a count (issue #12).
    assert!(l.event_count(&admin, "tamper_detected") >= 1);
}

#[test]
fn blacklist_blocks_and_security_tools_work() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (product, _) = l.product(&admin, "App");
    let lic = l.license(
        &admin,
        &product,
        json!({ "max_uses": 3, "hwid_locked": false }),
    );
    let key = lic["license_key"].as_str().expect("key");
    let lid = lic["id"].as_str().expect("id");
    let req = |hwid: &str| json!({ "license_key": key, "hwid": hwid, "product_id": product });

    let blocked = l.ok(
        "POST",
        "/api/security/block-hwid",
        &admin,
        Some(json!({ "hwid": "bad-hw", "reason": "License sharing detected" })),
    );
    assert_eq!(
        blocked["expires_at"],
        licet_server::compat::licensecm::iso(T0 + 720 * 3600)
    );
    let (s, v) = l.client("activate", req("bad-hw"));
    assert_eq!(s, 403);
    assert_eq!(v["security_blocked"], json!(true), "{v}");
    assert_eq!(
        v["security_details"],
        json!({ "reason": "blacklist_hit", "type": "hwid" })
    );
    assert_eq!(v["success"], json!(false));
    let ip_block = l.ok(
        "POST",
        "/api/security/block-ip",
        &admin,
        Some(json!({ "ip": "127.0.0.1", "reason": "Malicious activity" })),
    );
    assert_eq!(
        ip_block["expires_at"],
        licet_server::compat::licensecm::iso(T0 + 24 * 3600)
    );
    let (s, v) = l.client("validate", req("good-hw"));
    assert_eq!(
        (s, &v["security_details"]["type"]),
        (403, &json!("ip")),
        "{v}"
    );
    // Filters, then lifting the IP block.
    let list = l.ok(
        "GET",
        "/api/security/blacklist?type=ip&is_active=true",
        &admin,
        None,
    );
    assert_eq!(list["blacklist"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["pagination"]["total"], json!(1));
    l.ok(
        "DELETE",
        &format!(
            "/api/security/blacklist/{}",
            ip_block["id"].as_str().expect("id")
        ),
        &admin,
        None,
    );
    let (s, v) = l.client("activate", req("good-hw"));
    assert_eq!(s, 200, "{v}");
    let session = v["data"]["session"]["token"]
        .as_str()
        .expect("t")
        .to_owned();
    // Expired entries stop blocking (and the admin signs in again: a day has passed).
    l.app.clock.advance(721 * 3600);
    assert_eq!(l.client("activate", req("bad-hw")).0, 200);
    let (_, v) = l.call(
        "POST",
        "/api/auth/login",
        None,
        Some(json!({ "email": "admin@example.com", "password": "secret123" })),
    );
    let admin = v["data"]["token"].as_str().expect("token").to_owned();

    // Events, overview, sessions.
    let hits = l.ok(
        "GET",
        "/api/security/events?event_type=blacklist_hit&is_blocked=true",
        &admin,
        None,
    );
    assert_eq!(hits["events"].as_array().map(Vec::len), Some(2));
    let overview = l.ok("GET", "/api/security/overview", &admin, None);
    for k in [
        "today_events",
        "critical_events",
        "blocked_attempts",
        "active_blacklist",
        "active_sessions",
    ] {
        assert!(overview["overview"][k].is_u64(), "{k}: {overview}");
    }
    assert!(
        overview["events_by_type"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(overview["daily_trend"].as_array().map(Vec::len), Some(7));
    let sessions = l.ok(
        "GET",
        &format!("/api/security/sessions?license_id={lid}&is_active=true"),
        &admin,
        None,
    );
    let first = sessions["sessions"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    l.ok(
        "POST",
        &format!("/api/security/sessions/{first}/terminate"),
        &admin,
        Some(json!({ "reason": "Suspicious activity detected" })),
    );
    let revoked = l.ok(
        "POST",
        &format!("/api/security/licenses/{lid}/revoke-sessions"),
        &admin,
        Some(json!({ "reason": "License compromised" })),
    );
    assert_eq!(revoked["revoked"], json!(1));
    let (s, v) = l.client("heartbeat", json!({ "license_key": key, "hwid": "good-hw", "product_id": product, "session_token": session }));
    assert_eq!(s, 401, "{v}");
    assert!(v["message"].as_str().expect("m").contains("invalid"));
    assert_eq!(
        l.call(
            "POST",
            "/api/security/block-ip",
            Some(&admin),
            Some(json!({ "ip": "not-an-ip" }))
        )
        .0,
        400
    );
}

#[test]
fn middleware_failures_have_licensecms_shape() {
    let mut c = config();
    c.licensecm_rate_validation = 2;
    c.max_body_bytes = 2048;
    let l = lcm_with(c);
    let (admin, _) = l.admin_user("admin@example.com");
    let (product, _) = l.product(&admin, "App");
    let lic = l.license(&admin, &product, json!({}));
    let (s, v) = l.call("GET", "/api/nowhere", None, None);
    assert_eq!((s, &v["success"]), (404, &json!(false)), "{v}");
    assert!(v["message"].is_string());
    let (s, v) = l.call("DELETE", "/api/client/validate", None, None);
    assert_eq!((s, &v["success"]), (405, &json!(false)), "{v}");
    let (s, v) = l.call(
        "POST",
        "/api/client/validate",
        None,
        Some(json!({ "license_key": "x".repeat(4000) })),
    );
    assert_eq!((s, &v["success"]), (413, &json!(false)), "{v}");
    let req = json!({ "license_key": lic["license_key"], "hwid": "h", "product_id": product });
    assert_eq!(l.client("validate", req.clone()).0, 200);
    assert_eq!(l.client("validate", req.clone()).0, 200);
    let (s, v) = l.client("validate", req);
    assert_eq!((s, &v["success"]), (429, &json!(false)), "{v}");
    assert!(v["message"].is_string());
    // Other families keep their own shapes under /api.
    let (s, v) = l.call("POST", "/api/v1/licenses/verify", None, Some(json!({})));
    assert_eq!(s, 422);
    assert!(v.get("success").is_none(), "{v}");
}

fn drain(app: &TestApp) -> usize {
    tokio::runtime::Runtime::new()
        .expect("rt")
        .block_on(licet_server::events::drain_outbox(&app.state))
        .expect("drain")
}

#[test]
fn webhooks_are_signed_retried_and_tested() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (bob, _) = l.user("bob@example.com");
    let (product, _) = l.product(&bob, "App");
    let r = receiver(vec![500]);
    let hook = l.ok("POST", "/api/webhooks", &bob, Some(json!({ "url": r.url, "events": ["license.created", "license.activated", "license.suspended", "security.alert"], "secret": "your_webhook_secret" })));
    assert!(hook.get("secret").is_some());
    let listed = l.ok("GET", "/api/webhooks", &bob, None);
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is shown only on creation"
    );
    let lic = l.license(&bob, &product, json!({}));
    assert_eq!(drain(&l.app), 0, "the receiver answered 500");
    assert_eq!(deliveries(&r).len(), 1);
    assert_eq!(drain(&l.app), 0, "not due yet: backoff");
    l.app.clock.advance(11);
    assert_eq!(drain(&l.app), 1, "retried after the backoff");
    let got = deliveries(&r);
    assert_eq!(got.len(), 2);
    let (headers, body) = &got[1];
    let sig = headers
        .iter()
        .find(|(k, _)| k == "x-licensecm-signature")
        .map(|(_, v)| v.clone())
        .expect("signature header");
    assert_eq!(
        sig,
        format!(
            "sha256={}",
            hmac_hex(b"your_webhook_secret", body.as_bytes())
        )
    );
    let event = json_of(body);
    assert_eq!(event["event"], json!("license.created"));
    assert_eq!(event["data"]["license_key"], lic["license_key"]);
    // An admin's webhook hears everything; another user's hears nothing of Bob's.
    let (eve, _) = l.user("eve@example.com");
    let r_eve = receiver(vec![]);
    l.ok(
        "POST",
        "/api/webhooks",
        &eve,
        Some(json!({ "url": r_eve.url, "events": ["license.suspended"] })),
    );
    let r_admin = receiver(vec![]);
    l.ok(
        "POST",
        "/api/webhooks",
        &admin,
        Some(json!({ "url": r_admin.url, "events": ["license.suspended"] })),
    );
    l.ok(
        "PUT",
        &format!("/api/licenses/{}", lic["id"].as_str().expect("id")),
        &bob,
        Some(json!({ "status": "suspended" })),
    );
    assert_eq!(drain(&l.app), 2);
    assert_eq!(deliveries(&r_eve).len(), 0);
    assert_eq!(deliveries(&r_admin).len(), 1);
    // The test endpoint.
    let t = l.ok(
        "POST",
        &format!("/api/webhooks/{}/test", hook["id"].as_str().expect("id")),
        &bob,
        None,
    );
    assert_eq!(t["status_code"], json!(200));
    assert!(t["response_time_ms"].is_u64());
    // URLs are checked; private ones refused unless allowed.
    let (s, _) = l.call(
        "POST",
        "/api/webhooks",
        Some(&bob),
        Some(json!({ "url": "ftp://x", "events": ["license.created"] })),
    );
    assert_eq!(s, 400);
    let (s, _) = l.call(
        "POST",
        "/api/webhooks",
        Some(&bob),
        Some(json!({ "url": "https://93.184.216.34/x", "events": ["nope"] })),
    );
    assert_eq!(s, 400);
    let strict = lcm_with(Config {
        webhook_allow_private: false,
        ..config()
    });
    let (t, _) = strict.user("a@example.com");
    let (s, v) = strict.call(
        "POST",
        "/api/webhooks",
        Some(&t),
        Some(json!({ "url": "http://127.0.0.1:80/x", "events": ["license.created"] })),
    );
    assert_eq!(s, 400, "{v}");
}

#[tokio::test]
async fn the_outbox_survives_a_restart() {
    let place = crate::backend::Place::new().await;
    let r = receiver(vec![]);
    let open = async |t: i64| {
        let clock = licet_server::clock::ManualClock::new(t);
        let store = place.open().await;
        let state =
            licet_server::AppState::new(store, common::keys(), Arc::new(clock.clone()), config())
                .expect("state");
        TestApp {
            state,
            clock,
            admin: String::new(),
        }
    };
    let ok = |v: (axum::http::StatusCode, Value, axum::http::HeaderMap)| {
        assert!(v.0.is_success(), "{v:?}");
        v.1["data"].clone()
    };
    {
        let app = open(T0).await;
        let user = ok(app
            .call(
                "POST",
                "/api/auth/register",
                None,
                Some(json!({ "email": "admin@example.com", "password": "secret123" })),
            )
            .await);
        let token = user["token"].as_str().expect("token").to_owned();
        let product = ok(app
            .call(
                "POST",
                "/api/products",
                Some(&token),
                Some(json!({ "name": "App" })),
            )
            .await);
        // The receiver is down: the webhook points at a closed port.
        let down = format!("http://127.0.0.1:{}/hook", free_port());
        let hook = ok(app
            .call(
                "POST",
                "/api/webhooks",
                Some(&token),
                Some(json!({ "url": down, "events": ["license.created"] })),
            )
            .await);
        ok(app
            .call(
                "POST",
                "/api/licenses",
                Some(&token),
                Some(json!({ "product_id": product["id"] })),
            )
            .await);
        assert_eq!(
            licet_server::events::drain_outbox(&app.state)
                .await
                .expect("drain"),
            0
        );
        // The receiver comes back at another address; then the server stops.
        ok(app
            .call(
                "PUT",
                &format!("/api/webhooks/{}", hook["id"].as_str().expect("id")),
                Some(&token),
                Some(json!({ "url": r.url })),
            )
            .await);
    }
    // A new server on the same data, an hour later: the queued delivery is still there.
    let app = open(T0 + 3600).await;
    assert_eq!(
        licet_server::events::drain_outbox(&app.state)
            .await
            .expect("drain"),
        1
    );
    let got = deliveries(&r);
    assert_eq!(got.len(), 1);
    assert_eq!(json_of(&got[0].1)["event"], json!("license.created"));
    assert_eq!(
        licet_server::events::drain_outbox(&app.state)
            .await
            .expect("drain"),
        0,
        "delivered once"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[test]
fn expiry_sweeper_announces_and_notifies_once() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (bob, _) = l.user("bob@example.com");
    let (product, _) = l.product(&bob, "App");
    let r = receiver(vec![]);
    l.ok(
        "POST",
        "/api/webhooks",
        &bob,
        Some(json!({ "url": r.url, "events": ["license.expired"] })),
    );
    let soon = chrono::DateTime::from_timestamp(T0 + 3600, 0)
        .expect("t")
        .to_rfc3339();
    let lic = l.license(&bob, &product, json!({ "expires_at": soon }));
    let rt = tokio::runtime::Runtime::new().expect("rt");
    assert_eq!(
        rt.block_on(licet_server::events::sweep_expired(&l.app.state))
            .expect("sweep"),
        0
    );
    l.app.clock.advance(3601);
    assert_eq!(
        rt.block_on(licet_server::events::sweep_expired(&l.app.state))
            .expect("sweep"),
        1
    );
    assert_eq!(
        rt.block_on(licet_server::events::sweep_expired(&l.app.state))
            .expect("sweep"),
        0,
        "announced once"
    );
    assert_eq!(drain(&l.app), 1);
    assert_eq!(
        json_of(&deliveries(&r)[0].1)["event"],
        json!("license.expired")
    );
    let got = l.ok(
        "GET",
        &format!("/api/licenses/{}", lic["id"].as_str().expect("id")),
        &bob,
        None,
    );
    assert_eq!(got["status"], json!("expired"));
    // Bob is notified; the admin is not (not theirs).
    assert_eq!(
        l.ok("GET", "/api/notifications/unread-count", &bob, None)["count"],
        json!(1)
    );
    assert_eq!(
        l.ok("GET", "/api/notifications/unread-count", &admin, None)["count"],
        json!(0)
    );
    let list = l.ok("GET", "/api/notifications", &bob, None);
    assert_eq!(list[0]["type"], json!("license_expired"));
    assert_eq!(list[0]["title"], json!("License Expired"));
    assert!(
        list[0]["message"]
            .as_str()
            .expect("m")
            .contains(lic["license_key"].as_str().expect("k"))
    );
    l.ok(
        "PUT",
        &format!(
            "/api/notifications/{}/read",
            list[0]["id"].as_str().expect("id")
        ),
        &bob,
        None,
    );
    assert_eq!(
        l.ok("GET", "/api/notifications/unread-count", &bob, None)["count"],
        json!(0)
    );
    let stats = l.ok("GET", "/api/stats/licenses", &bob, None);
    assert_eq!(
        (
            stats["total_licenses"].clone(),
            stats["expired_licenses"].clone()
        ),
        (json!(1), json!(1))
    );
}

#[test]
fn licenses_admin_list_bulk_update_reset() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (product, _) = l.product(&admin, "App");
    let bulk = l.ok("POST", "/api/licenses/bulk", &admin, Some(json!({ "product_id": product, "count": 10, "type": "trial", "max_uses": 1, "hwid_locked": true, "expires_at": "2030-12-31T23:59:59Z" })));
    assert_eq!(bulk["created"], json!(10));
    assert_eq!(bulk["licenses"].as_array().map(Vec::len), Some(10));
    let (s, _) = l.call(
        "POST",
        "/api/licenses/bulk",
        Some(&admin),
        Some(json!({ "product_id": product, "count": 101 })),
    );
    assert_eq!(s, 400);
    l.license(&admin, &product, json!({ "type": "lifetime" }));
    let page = l.ok(
        "GET",
        &format!("/api/licenses?product_id={product}&type=trial&limit=4&page=3"),
        &admin,
        None,
    );
    assert_eq!(page["licenses"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        page["pagination"],
        json!({ "page": 3, "limit": 4, "total": 10, "pages": 3 })
    );
    let first = &bulk["licenses"][0];
    let id = first["id"].as_str().expect("id");
    let key = first["license_key"].as_str().expect("key");
    assert_eq!(
        l.client(
            "activate",
            json!({ "license_key": key, "hwid": "h1", "product_id": product })
        )
        .0,
        200
    );
    let got = l.ok("GET", &format!("/api/licenses/{id}"), &admin, None);
    assert_eq!(
        (got["hwid"].clone(), got["current_uses"].clone()),
        (json!("h1"), json!(1))
    );
    let updated = l.ok(
        "PUT",
        &format!("/api/licenses/{id}"),
        &admin,
        Some(json!({ "max_uses": 2, "hwid_locked": false, "metadata": { "note": "Updated" } })),
    );
    assert_eq!(
        (updated["max_uses"].clone(), updated["hwid_locked"].clone()),
        (json!(2), json!(false))
    );
    let reset = l.ok(
        "POST",
        &format!("/api/licenses/{id}/reset-hwid"),
        &admin,
        None,
    );
    assert_eq!(reset["current_uses"], json!(0));
    assert!(reset.get("hwid").is_none());
    l.ok("DELETE", &format!("/api/licenses/{id}"), &admin, None);
    assert_eq!(
        l.call("GET", &format!("/api/licenses/{id}"), Some(&admin), None)
            .0,
        404
    );
    let (s, v) = l.call(
        "DELETE",
        &format!("/api/products/{product}"),
        Some(&admin),
        None,
    );
    assert_eq!((s, &v["error_code"]), (409, &json!("PRODUCT_IN_USE")));
    let regenerated = l.ok(
        "POST",
        &format!("/api/products/{product}/regenerate-secret"),
        &admin,
        None,
    );
    assert!(
        regenerated["secret_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("sk_live_"))
    );
}

#[test]
fn detections_are_recorded_and_block_only_when_the_product_says_so() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (product, _) = l.product(&admin, "App");
    let lic = l.license(
        &admin,
        &product,
        json!({ "max_uses": 5, "hwid_locked": false }),
    );
    let key = lic["license_key"].as_str().expect("key");
    // camelCase keys, a lone string, nulls: all read.
    let data = json!({ "vmIndicators": ["VBOX", "hypervisor"], "debugIndicators": null, "platform": "win32" });
    let (s, v) = l.client(
        "activate",
        json!({ "license_key": key, "hwid": "h1", "product_id": product, "client_data": data }),
    );
    assert_eq!(s, 200, "{v}");
    let events = l.ok(
        "GET",
        "/api/security/events?event_type=vm_detected",
        &admin,
        None,
    );
    assert_eq!(events["events"][0]["is_blocked"], json!(false));
    assert_eq!(
        events["events"][0]["details"]["indicators"],
        json!(["VBOX", "hypervisor"])
    );
    l.ok(
        "PUT",
        &format!("/api/products/{product}"),
        &admin,
        Some(json!({ "block_debug": true })),
    );
    let (s, v) = l.client("activate", json!({ "license_key": key, "hwid": "h2", "product_id": product, "clientData": { "debug_indicators": "IsDebuggerPresent" } }));
    assert_eq!(
        (s, &v["error_code"]),
        (403, &json!("SECURITY_VIOLATION")),
        "{v}"
    );
    assert_eq!(v["security_details"]["reason"], json!("debug_detected"));
    let (s, _) = l.client(
        "activate",
        json!({ "license_key": key, "hwid": "h3", "product_id": product, "client_data": {} }),
    );
    assert_eq!(s, 200, "an empty client_data is fine");
    // An inactive product serves no client.
    l.ok(
        "PUT",
        &format!("/api/products/{product}"),
        &admin,
        Some(json!({ "is_active": false })),
    );
    let (s, v) = l.client(
        "validate",
        json!({ "license_key": key, "hwid": "h1", "product_id": product }),
    );
    assert_eq!((s, &v["error_code"]), (404, &json!("PRODUCT_NOT_FOUND")));
}

#[test]
fn a_rotated_token_keeps_working_for_a_short_grace() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (product, _) = l.product(&admin, "App");
    let lic = l.license(&admin, &product, json!({}));
    let req = |extra: Value| {
        let mut b =
            json!({ "license_key": lic["license_key"], "hwid": "hw", "product_id": product });
        for (k, v) in extra.as_object().expect("obj") {
            b[k] = v.clone();
        }
        b
    };
    let (_, v) = l.client("activate", req(json!({})));
    let first = v["data"]["session"]["token"]
        .as_str()
        .expect("t")
        .to_owned();
    let (_, v) = l.client("heartbeat", req(json!({ "session_token": first })));
    assert!(v["data"]["new_token"].is_string());
    // The answer was lost: the client retries with the token it has, within the grace.
    l.app.clock.advance(30);
    let (s, v) = l.client("heartbeat", req(json!({ "session_token": first })));
    assert_eq!(s, 200, "{v}");
    let second = v["data"]["new_token"].as_str().expect("t").to_owned();
    l.app.clock.advance(61);
    let (s, _) = l.client("heartbeat", req(json!({ "session_token": first })));
    assert_eq!(s, 401, "past the grace");
    assert_eq!(
        l.client("heartbeat", req(json!({ "session_token": second })))
            .0,
        200
    );
    // Sessions expire a session-ttl after the last heartbeat.
    l.app.clock.advance(86_401);
    let (s, v) = l.client("heartbeat", req(json!({ "session_token": second })));
    assert_eq!(
        (s, &v["error_code"]),
        (401, &json!("SESSION_EXPIRED")),
        "{v}"
    );
}

#[test]
fn limits_switch_and_openapi() {
    let mut c = config();
    c.licensecm_rate_api = 5;
    c.login_rate_limit = 2;
    let l = lcm_with(c);
    let login = json!({ "email": "x@example.com", "password": "wrong-password" });
    assert_eq!(
        l.call("POST", "/api/auth/login", None, Some(login.clone()))
            .0,
        401
    );
    assert_eq!(
        l.call("POST", "/api/auth/login", None, Some(login.clone()))
            .0,
        401
    );
    let (s, v) = l.call("POST", "/api/auth/login", None, Some(login));
    assert_eq!(
        (s, &v["success"]),
        (429, &json!(false)),
        "logins are limited: {v}"
    );
    for _ in 0..2 {
        l.call("GET", "/api/client/public-key", None, None);
    }
    let (s, v) = l.call("GET", "/api/client/public-key", None, None);
    assert_eq!(
        (s, &v["error_code"]),
        (429, &json!("RATE_LIMITED")),
        "100/min per client by default, 5 here: {v}"
    );

    let doc =
        serde_json::to_value(licet_server::openapi_document(&Config::default())).expect("json");
    for p in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/me",
        "/api/products",
        "/api/products/{id}",
        "/api/products/{id}/regenerate-secret",
        "/api/licenses",
        "/api/licenses/bulk",
        "/api/licenses/{id}",
        "/api/licenses/{id}/reset-hwid",
        "/api/licenses/{id}/logs",
        "/api/client/public-key",
        "/api/client/validate",
        "/api/client/activate",
        "/api/client/deactivate",
        "/api/client/heartbeat",
        "/api/client/verify-challenge",
        "/api/security/blacklist",
        "/api/security/blacklist/{id}",
        "/api/security/events",
        "/api/security/overview",
        "/api/security/sessions",
        "/api/security/sessions/{id}/terminate",
        "/api/security/licenses/{id}/revoke-sessions",
        "/api/security/block-ip",
        "/api/security/block-hwid",
        "/api/webhooks",
        "/api/webhooks/{id}",
        "/api/webhooks/{id}/test",
        "/api/stats/dashboard",
        "/api/stats/licenses",
        "/api/notifications",
        "/api/notifications/unread-count",
        "/api/notifications/{id}/read",
        "/api/notifications/read-all",
        "/api/admin/users",
        "/api/admin/users/{id}",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} is not in the OpenAPI document"
        );
    }
    let off = lcm_with(Config {
        compat_licensecm: false,
        ..config()
    });
    let (s, v) = off.call("POST", "/api/auth/register", None, Some(json!({})));
    assert_eq!(s, 404);
    assert!(
        v.get("success").is_none(),
        "switched off: licet's own 404: {v}"
    );
    let doc = serde_json::to_value(licet_server::openapi_document(&Config {
        compat_licensecm: false,
        ..Config::default()
    }))
    .expect("json");
    assert!(doc["paths"].get("/api/auth/register").is_none());
}

#[test]
fn admin_users_webhook_reads_and_read_all() {
    let l = lcm();
    let (admin, admin_id) = l.admin_user("admin@example.com");
    let (bob, bob_id) = l.user("bob@example.com");
    let users = l.ok("GET", "/api/admin/users?limit=1&page=2", &admin, None);
    assert_eq!(users["users"][0]["email"], json!("bob@example.com"));
    assert_eq!(users["pagination"]["total"], json!(2));
    assert!(users["users"][0].get("password_hash").is_none());
    let one = l.ok("GET", &format!("/api/admin/users/{bob_id}"), &admin, None);
    assert_eq!(one["role"], json!("user"));
    let promoted = l.ok(
        "PUT",
        &format!("/api/admin/users/{bob_id}"),
        &admin,
        Some(json!({ "role": "admin" })),
    );
    assert_eq!(promoted["role"], json!("admin"));
    assert_eq!(
        l.ok("GET", "/api/admin/users", &bob, None)["users"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "bob is an admin now"
    );
    let (s, _) = l.call(
        "PUT",
        &format!("/api/admin/users/{admin_id}"),
        Some(&admin),
        Some(json!({ "role": "user" })),
    );
    assert_eq!(s, 400, "no self-demotion");
    let (s, _) = l.call("GET", "/api/admin/users/nobody", Some(&admin), None);
    assert_eq!(s, 404);
    // Refresh with the token in the body.
    let (s, v) = l.call(
        "POST",
        "/api/auth/refresh",
        None,
        Some(json!({ "token": bob })),
    );
    assert_eq!(s, 200, "{v}");
    // A webhook read back; notifications marked read all at once.
    let hook = l.ok(
        "POST",
        "/api/webhooks",
        &bob,
        Some(json!({ "url": "https://93.184.216.34/x", "events": ["license.created"] })),
    );
    let got = l.ok(
        "GET",
        &format!("/api/webhooks/{}", hook["id"].as_str().expect("id")),
        &bob,
        None,
    );
    assert_eq!(
        (got["url"].clone(), got["is_active"].clone()),
        (json!("https://93.184.216.34/x"), json!(true))
    );
    for i in 0..3 {
        common::block_on(l.app.state.journal.notify(
            &bob_id,
            "security_alert",
            "Security alert",
            &format!("n{i}"),
        ))
        .expect("notify");
    }
    assert_eq!(
        l.ok("GET", "/api/notifications/unread-count", &bob, None)["count"],
        json!(3)
    );
    assert_eq!(
        l.ok("PUT", "/api/notifications/read-all", &bob, None)["updated"],
        json!(3)
    );
    assert_eq!(
        l.ok("GET", "/api/notifications/unread-count", &bob, None)["count"],
        json!(0)
    );
    let (s, _) = l.call("PUT", "/api/notifications/nope/read", Some(&bob), None);
    assert_eq!(s, 404);
}

#[test]
fn signed_facts_are_reused_within_a_minute_and_follow_the_license() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (product, _) = l.product(&admin, "App");
    let lic = l.license(&admin, &product, json!({}));
    let req = json!({ "license_key": lic["license_key"], "hwid": "hw", "product_id": product });
    let pem = l.call("GET", "/api/client/public-key", None, None).1["data"]["public_key"]
        .as_str()
        .expect("pem")
        .to_owned();
    let facts = |v: &Value| {
        let d = v["data"]["data"].as_str().expect("data");
        json_of(
            &String::from_utf8(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(d)
                    .expect("b64"),
            )
            .expect("utf-8"),
        )
    };
    let (_, a) = l.client("validate", req.clone());
    let (_, b) = l.client("validate", req.clone());
    assert_eq!(
        a["data"]["signature"], b["data"]["signature"],
        "one signature per minute"
    );
    verify_signature(&pem, &b["data"]);
    assert_eq!(facts(&a)["timestamp"], json!((T0 / 60) * 60_000));
    // A minute later: signed afresh.
    l.app.clock.advance(60);
    let (_, c) = l.client("validate", req.clone());
    assert_ne!(a["data"]["signature"], c["data"]["signature"]);
    verify_signature(&pem, &c["data"]);
    // Within the minute, changed facts are signed afresh too.
    l.ok(
        "PUT",
        &format!("/api/licenses/{}", lic["id"].as_str().expect("id")),
        &admin,
        Some(json!({ "expires_at": "2030-01-01T00:00:00Z" })),
    );
    let (_, d) = l.client("validate", req);
    assert_ne!(c["data"]["signature"], d["data"]["signature"]);
    assert_eq!(facts(&d)["expires_at"], json!("2030-01-01T00:00:00Z"));
    verify_signature(&pem, &d["data"]);
}

/// Challenges are stateless (nothing is stored when a validation hands one out) yet bound to
/// the license and hwid, expiring and single-use; repeated validations of one machine are
/// logged once a minute, refusals every time.
#[test]
fn challenges_are_bound_and_single_use_and_validations_log_once_a_minute() {
    let l = lcm();
    let (admin, _) = l.admin_user("admin@example.com");
    let (product, _) = l.product(&admin, "App");
    let lic = l.license(
        &admin,
        &product,
        json!({ "max_uses": 2, "hwid_locked": false }),
    );
    let key = lic["license_key"].as_str().expect("key");
    let req = |hwid: &str| json!({ "license_key": key, "hwid": hwid, "product_id": product });
    assert_eq!(l.client("activate", req("hw-a")).0, 200);
    assert_eq!(l.client("activate", req("hw-b")).0, 200);
    let validation_events = || l.event_count(&admin, "license_validation");
    let tampers = || l.event_count(&admin, "tamper_detected");
    let challenge_of = |hwid: &str| {
        let (s, v) = l.client("validate", req(hwid));
        assert_eq!(s, 200, "{v}");
        v["data"]["challenge"]
            .as_str()
            .expect("challenge")
            .to_owned()
    };
    let answer = |hwid: &str, c: &str| {
        l.client(
            "verify-challenge",
            json!({ "license_key": key, "hwid": hwid, "challenge": c,
                    "response": hmac_hex(hwid.as_bytes(), c.as_bytes()) }),
        )
        .0
    };

    // Three validations of hw-a in one minute: one log entry.
    let before = validation_events();
    let a1 = challenge_of("hw-a");
    let a2 = challenge_of("hw-a");
    let a3 = challenge_of("hw-a");
    assert_eq!(validation_events(), before + 1);
    assert!(a1 != a2 && a2 != a3, "every challenge is fresh");
    // Another machine is another entry.
    let b1 = challenge_of("hw-b");
    assert_eq!(validation_events(), before + 2);

    // A challenge answered for another hwid, even correctly for that hwid, is refused and
    // recorded as tampering; so is one with a flipped bit. Neither spends it.
    let tampered_before = tampers();
    assert_eq!(answer("hw-b", &a1), 403, "bound to hw-a");
    let mut flipped = a2.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    assert_eq!(answer("hw-a", &flipped), 403, "forged");
    assert_eq!(answer("hw-a", "not-a-challenge"), 403);
    // hw-b's, and hw-a's first: the same event of one address, license and machine is
    // recorded once a minute, its repeats counted on the next one (issue #12).
    assert_eq!(tampers(), tampered_before + 2);
    // Each genuine one works once.
    assert_eq!(answer("hw-a", &a1), 200);
    assert_eq!(answer("hw-a", &a1), 403, "single use");
    assert_eq!(answer("hw-b", &b1), 200);
    // A wrong response spends it too.
    let (s, _) = l.client(
        "verify-challenge",
        json!({ "license_key": key, "hwid": "hw-a", "challenge": a2, "response": "00" }),
    );
    assert_eq!(s, 403);
    assert_eq!(answer("hw-a", &a2), 403, "spent by the wrong answer");
    // Expired after five minutes; a new minute logs the next validation again.
    l.app.clock.advance(301);
    assert_eq!(answer("hw-a", &a3), 403, "expired");
    let fresh = challenge_of("hw-a");
    assert_eq!(validation_events(), before + 3);
    assert_eq!(answer("hw-a", &fresh), 200);
    // Every blocked request is refused; its security event is recorded once a minute per
    // address, license and machine, the next one counting the repeats (issue #12: anyone
    // can cause these, and they cost a log entry and a webhook delivery each).
    let mismatches = || l.event_count(&admin, "blacklist_hit");
    l.ok(
        "POST",
        "/api/security/block-hwid",
        &admin,
        Some(json!({ "hwid": "hw-b", "reason": "test" })),
    );
    for _ in 0..3 {
        assert_eq!(l.client("validate", req("hw-b")).0, 403);
    }
    assert_eq!(mismatches(), 1);
    l.app.clock.advance(60);
    assert_eq!(l.client("validate", req("hw-b")).0, 403);
    assert_eq!(mismatches(), 2);
    let events = l.ok(
        "GET",
        "/api/security/events?event_type=blacklist_hit",
        &admin,
        None,
    );
    let repeats: Vec<Value> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["details"]["repeats_since_last"].clone())
        .collect();
    assert!(repeats.contains(&json!(2)), "{events}");
}

/// The sweep reads only licenses due by its expiry index: a license extended before its first
/// expiry is announced at the new one, once; a deleted license leaves nothing behind.
#[test]
fn expiry_sweep_follows_extensions_through_its_index() {
    let l = lcm();
    let (bob, _) = l.user("bob@example.com");
    let (product, _) = l.product(&bob, "App");
    let at = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .expect("t")
            .to_rfc3339()
    };
    let lic = l.license(&bob, &product, json!({ "expires_at": at(T0 + 100) }));
    let gone = l.license(&bob, &product, json!({ "expires_at": at(T0 + 100) }));
    let id = lic["id"].as_str().expect("id");
    l.ok(
        "PUT",
        &format!("/api/licenses/{id}"),
        &bob,
        Some(json!({ "expires_at": at(T0 + 1000) })),
    );
    l.ok(
        "DELETE",
        &format!("/api/licenses/{}", gone["id"].as_str().expect("id")),
        &bob,
        None,
    );
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sweep = || {
        rt.block_on(licet_server::events::sweep_expired(&l.app.state))
            .expect("sweep")
    };
    l.app.clock.advance(200);
    assert_eq!(sweep(), 0, "extended, and the other one deleted");
    assert!(
        rt.block_on(l.app.state.store.expiry_candidates(T0 + 200))
            .expect("index")
            .is_empty(),
        "stale entries are dropped by the sweep"
    );
    l.app.clock.advance(801);
    assert_eq!(sweep(), 1);
    assert_eq!(sweep(), 0, "once");
    let got = l.ok("GET", &format!("/api/licenses/{id}"), &bob, None);
    assert_eq!(got["status"], json!("expired"));
}
