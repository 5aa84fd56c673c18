//! The dashboard acts through the native API: each page reads, and each form acts, by a
//! request to the same router `/v1` serves, dispatched in-process with the signed-in key as
//! its caller ([`Acting`]). So a page can do nothing the key could not do with curl, every
//! rule, limit and audit entry is the API's own, and there is no second implementation to
//! drift from the first.

use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::connect_info::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::app::state::AppState;
use crate::http::auth::Acting;
use crate::http::extract::Typed;

use super::session::Viewer;

/// The API router, with its state, that pages call.
#[derive(Clone)]
pub struct Api(pub Router);

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Api")
    }
}

/// A refusal of the API, as a page shows it.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The HTTP status the API answered.
    pub status: StatusCode,
    /// Its stable code.
    pub code: String,
    /// Its message.
    pub message: String,
}

impl From<crate::app::error::ApiError> for Refusal {
    /// An operation's refusal, as the native API would answer it.
    fn from(e: crate::app::error::ApiError) -> Refusal {
        Refusal {
            status: crate::http::error::status(&e),
            code: e.code().as_str().to_owned(),
            message: e.message().to_owned(),
        }
    }
}

impl Refusal {
    fn of(status: StatusCode, body: &Value) -> Refusal {
        Refusal {
            status,
            code: body["error"]["code"]
                .as_str()
                .unwrap_or("internal")
                .to_owned(),
            message: body["error"]["message"]
                .as_str()
                .unwrap_or("the server could not answer")
                .to_owned(),
        }
    }
}

/// Where the browser's request came from, passed on so that the API sees (and audits, and
/// rate-limits) the same client address.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    peer: Option<ConnectInfo<std::net::SocketAddr>>,
    forwarded: Vec<HeaderValue>,
}

impl FromRequestParts<AppState> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let forwarded = s
            .config
            .trusted_proxy_header
            .as_ref()
            .map(|h| parts.headers.get_all(h.as_str()).iter().cloned().collect())
            .unwrap_or_default();
        Ok(Origin {
            peer: parts.extensions.get().cloned(),
            forwarded,
        })
    }
}

impl Api {
    /// Calls the API as `v`: the answer's JSON, or the refusal.
    pub async fn call(
        &self,
        s: &AppState,
        v: &Viewer,
        origin: &Origin,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Result<Value, Refusal> {
        self.call_as(s, v, origin, method, uri, body).await
    }

    /// [`Api::call`], the answer read into `T`: the handler's own value when it answers typed
    /// ([`crate::http::extract::Reply`]) and `T` is its type, else read from its JSON.
    pub async fn call_as<T: serde::de::DeserializeOwned + 'static>(
        &self,
        s: &AppState,
        v: &Viewer,
        origin: &Origin,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Result<T, Refusal> {
        let mut req = Request::builder().method(method).uri(uri);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        if let Some(h) = &s.config.trusted_proxy_header {
            for value in &origin.forwarded {
                req = req.header(h.as_str(), value.clone());
            }
        }
        let bytes = body.map_or_else(Vec::new, |b| b.to_string().into_bytes());
        let mut req = req.body(Body::from(bytes)).map_err(|e| Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal".into(),
            message: e.to_string(),
        })?;
        req.extensions_mut().insert(Acting(v.caller.clone()));
        if let Some(peer) = origin.peer {
            req.extensions_mut().insert(peer);
        }
        let resp = self
            .0
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|never| match never {});
        let status = resp.status();
        if let Some(typed) = resp.extensions().get::<Typed>()
            && let Some(answer) = typed.take::<T>()
        {
            return answer.map_err(|e| Refusal {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal".into(),
                message: format!("the API's answer did not read: {e}"),
            });
        }
        let bytes = axum::body::to_bytes(resp.into_body(), s.config.max_body_bytes.max(1 << 20))
            .await
            .unwrap_or_default();
        if status.is_success() {
            let empty: &[u8] = b"null";
            let bytes = if bytes.is_empty() { empty } else { &bytes[..] };
            return serde_json::from_slice(bytes).map_err(|e| Refusal {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal".into(),
                message: format!("the API's answer did not read: {e}"),
            });
        }
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Err(Refusal::of(status, &json))
    }
}

/// What a page works with: the state, the signed-in viewer, where the request came from, and
/// the API it acts through. A request without a live session is sent to sign in.
#[derive(Debug, Clone)]
pub struct Desk {
    /// The server's state.
    pub s: AppState,
    /// The signed-in viewer.
    pub v: Viewer,
    /// The client's address, which the operations record as the API's routes do.
    pub ip: crate::net::ClientIp,
    origin: Origin,
    api: Api,
}

impl FromRequestParts<AppState> for Desk {
    type Rejection = axum::response::Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let v = Viewer::from_request_parts(parts, s).await?;
        let Ok(origin) = Origin::from_request_parts(parts, s).await;
        let ip = crate::net::ClientIp::from_request_parts(parts, s)
            .await
            .map_err(axum::response::IntoResponse::into_response)?;
        let api = parts.extensions.get::<Api>().cloned().ok_or_else(|| {
            crate::app::error::ApiError::internal("the dashboard's API is not mounted")
                .into_response()
        })?;
        Ok(Desk {
            s: s.clone(),
            v,
            ip,
            origin,
            api,
        })
    }
}

impl Desk {
    /// The credential the viewer acts with.
    pub fn caller(&self) -> &crate::app::caller::Caller {
        &self.v.caller
    }

    /// `GET uri` of the API, as the viewer.
    pub async fn get(&self, uri: &str) -> Result<Value, Refusal> {
        self.send(Method::GET, uri, None).await
    }

    /// `GET uri` of the API, as the viewer, read into `T`.
    pub async fn get_as<T: serde::de::DeserializeOwned + 'static>(
        &self,
        uri: &str,
    ) -> Result<T, Refusal> {
        self.api
            .call_as(&self.s, &self.v, &self.origin, Method::GET, uri, None)
            .await
    }

    /// A request to the API, as the viewer.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Result<Value, Refusal> {
        self.api
            .call(&self.s, &self.v, &self.origin, method, uri, body)
            .await
    }
}

/// A posted form with its session: the form's CSRF token checked before the handler runs
/// (403 `csrf_failed` otherwise).
#[derive(Debug)]
pub struct Posted {
    /// The page's desk.
    pub d: Desk,
    /// The form.
    pub form: super::page::Form,
}

impl axum::extract::FromRequest<AppState> for Posted {
    type Rejection = axum::response::Response;

    async fn from_request(
        req: axum::extract::Request,
        s: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let (mut parts, body) = req.into_parts();
        let d = Desk::from_request_parts(&mut parts, s).await?;
        let req = axum::extract::Request::from_parts(parts, body);
        let form = super::page::Form::from_request(req, s).await?;
        let form = d.v.check(form).map_err(IntoResponse::into_response)?;
        Ok(Posted { d, form })
    }
}
