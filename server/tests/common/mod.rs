//! Test harness: a real router over a real (temporary) sled store, driven with `oneshot`.
#![allow(dead_code)] // each test binary uses part of the harness

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use licet_issuer::{KeySpec, SigningKey};
use licet_server::clock::ManualClock;
use licet_server::keys::ServerKeys;
use licet_server::store::Store;
use licet_server::{AppState, Config};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The start time of every test.
pub const T0: i64 = 1_800_000_000;

/// Server keys, made once per test binary (RSA-4096 generation is slow).
pub fn keys() -> Arc<ServerKeys> {
    static KEYS: OnceLock<Arc<ServerKeys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let token = SigningKey::generate(KeySpec::Ed25519).expect("ed25519");
        let rsa = SigningKey::generate(KeySpec::RsaPkcs1(4096)).expect("rsa");
        Arc::new(ServerKeys::new(token, rsa).expect("keys"))
    })
    .clone()
}

/// A running application.
pub struct TestApp {
    pub state: AppState,
    pub clock: ManualClock,
    pub admin: String,
}

impl TestApp {
    /// An app without rate limits (the tests of other behaviour make bursts of requests).
    pub fn new() -> TestApp {
        Self::with_config(Config {
            rate_limit_ip: 0,
            rate_limit_license: 0,
            ..Config::default()
        })
    }

    pub fn with_config(config: Config) -> TestApp {
        let clock = ManualClock::new(T0);
        let state = AppState::new(
            Store::temporary().expect("store"),
            keys(),
            Arc::new(clock.clone()),
            config,
        )
        .expect("state");
        let admin = licet_server::bootstrap_admin_key(&state)
            .expect("bootstrap")
            .expect("first key");
        TestApp {
            state,
            clock,
            admin,
        }
    }

    /// Sends a request; `auth` is a bearer credential.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            req = req.header("authorization", format!("Bearer {a}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&b).expect("json"))),
            None => req.body(Body::empty()),
        }
        .expect("request");
        self.send(req).await
    }

    /// Sends a raw request.
    pub async fn send(&self, req: Request<Body>) -> (StatusCode, Value, axum::http::HeaderMap) {
        let resp = licet_server::app(self.state.clone())
            .oneshot(req)
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, v, headers)
    }

    pub async fn admin(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, v, _) = self
            .call(method, uri, Some(&self.admin.clone()), body)
            .await;
        (s, v)
    }

    /// A product with a policy; returns (product, policy).
    pub async fn product(&self, code: &str, policy: Value) -> (Value, Value) {
        let (s, p) = self
            .admin(
                "POST",
                "/v1/products",
                Some(json!({ "code": code, "name": code })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        let mut body = policy;
        body["product_id"] = p["id"].clone();
        if body.get("name").is_none() {
            body["name"] = json!("standard");
        }
        let (s, pol) = self.admin("POST", "/v1/policies", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{pol}");
        (p, pol)
    }

    /// A license of `product` with extra fields.
    pub async fn license(&self, product: &Value, extra: Value) -> Value {
        let mut body = extra;
        body["product_id"] = product["id"].clone();
        let (s, l) = self.admin("POST", "/v1/licenses", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{l}");
        l
    }

    pub async fn activate(
        &self,
        key: &str,
        fingerprint: &str,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        self.call(
            "POST",
            "/v1/client/activate",
            None,
            Some(json!({ "key": key, "fingerprint": fingerprint, "nonce": "n-1" })),
        )
        .await
    }

    /// Number of audit events.
    pub async fn audit_len(&self) -> usize {
        let (_, v) = self.admin("GET", "/v1/audit?limit=100", None).await;
        v["items"].as_array().map_or(0, Vec::len)
    }
}
