//! The extractors and small helpers every API family's handlers share.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::http::error::{ApiError, rejection};
use crate::http::state::AppState;

/// A JSON body whose rejections become the API's JSON errors.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| Body(j.0))
            .map_err(rejection)
    }
}

/// A JSON body that may be absent (an empty body is `None`).
#[derive(Debug)]
pub struct OptionalBody<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(None));
        }
        serde_json::from_slice(&bytes)
            .map(|v| OptionalBody(Some(v)))
            .map_err(|e| {
                ApiError::bad_request("invalid_request", format!("invalid JSON body: {e}"))
            })
    }
}

/// A query string whose rejections become the API's JSON errors.
#[derive(Debug)]
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Q(q.0))
            .map_err(rejection)
    }
}

pub use crate::net::ClientIp;

/// The server's public base URL: `--public-url` if set, else `http://` and the request's `Host`.
pub fn public_url(s: &AppState, headers: &axum::http::HeaderMap) -> String {
    if let Some(u) = &s.config.public_url {
        return u.clone();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// For `Option<Option<T>>` fields of a change: absent → `None` (leave alone), `null` →
/// `Some(None)` (clear), a value → `Some(Some(v))`. Plain serde reads `null` as absent.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Page size bounds shared by list endpoints.
pub fn page_limit(limit: Option<usize>) -> usize {
    limit.unwrap_or(50).clamp(1, 100)
}
