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

/// How a handler answers: JSON for a client on the network, the typed value itself for a
/// caller in this process (the dashboard, whose requests carry [`Acting`]).
///
/// A page of the dashboard that lists fifty licenses spent a fifth of its time writing them
/// as JSON and reading that JSON back; handed over typed, neither happens, and the page still
/// goes through the handler, with its rules, filters and limits, that a client's request does.
///
/// [`Acting`]: crate::http::auth::Acting
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    in_process: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Reply {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Reply {
            in_process: parts
                .extensions
                .get::<crate::http::auth::Acting>()
                .is_some(),
        })
    }
}

impl Reply {
    /// The answer `value`, as this request's caller takes it.
    pub fn with<T: serde::Serialize + Send + Sync + 'static>(self, value: T) -> Answer<T> {
        Answer {
            value,
            in_process: self.in_process,
        }
    }
}

/// An answer of [`Reply::with`]: a `200` with `value` as JSON, or in the response's
/// extensions ([`Typed`]) with an empty body.
#[derive(Debug)]
pub struct Answer<T> {
    value: T,
    in_process: bool,
}

impl<T: serde::Serialize + Send + Sync + 'static> axum::response::IntoResponse for Answer<T> {
    fn into_response(self) -> axum::response::Response {
        if !self.in_process {
            return axum::Json(self.value).into_response();
        }
        let mut r = axum::response::Response::new(axum::body::Body::empty());
        let value: Box<dyn Erased> = Box::new(self.value);
        r.extensions_mut()
            .insert(Typed(std::sync::Arc::new(std::sync::Mutex::new(Some(
                value,
            )))));
        r
    }
}

/// A typed answer with its type erased: taken as what it is, or written as the JSON a client
/// would have had.
trait Erased: Send {
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
    fn type_id_of(&self) -> std::any::TypeId;
    fn to_json(&self) -> serde_json::Result<Vec<u8>>;
}

impl<T: serde::Serialize + Send + 'static> Erased for T {
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
    fn type_id_of(&self) -> std::any::TypeId {
        std::any::TypeId::of::<T>()
    }
    fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(self)
    }
}

/// A typed answer in a response's extensions, taken once by the in-process caller
/// ([`Typed::take`]). (Extensions must be `Clone`; the value itself need not be.)
#[derive(Clone)]
pub struct Typed(std::sync::Arc<std::sync::Mutex<Option<Box<dyn Erased>>>>);

impl std::fmt::Debug for Typed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Typed")
    }
}

impl Typed {
    /// The answer as a `T`: the value itself if it is one, else read from its JSON (a page
    /// reading an answer as a tree, or as a type of its own). `None` once taken.
    pub fn take<T: DeserializeOwned + 'static>(&self) -> Option<serde_json::Result<T>> {
        let value = self.0.lock().ok()?.take()?;
        if std::any::TypeId::of::<T>() == value.type_id_of() {
            return value.into_any().downcast::<T>().ok().map(|v| Ok(*v));
        }
        Some(value.to_json().and_then(|b| serde_json::from_slice(&b)))
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;
    use axum::response::IntoResponse;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Page {
        items: Vec<u32>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Other {
        items: Vec<u64>,
    }

    fn typed(r: &axum::response::Response) -> Typed {
        r.extensions()
            .get::<Typed>()
            .cloned()
            .expect("a typed answer")
    }

    #[test]
    fn an_in_process_caller_takes_the_value_itself_once() {
        let r = Reply { in_process: true }
            .with(Page { items: vec![1, 2] })
            .into_response();
        let t = typed(&r);
        assert_eq!(
            t.take::<Page>().expect("there").expect("reads"),
            Page { items: vec![1, 2] }
        );
        assert!(t.take::<Page>().is_none(), "taken twice");
    }

    #[test]
    fn another_type_reads_the_answer_from_its_json() {
        let r = Reply { in_process: true }
            .with(Page { items: vec![3] })
            .into_response();
        let t = typed(&r);
        assert_eq!(
            t.take::<Other>().expect("there").expect("reads"),
            Other { items: vec![3] }
        );
        let r = Reply { in_process: true }
            .with(Page { items: vec![4] })
            .into_response();
        assert_eq!(
            typed(&r)
                .take::<serde_json::Value>()
                .expect("there")
                .expect("reads"),
            serde_json::json!({ "items": [4] })
        );
    }

    #[tokio::test]
    async fn a_client_on_the_network_gets_json() {
        let r = Reply { in_process: false }
            .with(Page { items: vec![5] })
            .into_response();
        assert!(r.extensions().get::<Typed>().is_none());
        assert_eq!(
            r.headers()[axum::http::header::CONTENT_TYPE],
            "application/json"
        );
        let body = axum::body::to_bytes(r.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&body[..], br#"{"items":[5]}"#);
    }
}
