//! The extractors and small helpers every API family's handlers share.

use crate::app::error::ErrorCode;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::app::error::ApiError;
use crate::app::state::AppState;
use crate::http::error::rejection;

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
                ApiError::bad_request(ErrorCode::InvalidRequest, format!("invalid JSON body: {e}"))
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

pub use licet_api::requests::double_option;

/// Page size bounds shared by list endpoints.
pub fn page_limit(limit: Option<usize>) -> usize {
    limit.unwrap_or(50).clamp(1, 100)
}

/// A JSON body kept with its exact bytes, the path it was sent to and its
/// `Licet-Device-Signature` header (base64url), for requests a device key signs: the signature
/// covers the bytes as received, so they are checked before anything is re-encoded.
#[derive(Debug)]
pub struct Signed<T> {
    /// The parsed body.
    pub body: T,
    /// The body as received.
    pub raw: axum::body::Bytes,
    /// The request's path.
    pub path: String,
    /// The decoded signature, if one was sent (`None` also when it is not base64url).
    pub signature: Option<Vec<u8>>,
    /// Whether the header was present at all.
    pub signature_sent: bool,
}

/// The header a device signs requests in.
pub const DEVICE_SIGNATURE_HEADER: &str = "licet-device-signature";

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Signed<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use base64::Engine;
        let path = req.uri().path().to_owned();
        let header = req
            .headers()
            .get(DEVICE_SIGNATURE_HEADER)
            .map(|v| v.to_str().unwrap_or("").trim().to_owned());
        let signature = header.as_deref().and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        });
        let (parts, body) = req.into_parts();
        let raw = axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(rejection)?;
        // The same JSON rules (content type, syntax, fields) as every other body.
        let Body(body) =
            Body::<T>::from_request(Request::from_parts(parts, raw.clone().into()), state).await?;
        Ok(Signed {
            body,
            raw,
            path,
            signature,
            signature_sent: header.is_some(),
        })
    }
}
