//! The client's address as the server sees it (the edge layer works it out once a request, and
//! the routes take it with the [`ClientIp`] extractor): what needs the whole state, kept apart
//! from the limiters, the metrics and the address rules themselves (which the state holds, and
//! which therefore must not depend on it).

use std::net::SocketAddr;

use axum::extract::FromRequestParts;
use axum::extract::connect_info::ConnectInfo;
use axum::http::request::Parts;

use crate::app::error::ApiError;
use crate::app::state::AppState;
use crate::net::{ClientIp, canonical, client_behind};

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        // Worked out once by the edge layer for every request that passes it.
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return Ok(*ip);
        }
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
