//! Test harness: a real router over a real store, driven with `oneshot`. The store is the
//! test binary's `crate::backend` (one of [`backends`]): `tests/sled.rs` and
//! `tests/postgres.rs` compile the same HTTP suite (`tests/suite/`) once per backend.
#![allow(dead_code)] // each test binary uses part of the harness

use std::io::{BufRead, Read, Write};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use licet_issuer::{KeySpec, SigningKey};
use licet_server::clock::ManualClock;
use licet_server::keys::ring::KeySource;
use licet_server::keys::{MasterKey, ServerKeys};
use licet_server::{AppState, Config};
use serde_json::{Value, json};
use tower::ServiceExt;

pub mod backends;
pub mod binary;
pub mod peer;

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

/// Runs `f` to completion on a runtime of its own, from a test that has none.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Every audit entry (at most 10,000), oldest first.
pub async fn audit_entries(state: &AppState) -> Vec<licet_server::model::AuditEvent> {
    let page = licet_server::store::PageRequest {
        after: None,
        limit: 10_000,
    };
    state
        .store
        .audit(&licet_server::store::AuditFilter::default(), &page)
        .await
        .expect("audit")
        .items
}

/// The token keys of a published key set (`/v1/keys`) that still verify: EdDSA, active or
/// retiring.
pub fn token_keys(set: &Value) -> Vec<licet_verifier::PublicKey> {
    set["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["alg"] == "EdDSA" && k["status"] != "retired")
        .map(|k| {
            licet_verifier::PublicKey::from_spki_pem(k["public_key_pem"].as_str().expect("pem"))
                .expect("key")
        })
        .collect()
}

/// Whether a product's download file is kept: in the store, where it keeps files
/// (PostgreSQL), or else in `data`'s downloads folder (sled).
pub async fn holds_file(
    state: &AppState,
    data: &std::path::Path,
    product: &str,
    file: &str,
) -> bool {
    if state.store.keeps_files() {
        state.store.has_file(product, file).await.expect("has_file")
    } else {
        data.join("downloads").join(product).join(file).exists()
    }
}

/// A running application.
pub struct TestApp {
    pub state: AppState,
    pub clock: ManualClock,
    pub admin: String,
}

impl TestApp {
    /// An app without rate limits (the tests of other behaviour make bursts of requests).
    pub async fn new() -> TestApp {
        Self::with_config(Config {
            rate_limit_ip: 0,
            rate_limit_license: 0,
            licensecm_rate_api: 0,
            licensecm_rate_validation: 0,
            login_rate_limit: 0,
            ..Config::default()
        })
        .await
    }

    pub async fn with_config(config: Config) -> TestApp {
        let clock = ManualClock::new(T0);
        let state = AppState::new(
            crate::backend::store().await,
            keys(),
            Arc::new(clock.clone()),
            config,
        )
        .expect("state")
        // Rotated generations of the token key go to the store's vault, sealed under a master
        // key of this app's own: the same code path on every backend.
        .with_key_source(KeySource::Sealed(Arc::new(MasterKey::from_bytes(
            licet_server::ids::random_bytes::<32>(),
        ))));
        state.tokens.take_up_root().await.expect("root secret");
        let admin = licet_server::bootstrap_admin_key(&state)
            .await
            .expect("bootstrap")
            .expect("first key");
        TestApp {
            state,
            clock,
            admin,
        }
    }

    /// [`TestApp::new`] for a test without a runtime of its own.
    pub fn new_blocking() -> TestApp {
        block_on(Self::new())
    }

    /// [`TestApp::with_config`] for a test without a runtime of its own (one that drives a
    /// served app with blocking HTTP).
    pub fn blocking(config: Config) -> TestApp {
        block_on(Self::with_config(config))
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

/// Serves the app on a loopback port from a background thread; returns the base URL.
pub fn serve(state: AppState) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let timeouts = licet_server::serve::Timeouts::of(&state.config);
            licet_server::serve::serve(
                listener,
                licet_server::app(state),
                timeouts,
                None,
                std::future::pending(),
            )
            .await
            .expect("serve");
        });
    });
    format!("http://{addr}")
}

/// A blocking HTTP client for tests against a served app: (status, body text, headers).
pub fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = match body {
        Some(b) => agent.run(req.body(b.as_bytes().to_vec()).expect("req")),
        None => agent.run(req.body(()).expect("req")),
    };
    let mut resp = resp.expect("transport");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

/// One request a receiver got: its headers (names lower-cased) and body.
pub type Received = (Vec<(String, String)>, String);

/// A local webhook receiver: answers with the statuses given, in order (then 200), and keeps
/// what it received (headers lower-cased, body).
pub struct Receiver {
    pub url: String,
    pub got: Arc<std::sync::Mutex<Vec<Received>>>,
}

pub fn receiver(statuses: Vec<u16>) -> Receiver {
    receiver_with(statuses, std::time::Duration::ZERO)
}

/// [`receiver`] that takes `delay` over each answer, one request at a time: deliveries stay
/// in flight, so that two senders of one delivery would overlap.
pub fn slow_receiver(delay: std::time::Duration) -> Receiver {
    receiver_with(vec![], delay)
}

fn receiver_with(statuses: Vec<u16>, delay: std::time::Duration) -> Receiver {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&got);
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
            let mut headers = Vec::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
                    if k == "content-length" {
                        len = v.parse().unwrap_or(0);
                    }
                    headers.push((k, v));
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).expect("body");
            sink.lock()
                .expect("lock")
                .push((headers, String::from_utf8_lossy(&body).into_owned()));
            let status = statuses.next().unwrap_or(200);
            std::thread::sleep(delay);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            );
        }
    });
    Receiver { url, got }
}

pub fn deliveries(r: &Receiver) -> Vec<Received> {
    r.got.lock().expect("lock").clone()
}
