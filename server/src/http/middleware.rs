//! The server's middleware and its client-address extractor: what needs the whole state, kept
//! apart from the limiters, the metrics and the address rules themselves (which the state
//! holds, and which therefore must not depend on it).

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::error::ApiError;
use crate::app::state::AppState;
use crate::net::{ClientIp, canonical, client_behind};

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            return Ok(ClientIp(None));
        };
        let Some(header) = &s.config.trusted_proxy_header else {
            return Ok(ClientIp(Some(canonical(peer))));
        };
        let values: Vec<&str> = parts
            .headers
            .get_all(header.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientIp(Some(client_behind(
            peer,
            &values,
            &s.config.trusted_proxies,
        ))))
    }
}

/// Middleware: the per-IP limit, for requests that arrive on a socket.
pub async fn per_ip(State(s): State<AppState>, ip: ClientIp, req: Request, next: Next) -> Response {
    if let Some(ip) = ip.0
        && let Err(e) = s.limits.check_ip(ip)
    {
        return e.into_response();
    }
    next.run(req).await
}

/// Middleware: times every request and counts it under its route template.
pub async fn track(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let mut resp = next.run(req).await;
    s.metrics.record(
        &method,
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    if s.config.access_log {
        // For the access log, outside the router, where the route is no longer known.
        resp.extensions_mut().insert(Route(route));
    }
    resp
}

/// The route template that answered, carried out to the access log on the response.
#[derive(Debug, Clone)]
struct Route(String);

/// Middleware (with `--access-log`): one line per request, 404s and refusals of the outer
/// layers included. The route template stands for the path, which may hold a license key.
pub async fn access_log(ip: ClientIp, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let resp = next.run(req).await;
    let route = resp
        .extensions()
        .get::<Route>()
        .map_or("unmatched", |r| r.0.as_str());
    tracing::info!(
        target: "licet::access",
        ip = %ip.0.map_or_else(|| "-".to_owned(), |i| i.to_string()),
        method = %method,
        route,
        status = resp.status().as_u16(),
        ms = start.elapsed().as_millis() as u64,
        request_id = %request_id,
    );
    resp
}
