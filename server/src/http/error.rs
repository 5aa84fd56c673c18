//! How the native API answers an error.
//!
//! Every failure reaches the client as `{"error": {"code": "...", "message": "..."}}` with a
//! status that says whose fault it was. Internal errors are logged with their detail and answered
//! with a generic 500; a client's mistake is never a 5xx. The codes are listed in
//! `docs/server.md`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use licet_api::error::ErrorCode;

use crate::app::error::{ApiError, Class};

/// The HTTP status `e` is answered with: its class's where it is meant in a second one, else
/// its code's usual status.
pub fn status(e: &ApiError) -> StatusCode {
    let code = match e.class() {
        Some(Class::Invalid) => 400,
        Some(Class::Unprocessable) => 422,
        Some(Class::Forbidden) => 403,
        Some(Class::Conflict) => 409,
        _ => e.code().status(),
    };
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// [`ErrorBody`] borrowed, written straight (no JSON tree between).
#[derive(serde::Serialize)]
struct Answer<'a> {
    error: Detail<'a>,
}

#[derive(serde::Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Answer {
            error: Detail {
                code: self.code().as_str(),
                message: self.message(),
            },
        };
        let mut resp = (status(&self), Json(body)).into_response();
        if let Some(secs) = self.retry_after()
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// The error body, and its code and message (`licet_api::error`).
pub use licet_api::error::{ErrorBody, ErrorDetail};

/// The errors any authenticated route may answer, for the OpenAPI document.
#[derive(Debug, utoipa::IntoResponses)]
pub enum CommonErrors {
    /// A malformed request or a field that breaks a rule.
    #[response(status = 400, description = "invalid_request or invalid_field")]
    BadRequest(ErrorBody),
    /// No valid credential.
    #[response(status = 401, description = "unauthorized")]
    Unauthorized(ErrorBody),
    /// The key's scope or product does not allow it.
    #[response(status = 403, description = "forbidden")]
    Forbidden(ErrorBody),
    /// Daily quota or rate limit exhausted.
    #[response(
        status = 429,
        description = "quota_exceeded or rate_limited, with Retry-After"
    )]
    TooMany(ErrorBody),
}

/// Turns axum's JSON and query rejections into the JSON error body with a 4xx status.
pub fn rejection(r: impl std::fmt::Display + IntoResponse) -> ApiError {
    let message = r.to_string();
    let status = r.into_response().status();
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(ErrorCode::BodyTooLarge, message),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(ErrorCode::UnsupportedMediaType, message)
        }
        StatusCode::UNPROCESSABLE_ENTITY => {
            ApiError::classed(Class::Unprocessable, ErrorCode::InvalidRequest, message)
        }
        _ => ApiError::new(ErrorCode::InvalidRequest, message),
    }
}
