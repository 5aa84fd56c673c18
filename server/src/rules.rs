//! One set of license rules for every client path: licet's own client API, FaxStore, WemX,
//! the Verify API and LicenseCM (issue #12).
//!
//! Each family used to decide for itself, so a machine LicenseCM refused as `HWID_MISMATCH` or
//! `BLACKLISTED` got a 30-day token from `/v1/client/activate`. The rules are decided here,
//! once, as a typed [`Refusal`]; each family maps it to its own wire shape and message. A
//! refusal in one family is a refusal in all of them.

use crate::error::ApiResult;
use crate::model::{BlacklistEntry, BlacklistType, License, LicenseStatus, Product};
use crate::state::AppState;

/// Why a client may not use a license, whichever family it asked through.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Refusal {
    /// A blacklist entry in force matches the key, address, hardware id or fingerprint.
    Blacklisted(Box<BlacklistEntry>),
    /// The product is switched off (`is_active: false`).
    ProductInactive,
    /// The license is suspended.
    Suspended,
    /// The license is revoked.
    Revoked,
    /// The license is past its expiry.
    Expired,
    /// The license's owner (a shop customer) is inactive.
    OwnerInactive,
    /// The license is bound to the machine it was first activated on, and this is another.
    HwidMismatch,
    /// The client reports a virtual machine and the product refuses them.
    VmBlocked,
    /// The client reports a debugger and the product refuses them.
    DebugBlocked,
}

impl Refusal {
    /// The stable code of licet's own API.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Blacklisted(_) => "blacklisted",
            Refusal::ProductInactive => "product_inactive",
            Refusal::Suspended => "suspended",
            Refusal::Revoked => "revoked",
            Refusal::Expired => "expired",
            Refusal::OwnerInactive => "license_inactive",
            Refusal::HwidMismatch => "hwid_mismatch",
            Refusal::VmBlocked => "vm_blocked",
            Refusal::DebugBlocked => "debug_blocked",
        }
    }
}

/// What a client request says about who is asking.
#[derive(Debug, Clone, Copy, Default)]
pub struct Probe<'a> {
    /// The license key.
    pub key: &'a str,
    /// The client's address, canonical text.
    pub ip: Option<&'a str>,
    /// The machine's hardware id (licet's fingerprint, LicenseCM's `hwid`).
    pub hwid: Option<&'a str>,
    /// A device fingerprint the client reports (LicenseCM's `client_data.fingerprint`).
    pub fingerprint: Option<&'a str>,
    /// Virtual-machine indicators the client reports.
    pub vm: &'a [String],
    /// Debugger indicators the client reports.
    pub debug: &'a [String],
}

/// The blacklist entry in force that matches the probe, if any. Checked before anything about
/// the license is revealed, so a blocked client learns nothing about it.
pub async fn blacklisted(s: &AppState, p: &Probe<'_>) -> ApiResult<Option<BlacklistEntry>> {
    let mut probes = vec![(BlacklistType::License, p.key)];
    if let Some(ip) = p.ip {
        probes.push((BlacklistType::Ip, ip));
    }
    if let Some(h) = p.hwid.filter(|h| !h.is_empty()) {
        probes.push((BlacklistType::Hwid, h));
    }
    if let Some(f) = p.fingerprint.filter(|f| !f.is_empty()) {
        probes.push((BlacklistType::Fingerprint, f));
    }
    let now = s.clock.now();
    Ok(s.store
        .blacklist_matches(&probes)
        .await?
        .into_iter()
        .find(|e| e.in_force(now)))
}

/// The license's own state at `now`: usable, or why not.
pub fn status(l: &License, now: i64) -> Result<(), Refusal> {
    match l.status_at(now) {
        LicenseStatus::Active if !l.owner_active => Err(Refusal::OwnerInactive),
        LicenseStatus::Active => Ok(()),
        LicenseStatus::Suspended => Err(Refusal::Suspended),
        LicenseStatus::Revoked => Err(Refusal::Revoked),
        LicenseStatus::Expired => Err(Refusal::Expired),
    }
}

/// Whether the product admits this client: switched on, and not refusing what it reports.
pub fn product(product: &Product, p: &Probe<'_>) -> Result<(), Refusal> {
    if !product.is_active {
        return Err(Refusal::ProductInactive);
    }
    if product.block_vm && !p.vm.is_empty() {
        return Err(Refusal::VmBlocked);
    }
    if product.block_debug && !p.debug.is_empty() {
        return Err(Refusal::DebugBlocked);
    }
    Ok(())
}

impl From<Refusal> for crate::error::ApiError {
    /// licet's own API: 403 with the refusal's code. A blacklisted client is told only that
    /// access is denied.
    fn from(r: Refusal) -> Self {
        let message = match &r {
            Refusal::Blacklisted(_) => "access denied",
            Refusal::ProductInactive => "the product is not available",
            Refusal::Suspended => "the license is suspended",
            Refusal::Revoked => "the license was revoked",
            Refusal::Expired => "the license has expired",
            Refusal::OwnerInactive => "the license is not active",
            Refusal::HwidMismatch => "the license is bound to another machine",
            Refusal::VmBlocked => "this product does not run in virtual machines",
            Refusal::DebugBlocked => "this product does not run under a debugger",
        };
        crate::error::ApiError::forbidden_code(r.code(), message)
    }
}
