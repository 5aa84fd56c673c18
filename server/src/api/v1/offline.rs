//! Air-gapped activation (`/v1/offline/*`): an activation request carried out of an offline
//! machine is answered with a signed response carried back; a deactivation receipt carried out
//! gives the seat back. The caller is an API key that sees the product, or nobody: then the
//! license key inside the (device-signed) request is the credential, as on the client API.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use licet_api::offline::{
    OfflineActivated, OfflineActivation, OfflineDeactivated, OfflineDeactivation,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::caller::Caller;
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::auth::MaybeCaller;
use crate::http::extract::{Body, ClientIp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(activate))
        .routes(routes!(answer_again))
        .routes(routes!(deactivate))
}

#[utoipa::path(post, path = "/v1/offline/activations", tag = "offline", request_body = OfflineActivation, responses((status = 201, body = OfflineActivated), (status = 200, description = "the request was answered before: the same response", body = OfflineActivated), (status = 400, description = "bad_signature, malformed, wrong_type, request_expired", body = crate::http::error::ErrorBody), (status = 409, description = "too_many_machines, request_replayed", body = crate::http::error::ErrorBody)))]
async fn activate(
    State(s): State<AppState>,
    ip: ClientIp,
    MaybeCaller(caller): MaybeCaller,
    Body(b): Body<OfflineActivation>,
) -> ApiResult<Response> {
    let answer = crate::app::offline::activate(&s, caller.as_ref(), ip, &b.request).await?;
    let status = if answer.repeated {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(answer)).into_response())
}

#[utoipa::path(post, path = "/v1/offline/deactivations", tag = "offline", request_body = OfflineDeactivation, responses((status = 200, body = OfflineDeactivated), (status = 403, description = "device_key_mismatch, bad_signature, device_key_required", body = crate::http::error::ErrorBody), (status = 409, description = "receipt_replayed, token_not_current", body = crate::http::error::ErrorBody)))]
async fn deactivate(
    State(s): State<AppState>,
    ip: ClientIp,
    MaybeCaller(caller): MaybeCaller,
    Body(b): Body<OfflineDeactivation>,
) -> ApiResult<Response> {
    let answer = crate::app::offline::deactivate(&s, caller.as_ref(), ip, &b.receipt).await?;
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

/// The response an offline machine was activated with, again: the license file a customer
/// installs, for one who lost it. It is bound to that machine's fingerprint and device key,
/// so it works nowhere else; its lease ends when it did the first time.
#[utoipa::path(get, path = "/v1/offline/activations/{machine_id}", tag = "offline",
    params(("machine_id" = String, Path, description = "the machine activated offline")),
    responses((status = 200, description = "the same answer as the activation's, `repeated: true`", body = OfflineActivated),
              (status = 403, description = "`revoked`, `suspended`: the license may not be used", body = crate::http::error::ErrorBody),
              (status = 404, description = "`not_found` (no such machine the key sees) or `no_offline_response` (the machine was not activated offline)", body = crate::http::error::ErrorBody),
              (status = 409, description = "`lease_ended`: the lease the response carries is over", body = crate::http::error::ErrorBody),
              crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn answer_again(
    State(s): State<AppState>,
    caller: Caller,
    Path(machine_id): Path<String>,
) -> ApiResult<axum::Json<OfflineActivated>> {
    Ok(axum::Json(
        crate::app::offline::answer_again(&s, &caller, &machine_id).await?,
    ))
}
