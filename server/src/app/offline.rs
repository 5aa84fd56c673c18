//! Offline seats: an activation request a machine without a network made, answered with the
//! response it carries back; the receipt it gives back when it leaves; and the response given
//! again. A vendor's key acts for the vendor (a product it sees); without one the request
//! speaks for itself, its license key in it.

use licet_api::offline::{OfflineActivated, OfflineDeactivated, decode, qr_text};
use licet_core::ids::LicenseId;
use licet_core::model::{Lease, Scope};
use licet_core::seats::SeatClaim;
use licet_verifier::offline::{
    ActivationRequest, LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE, TokenHolder, UnverifiedReceipt,
};
use licet_verifier::text::encode_armor;

use crate::activation::{self, Activation, device_key_of, usable_license};
use crate::app::access::load_machine;
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;
use crate::ids::hex;
use crate::net::ClientIp;
use crate::rules::Probe;

fn artefact_error(e: licet_verifier::Error) -> ApiError {
    ApiError::bad_request(ErrorCode::of_artefact(&e), format!("{e}"))
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::LicenseNotFound, "no license with this key")
}

/// Answers an activation request (armored, base64url or `LICET:` Base45): a seat taken and
/// the signed response the machine installs. A request answered before, whose machine still
/// holds its seat, gets the same response again (`repeated`).
pub async fn activate(
    s: &AppState,
    caller: Option<&Caller>,
    ip: ClientIp,
    request: &str,
) -> ApiResult<OfflineActivated> {
    if let Some(c) = caller {
        c.require(Scope::ReadWrite)?;
    }
    let bytes = decode(request.as_bytes(), LABEL_REQUEST)
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
    let (license, product, policy) = usable_license(s, &probe).await?;
    if let Some(c) = caller
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
        s,
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
            actor: caller.map_or_else(|| format!("license:{}", license.id), Caller::actor),
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
    Ok(OfflineActivated {
        response: encode_armor(&response, LABEL_RESPONSE),
        response_qr: qr_text(&response),
        token_id,
        lease_until: done.machine.lease_until.unwrap_or(now),
        machine_id: done.machine.id.to_string(),
        repeated: done.repeated,
    })
}

/// Takes a deactivation receipt: the machine's seat freed and its token on the revocation list.
pub async fn deactivate(
    s: &AppState,
    caller: Option<&Caller>,
    ip: ClientIp,
    receipt: &str,
) -> ApiResult<OfflineDeactivated> {
    if let Some(c) = caller {
        c.require(Scope::ReadWrite)?;
    }
    let bytes = decode(receipt.as_bytes(), LABEL_RECEIPT)
        .map_err(|m| ApiError::bad_request(ErrorCode::BadEncoding, m))?;
    let receipt = UnverifiedReceipt::decode(&bytes).map_err(artefact_error)?;
    let said = receipt.unverified();
    let license = s
        .store
        .license(&LicenseId::from(said.license_id))
        .await?
        .filter(|l| caller.is_none_or(|c| c.sees(&l.product_id)))
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
    let actor = caller.map_or_else(|| format!("license:{}", license.id), Caller::actor);
    let ip_text = if caller.is_some() { None } else { ip.text() };
    let released = activation::release(s, &license, &claim, ip_text, &actor, &|m| {
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
    Ok(OfflineDeactivated {
        deactivated: true,
        machine_id: released.id.into(),
        token_id,
        revocation_sequence: state.sequence,
    })
}

/// The response machine `machine_id` was activated offline with, as the file the customer
/// installs, for one who lost it. It is bound to that machine's fingerprint and device key, so
/// it works nowhere else; its lease ends when it did the first time. A file that would not
/// work (a revoked or suspended license, a lease that has ended) is not handed out as if it
/// would.
pub async fn answer_again(
    s: &AppState,
    caller: &Caller,
    machine_id: &str,
) -> ApiResult<OfflineActivated> {
    let (m, l) = load_machine(s, caller, machine_id).await?;
    let now = s.clock.now();
    match l.status_at(now) {
        licet_core::model::LicenseStatus::Revoked => {
            return Err(ApiError::forbidden_code(
                ErrorCode::Revoked,
                "the license was revoked",
            ));
        }
        licet_core::model::LicenseStatus::Suspended => {
            return Err(ApiError::forbidden_code(
                ErrorCode::Suspended,
                "the license is suspended",
            ));
        }
        _ => {}
    }
    if m.lease_until.is_some_and(|t| t <= now) {
        return Err(ApiError::conflict(
            ErrorCode::LeaseEnded,
            "this machine's offline lease has ended: answer a new activation request instead",
        ));
    }
    let response = m
        .response
        .as_deref()
        .and_then(|r| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(r)
                .ok()
        })
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NoOfflineResponse,
                "this machine was not activated offline: it has no response to download",
            )
        })?;
    Ok(OfflineActivated {
        response: encode_armor(&response, LABEL_RESPONSE),
        response_qr: qr_text(&response),
        token_id: m.token_id.clone(),
        lease_until: m.lease_until.unwrap_or(now),
        machine_id: m.id.to_string(),
        repeated: true,
    })
}
