//! What a page works with: the signed-in viewer, whose API key every operation is judged and
//! audited as, and the client's address. Pages call the application layer's operations
//! (`crate::app`) with that caller, as the API's routes do, so a page can do nothing the key
//! could not do with curl, and every rule, limit and audit entry is the operation's own.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::app::caller::Caller;
use crate::app::error::ApiError;
use crate::app::state::AppState;

use super::session::Viewer;

/// A refusal of an operation, as a page shows it.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The HTTP status the API would answer.
    pub status: StatusCode,
    /// Its stable code.
    pub code: String,
    /// Its message.
    pub message: String,
}

impl From<ApiError> for Refusal {
    /// An operation's refusal, as the native API would answer it.
    fn from(e: ApiError) -> Refusal {
        Refusal {
            status: crate::http::error::status(&e),
            code: e.code().as_str().to_owned(),
            message: e.message().to_owned(),
        }
    }
}

/// What a page works with: the state, the signed-in viewer and where the request came from. A
/// request without a live session is sent to sign in.
#[derive(Debug, Clone)]
pub struct Desk {
    /// The server's state.
    pub s: AppState,
    /// The signed-in viewer.
    pub v: Viewer,
    /// The client's address, which the operations record as the API's routes do.
    pub ip: crate::net::ClientIp,
}

impl FromRequestParts<AppState> for Desk {
    type Rejection = axum::response::Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let v = Viewer::from_request_parts(parts, s).await?;
        let ip = crate::net::ClientIp::from_request_parts(parts, s)
            .await
            .map_err(axum::response::IntoResponse::into_response)?;
        Ok(Desk {
            s: s.clone(),
            v,
            ip,
        })
    }
}

impl Desk {
    /// The credential the viewer acts with.
    pub fn caller(&self) -> &Caller {
        &self.v.caller
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
