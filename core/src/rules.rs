//! One set of license rules for every client path: licet's own client API, FaxStore, WemX,
//! the Verify API and LicenseCM (issues #12 and #13).
//!
//! Each family used to decide for itself, so a machine LicenseCM refused as `HWID_MISMATCH` or
//! `BLACKLISTED` got a 30-day token from `/v1/client/activate`. The rules are decided here,
//! once: [`admit`] decides whether a client may use a license at all, in one documented order,
//! and [`validate`] adds the machine and entitlement checks of a validation. Each family maps
//! the typed [`Denial`] to its own wire shape and message, and where a family must differ to
//! stay compatible with its real clients the difference is a parameter ([`Asked`], [`Family`]),
//! not a second chain. A refusal in one family is a refusal in all of them, and when two rules
//! refuse at once every family names the same one.

use crate::model::{
    BlacklistEntry, BlacklistType, License, LicenseStatus, Machine, Policy, Product,
};
use crate::seats::SeatRule;
use crate::store::{Store, StoreError, StoreResult, ValidationFacts};

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
fn status(l: &License, now: i64) -> Result<(), Refusal> {
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

/// Which product a request is about, beside its key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Asked<'a> {
    /// The license's own product, whatever it is: licet's own activation, the Verify API and
    /// WemX (whose packages are matched to the license's products after admission).
    #[default]
    Own,
    /// The product the request names, by code or id: a license of another product is not for
    /// it. licet's validation with `product`, FaxStore's numbered checks and LicenseCM's
    /// `product_id`.
    Named(&'a str),
}

/// The API family a request came through. A product answers a compatibility family only
/// when its operator enabled it for that family ([`Product::compat`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Family {
    /// licet's own `/v1` API, which answers for every product.
    Native,
    /// FaxStore's checks.
    FaxStore,
    /// WemX. The license's own product must be enabled for it, as in every family; the
    /// packages a request names are then matched among the own and extra products that are.
    WemX,
    /// The store Verify API.
    Verify,
    /// LicenseCM's client API.
    LicenseCm,
}

impl Family {
    /// Whether `product` answers this family.
    fn answers(self, product: &Product) -> bool {
        match self {
            Family::Native => true,
            Family::FaxStore => product.compat.faxstore,
            Family::WemX => product.compat.wemx,
            Family::Verify => product.compat.verify,
            Family::LicenseCm => product.compat.licensecm,
        }
    }
}

/// What an admission asks.
#[derive(Debug, Clone, Copy)]
pub struct Admit<'a> {
    /// Who asks, with which key, and what the client reports about itself.
    pub probe: Probe<'a>,
    /// The product the request is about.
    pub asked: Asked<'a>,
    /// The family it came through.
    pub family: Family,
}

/// Why [`admit`] refused a client. The checks run in this order and the first that fails
/// decides:
///
/// 1. the blacklist (a blocked client learns nothing else);
/// 2. the license (unknown, or not the caller's to see);
/// 3. the product asked for (the license is for another);
/// 4. the family (the product does not answer it);
/// 5. the product's rules (switched off, a virtual machine, a debugger);
/// 6. the license's state (its owner inactive, suspended, revoked, expired).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Denial {
    /// A blacklist entry in force matches the request.
    Blacklisted(Box<BlacklistEntry>),
    /// No license with this key (or none the caller may see).
    NotFound,
    /// The license is for another product than the one asked for (the one asked, as asked).
    ProductScopeMismatch(String),
    /// The license's product is not enabled for the family asked through.
    FamilyDisabled,
    /// The product's rules or the license's state refuse it.
    Refused(Refusal),
}

impl Denial {
    /// The stable code of licet's own API (and of the overview's refusal counts).
    pub fn code(&self) -> &'static str {
        match self {
            Denial::Blacklisted(_) => "blacklisted",
            Denial::NotFound => "license_not_found",
            Denial::ProductScopeMismatch(_) => "product_scope_mismatch",
            Denial::FamilyDisabled => "family_disabled",
            Denial::Refused(r) => r.code(),
        }
    }
}

impl From<Denial> for Verdict {
    fn from(d: Denial) -> Self {
        match d {
            Denial::Blacklisted(e) => Verdict::Blacklisted(e),
            // licet's own API answers for every product; another family's switch tells a
            // validation no more than that the license is not there.
            Denial::NotFound | Denial::FamilyDisabled => Verdict::NotFound,
            Denial::ProductScopeMismatch(p) => Verdict::ProductScopeMismatch(p),
            Denial::Refused(r) => Verdict::Refused(r),
        }
    }
}

/// A license a client may use, with its product and policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Admitted {
    /// The license.
    pub license: License,
    /// Its product.
    pub product: Product,
    /// Its policy.
    pub policy: Policy,
}

/// Whether the client of `ask` may use the license of its key at `now`, by the rules every
/// family shares, in the order of [`Denial`]. Everything it reads is read at once (one round
/// trip on a database). A license `visible` refuses is not found.
pub async fn admit(
    store: &dyn Store,
    now: i64,
    ask: &Admit<'_>,
    visible: &(dyn Fn(&License) -> bool + Send + Sync),
) -> StoreResult<Result<Admitted, Denied>> {
    let facts = store
        .validation_facts(&probes(&ask.probe), ask.probe.key, None)
        .await?;
    Ok(admission(facts, now, ask, visible)?.map(|(a, _)| a))
}

/// A refusal of [`admit`], with the license it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Denied {
    /// Why.
    pub denial: Denial,
    /// The license, when the denial is about one the client may be told of (a product
    /// mismatch, the product's rules, the license's state); none for a blocked client, an
    /// unknown key or a family the product does not answer.
    pub license: Option<License>,
}

impl Denied {
    fn of(denial: Denial, license: Option<License>) -> Self {
        Denied { denial, license }
    }

    /// The product of the license it is about, if any (the overview counts refusals by it).
    pub fn product_id(&self) -> &str {
        self.license.as_ref().map_or("", |l| l.product_id.as_str())
    }
}

/// What [`admission`] found: the admitted license with the machine read beside it.
type Judged = Result<(Admitted, Option<Machine>), Denied>;

/// The rule itself, in the order of [`Denial`], over what was read: the blacklist entries
/// that match the probe, the license of the key and its product (`None` only when the license
/// is not the product asked for, or is unknown). A denial says whether it is about the license
/// (which the caller may then be told of).
fn judge(
    blacklist: &[BlacklistEntry],
    license: Option<&License>,
    product: Option<&Product>,
    now: i64,
    ask: &Admit<'_>,
    visible: &(dyn Fn(&License) -> bool + Send + Sync),
) -> StoreResult<Result<(), (Denial, bool)>> {
    if let Some(e) = blacklist.iter().find(|e| e.in_force(now)) {
        return Ok(Err((Denial::Blacklisted(Box::new(e.clone())), false)));
    }
    let Some(license) = license.filter(|l| visible(l)) else {
        return Ok(Err((Denial::NotFound, false)));
    };
    if let Asked::Named(p) = ask.asked
        && p != license.product_id
        && product.is_none_or(|pr| p != pr.code)
    {
        return Ok(Err((Denial::ProductScopeMismatch(p.to_owned()), true)));
    }
    let product = product.ok_or_else(|| StoreError::backend("license without product"))?;
    if !ask.family.answers(product) {
        // Told as "not found" wherever it is answered: not about this license.
        return Ok(Err((Denial::FamilyDisabled, false)));
    }
    if let Err(r) = self::product(product, &ask.probe).and_then(|()| status(license, now)) {
        return Ok(Err((Denial::Refused(r), true)));
    }
    Ok(Ok(()))
}

/// [`admit`] for a family that has read the blacklist's matches of the probe and the license
/// of its key itself, and holds the product it asks about: `product` is that product when it
/// is the license's (`None` otherwise, which the rule finds a mismatch). FaxStore's checks
/// judge several products against one read this way. No policy is read or needed.
pub fn admit_read(
    blacklist: &[BlacklistEntry],
    license: Option<&License>,
    product: Option<&Product>,
    now: i64,
    ask: &Admit<'_>,
) -> StoreResult<Result<(), Denied>> {
    Ok(judge(blacklist, license, product, now, ask, &|_| true)?
        .map_err(|(denial, about)| Denied::of(denial, license.filter(|_| about).cloned())))
}

/// What [`admit_read`] needs read about a probe: the blacklist entries that match it (in
/// force or not) and the license of its key; the product and policy are not read (the caller
/// holds the product it asks about).
pub async fn admission_reads(store: &dyn Store, probe: &Probe<'_>) -> StoreResult<ValidationFacts> {
    Ok(ValidationFacts {
        blacklist: store.blacklist_matches(&probes(probe)).await?,
        license: store.license_by_key(probe.key).await?,
        ..ValidationFacts::default()
    })
}

/// [`admit`] over facts already read.
fn admission(
    facts: ValidationFacts,
    now: i64,
    ask: &Admit<'_>,
    visible: &(dyn Fn(&License) -> bool + Send + Sync),
) -> StoreResult<Judged> {
    if let Err((denial, about)) = judge(
        &facts.blacklist,
        facts.license.as_ref(),
        facts.product.as_ref(),
        now,
        ask,
        visible,
    )? {
        return Ok(Err(Denied::of(denial, facts.license.filter(|_| about))));
    }
    let (Some(license), Some(product), Some(policy)) = (facts.license, facts.product, facts.policy)
    else {
        return Err(StoreError::backend("license without product or policy"));
    };
    Ok(Ok((
        Admitted {
            license,
            product,
            policy,
        },
        facts.machine,
    )))
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
    // Everything it reads, at once (one round trip on a database).
    let facts = store
        .validation_facts(&probes(&ask.probe), ask.probe.key, ask.fingerprint)
        .await?;
    let admit = Admit {
        probe: ask.probe,
        asked: ask.product.map_or(Asked::Own, Asked::Named),
        family: Family::Native,
    };
    let (admitted, machine) = match admission(facts, now, &admit, visible)? {
        Ok(admitted) => admitted,
        Err(Denied { denial, license }) => {
            return Ok(Validation {
                verdict: denial.into(),
                license,
            });
        }
    };
    let Admitted {
        license: l, policy, ..
    } = admitted;
    let about = |verdict: Verdict, license: &License| Validation {
        verdict,
        license: Some(license.clone()),
    };
    if ask.fingerprint.is_some() {
        match &machine {
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
