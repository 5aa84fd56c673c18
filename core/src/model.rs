//! The licensing model: what the store keeps and the API shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::ids::{LicenseId, MachineId, PolicyId, ProductId};

/// A product: what licenses are for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Product {
    /// `prd_…`.
    pub id: ProductId,
    /// A small stable number for compatibility APIs that address products by integer.
    pub numeric_id: u64,
    /// The product identifier written into tokens (`acme-pro`); unique.
    pub code: String,
    /// Display name.
    pub name: String,
    /// License key format: `X` is a random character, anything else is kept
    /// (default `XXXX-XXXX-XXXX-XXXX`).
    pub key_format: String,
    /// Prefix of every license key of this product (may be empty).
    pub key_prefix: String,
    /// Policy that new licenses get unless they name another.
    pub default_policy_id: Option<PolicyId>,
    /// Longest lifetime of a token issued on activation or heartbeat, seconds.
    pub token_lifetime: u64,
    /// Description (LicenseCM).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether clients may use the product's licenses (LicenseCM's `is_active`).
    #[serde(default = "yes")]
    pub is_active: bool,
    /// The LicenseCM user who owns the product; `None`: the operator's (API keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// LicenseCM's `secret_key`, sealed with the server's storage key (never stored plain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_secret: Option<String>,
    /// Refuse clients that report a virtual machine (LicenseCM `client_data`).
    #[serde(default)]
    pub block_vm: bool,
    /// Refuse clients that report a debugger (LicenseCM `client_data`).
    #[serde(default)]
    pub block_debug: bool,
    /// Creation time.
    pub created_at: i64,
    /// The compatibility families the product answers through. Products stored before this
    /// setting existed answer everywhere, as they did.
    #[serde(default = "Families::all")]
    pub compat: Families,
}

/// Which compatibility families a product answers through: an explicit per-product setting, so
/// that a product is reachable by name or number only where its operator meant it to be.
/// licet's own `/v1` API always answers for every product.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Families {
    /// FaxStore's checks (`/api/check/…`), by numeric id.
    #[serde(default)]
    pub faxstore: bool,
    /// WemX's `packages`, by name.
    #[serde(default)]
    pub wemx: bool,
    /// The store Verify API, which answers the product's name.
    #[serde(default)]
    pub verify: bool,
    /// LicenseCM's client API.
    #[serde(default)]
    pub licensecm: bool,
}

impl Families {
    /// Every family: products stored before the setting existed.
    pub fn all() -> Families {
        Families {
            faxstore: true,
            wemx: true,
            verify: true,
            licensecm: true,
        }
    }

    /// A product made through `/v1` by an operator's key, unless the request says otherwise.
    pub fn operator_default() -> Families {
        Families {
            licensecm: false,
            ..Families::all()
        }
    }

    /// A product made by a LicenseCM user.
    pub fn licensecm_only() -> Families {
        Families {
            faxstore: false,
            wemx: false,
            verify: false,
            licensecm: true,
        }
    }

    /// Whether a family that addresses products by name (WemX, the Verify API) reaches the
    /// product: such products' names are unique among them.
    pub fn by_name(self) -> bool {
        self.wemx || self.verify
    }
}

/// How a license may be used.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Policy {
    /// `pol_…`.
    pub id: PolicyId,
    /// The product.
    pub product_id: ProductId,
    /// Display name.
    pub name: String,
    /// Floating (seats freed when heartbeats stop) rather than node-locked.
    pub floating: bool,
    /// Machines that may be active at once.
    pub max_machines: u32,
    /// License duration from creation or renewal, seconds; `None`: no expiry.
    pub duration: Option<u64>,
    /// Seconds between heartbeats a client should keep.
    pub heartbeat_interval: u64,
    /// Seconds after the last heartbeat at which a floating machine is dead.
    pub heartbeat_ttl: u64,
    /// Offline grace written into tokens, seconds.
    pub offline_grace: u64,
    /// Seconds after issue at which a client should refresh its token.
    pub refresh_after: u64,
    /// Entitlements every license of the policy has.
    pub entitlements: Vec<String>,
    /// Whether a machine must present the fingerprint it activated with.
    pub hwid_locked: bool,
    /// Creation time.
    pub created_at: i64,
    /// Activation without a device key is refused (`device_key_required`).
    #[serde(default)]
    pub require_device_key: bool,
    /// Seconds an offline activation's lease lasts: its token's lifetime and how long its seat
    /// is held without news [default (`None`): the product's token lifetime].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_lease: Option<u64>,
    /// Seconds an offline request may be old when it reaches the server.
    #[serde(default = "default_offline_window")]
    pub offline_window: u64,
    /// Longest borrow of a floating seat, seconds (0: borrowing is off).
    #[serde(default)]
    pub max_borrow: u64,
}

/// Seconds an offline activation request stays good for: a week, time to carry it out and
/// back.
pub const DEFAULT_OFFLINE_WINDOW: u64 = 7 * 86_400;

fn default_offline_window() -> u64 {
    DEFAULT_OFFLINE_WINDOW
}

/// License status as stored; `expired` is derived from the expiry when shown.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LicenseStatus {
    /// Usable.
    Active,
    /// Temporarily disabled; can be reinstated.
    Suspended,
    /// Permanently disabled; its tokens are on the revocation list.
    Revoked,
    /// Past its expiry (shown, never stored).
    Expired,
}

/// License kind.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Evaluation.
    Trial,
    /// Recurring.
    Subscription,
    /// Perpetual.
    Lifetime,
}

impl From<Kind> for licet_verifier::LicenseKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Trial => licet_verifier::LicenseKind::Trial,
            Kind::Subscription => licet_verifier::LicenseKind::Subscription,
            Kind::Lifetime => licet_verifier::LicenseKind::Lifetime,
        }
    }
}

/// A license.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct License {
    /// `lic_…`.
    pub id: LicenseId,
    /// The human-friendly key, the client's credential.
    pub key: String,
    /// The product.
    pub product_id: ProductId,
    /// The policy.
    pub policy_id: PolicyId,
    /// Stored status.
    pub status: LicenseStatus,
    /// Kind.
    pub kind: Kind,
    /// Expiry, unix seconds.
    pub expires_at: Option<i64>,
    /// Seats; overrides the policy's `max_machines`.
    pub seats: Option<u32>,
    /// Domains the license is bound to.
    pub domains: Vec<String>,
    /// Entitlements beyond the policy's.
    pub entitlements: Vec<String>,
    /// Free-form metadata (text, integer or boolean values).
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// The one IP address the license may be used from (FaxStore checks), if set.
    #[serde(default)]
    pub ip: Option<String>,
    /// The product's name when the license was issued (the Verify API reports this snapshot).
    #[serde(default)]
    pub product_name: Option<String>,
    /// The owner's own on/off switch (FaxStore's "active"): off answers `NOT ACTIVE` there.
    #[serde(default = "yes")]
    pub owner_active: bool,
    /// A small stable number (WemX's `license.id`), assigned at creation.
    #[serde(default)]
    pub numeric_id: u64,
    /// Further products this license also covers (a WemX license may cover several packages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_products: Vec<ProductId>,
    /// The customer who owns the license, if it was sold through an order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<u64>,
    /// The order the license was sold with; its due date is the license's expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<u64>,
    /// Whether the license is bound to the machine it was first activated on: then no other
    /// machine takes a seat, through any family (`rules::new_machine`). LicenseCM sets it per
    /// license; `None` is not bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hwid_locked: Option<bool>,
    /// When the expiry sweeper announced that the license expired (event, notification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_announced: Option<i64>,
    /// Data the licensee's installation reported (WemX's `data`), at most 4 KiB of JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

fn yes() -> bool {
    true
}

impl License {
    /// The status as of `now`: an active license past its expiry is `expired`.
    pub fn status_at(&self, now: i64) -> LicenseStatus {
        status_at(self.status, self.expires_at, now)
    }
}

fn status_at(stored: LicenseStatus, expires_at: Option<i64>, now: i64) -> LicenseStatus {
    match (stored, expires_at) {
        (LicenseStatus::Active, Some(exp)) if now >= exp => LicenseStatus::Expired,
        (s, _) => s,
    }
}

/// What a list of licenses shows of each (the dashboard's rows): a few fields a store can
/// keep apart from the whole license, so that a page of them reads no metadata, domains or
/// reported data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LicenseRow {
    /// `lic_…`.
    pub id: LicenseId,
    /// The license key.
    pub key: String,
    /// The product.
    pub product_id: ProductId,
    /// The policy.
    pub policy_id: PolicyId,
    /// Stored status.
    pub status: LicenseStatus,
    /// Expiry, unix seconds.
    pub expires_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
}

impl LicenseRow {
    /// The row of `l`.
    pub fn of(l: &License) -> LicenseRow {
        LicenseRow {
            id: l.id.clone(),
            key: l.key.clone(),
            product_id: l.product_id.clone(),
            policy_id: l.policy_id.clone(),
            status: l.status,
            expires_at: l.expires_at,
            created_at: l.created_at,
        }
    }

    /// The status as of `now`, as [`License::status_at`].
    pub fn status_at(&self, now: i64) -> LicenseStatus {
        status_at(self.status, self.expires_at, now)
    }
}

/// An activated machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    /// `mch_…`.
    pub id: MachineId,
    /// The license.
    pub license_id: LicenseId,
    /// The fingerprint the machine activated with.
    pub fingerprint: String,
    // The optional fields are left out of a stored record when empty: a machine is written on
    // every activation and heartbeat, and its record's size is disk per activation.
    /// Reported host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Reported platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Client IP at activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// First activation.
    pub first_seen: i64,
    /// Last activation, heartbeat or validation.
    pub last_seen: i64,
    /// Last heartbeat (or activation).
    pub last_heartbeat: i64,
    /// Id of the last token issued to the machine, hex. Tokens re-signed for the same grant (a
    /// check-in, an online activation of a machine that holds an online seat) keep it, so that
    /// one entry on a revocation list ends every one of them.
    pub token_id: String,
    /// When the current token (`token_id`) expires; `None` for machines recorded before this
    /// was kept, whose token is then taken to be unexpired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<i64>,
    /// Tokens the machine was given before its current one, under other ids, that had not
    /// expired when they were replaced (a lease's token replaced by an online activation or a
    /// renewal): freeing the seat revokes them with the current one ([`Machine::live_tokens`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_tokens: Vec<HeldToken>,
    /// A small stable number (WemX's domain `id`), assigned when the machine is first recorded.
    #[serde(default)]
    pub numeric_id: u64,
    /// For a domain (fingerprint `domain:<name>`): production or development.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_type: Option<DomainType>,
    /// For a domain: the protocol it is served with (`https://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The machine's fingerprint parts (hex), if it activated with them: its tokens bind them
    /// with a k-of-n rule, and a later request whose parts mostly match is the same machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<String>,
    /// The device public key (hex) the machine's tokens bind (`cnf`): its online requests must
    /// be signed with it, and only it can sign a deactivation receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    /// A seat held without heartbeats until this time (an offline activation's lease, or a
    /// borrow); then it is freed, and the token has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    /// What holds the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// The offline request (hex) the machine's current token answered, and that answer (the
    /// signed response, base64url): the same request again gets the same response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// See `request_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

/// A token a machine holds besides its current one (see [`Machine::held_tokens`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeldToken {
    /// Its id, hex.
    pub token_id: String,
    /// When it expires.
    pub expires_at: i64,
}

/// How many replaced, unexpired tokens a machine may hold (see [`Machine::held_tokens`]).
/// Each is revoked with the seat, so the number is bounded; a request that would replace
/// one more is refused (`too_many_tokens`) until some expire or the seat is given back.
pub const MAX_HELD_TOKENS: usize = 16;

/// Why a machine holds its seat without heartbeats.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Lease {
    /// Activated offline (a request carried out, a response carried back).
    Offline,
    /// A floating seat borrowed until a date.
    Borrowed,
}

impl Lease {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Lease::Offline => "offline",
            Lease::Borrowed => "borrowed",
        }
    }
}

impl Machine {
    /// A machine first seen at `now`, with nothing recorded about it yet.
    pub fn new(
        id: MachineId,
        license_id: &str,
        fingerprint: &str,
        numeric_id: u64,
        now: i64,
    ) -> Machine {
        Machine {
            id,
            license_id: LicenseId::from(license_id),
            fingerprint: fingerprint.to_owned(),
            hostname: None,
            platform: None,
            ip: None,
            first_seen: now,
            last_seen: now,
            last_heartbeat: now,
            token_id: String::new(),
            token_expires_at: None,
            held_tokens: Vec::new(),
            numeric_id,
            domain_type: None,
            protocol: None,
            parts: Vec::new(),
            device_key: None,
            lease_until: None,
            lease: None,
            request_id: None,
            response: None,
        }
    }
}

impl Machine {
    /// Whether the current token is unexpired at `now` (a token of unknown expiry is).
    fn current_live(&self, now: i64) -> bool {
        !self.token_id.is_empty() && self.token_expires_at.is_none_or(|e| e > now)
    }

    /// The current token's id while it is unexpired at `now`: what a check-in, which keeps the
    /// seat's terms, re-signs under.
    pub fn live_token_id(&self, now: i64) -> Option<&str> {
        self.current_live(now).then_some(self.token_id.as_str())
    }

    /// The id a token for the same grant as the machine's current one re-uses: the current
    /// id, when that token is an online one (no lease) and unexpired, and the new token is
    /// online too. A lease's token, a renewal or a token after a lapse gets an id of its own.
    pub fn reusable_token_id(&self, leased: bool, now: i64) -> Option<&str> {
        match !leased && self.lease_until.is_none() {
            true => self.live_token_id(now),
            false => None,
        }
    }

    /// Whether giving the machine a token with id `token_id` at `now` would hold one token
    /// too many ([`MAX_HELD_TOKENS`]).
    pub fn holds_too_many(&self, token_id: &str, now: i64) -> bool {
        let kept = self
            .held_tokens
            .iter()
            .filter(|t| t.expires_at > now)
            .count();
        let replaced = token_id != self.token_id && self.current_live(now);
        kept + usize::from(replaced) > MAX_HELD_TOKENS
    }

    /// Makes `token_id` (expiring at `expires_at`) the machine's current token at `now`: a
    /// replaced token that has not expired is held, and held tokens that have expired are
    /// forgotten.
    pub fn give_token(&mut self, token_id: String, expires_at: i64, now: i64) {
        if token_id != self.token_id && self.current_live(now) {
            self.held_tokens.push(HeldToken {
                token_id: std::mem::take(&mut self.token_id),
                expires_at: self.token_expires_at.unwrap_or(i64::MAX),
            });
        }
        self.held_tokens.retain(|t| t.expires_at > now);
        self.token_id = token_id;
        self.token_expires_at = Some(expires_at);
    }

    /// Every token the machine was given that has not expired at `now`, current and held:
    /// what freeing its seat must revoke.
    pub fn live_tokens(&self, now: i64) -> Vec<String> {
        let current = self.current_live(now).then(|| self.token_id.clone());
        current
            .into_iter()
            .chain(
                self.held_tokens
                    .iter()
                    .filter(|t| t.expires_at > now)
                    .map(|t| t.token_id.clone()),
            )
            .collect()
    }
}

/// How many of `n` fingerprint parts must match: a majority plus one (at most all).
pub fn parts_threshold(n: usize) -> usize {
    (n / 2 + 1).min(n)
}

/// Fingerprint prefix of a machine that stands for a domain (Verify API, WemX).
pub const DOMAIN_PREFIX: &str = "domain:";

/// What a licensed domain is used for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DomainType {
    /// The live site.
    Production,
    /// A local, test or staging site.
    Development,
}

impl DomainType {
    /// The type a domain gets when nobody said: development for `localhost`, IP addresses,
    /// the reserved test TLDs (`.test`, `.local`, `.localhost`, `.invalid`, `.example`) and
    /// `dev.` / `staging.` / `test.` subdomains; production otherwise.
    pub fn guess(domain: &str) -> DomainType {
        let dev_tld = [".test", ".local", ".localhost", ".invalid", ".example"]
            .iter()
            .any(|t| domain.ends_with(t));
        let dev_sub = ["dev.", "staging.", "test.", "local."]
            .iter()
            .any(|p| domain.starts_with(p));
        if domain == "localhost" || domain.parse::<std::net::IpAddr>().is_ok() || dev_tld || dev_sub
        {
            DomainType::Development
        } else {
            DomainType::Production
        }
    }

    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainType::Production => "production",
            DomainType::Development => "development",
        }
    }
}

/// How a price is charged (WemX's price types).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PriceKind {
    /// Paid once; the license does not fall due.
    Single,
    /// Paid every period; the license expires at the order's due date.
    Recurring,
    /// No charge.
    Free,
}

/// A price of a product ("package").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Price {
    /// Numeric id.
    pub id: u64,
    /// The product.
    pub product_id: ProductId,
    /// Display name (`Monthly`).
    pub name: String,
    /// How it is charged.
    pub kind: PriceKind,
    /// For recurring prices: days between due dates.
    pub period_days: Option<u32>,
    /// Amount in the smallest currency unit, for display.
    pub amount: u64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Creation time.
    pub created_at: i64,
}

/// A customer: someone licenses are sold to. The password is stored only as an argon2id hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Customer {
    /// Numeric id.
    pub id: u64,
    /// E-mail address, lower-case; unique.
    pub email: String,
    /// PHC string of the argon2id hash of the password.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub password_hash: String,
    /// Creation time.
    pub created_at: i64,
}

/// An order: a customer bought a product at a price, and got a license.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Order {
    /// Numeric id.
    pub id: u64,
    /// The customer.
    pub customer_id: u64,
    /// The product.
    pub product_id: ProductId,
    /// The price.
    pub price_id: u64,
    /// The license sold.
    pub license_id: LicenseId,
    /// When the next payment is due (recurring prices); also the license's expiry.
    pub due_date: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A file licensees of a product may download (WemX "downloads"), kept in the data
/// directory's `downloads/` folder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Download {
    /// Numeric id.
    pub id: u64,
    /// The product.
    pub product_id: ProductId,
    /// The name clients ask for (`resource_name`); unique per product.
    pub name: String,
    /// Path relative to the product's own folder, `downloads/<product id>/` (or, for downloads
    /// registered before products' files were kept apart, to `downloads/`).
    pub file: String,
    /// Whether `file` is in the product's own folder: every download registered since issue
    /// #12, so that no key can register a file another product uploaded.
    #[serde(default)]
    pub product_folder: bool,
    /// Size in bytes when registered.
    pub size: u64,
    /// SHA-256 of the content when registered, hex.
    pub sha256: String,
    /// Creation time.
    pub created_at: i64,
}

/// A download URL handed out: single use, expiring.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DownloadGrant {
    /// The download.
    pub download_id: u64,
    /// The license it was granted to.
    pub license_id: LicenseId,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// When it was used, if it was.
    pub used_at: Option<i64>,
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read only.
    ReadOnly,
    /// Read and write products, policies, licenses, machines.
    ReadWrite,
    /// Everything, including API keys.
    Admin,
}

/// A stored API key: only the hash of the secret is kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKey {
    /// `key_…`: also the public part of the key.
    pub id: String,
    /// Name.
    pub name: String,
    /// SHA-256 of the full key, hex.
    pub hash: String,
    /// Scope.
    pub scope: Scope,
    /// If set, the key works only for this product.
    pub product_id: Option<ProductId>,
    /// Requests per day the key may make (`None`: unlimited).
    pub daily_quota: Option<u64>,
    /// Creation time.
    pub created_at: i64,
    /// When the key was revoked.
    pub revoked_at: Option<i64>,
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    /// Position in the log.
    pub seq: u64,
    /// When.
    pub at: i64,
    /// Who: `key_…`, `license:<id>` or `server`.
    pub actor: String,
    /// What (`license.created`, `machine.activated`, …).
    pub action: String,
    /// The object acted on.
    pub subject: String,
    /// Client IP, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Details.
    pub detail: serde_json::Value,
    /// The product the event is about, when it is about one: what a product-limited key may
    /// see of the log. Entries written before it existed have none and are shown
    /// only to unrestricted keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
}

/// A LicenseCM user: owns products (and through them licenses, logs, webhooks, statistics and
/// notifications). The password is stored only as an argon2id hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// UUID.
    pub id: String,
    /// E-mail address, lower-case; unique.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// PHC string of the argon2id hash of the password.
    pub password_hash: String,
    /// `user` or `admin`.
    pub role: Role,
    /// A deactivated user cannot log in, and their tokens stop working.
    pub is_active: bool,
    /// Creation time.
    pub created_at: i64,
    /// Operator products (made through `/v1`, no owner) this admin may administer through
    /// LicenseCM: granted only by an unrestricted admin API key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted_products: Vec<ProductId>,
}

/// A LicenseCM user's role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees and changes their own data.
    User,
    /// Administers LicenseCM: every LicenseCM user's products, security tooling and user
    /// management, but operator products only when granted. Made by the operator, never by
    /// registering.
    Admin,
}

impl User {
    /// Whether the user may see and change product `p`: their own; for a LicenseCM admin, any
    /// LicenseCM user's, and an operator product (no owner) only when an unrestricted API key
    /// granted it. What every surface a user signs in to (LicenseCM's API, the dashboard)
    /// applies.
    pub fn reaches(&self, p: &Product) -> bool {
        let admin = self.role == Role::Admin;
        match p.owner_id.as_deref() {
            Some(owner) => owner == self.id || admin,
            None => admin && self.granted_products.contains(&p.id),
        }
    }
}

/// A client session (LicenseCM): opened by activation, kept alive by heartbeats. Only hashes
/// of its tokens are stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// UUID.
    pub id: String,
    /// SHA-256 of the current token, hex.
    pub token_hash: String,
    /// SHA-256 of the previous token, accepted until `previous_until`.
    pub previous_hash: Option<String>,
    /// End of the previous token's grace.
    pub previous_until: i64,
    /// The license.
    pub license_id: LicenseId,
    /// The machine's HWID.
    pub hwid: String,
    /// Client IP at the last contact.
    pub ip: Option<String>,
    /// Opened.
    pub created_at: i64,
    /// Last heartbeat.
    pub last_heartbeat: i64,
    /// Expiry (moves with each heartbeat).
    pub expires_at: i64,
    /// Ended by an admin, a deactivation or a revocation: when and why.
    pub ended_at: Option<i64>,
    /// Why it ended.
    pub end_reason: Option<String>,
}

impl Session {
    /// Ends the session at `now` for `reason`; false if it had ended already.
    pub fn end(&mut self, now: i64, reason: &str) -> bool {
        if self.ended_at.is_some() {
            return false;
        }
        self.ended_at = Some(now);
        self.end_reason = Some(reason.to_owned());
        true
    }
}

/// What a blacklist entry matches.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum BlacklistType {
    /// A client IP address.
    Ip,
    /// A hardware id.
    Hwid,
    /// A license key.
    License,
    /// A client fingerprint (`client_data.fingerprint`).
    Fingerprint,
}

/// Severity of a blacklist entry or security event.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational (events only).
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// A blacklist entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BlacklistEntry {
    /// UUID.
    pub id: String,
    /// What it matches.
    #[serde(rename = "type")]
    pub kind: BlacklistType,
    /// The value matched exactly (IP, HWID, key, fingerprint).
    pub value: String,
    /// Why.
    pub reason: String,
    /// Severity.
    pub severity: Severity,
    /// Switched off entries stay for the record.
    pub is_active: bool,
    /// Optional end, unix seconds.
    pub expires_at: Option<i64>,
    /// The user who created it.
    pub created_by: Option<String>,
    /// Creation time.
    pub created_at: i64,
}

impl BlacklistEntry {
    /// Whether the entry blocks at `now`.
    pub fn in_force(&self, now: i64) -> bool {
        self.is_active && self.expires_at.is_none_or(|e| now < e)
    }
}

/// A security event (LicenseCM): validations, activations, mismatches, detections, blocks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecurityEvent {
    /// Position in the event log.
    pub seq: u64,
    /// `license_validation`, `hwid_mismatch`, `replay_attack`, …
    pub event_type: String,
    /// Severity.
    pub severity: Severity,
    /// The license concerned.
    pub license_id: Option<LicenseId>,
    /// The product concerned.
    pub product_id: Option<ProductId>,
    /// Client IP.
    pub ip_address: Option<String>,
    /// HWID.
    pub hwid: Option<String>,
    /// Whether the request was refused.
    pub is_blocked: bool,
    /// Details.
    pub details: serde_json::Value,
    /// When.
    pub created_at: i64,
}

/// A webhook (LicenseCM): events of its owner's products are POSTed to `url`, signed with
/// HMAC-SHA256 keyed by the secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Webhook {
    /// UUID.
    pub id: String,
    /// The user whose events it receives (admins' webhooks receive every event).
    pub owner_id: String,
    /// Where deliveries go.
    pub url: String,
    /// Event names it subscribes to.
    pub events: Vec<String>,
    /// The signing secret, sealed with the server's storage key.
    pub sealed_secret: String,
    /// Whether it receives deliveries.
    pub is_active: bool,
    /// Creation time.
    pub created_at: i64,
    /// Made through licet's own API (`/v1/webhooks`) rather than LicenseCM's: it hears the
    /// events of [`Webhook::product_id`], and `owner_id` names the API key that made it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub api: bool,
    /// For an API webhook: the one product whose events it hears (a product-limited key's),
    /// or every product's when absent (an unrestricted key's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Queued: sent when due, retried with backoff.
    #[default]
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after the last attempt (or its webhook's secret was lost).
    Failed,
}

/// A webhook delivery: queued in the outbox, then kept in the delivery log once settled.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    /// Outbox key.
    pub id: u64,
    /// The webhook.
    pub webhook_id: String,
    /// The event name.
    pub event: String,
    /// The exact body to POST.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When to try next, unix seconds.
    pub next_attempt_at: i64,
    /// Last failure, for the record.
    pub last_error: Option<String>,
    /// Where it stands.
    #[serde(default)]
    pub state: DeliveryState,
    /// When it was queued (0 for deliveries queued before this was recorded).
    #[serde(default)]
    pub created_at: i64,
    /// When it was delivered or given up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<i64>,
    /// The receiver's last HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
}

/// A notification for a LicenseCM user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    /// UUID.
    pub id: String,
    /// The user.
    pub user_id: String,
    /// `license_expired`, `security_alert`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Title.
    pub title: String,
    /// Message.
    pub message: String,
    /// Whether the user marked it read.
    pub is_read: bool,
    /// Creation time.
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine::new("mch_1".into(), "lic_1", "fp", 1, 100)
    }

    #[test]
    fn a_replaced_token_is_held_until_it_expires() {
        let mut m = machine();
        m.give_token("a".into(), 1_000, 100);
        assert_eq!(m.live_tokens(100), ["a"]);
        // A lease's token replaced by an online one: both are live, both are revoked.
        m.give_token("b".into(), 500, 200);
        assert_eq!(m.live_tokens(200), ["b", "a"]);
        // The same id again (a check-in) holds nothing more.
        m.give_token("b".into(), 600, 300);
        assert_eq!(m.live_tokens(300), ["b", "a"]);
        // Expired ones are neither live nor kept once the machine is given another.
        assert_eq!(m.live_tokens(800), ["a"]);
        m.give_token("c".into(), 2_000, 1_100);
        assert_eq!(m.live_tokens(1_100), ["c"]);
        assert!(m.held_tokens.is_empty());
    }

    #[test]
    fn a_token_of_unknown_expiry_is_taken_to_be_live() {
        let mut m = machine();
        m.token_id = "old".into();
        assert_eq!(m.live_tokens(i64::MAX - 1), ["old"]);
        m.give_token("new".into(), 10, 5);
        assert_eq!(m.live_tokens(5), ["new", "old"]);
    }

    #[test]
    fn only_an_online_grant_is_re_signed_under_its_id() {
        let mut m = machine();
        assert_eq!(m.reusable_token_id(false, 100), None, "no token yet");
        m.give_token("a".into(), 1_000, 100);
        assert_eq!(m.reusable_token_id(false, 200), Some("a"));
        assert_eq!(
            m.reusable_token_id(true, 200),
            None,
            "a lease is a new grant"
        );
        assert_eq!(m.reusable_token_id(false, 1_000), None, "expired");
        m.lease_until = Some(900);
        assert_eq!(m.reusable_token_id(false, 200), None, "the seat is leased");
        assert_eq!(
            m.live_token_id(200),
            Some("a"),
            "a check-in keeps the lease's id"
        );
    }

    #[test]
    fn a_machine_holds_a_bounded_number_of_tokens() {
        let mut m = machine();
        for i in 0..=MAX_HELD_TOKENS {
            assert!(!m.holds_too_many(&format!("t{i}"), 100), "{i}");
            m.give_token(format!("t{i}"), 1_000, 100);
        }
        assert_eq!(m.held_tokens.len(), MAX_HELD_TOKENS);
        assert!(m.holds_too_many("next", 100));
        assert!(
            !m.holds_too_many(&m.token_id.clone(), 100),
            "the same id adds none"
        );
        assert!(!m.holds_too_many("next", 1_000), "all expired");
    }
}
