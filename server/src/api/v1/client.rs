//! The client API, where the license key is the credential: activate, borrow, heartbeat,
//! deactivate, validate (the operations are `app::client`'s). Answers a client may cache are
//! signed (`Licet-Signature`), carry the server time and echo the client's nonce; so are the
//! refusals ([`sign_refusals`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use licet_api::client::{MachineRequest, RefusalAnswer, ValidateRequest};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::caller::Caller;
use crate::app::client::{self, Asker, DeviceProof, MAX_NONCE};
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;
use crate::http::extract::{Body, ClientIp, Q, Signed};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(activate))
        .routes(routes!(borrow))
        .routes(routes!(heartbeat))
        .routes(routes!(deactivate))
        .routes(routes!(validate))
        .routes(routes!(validate_with_key))
}

/// Middleware for `/v1/client/*`: refusals are signed like answers (`Licet-Signature`, the
/// server time and the request's nonce in the body), so that a client acts on a refusal only
/// when it verifies; anyone else answering at the server's address is "unreachable", and can
/// no longer erase a license with an unsigned `revoked`.
///
/// `next` is the rest of the server, given the request with its body read.
pub async fn sign_refusals<F>(
    s: &AppState,
    req: axum::extract::Request,
    next: impl FnOnce(axum::extract::Request) -> F,
) -> Response
where
    F: std::future::Future<Output = Response>,
{
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, s.config.max_body_bytes).await else {
        return ApiError::new(
            ErrorCode::BodyTooLarge,
            "the body exceeds the server's limit",
        )
        .into_response_signed(s, None);
    };
    // The body is shared with the handler, not copied; its nonce is read only for a refusal.
    let resp = next(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes.clone()),
    ))
    .await;
    let status = resp.status();
    if status.is_success()
        || resp
            .headers()
            .contains_key(crate::app::tokens::SIGNATURE_HEADER)
    {
        return resp;
    }
    let nonce = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("nonce")?.as_str().map(str::to_owned))
        .filter(|n| n.len() <= MAX_NONCE);
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut v: Value = serde_json::from_slice(&body).unwrap_or_else(
        |_| json!({ "error": { "code": ErrorCode::Internal.as_str(), "message": "internal error" } }),
    );
    v["server_time"] = json!(s.clock.now());
    v["nonce"] = json!(nonce);
    let mut signed = crate::http::answer::signed(status, s.tokens.signed(&v));
    for name in [
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderName::from_static("x-request-id"),
    ] {
        if let Some(h) = parts.headers.get(&name) {
            signed.headers_mut().insert(name, h.clone());
        }
    }
    signed
}

impl ApiError {
    /// This error as a signed refusal of a client route.
    fn into_response_signed(self, s: &AppState, nonce: Option<String>) -> Response {
        let status = crate::http::error::status(&self);
        let v = RefusalAnswer {
            error: licet_api::error::ErrorDetail {
                code: self.code().as_str().to_owned(),
                message: self.message().to_owned(),
            },
            server_time: s.clock.now(),
            nonce,
        };
        crate::http::answer::signed(status, s.tokens.signed(&v))
    }
}

/// What a signed request proves about its device key.
fn proof(req: &Signed<MachineRequest>) -> DeviceProof<'_> {
    DeviceProof {
        path: &req.path,
        raw: &req.raw,
        signature: req.signature.as_deref(),
        signature_sent: req.signature_sent,
    }
}

/// An answer, signed.
fn signed<T: serde::Serialize>(s: &AppState, status: StatusCode, answer: &T) -> Response {
    crate::http::answer::signed(status, s.tokens.signed(answer))
}

#[utoipa::path(post, path = "/v1/client/activate", tag = "client", request_body = MachineRequest, responses((status = 201, description = "signed", body = licet_api::client::TokenAnswer), (status = 403, description = "revoked, suspended or expired", body = crate::http::error::ErrorBody), (status = 404, description = "license_not_found", body = crate::http::error::ErrorBody), (status = 409, description = "too_many_machines", body = crate::http::error::ErrorBody), (status = 429, description = "rate_limited", body = crate::http::error::ErrorBody)))]
async fn activate(
    State(s): State<AppState>,
    ip: ClientIp,
    req: Signed<MachineRequest>,
) -> ApiResult<Response> {
    let answer = client::activate(&s, ip, &req.body, &proof(&req)).await?;
    Ok(signed(&s, StatusCode::CREATED, &answer))
}

#[utoipa::path(post, path = "/v1/client/borrow", tag = "client", request_body = MachineRequest, responses((status = 201, description = "signed: a token valid until `until`, with no check-ins", body = licet_api::client::TokenAnswer), (status = 403, description = "borrow_not_allowed, borrow_too_long, device_key_mismatch", body = crate::http::error::ErrorBody), (status = 409, description = "too_many_machines", body = crate::http::error::ErrorBody)))]
async fn borrow(
    State(s): State<AppState>,
    ip: ClientIp,
    req: Signed<MachineRequest>,
) -> ApiResult<Response> {
    let answer = client::borrow(&s, ip, &req.body, &proof(&req)).await?;
    Ok(signed(&s, StatusCode::CREATED, &answer))
}

#[utoipa::path(post, path = "/v1/client/heartbeat", tag = "client", request_body = MachineRequest, responses((status = 200, description = "signed: a refreshed token", body = licet_api::client::TokenAnswer), (status = 404, description = "license_not_found, machine_not_found", body = crate::http::error::ErrorBody), (status = 410, description = "heartbeat_dead", body = crate::http::error::ErrorBody)))]
async fn heartbeat(
    State(s): State<AppState>,
    ip: ClientIp,
    req: Signed<MachineRequest>,
) -> ApiResult<Response> {
    let answer = client::heartbeat(&s, ip, &req.body, &proof(&req)).await?;
    Ok(signed(&s, StatusCode::OK, &answer))
}

#[utoipa::path(post, path = "/v1/client/deactivate", tag = "client", request_body = MachineRequest, responses((status = 200, description = "signed", body = licet_api::client::DeactivateAnswer), (status = 404, description = "license_not_found, machine_not_found", body = crate::http::error::ErrorBody)))]
async fn deactivate(
    State(s): State<AppState>,
    ip: ClientIp,
    req: Signed<MachineRequest>,
) -> ApiResult<Response> {
    let answer = client::deactivate(&s, ip, &req.body, &proof(&req)).await?;
    Ok(signed(&s, StatusCode::OK, &answer))
}

/// `POST /v1/client/validate`: the license key is the credential.
#[utoipa::path(post, path = "/v1/client/validate", tag = "client", request_body = ValidateRequest, responses((status = 200, description = "signed verdict", body = licet_api::client::ValidationAnswer)))]
async fn validate(
    State(s): State<AppState>,
    ip: ClientIp,
    Body(r): Body<ValidateRequest>,
) -> ApiResult<Response> {
    let answer = client::validate(&s, Asker::Client(ip), &r).await?;
    Ok(signed(&s, StatusCode::OK, &answer))
}

/// `GET /v1/licenses/validate?key=…`: License-API's validation with an API key or a JWT; a key
/// limited to one product sees only that product's licenses.
#[utoipa::path(get, path = "/v1/licenses/validate", tag = "licenses", params(ValidateRequest), responses((status = 200, description = "signed verdict", body = licet_api::client::ValidationAnswer), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub async fn validate_with_key(
    State(s): State<AppState>,
    caller: Caller,
    Q(r): Q<ValidateRequest>,
) -> ApiResult<Response> {
    let answer = client::validate(&s, Asker::Vendor(&caller), &r).await?;
    Ok(signed(&s, StatusCode::OK, &answer))
}
