//! The one error type of the HTTP API.
//!
//! Every failure reaches the client as `{"error": {"code": "...", "message": "..."}}` with a
//! status that says whose fault it was. Internal errors are logged with their detail and answered
//! with a generic 500; a client's mistake is never a 5xx. The codes are listed in
//! `docs/server.md`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use licet_api::error::ErrorCode;

/// An API error: a status, a stable code and a message for the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 with a code.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 `not_found`.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no such {what}"),
        )
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    /// 403 with a code.
    pub fn forbidden_code(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 409 with a code.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(code: ErrorCode, retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                code,
                "too many requests; retry later",
            )
        }
    }

    /// A 500 whose detail goes only to the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal server error",
        )
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message for the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Seconds to wait before retrying, for rate limits.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code.as_str(), "message": self.message } });
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<licet_core::StoreError> for ApiError {
    fn from(e: licet_core::StoreError) -> Self {
        use licet_core::StoreError;
        match e {
            StoreError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "not found")
            }
            StoreError::Conflict { constraint, detail } => {
                ApiError::conflict(ErrorCode::from(constraint), detail)
            }
            // The database is down or has no free connection: the client may retry; nothing
            // was written.
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StoreUnavailable,
                    "the store is unavailable; try again shortly",
                )
            }
            // Internal: logged by `internal`, never shown in detail.
            e => ApiError::internal(e),
        }
    }
}

/// A typed store operation that declined with an API error answers with it; one that failed
/// answers as its failure does.
impl<F> From<licet_core::store::Halted<ApiError, F>> for ApiError
where
    ApiError: From<F>,
{
    fn from(h: licet_core::store::Halted<ApiError, F>) -> Self {
        h.reason()
    }
}

impl From<licet_core::seats::SeatError> for ApiError {
    /// licet's own API: 409 `too_many_machines`, 403 `hwid_mismatch`.
    fn from(e: licet_core::seats::SeatError) -> Self {
        use licet_core::seats::{SeatError, SeatRefusal};
        match e {
            SeatError::Refused(SeatRefusal::TooManyMachines { max }) => ApiError::conflict(
                ErrorCode::TooManyMachines,
                format!("the license allows {max} machine(s) and all are in use"),
            ),
            SeatError::Refused(SeatRefusal::BoundToAnother) => ApiError::forbidden_code(
                ErrorCode::HwidMismatch,
                "the license is bound to another machine",
            ),
            SeatError::Refused(SeatRefusal::PartsMismatch) => ApiError::forbidden_code(
                ErrorCode::HwidMismatch,
                "the parts sent are not those of the machine activated with this fingerprint",
            ),
            SeatError::Store(e) => e.into(),
            e => ApiError::internal(format!("{e:?}")),
        }
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

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Turns axum's JSON and query rejections into the JSON error body with a 4xx status.
pub fn rejection(r: impl std::fmt::Display + IntoResponse) -> ApiError {
    let message = r.to_string();
    let status = r.into_response().status();
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        _ => ErrorCode::InvalidRequest,
    };
    ApiError::new(status, code, message)
}
