//! The server's middleware and its client-address extractor: what needs the whole state, kept
//! apart from the limiters, the metrics and the address rules themselves (which the state
//! holds, and which therefore must not depend on it).

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::app::error::ApiError;
use crate::app::state::AppState;
use crate::net::{ClientIp, canonical, client_behind};

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        Ok(client_ip(s, &parts.headers, &parts.extensions))
    }
}

/// The client's address: the peer's, or with `--trusted-proxies` the one its proxies name;
/// none for a request that did not arrive on a socket.
pub fn client_ip(
    s: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> ClientIp {
    let Some(peer) = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return ClientIp(None);
    };
    let Some(header) = &s.config.trusted_proxy_header else {
        return ClientIp(Some(canonical(peer)));
    };
    let values: Vec<&str> = headers
        .get_all(header.as_str())
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    ClientIp(Some(client_behind(
        peer,
        &values,
        &s.config.trusted_proxies,
    )))
}

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
        .get::<crate::http::metrics::Route>()
        .map_or("unmatched", crate::http::metrics::Route::as_str);
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
