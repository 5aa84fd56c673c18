//! Air-gapped activation (`/v1/offline/*`): an activation request carried out of an offline
//! machine is answered with a signed response carried back; a deactivation receipt carried out
//! gives the seat back. The caller is an API key that sees the product, or nobody: then the
//! license key inside the (device-signed) request is the credential, as on the client API.

use crate::app::error::ErrorCode;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use licet_api::offline::{
    OfflineActivated, OfflineActivation, OfflineDeactivated, OfflineDeactivation, decode, qr_text,
};
use licet_core::model::Scope;
use licet_core::seats::SeatClaim;
use licet_verifier::offline::{
    ActivationRequest, LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE, TokenHolder, UnverifiedReceipt,
};
use licet_verifier::text::encode_armor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::activation::{self, Activation, device_key_of, usable_license};
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::http::auth::MaybeCaller;
use crate::http::extract::{Body, ClientIp};
use crate::ids::hex;
use crate::rules::Probe;
use licet_core::model::Lease;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(activate))
        .routes(routes!(answer_again))
        .routes(routes!(deactivate))
}

fn artefact_error(e: licet_verifier::Error) -> ApiError {
    ApiError::bad_request(ErrorCode::of_artefact(&e), format!("{e}"))
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::LicenseNotFound, "no license with this key")
}

#[utoipa::path(post, path = "/v1/offline/activations", tag = "offline", request_body = OfflineActivation, responses((status = 201, body = OfflineActivated), (status = 200, description = "the request was answered before: the same response", body = OfflineActivated), (status = 400, description = "bad_signature, malformed, wrong_type, request_expired", body = crate::http::error::ErrorBody), (status = 409, description = "too_many_machines, request_replayed", body = crate::http::error::ErrorBody)))]
async fn activate(
    State(s): State<AppState>,
    ip: ClientIp,
    MaybeCaller(caller): MaybeCaller,
    Body(b): Body<OfflineActivation>,
) -> ApiResult<Response> {
    if let Some(c) = &caller {
        c.require(Scope::ReadWrite)?;
    }
    let bytes = decode(b.request.as_bytes(), LABEL_REQUEST)
        .map_err(|m| ApiError::bad_request(ErrorCode::BadEncoding, m))?;
    let req = ActivationRequest::verify(&bytes).map_err(artefact_error)?;
    s.limits.check_license(req.license_key)?;
    // A vendor's key acts for the vendor; without one the request speaks for itself, from
    // wherever it was carried to (its address says nothing about the offline machine).
    let ip_text = if caller.is_some() { None } else { ip.text() };
    let probe = Probe {
        key: req.license_key,
        ip: ip_text.as_deref(),
        hwid: Some(req.fingerprint),
        ..Probe::default()
    };
    let (license, product, policy) = usable_license(&s, &probe).await?;
    if let Some(c) = &caller
        && !c.sees(&license.product_id)
    {
        return Err(not_found());
    }
    if req.product != product.code {
        return Err(ApiError::forbidden_code(
            ErrorCode::WrongProduct,
            "the request is for another product than its license",
        ));
    }
    let now = s.clock.now();
    req.check_age(now, policy.offline_window).map_err(|e| {
        let hint = match e {
            licet_verifier::Error::RequestExpired => format!(
                "the request is older than the policy's offline_window ({} s): make a new one",
                policy.offline_window
            ),
            _ => "the request is dated ahead of the server's clock".to_owned(),
        };
        ApiError::bad_request(ErrorCode::of_artefact(&e), hint)
    })?;
    let spent_until = req.spent_until(policy.offline_window);
    let lease =
        i64::try_from(policy.offline_lease.unwrap_or(product.token_lifetime)).unwrap_or(i64::MAX);
    // A request answered once and then given back (or lapsed) is spent: it cannot take a
    // seat again. The same request while its machine still holds the answer is a repeat,
    // answered again below.
    let id_hex = hex(&req.request_id);
    if s.store
        .challenge_spent(&req.request_id, spent_until)
        .await?
        && !s
            .store
            .machines(&license.id)
            .await?
            .iter()
            .any(|m| m.request_id.as_deref() == Some(id_hex.as_str()))
    {
        return Err(ApiError::conflict(
            ErrorCode::RequestReplayed,
            "this request was answered and its seat given back: make a new request",
        ));
    }
    let done = activation::activate(
        &s,
        &Activation {
            license: &license,
            product: &product,
            policy: &policy,
            fingerprint: req.fingerprint,
            parts: req.parts(),
            hostname: None,
            platform: None,
            ip: ip_text.clone(),
            device_key: Some(req.device_key),
            lease: Some((Lease::Offline, now.saturating_add(lease))),
            request_id: Some(req.request_id),
            actor: caller
                .as_ref()
                .map_or_else(|| format!("license:{}", license.id), Caller::actor),
        },
    )
    .await?;
    if !done.repeated {
        s.store
            .spend_challenge(&req.request_id, spent_until, now)
            .await?;
    }
    let response = done
        .response
        .ok_or_else(|| ApiError::internal("an offline activation without a response"))?;
    let token_id = done.machine.token_id.clone();
    let answer = OfflineActivated {
        response: encode_armor(&response, LABEL_RESPONSE),
        response_qr: qr_text(&response),
        token_id,
        lease_until: done.machine.lease_until.unwrap_or(now),
        machine_id: done.machine.id.clone(),
        repeated: done.repeated,
    };
    let status = if done.repeated {
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
    if let Some(c) = &caller {
        c.require(Scope::ReadWrite)?;
    }
    let bytes = decode(b.receipt.as_bytes(), LABEL_RECEIPT)
        .map_err(|m| ApiError::bad_request(ErrorCode::BadEncoding, m))?;
    let receipt = UnverifiedReceipt::decode(&bytes).map_err(artefact_error)?;
    let said = receipt.unverified();
    let license = s
        .store
        .license(said.license_id)
        .await?
        .filter(|l| caller.as_ref().is_none_or(|c| c.sees(&l.product_id)))
        .ok_or_else(not_found)?;
    let product = s
        .store
        .product(&license.product_id)
        .await?
        .ok_or_else(|| ApiError::internal("license without product"))?;
    if said.product != product.code {
        return Err(ApiError::forbidden_code(
            ErrorCode::WrongProduct,
            "the receipt names another product than its license's",
        ));
    }
    let token_id = hex(&said.token_id);
    let machines = s.store.machines(&license.id).await?;
    let machine = machines.into_iter().find(|m| m.token_id == token_id);
    let device = machine
        .as_ref()
        .and_then(|m| m.device_key.as_deref())
        .map(device_key_of)
        .transpose()?;
    let holder = match &machine {
        Some(_) => TokenHolder::Machine(device.as_ref()),
        None if s
            .store
            .revocation_state()
            .await?
            .token_ids
            .contains(&token_id) =>
        {
            TokenHolder::Revoked
        }
        None => TokenHolder::Replaced,
    };
    // The verifier owns the receipt's checks (docs/token-format.md); the codes map to statuses.
    receipt.check(holder).map_err(|e| {
        let message = match e {
            licet_verifier::Error::ReceiptReplayed => "this token was given back already",
            licet_verifier::Error::TokenNotCurrent => {
                "no machine of the license holds this token (a newer one replaced it)"
            }
            licet_verifier::Error::DeviceKeyRequired => {
                "the machine has no device key: give its seat back online"
            }
            _ => "the receipt is not signed by the machine's device key",
        };
        match e {
            licet_verifier::Error::ReceiptReplayed | licet_verifier::Error::TokenNotCurrent => {
                ApiError::conflict(ErrorCode::of_artefact(&e), message)
            }
            _ => ApiError::forbidden_code(ErrorCode::of_artefact(&e), format!("{message}: {e}")),
        }
    })?;
    let machine =
        machine.ok_or_else(|| ApiError::internal("a receipt checked without a machine"))?;
    let claim = SeatClaim {
        license_id: license.id.clone(),
        fingerprint: machine.fingerprint.clone(),
        parts: Vec::new(),
    };
    let actor = caller
        .as_ref()
        .map_or_else(|| format!("license:{}", license.id), Caller::actor);
    let ip_text = if caller.is_some() { None } else { ip.text() };
    let released = activation::release(&s, &license, &claim, ip_text, &actor, &|m| {
        if m.token_id == token_id {
            Ok(())
        } else {
            Err(ApiError::conflict(
                ErrorCode::TokenNotCurrent,
                "the machine's token changed meanwhile",
            ))
        }
    })
    .await?
    .ok_or_else(|| {
        ApiError::conflict(ErrorCode::TokenNotCurrent, "the machine changed meanwhile")
    })?;
    let state = s.store.revocation_state().await?;
    Ok((
        StatusCode::OK,
        axum::Json(OfflineDeactivated {
            deactivated: true,
            machine_id: released.id,
            token_id,
            revocation_sequence: state.sequence,
        }),
    )
        .into_response())
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
