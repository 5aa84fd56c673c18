//! Answers in WemX's shape: refusals with Laravel's status codes and messages, and times.

use super::*;

/// A refusal in WemX's shape.
#[derive(Debug)]
pub struct Refusal {
    pub(super) status: StatusCode,
    pub(super) message: String,
    pub(super) errors: Option<BTreeMap<&'static str, Vec<String>>>,
    pub(super) retry_after: Option<u64>,
    /// The product (`""`: no license found) and stable code the overview counts this refusal
    /// of a check under; `None` for what is not the license saying no (bad input, a fault).
    pub(super) counted: Option<(String, &'static str)>,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
            errors: None,
            retry_after: None,
            counted: None,
        }
    }

    /// This refusal, counted for the overview as `code` of `product_id`.
    pub(super) fn counted(mut self, product_id: &str, code: &'static str) -> Self {
        self.counted = Some((product_id.to_owned(), code));
        self
    }

    /// Laravel's validation answer: the first message, "(and N more errors)", and every field.
    pub(super) fn invalid(errors: BTreeMap<&'static str, Vec<String>>) -> Self {
        let total: usize = errors.values().map(Vec::len).sum();
        let first = errors
            .values()
            .flatten()
            .next()
            .cloned()
            .unwrap_or_default();
        let message = match total {
            0 | 1 => first,
            2 => format!("{first} (and 1 more error)"),
            n => format!("{first} (and {} more errors)", n - 1),
        };
        Refusal {
            errors: Some(errors),
            ..Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, message)
        }
    }

    pub(super) fn field(field: &'static str, message: impl Into<String>) -> Self {
        Refusal::invalid(BTreeMap::from([(field, vec![message.into()])]))
    }
}

impl From<licet_core::StoreError> for Refusal {
    fn from(e: licet_core::StoreError) -> Self {
        crate::app::error::ApiError::from(e).into()
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        let message = match crate::http::error::status(&e) {
            StatusCode::TOO_MANY_REQUESTS => "Too Many Attempts.".to_owned(),
            StatusCode::UNAUTHORIZED => "Unauthenticated.".to_owned(),
            s if s.is_server_error() => "Server Error".to_owned(),
            _ => e.message().to_owned(),
        };
        Refusal {
            retry_after: e.retry_after(),
            ..Refusal::new(crate::http::error::status(&e), message)
        }
    }
}

impl From<BytesRejection> for Refusal {
    fn from(r: BytesRejection) -> Self {
        Refusal::new(r.status(), r.body_text())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut body = json!({ "success": false, "message": self.message });
        if let Some(errors) = self.errors {
            body["errors"] = json!(errors);
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

pub(super) type Answer = Result<Response, Refusal>;

/// Laravel's timestamp format: `2024-01-01T15:29:35.000000Z`.
pub(super) fn laravel_time(t: i64) -> Value {
    chrono::DateTime::from_timestamp(t, 0).map_or(Value::Null, |d| {
        json!(d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    })
}
