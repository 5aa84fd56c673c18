//! LicenseCM's API (`seeds/licensecm-api.md`) under `/api`, on licet's one model.
//!
//! LicenseCM's nouns map onto licet's: a LicenseCM *product* is a licet product owned by a
//! LicenseCM user (with a description, an on/off switch and a `secret_key` sealed at rest); a
//! *license* is a licet license (`max_uses` is its seats, `current_uses` its machines, `hwid`
//! the first machine's fingerprint); a client *activation* is a machine; *activity logs* are
//! the license's audit events. Users, sessions, the blacklist, security events, webhooks and
//! notifications are new records in the same store. The document shows bodies but few paths;
//! the paths chosen are listed in `docs/compat.md`.
//!
//! Every answer has LicenseCM's shape: `{"success": true, "data": {…}}` or `{"success": false,
//! "message", "error_code"}` — including the 404, 405, 413 and 429 that middleware produces
//! ([`shape`]).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use licet_core::ids::{LicenseId, ProductId};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;

use crate::app::error::ApiError;
use crate::app::state::AppState;
use licet_core::model::{License, Product, Role, User};

pub mod admin;
pub mod auth;
pub mod client;
pub mod envelope;
pub mod licenses;
pub mod operator;
pub mod products;
pub mod security;
pub mod shared;
pub mod stats;
pub mod webhooks;

/// The LicenseCM routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(admin::router())
        .merge(products::router())
        .merge(licenses::router())
        .merge(client::router())
        .merge(security::router())
        .merge(webhooks::router())
        .merge(stats::router())
        .merge(operator::router())
}

// ----- answers

/// A LicenseCM failure: `{"success": false, "message", "error_code"}`, or the blocked shape.
#[derive(Debug)]
pub struct Fail {
    status: StatusCode,
    message: String,
    code: Option<String>,
    blocked: Option<Value>,
    retry_after: Option<u64>,
}

impl Fail {
    /// A failure with a status, a message and an error code.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Fail {
        Fail {
            status,
            message: message.into(),
            code: Some(code.to_owned()),
            blocked: None,
            retry_after: None,
        }
    }

    /// 400 `VALIDATION_ERROR`.
    pub fn invalid(message: impl Into<String>) -> Fail {
        Fail::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 404 with a code.
    pub fn not_found(code: &str, message: impl Into<String>) -> Fail {
        Fail::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 403 `FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> Fail {
        Fail::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    /// 403 with the documented `security_blocked` body.
    pub fn blocked(reason: &str, kind: &str) -> Fail {
        Fail {
            status: StatusCode::FORBIDDEN,
            message: "Access denied".into(),
            code: Some("BLACKLISTED".into()),
            blocked: Some(json!({ "reason": reason, "type": kind })),
            retry_after: None,
        }
    }

    /// Replaces the error code.
    pub fn code_mut(&mut self, code: &str) {
        self.code = Some(code.to_owned());
    }

    /// The error code, if any.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<licet_core::StoreError> for Fail {
    fn from(e: licet_core::StoreError) -> Self {
        crate::app::error::ApiError::from(e).into()
    }
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Fail {
        let message = if e.is_server_error() {
            "Internal server error".to_owned()
        } else {
            e.message().to_owned()
        };
        Fail {
            status: crate::http::error::status(&e),
            message,
            code: Some(e.code().as_str().to_ascii_uppercase()),
            blocked: None,
            retry_after: e.retry_after(),
        }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let mut body = json!({ "success": false, "message": self.message });
        if let Some(code) = self.code {
            body["error_code"] = json!(code);
        }
        if let Some(details) = self.blocked {
            body["security_blocked"] = json!(true);
            body["security_details"] = details;
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// The result of a LicenseCM handler.
pub type Answer = Result<Response, Fail>;

/// `{"success": true, "data": data}` with a status.
pub fn ok_with(status: StatusCode, data: Value) -> Answer {
    let data = if data.is_null() { json!({}) } else { data };
    Ok((status, axum::Json(json!({ "success": true, "data": data }))).into_response())
}

/// `{"success": true, "data": data}`.
pub fn ok(data: Value) -> Answer {
    ok_with(StatusCode::OK, data)
}

pub use crate::payload::{compact, iso};

/// Parses an ISO 8601 / RFC 3339 date-time or a `YYYY-MM-DD` date (UTC).
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp());
    }
    if let Ok(d) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Some(d.and_utc().timestamp());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

// ----- input

/// A JSON body, read whatever the content type says (SDKs send `application/json`, sometimes
/// with a charset, and Node sends chunked bodies), with LicenseCM's error shape.
#[derive(Debug)]
pub struct In<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for In<T> {
    type Rejection = Fail;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| Fail::new(r.status(), "VALIDATION_ERROR", r.body_text()))?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text)
            .map(In)
            .map_err(|e| Fail::invalid(format!("Invalid request body: {e}")))
    }
}

/// Page and limit: `page` from 1, `limit` default 20, at most 100.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page number (default 1).
    pub page: Option<usize>,
    /// Items per page (default 20, at most 100).
    pub limit: Option<usize>,
}

impl Paging {
    /// (skip, limit).
    pub fn window(self) -> (usize, usize) {
        let page = self.page.unwrap_or(1).max(1);
        let limit = self.limit.unwrap_or(20).clamp(1, 100);
        ((page - 1) * limit, limit)
    }

    /// One page of `items`, and the `pagination` object.
    pub fn apply<T>(self, items: Vec<T>) -> (Vec<T>, Value) {
        let (skip, limit) = self.window();
        let total = items.len();
        let page: Vec<T> = items.into_iter().skip(skip).take(limit).collect();
        (page, self.meta(total))
    }

    /// The `pagination` object for `total` items.
    pub fn meta(self, total: usize) -> Value {
        let (_, limit) = self.window();
        json!({
            "page": self.page.unwrap_or(1).max(1),
            "limit": limit,
            "total": total,
            "pages": total.div_ceil(limit),
        })
    }
}

/// A query string with LicenseCM's error shape.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Fail;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| Fail::invalid(e.body_text()))
    }
}

/// A path parameter with LicenseCM's error shape.
#[derive(Debug)]
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Fail;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| Id(p.0))
            .map_err(|_| Fail::not_found("NOT_FOUND", "Not found"))
    }
}

// ----- the signed-in user

/// A signed-in LicenseCM user (a bearer JWT minted by login or refresh).
#[derive(Debug, Clone)]
pub struct Me(pub User);

impl Me {
    /// Whether the user is an admin.
    pub fn is_admin(&self) -> bool {
        self.0.role == Role::Admin
    }

    /// Fails unless the user is an admin.
    pub fn require_admin(&self) -> Result<(), Fail> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Fail::forbidden("Admin access required"))
        }
    }

    /// Whether the user may see and change `p`: their own; for an admin, any LicenseCM user's,
    /// and an operator product (no owner) only when an unrestricted API key granted it.
    pub fn owns(&self, p: &Product) -> bool {
        self.0.reaches(p)
    }

    /// The products the user may see and change. A plain user's come from the owner index, so
    /// a registered user's request reads their own data, not every product on the server; an
    /// admin (made by the operator) reads them all.
    pub async fn products(&self, s: &AppState) -> Result<Vec<Product>, Fail> {
        let all = if self.is_admin() {
            s.store.products().await?
        } else {
            s.store.products_of_owner(&self.0.id).await?
        };
        Ok(all.into_iter().filter(|p| self.owns(p)).collect())
    }

    /// The licenses of `products`, through the product index.
    pub async fn licenses_of(s: &AppState, products: &[Product]) -> Result<Vec<License>, Fail> {
        let mut out = Vec::new();
        for p in products {
            out.extend(s.store.licenses_of(&p.id).await?);
        }
        Ok(out)
    }

    /// A product the user may see, or 404 `PRODUCT_NOT_FOUND` (another user's products do not
    /// exist for them).
    pub async fn product(&self, s: &AppState, id: &str) -> Result<Product, Fail> {
        s.store
            .product(&ProductId::from(id))
            .await?
            .filter(|p| self.owns(p))
            .ok_or_else(|| Fail::not_found("PRODUCT_NOT_FOUND", "Product not found"))
    }

    /// A license the user may see, with its product, or 404 `LICENSE_NOT_FOUND`.
    pub async fn license(&self, s: &AppState, id: &str) -> Result<(License, Product), Fail> {
        let missing = || Fail::not_found("LICENSE_NOT_FOUND", "License not found");
        let l = s
            .store
            .license(&LicenseId::from(id))
            .await?
            .ok_or_else(missing)?;
        let p = s
            .store
            .product(&l.product_id)
            .await?
            .filter(|p| self.owns(p))
            .ok_or_else(missing)?;
        Ok((l, p))
    }

    /// The audit actor name.
    pub fn actor(&self) -> String {
        format!("user:{}", self.0.id)
    }
}

impl FromRequestParts<AppState> for Me {
    type Rejection = Fail;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let unauthorized =
            |m: &str| Fail::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", m.to_owned());
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("Authentication required"))?;
        let claims =
            auth::verify_token(s, token).ok_or_else(|| unauthorized("Invalid or expired token"))?;
        let user = s
            .store
            .user(&claims.sub)
            .await?
            .filter(|u| u.is_active)
            .ok_or_else(|| unauthorized("Invalid or expired token"))?;
        Ok(Me(user))
    }
}

// ----- middleware

/// Whether a path belongs to LicenseCM (the other families under `/api` keep their shapes).
pub fn is_licensecm_path(path: &str) -> bool {
    path.starts_with("/api/")
        && !path.starts_with("/api/check/")
        && !path.starts_with("/api/checkitem/")
        && !path.starts_with("/api/v1/")
}

/// Middleware for a request under LicenseCM's paths ([`is_licensecm_path`]): LicenseCM's
/// per-client limit (100 requests a minute), then the server's per-IP limit, and LicenseCM's
/// shape for every failure, whoever produced it (unknown route, wrong method, body too large, a
/// rate limit, a licet error). `next` is the rest of the server.
pub async fn shape<F>(
    s: &AppState,
    ip: Option<std::net::IpAddr>,
    req: Request,
    next: impl FnOnce(Request) -> F,
) -> Response
where
    F: std::future::Future<Output = Response>,
{
    if let Some(ip) = ip {
        if let Err(e) = s.limits.check_lcm_api(ip) {
            return Fail::from(e).into_response();
        }
        if let Err(e) = s.limits.check_ip(ip) {
            return reshape(e.into_response()).await;
        }
    }
    reshape(next(req).await).await
}

/// A failure in LicenseCM's shape; any other answer as it is.
async fn reshape(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    if parsed.as_ref().is_some_and(|v| v.get("success").is_some()) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let (code, message) = match parsed.as_ref().and_then(|v| v.get("error")) {
        Some(e) => (
            e["code"].as_str().unwrap_or("error").to_ascii_uppercase(),
            e["message"].as_str().unwrap_or("").to_owned(),
        ),
        None => (
            status
                .canonical_reason()
                .unwrap_or("Error")
                .to_ascii_uppercase()
                .replace(' ', "_"),
            match std::str::from_utf8(&bytes).map(str::trim) {
                Ok(t) if !t.is_empty() => t.to_owned(),
                _ => status.canonical_reason().unwrap_or("Error").to_owned(),
            },
        ),
    };
    let message = if status == StatusCode::TOO_MANY_REQUESTS {
        "Too many requests, please try again later.".to_owned()
    } else if status.is_server_error() {
        "Internal server error".to_owned()
    } else {
        message
    };
    let body = json!({ "success": false, "message": message, "error_code": code });
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(
        parts,
        Body::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
}
