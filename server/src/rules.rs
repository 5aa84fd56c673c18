//! The license rules every client path shares live in the core (`licet_core::rules`); this
//! module gives them the server's state and licet's own wire answer.

pub use licet_core::rules::{Ask, Probe, Refusal, Validation, Verdict, product, status};

use crate::http::error::ApiResult;
use crate::http::state::AppState;
use licet_core::model::BlacklistEntry;

/// The blacklist entry in force that matches the probe, if any
/// ([`licet_core::rules::blacklisted`] at the server's time).
pub async fn blacklisted(s: &AppState, p: &Probe<'_>) -> ApiResult<Option<BlacklistEntry>> {
    Ok(licet_core::rules::blacklisted(&*s.store, p, s.clock.now()).await?)
}

/// The message of licet's own API for a refusal.
pub fn message(r: &Refusal) -> &'static str {
    match r {
        Refusal::Blacklisted(_) => "access denied",
        Refusal::ProductInactive => "the product is not available",
        Refusal::Suspended => "the license is suspended",
        Refusal::Revoked => "the license was revoked",
        Refusal::Expired => "the license has expired",
        Refusal::OwnerInactive => "the license is not active",
        Refusal::HwidMismatch => "the license is bound to another machine",
        Refusal::VmBlocked => "this product does not run in virtual machines",
        Refusal::DebugBlocked => "this product does not run under a debugger",
        _ => "the license may not be used",
    }
}

/// The detail of licet's own API for a verdict.
pub fn detail(v: &Verdict) -> String {
    match v {
        Verdict::Valid => "the license is valid".into(),
        Verdict::Blacklisted(_) => "access denied".into(),
        Verdict::NotFound => "no license with this key".into(),
        Verdict::ProductScopeMismatch(p) => format!("the license is not for product {p:?}"),
        Verdict::Refused(r) => message(r).into(),
        Verdict::NoMachine => "this machine is not activated".into(),
        Verdict::HeartbeatDead => "the machine's heartbeat is overdue".into(),
        Verdict::EntitlementsMissing(missing) => format!("missing entitlements: {missing:?}"),
        _ => "the license may not be used".into(),
    }
}

impl From<Refusal> for crate::http::error::ApiError {
    /// licet's own API: 403 with the refusal's code. A blacklisted client is told only that
    /// access is denied.
    fn from(r: Refusal) -> Self {
        crate::http::error::ApiError::forbidden_code((&r).into(), message(&r))
    }
}
