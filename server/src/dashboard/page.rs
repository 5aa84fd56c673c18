//! What every page shares: the layout's facts, times as people read them, and the answers a
//! page gives (HTML with the dashboard's security headers, redirects, refusals).

use crate::app::error::ErrorCode;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::app::error::ApiError;

/// The dashboard's Content-Security-Policy: everything from this origin, nothing from another,
/// no inline script, and forms that post only here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       script-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";

pub use super::time::{When, relative, when};

/// An HTML page with the dashboard's headers.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, Html(body)).into_response();
    secure_headers(r.headers_mut());
    r
}

/// The headers every dashboard answer carries.
pub fn secure_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// Renders a template, or a plain failure page if it cannot be.
pub fn render<T: askama::Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(body) => html(status, body),
        Err(e) => failure(&ApiError::internal(e)),
    }
}

/// A page for a failure the dashboard cannot carry on from (a store outage, say): the code and
/// message, escaped, with the API's status.
pub fn failure(e: &ApiError) -> Response {
    let t = super::templates::Failure {
        status: crate::http::error::status(e).as_u16(),
        code: e.code().as_str().to_owned(),
        message: e.message().to_owned(),
    };
    let body = askama::Template::render(&t).unwrap_or_else(|_| "error".to_owned());
    html(crate::http::error::status(e), body)
}

/// A 303 to `to` (after a form: the browser then GETs the page, and a reload does not post
/// again).
pub fn see_other(to: &str) -> Response {
    let mut r = axum::response::Redirect::to(to).into_response();
    secure_headers(r.headers_mut());
    r
}

/// A form's choice of one of an API enum's values, by the name the API gives it.
pub fn choice<T: serde::de::DeserializeOwned>(name: &str) -> Result<T, serde::de::value::Error> {
    use serde::de::IntoDeserializer;
    T::deserialize(name.into_deserializer())
}

/// Percent-encodes a query value.
pub fn q(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A posted form, its fields in order. Its CSRF token is checked by
/// [`super::session::Viewer::check`].
#[derive(Debug, Clone, Default)]
pub struct Form(pub Vec<(String, String)>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| failure(&crate::http::error::rejection(e)))?;
        serde_urlencoded::from_bytes(&bytes).map(Form).map_err(|e| {
            failure(&ApiError::bad_request(
                ErrorCode::InvalidRequest,
                e.to_string(),
            ))
        })
    }
}

impl Form {
    /// The first value of `name` (empty values count as absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Whether the checkbox `name` is ticked.
    pub fn ticked(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }
}

/// A form without its session's CSRF token: the 403 page (`csrf_failed`).
#[derive(Debug, Clone, Copy)]
pub struct CsrfFailed;

impl IntoResponse for CsrfFailed {
    fn into_response(self) -> Response {
        failure(&ApiError::forbidden_code(
            ErrorCode::CsrfFailed,
            "the form did not carry this session's CSRF token: reload the page and try again",
        ))
    }
}

/// A date typed in a form: `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
pub fn parse_date(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc().timestamp());
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp())
}
