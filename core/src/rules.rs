//! One set of license rules for every client path: licet's own client API, FaxStore, WemX,
//! the Verify API and LicenseCM (issues #12 and #13).
//!
//! Each family used to decide for itself, so a machine LicenseCM refused as `HWID_MISMATCH` or
//! `BLACKLISTED` got a 30-day token from `/v1/client/activate`. The rules are decided here,
//! once, as a typed [`Refusal`] (and, for a validation, a [`Verdict`] in the documented order);
//! each family maps it to its own wire shape and message. A refusal in one family is a refusal
//! in all of them.

use crate::model::{BlacklistEntry, BlacklistType, License, LicenseStatus, Policy, Product};
use crate::seats::SeatRule;
use crate::store::{Store, StoreError, StoreResult};

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
pub async fn blacklisted(
    store: &dyn Store,
    p: &Probe<'_>,
    now: i64,
) -> StoreResult<Option<BlacklistEntry>> {
    Ok(store
        .blacklist_matches(&probes(p))
        .await?
        .into_iter()
        .find(|e| e.in_force(now)))
}

/// What of a request the blacklist is asked about.
fn probes<'a>(p: &Probe<'a>) -> Vec<(BlacklistType, &'a str)> {
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
    probes
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

/// What a validation asks about a license.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask<'a> {
    /// Who asks, and with which key.
    pub probe: Probe<'a>,
    /// The product (code or id) the license must be for.
    pub product: Option<&'a str>,
    /// The machine that must hold a live seat.
    pub fingerprint: Option<&'a str>,
    /// Entitlements the license must carry (its own or its policy's).
    pub entitlements: &'a [String],
}

/// A validation's outcome. The checks run in this order and the first that fails decides:
/// the blacklist, the license (unknown, or not the caller's to see), the product asked for,
/// the product's rules, the license's state, the machine's seat, the entitlements.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Verdict {
    /// Everything asked holds.
    Valid,
    /// A blacklist entry in force matches the request: nothing else is told.
    Blacklisted(Box<BlacklistEntry>),
    /// No license with this key (or none the caller may see).
    NotFound,
    /// The license is for another product than the one asked for (the one asked, as asked).
    ProductScopeMismatch(String),
    /// The product's rules or the license's state refuse it.
    Refused(Refusal),
    /// The machine asked about holds no seat.
    NoMachine,
    /// The machine's floating seat is past its heartbeat.
    HeartbeatDead,
    /// Entitlements asked for that the license does not carry.
    EntitlementsMissing(Vec<String>),
}

impl Verdict {
    /// The stable code of licet's own API.
    pub fn code(&self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Blacklisted(_) => "blacklisted",
            Verdict::NotFound => "not_found",
            Verdict::ProductScopeMismatch(_) => "product_scope_mismatch",
            Verdict::Refused(r) => r.code(),
            Verdict::NoMachine => "no_machine",
            Verdict::HeartbeatDead => "heartbeat_dead",
            Verdict::EntitlementsMissing(_) => "entitlements_missing",
        }
    }
}

/// A verdict and the license it is about (none when it was not found, or the caller was told
/// nothing about it).
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// The outcome.
    pub verdict: Verdict,
    /// The license, when the verdict is about one.
    pub license: Option<License>,
}

/// Validates `ask` at `now` against what `store` holds, in the order of [`Verdict`]. A
/// license `visible` refuses is not found. A read, never a write: a stale answer is possible
/// under concurrent changes, never a wrong write.
pub async fn validate(
    store: &dyn Store,
    now: i64,
    ask: &Ask<'_>,
    visible: &(dyn Fn(&License) -> bool + Send + Sync),
) -> StoreResult<Validation> {
    let about = |verdict: Verdict, license: &License| Validation {
        verdict,
        license: Some(license.clone()),
    };
    // Everything it reads, at once (one round trip on a database).
    let facts = store
        .validation_facts(&probes(&ask.probe), ask.probe.key, ask.fingerprint)
        .await?;
    if let Some(e) = facts.blacklist.into_iter().find(|e| e.in_force(now)) {
        return Ok(Validation {
            verdict: Verdict::Blacklisted(Box::new(e)),
            license: None,
        });
    }
    let Some(l) = facts.license.filter(|l| visible(l)) else {
        return Ok(Validation {
            verdict: Verdict::NotFound,
            license: None,
        });
    };
    let product = facts
        .product
        .ok_or_else(|| StoreError::backend("license without product"))?;
    if let Some(p) = ask.product
        && p != product.code
        && p != product.id
    {
        return Ok(about(Verdict::ProductScopeMismatch(p.to_owned()), &l));
    }
    if let Err(refused) = self::product(&product, &ask.probe).and_then(|()| status(&l, now)) {
        return Ok(about(Verdict::Refused(refused), &l));
    }
    let policy: Policy = facts
        .policy
        .ok_or_else(|| StoreError::backend("license without policy"))?;
    if ask.fingerprint.is_some() {
        match &facts.machine {
            None => return Ok(about(Verdict::NoMachine, &l)),
            Some(m) if !SeatRule::of(&l, &policy).alive(m, now) => {
                return Ok(about(Verdict::HeartbeatDead, &l));
            }
            Some(_) => {}
        }
    }
    let missing: Vec<String> = ask
        .entitlements
        .iter()
        .filter(|e| !policy.entitlements.contains(e) && !l.entitlements.contains(e))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Ok(about(Verdict::EntitlementsMissing(missing), &l));
    }
    Ok(about(Verdict::Valid, &l))
}
