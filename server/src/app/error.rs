//! The one error type of the server's operations, for every API family.
//!
//! An error is a stable [`ErrorCode`] and a message for people; it carries no HTTP status. Each
//! family's adapter says how a failure reaches its clients: the native API's (`http::error`)
//! answers `{"error": {"code", "message"}}` with the status the code's class gives, the
//! compatibility families answer in their own shapes. A few codes are answered in a second
//! class where an operation means it so ([`Class`]); `docs/server.md` names them.

pub use licet_api::error::ErrorCode;

/// Whose fault a failure is, where it is not the class its code usually has: `revoked` for an
/// operation on a revoked license is a conflict with the object's state, not a refused
/// credential; `bad_signature` on a receipt refuses the caller; a body whose fields do not fit
/// is unprocessable rather than malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Class {
    /// The request is malformed or breaks a rule of its fields.
    Invalid,
    /// The request reads, but its fields do not fit the operation's type.
    Unprocessable,
    /// The caller may not do this.
    Forbidden,
    /// The object's state rules the operation out.
    Conflict,
}

/// An error of an operation: a stable code, a message for the client, and for rate limits
/// when to retry.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    retry_after: Option<u64>,
    class: Option<Class>,
}

impl ApiError {
    /// An error with this code and message, in the code's usual class.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
            class: None,
        }
    }

    /// An error with `code` meant as `class` (kept only where it is not the code's usual one).
    pub fn classed(class: Class, code: ErrorCode, message: impl Into<String>) -> Self {
        let usual = match class {
            Class::Invalid => code.status() == 400,
            Class::Unprocessable => code.status() == 422,
            Class::Forbidden => code.status() == 403,
            Class::Conflict => code.status() == 409,
        };
        ApiError {
            class: (!usual).then_some(class),
            ..Self::new(code, message)
        }
    }

    /// A client's mistake in its request.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::classed(Class::Invalid, code, message)
    }

    /// `not_found`: no such object, or one the caller may not see.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no such {what}"))
    }

    /// `unauthorized`: no valid credential.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// `forbidden`: the credential does not allow it.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// The caller may not do this, for the reason `code` names.
    pub fn forbidden_code(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::classed(Class::Forbidden, code, message)
    }

    /// The object's state rules the operation out, for the reason `code` names.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::classed(Class::Conflict, code, message)
    }

    /// Too many requests: retry after `retry_after` seconds (at least 1).
    pub fn too_many_requests(code: ErrorCode, retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(code, "too many requests; retry later")
        }
    }

    /// An internal failure, whose detail goes only to the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorCode::Internal, "internal server error")
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The class it is meant in, where that is not its code's usual one.
    pub fn class(&self) -> Option<Class> {
        self.class
    }

    /// The message for the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Seconds to wait before retrying, for rate limits.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// Whether the failure is the server's own (or its store's), not the client's.
    pub fn is_server_error(&self) -> bool {
        self.class.is_none() && self.code.status() >= 500
    }
}

/// The result type of operations.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<licet_core::StoreError> for ApiError {
    fn from(e: licet_core::StoreError) -> Self {
        use licet_core::StoreError;
        match e {
            StoreError::NotFound => ApiError::new(ErrorCode::NotFound, "not found"),
            StoreError::Conflict { constraint, detail } => {
                ApiError::conflict(ErrorCode::from(constraint), detail)
            }
            // The database is down or has no free connection: the client may retry; nothing
            // was written.
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable");
                ApiError::new(
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
    /// licet's own API: `too_many_machines`, `hwid_mismatch`.
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
