//! The offline desk's reads: the response a machine was activated offline with, given again.

use licet_api::offline::{OfflineActivated, qr_text};
use licet_verifier::offline::LABEL_RESPONSE;
use licet_verifier::text::encode_armor;

use crate::app::access::load_machine;
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;

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
        machine_id: m.id.clone(),
        repeated: true,
    })
}
