//! Signed answers on the wire: the body as it was signed, with the signature in its header.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::tokens::{SIGNATURE_HEADER, SignedAnswer};

/// `answer` sent with `status`: the signed bytes unchanged, `content-type: application/json`
/// and `Licet-Signature`.
pub fn signed(status: StatusCode, answer: SignedAnswer) -> Response {
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&answer.signature) {
        resp.headers_mut().insert(SIGNATURE_HEADER, v);
    }
    resp
}
