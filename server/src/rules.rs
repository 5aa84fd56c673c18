//! The license rules every client path shares live in the core (`licet_core::rules`); this
//! module gives them the server's state and licet's own wire answer.

pub use licet_core::rules::{
    Admit, Admitted, Ask, Asked, Denial, Denied, Family, Probe, Refusal, Validation, Verdict,
    product,
};

use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use licet_api::error::ErrorCode;
use licet_core::model::Product;
use licet_core::store::ValidationFacts;

/// Whether the client may use the license of its key, by the rules every family shares
/// ([`licet_core::rules::admit`] at the server's time). Client routes answer for any license
/// a key names, so nothing is hidden from them.
pub async fn admit(s: &AppState, ask: &Admit<'_>) -> ApiResult<Result<Admitted, Denied>> {
    Ok(licet_core::rules::admit(&*s.store, s.clock.now(), ask, &|_| true).await?)
}

/// What [`admit_read`] needs read about a probe (the blacklist's matches and the license),
/// read once for a request judged against several products.
pub async fn admission_reads(s: &AppState, p: &Probe<'_>) -> ApiResult<ValidationFacts> {
    Ok(licet_core::rules::admission_reads(&*s.store, p).await?)
}

/// [`admit`] over what [`admission_reads`] read, for the product the caller holds
/// (`licet_core::rules::admit_read`).
pub fn admit_read(
    s: &AppState,
    read: &ValidationFacts,
    product: Option<&Product>,
    ask: &Admit<'_>,
) -> ApiResult<Result<(), Denied>> {
    // The product is the license's only when the license is of it.
    let product = product.filter(|p| read.license.as_ref().is_some_and(|l| l.product_id == p.id));
    Ok(licet_core::rules::admit_read(
        &read.blacklist,
        read.license.as_ref(),
        product,
        s.clock.now(),
        ask,
    )?)
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

impl From<Denial> for ApiError {
    /// licet's own API: a refusal is 403 with its code; a key that names no license (or none
    /// for the product asked) is 404.
    fn from(d: Denial) -> Self {
        match d {
            Denial::Refused(r) => r.into(),
            Denial::Blacklisted(e) => Refusal::Blacklisted(e).into(),
            Denial::NotFound | Denial::FamilyDisabled | Denial::ProductScopeMismatch(_) => {
                ApiError::new(ErrorCode::LicenseNotFound, "no license with this key")
            }
            _ => ApiError::forbidden_code(ErrorCode::Forbidden, "the license may not be used"),
        }
    }
}

impl From<Refusal> for crate::app::error::ApiError {
    /// licet's own API: 403 with the refusal's code. A blacklisted client is told only that
    /// access is denied.
    fn from(r: Refusal) -> Self {
        crate::app::error::ApiError::forbidden_code((&r).into(), message(&r))
    }
}
