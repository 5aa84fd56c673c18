//! The edge of the server: what every request passes before its route, in one layer that takes
//! the state and the client's address once. In order:
//!
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
//! A hand-written service rather than `axum::middleware::from_fn`: each of those boxes a clone
//! of the rest of the stack per request, which was a measurable share of a small request
//! (BENCHMARKS.md).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

use crate::app::error::{ApiError, ErrorCode};
use crate::app::state::AppState;
use crate::{api, compat, http};

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
        Box::pin(async move { Ok(edge(&state, req, inner).await) })
    }
}

/// Steps 1 and 2 (see the module), then [`inside`].
async fn edge<S>(s: &AppState, req: Request, inner: S) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let ip = http::middleware::client_ip(s, req.headers(), req.extensions()).0;
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
