//! Public routes: health, the signed revocation list and the key set.

use crate::app::error::ErrorCode;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licet_api::client::KeySet;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::http::extract::Q;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(home))
        .routes(routes!(health))
        .routes(routes!(revocations))
        .routes(routes!(keys))
        .routes(routes!(metrics))
}

#[utoipa::path(get, path = "/metrics", tag = "public", responses((status = 200, description = "Prometheus text format", content_type = "text/plain"), (status = 401, description = "`--metrics-token` is set and the request does not carry it", body = crate::http::error::ErrorBody)))]
async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(want) = &s.config.metrics_token {
        use sha2::Digest;
        use subtle::ConstantTimeEq;
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Digests of equal length, compared in constant time.
        let (a, b) = (sha2::Sha256::digest(given), sha2::Sha256::digest(&want.0));
        if !bool::from(a.ct_eq(&b)) {
            return Err(ApiError::unauthorized("/metrics needs the metrics token"));
        }
    }
    let now = s.clock.now();
    let snap = s
        .metrics
        .snapshot(now, || {
            crate::app::figures::held_seats_and_licenses(&s, now)
        })
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(
            snap.active_seats,
            snap.licenses,
            crate::app::figures::store_flushes(&s),
        ),
    )
        .into_response())
}

/// Where the documentation lives (the server carries no copy of it).
const DOCS: &str = "https://github.com/licet-rs/licet/tree/main/docs";

#[utoipa::path(get, path = "/", tag = "public", responses((status = 200, description = "`{name, version, dashboard, openapi, health, docs}`; a small page of the same links for a browser", body = serde_json::Value)))]
/// What a person or a script that opens the server's address finds: where to go next.
async fn home(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let dashboard = s.config.dashboard.then_some("/admin");
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if !browser {
        return Json(json!({
            "name": "licet-server",
            "version": env!("CARGO_PKG_VERSION"),
            "dashboard": dashboard,
            "openapi": "/openapi.json",
            "health": "/healthz",
            "docs": DOCS,
        }))
        .into_response();
    }
    // Nothing here comes from a request or the store: the page is fixed text.
    let admin = match dashboard {
        Some(path) => {
            format!("<li><a href=\"{path}\">Dashboard</a> (sign in with an admin API key)</li>")
        }
        None => String::new(),
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>licet-server</title></head><body><h1>licet-server {}</h1>\
         <ul>{admin}<li><a href=\"/openapi.json\">OpenAPI document</a></li>\
         <li><a href=\"/healthz\">Health</a></li><li><a href=\"{DOCS}\">Documentation</a></li></ul></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

#[utoipa::path(get, path = "/healthz", tag = "public", responses((status = 200, description = "`{status, server_time}`", body = serde_json::Value), (status = 503, description = "`{status: \"store_unavailable\", server_time}`: the store does not answer", body = serde_json::Value)))]
async fn health(State(s): State<AppState>) -> Response {
    match crate::app::figures::health(&s).await {
        Ok(()) => Json(Health {
            status: "ok",
            server_time: s.clock.now(),
        })
        .into_response(),
        Err(code) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": code, "server_time": s.clock.now() })),
        )
            .into_response(),
    }
}

/// `/healthz`'s answer when the store answers: written straight, with no JSON tree between.
#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
    server_time: i64,
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListFormat {
    /// `json` (default: the list base64url-encoded with its header fields) or `cbor` (the raw
    /// signed bytes, `application/cbor`).
    format: Option<String>,
}

#[utoipa::path(get, path = "/v1/revocations", tag = "public", params(ListFormat), responses((status = 200, description = "JSON with the list base64url-encoded, or `application/cbor`", body = serde_json::Value)))]
async fn revocations(State(s): State<AppState>, Q(f): Q<ListFormat>) -> ApiResult<Response> {
    let list = s.revocations.current_revocations().await?;
    match f.format.as_deref().unwrap_or("json") {
        "cbor" => Ok(([(header::CONTENT_TYPE, "application/cbor")], list).into_response()),
        "json" => Ok(Json(s.revocations.current_body().await?).into_response()),
        _ => Err(ApiError::new(
            ErrorCode::InvalidField,
            "format: json or cbor",
        )),
    }
}

#[utoipa::path(get, path = "/v1/keys", tag = "public", responses((status = 200, description = "the token key's generations newest first, each after the first vouched for by the one before it (`endorsement`: base64url Ed25519 signature over `\"licet/key-endorsement/v1\\0\"` and the key's 32 bytes) (`active` signs; `retiring` verifies what it signed until `valid_until`; `retired` verifies nothing), then the RSA key of the compatibility endpoints", body = KeySet)))]
async fn keys(State(s): State<AppState>) -> Json<KeySet> {
    Json(s.tokens.key_set())
}
