//! The edge of the server: what every request passes before its route, in one layer that takes
//! the state and the client's address once. In order:
//!
//! 0. the request id (the client's `x-request-id`, or a new one), given back on the answer;
//!    the request's tracing span, with the events of tower-http's `TraceLayer` (started and
//!    finished at debug, a 5xx at error); the client's address, computed once and handed to
//!    the routes as a request extension; and with `--access-log`, one line per request;
//! 1. under LicenseCM's paths, when it is served, LicenseCM's own limit and its shape for every
//!    failure ([`compat::licensecm::shape`]);
//! 2. the per-IP limit, for requests that arrive on a socket;
//! 3. the backup gate: writers are held back while a backup copies the store (entering is two
//!    atomic operations; the health and metrics probes write nothing and pass throughout);
//! 4. `--request-timeout` over the whole request, body included (408 `request_timeout`), so
//!    that a client trickling its body cannot hold a handler for ever, except for the paths
//!    that stream a body of their own size;
//! 5. under `/v1/client/`, refusals signed like answers ([`api::v1::client::sign_refusals`]).
//!
//! A hand-written service rather than `axum::middleware::from_fn` and tower-http's request-id
//! and trace layers: each of those layers wraps the rest in a future of its own, moved and
//! dropped per request, and each `from_fn` boxes a clone of the rest of the stack, which was a
//! measurable share of a small request (BENCHMARKS.md).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::app::error::{ApiError, ErrorCode};
use crate::app::state::AppState;
use crate::net::ClientIp;
use crate::{api, compat, http, ids};

/// The request id's header, in and out.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Paths whose handlers read a body of their own size, streamed: not bound by
/// `--request-timeout` (their size has its own limit, and the header timeout still applies).
const STREAMING_PATHS: &[&str] = &["/v1/downloads/upload"];

/// The layer (see the module).
#[derive(Debug, Clone)]
pub struct EdgeLayer(pub AppState);

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            state: self.0.clone(),
        }
    }
}

/// The rest of the server behind the edge (see the module).
#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
    state: AppState,
}

impl<S> tower::Service<Request> for Edge<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The service polled ready goes with the request; a clone stays for the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move { Ok(outer(&state, req, inner).await) })
    }
}

/// Step 0 (see the module), then [`edge`].
async fn outer<S>(s: &AppState, mut req: Request, inner: S) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let start = Instant::now();
    let id = match req.headers().get(&X_REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            // The id's alphabet is ASCII letters and digits: always a header value.
            let id = HeaderValue::from_bytes(&ids::request_id())
                .unwrap_or(HeaderValue::from_static("-"));
            req.headers_mut().insert(X_REQUEST_ID, id.clone());
            id
        }
    };
    let ip = http::middleware::client_ip(s, req.headers(), req.extensions());
    req.extensions_mut().insert(ip);
    let method = req.method().clone();
    // Borrowed fields: a span the log level leaves out costs no allocation.
    let span = tracing::info_span!(
        "request",
        method = %method,
        path = %req.uri().path(),
        request_id = %id.to_str().unwrap_or("-"),
    );
    tracing::debug!(parent: &span, "started processing request");
    let mut resp = edge(s, ip, req, inner).instrument(span.clone()).await;
    let (status, latency) = (resp.status(), start.elapsed());
    if status.is_server_error() {
        tracing::error!(parent: &span, status = status.as_u16(), latency = ?latency, "response failed");
    } else {
        tracing::debug!(parent: &span, status = status.as_u16(), latency = ?latency, "finished processing request");
    }
    if s.config.access_log {
        // The route template stands for the path, which may hold a license key.
        let route = resp
            .extensions()
            .get::<http::metrics::Route>()
            .map_or("unmatched", http::metrics::Route::as_str);
        tracing::info!(
            target: "licet::access",
            ip = %ip.0.map_or_else(|| "-".to_owned(), |i| i.to_string()),
            method = %method,
            route,
            status = status.as_u16(),
            ms = latency.as_millis() as u64,
            request_id = %id.to_str().unwrap_or("-"),
        );
    }
    resp.headers_mut().entry(X_REQUEST_ID).or_insert(id);
    resp
}

/// Steps 1 and 2 (see the module), then [`inside`].
async fn edge<S>(s: &AppState, ip: ClientIp, req: Request, inner: S) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let ip = ip.0;
    if s.config.compat_licensecm && compat::licensecm::is_licensecm_path(req.uri().path()) {
        return compat::licensecm::shape(s, ip, req, |req| inside(s, req, inner)).await;
    }
    if let Some(ip) = ip
        && let Err(e) = s.limits.check_ip(ip)
    {
        return e.into_response();
    }
    inside(s, req, inner).await
}

/// Steps 3 to 5 (see the module), then the route.
async fn inside<S>(s: &AppState, req: Request, mut inner: S) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let path = req.uri().path();
    let _pass = match path {
        "/healthz" | "/metrics" => None,
        _ => Some(s.gate.enter().await),
    };
    if STREAMING_PATHS.contains(&path) {
        return answer(inner.call(req).await);
    }
    let client = path.starts_with("/v1/client/");
    let limit = Duration::from_secs(s.config.request_timeout);
    let answer = async {
        if client {
            api::v1::client::sign_refusals(s, req, |req| async { answer(inner.call(req).await) })
                .await
        } else {
            answer(inner.call(req).await)
        }
    };
    match tokio::time::timeout(limit, answer).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            ErrorCode::RequestTimeout,
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

fn answer(r: Result<Response, Infallible>) -> Response {
    match r {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}
