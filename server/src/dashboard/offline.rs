//! The offline desk: an activation request a customer carried out, answered with the response
//! to carry back, and a deactivation receipt taken, with the signed-in key (so the request's
//! license must be of a product the key sees).

use crate::app::error::ErrorCode;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::desk::Desk;
use super::page::{self, CsrfFailed, Form, when};
use super::refused;
use super::templates::{self, Answered, GivenBack, Notice};
use crate::app::error::ApiError;
use crate::app::state::AppState;

/// The largest file or text the desk reads: a request is at most 1 KiB, a receipt 512 bytes;
/// armor and QR text make them a little longer.
const MAX_FIELD: usize = 16 * 1024;

/// A posted multipart form with its session, its CSRF token checked; the fields as text.
#[derive(Debug)]
pub struct Uploaded {
    d: Desk,
    form: Form,
}

impl FromRequest<AppState> for Uploaded {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let d = Desk::from_request_parts(&mut parts, s).await?;
        let mut m = Multipart::from_request(Request::from_parts(parts, body), s)
            .await
            .map_err(|e| page::failure(&crate::http::error::rejection(e)))?;
        let bad = |m: String| page::failure(&ApiError::bad_request(ErrorCode::InvalidRequest, m));
        let mut fields = Vec::new();
        while let Some(field) = m.next_field().await.map_err(|e| bad(e.to_string()))? {
            let name = field.name().unwrap_or("").to_owned();
            let bytes = field.bytes().await.map_err(|e| bad(e.to_string()))?;
            if bytes.len() > MAX_FIELD {
                return Err(page::failure(&ApiError::new(
                    ErrorCode::TooLarge,
                    format!("{name}: at most {MAX_FIELD} bytes"),
                )));
            }
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| bad(format!("{name}: not text (UTF-8)")))?;
            fields.push((name, text));
        }
        let form = d.v.check(Form(fields)).map_err(CsrfFailed::into_response)?;
        Ok(Uploaded { d, form })
    }
}

impl Uploaded {
    /// The artefact: the file if one was chosen, else the pasted text.
    fn artefact(&self) -> Option<String> {
        self.form
            .get("file")
            .or_else(|| self.form.get("text"))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    }
}

fn desk(
    d: &Desk,
    notice: Option<Notice>,
    answer: Option<Answered>,
    back: Option<GivenBack>,
) -> Response {
    let t = templates::Offline {
        chrome: d.v.chrome("offline"),
        notice,
        answer,
        given_back: back,
    };
    page::render(StatusCode::OK, &t)
}

fn nothing_given() -> Notice {
    Notice {
        kind: "error",
        text: "Choose a file or paste its text.".to_owned(),
    }
}

/// `GET /admin/offline`.
pub async fn page(d: Desk) -> Response {
    desk(&d, None, None, None)
}

/// `POST /admin/offline/activate`.
pub async fn activate(u: Uploaded) -> Response {
    let Some(request) = u.artefact() else {
        return desk(&u.d, Some(nothing_given()), None, None);
    };
    let now = u.d.s.clock.now();
    match crate::app::offline::activate(&u.d.s, Some(u.d.caller()), u.d.ip, &request).await {
        Ok(a) => {
            let answer = Answered {
                repeated: a.repeated,
                machine: a.machine_id,
                token: a.token_id,
                lease_until: when(a.lease_until, now),
                response_b64: base64::engine::general_purpose::STANDARD.encode(&a.response),
                response: a.response,
            };
            desk(&u.d, None, Some(answer), None)
        }
        Err(e) => desk(&u.d, Some(refused(&e.into())), None, None),
    }
}

/// `POST /admin/offline/deactivate`.
pub async fn deactivate(u: Uploaded) -> Response {
    let Some(receipt) = u.artefact() else {
        return desk(&u.d, Some(nothing_given()), None, None);
    };
    match crate::app::offline::deactivate(&u.d.s, Some(u.d.caller()), u.d.ip, &receipt).await {
        Ok(r) => {
            let back = GivenBack {
                machine: r.machine_id,
                token: r.token_id,
                sequence: r.revocation_sequence.to_string(),
            };
            desk(&u.d, None, None, Some(back))
        }
        Err(e) => desk(&u.d, Some(refused(&e.into())), None, None),
    }
}
