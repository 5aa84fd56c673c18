//! The native API's answers about stored objects, defined apart from the records the store
//! keeps (`licet_core::model`): a stored field can be renamed, added or dropped without
//! changing what clients see, and an answer can change without a migration of the store. Each
//! body is made from its record; the OpenAPI document describes the bodies, under the names
//! it always gave them (`Product`, `License`, …).
//!
//! Products, policies, prices, downloads, licenses, machines, orders and audit entries have
//! theirs here; the server answers customers, API keys and webhooks through views of its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "core")]
use licet_core::model::{
    AuditEvent, Download, Families, License, LicenseRow, Machine, Order, Policy, Price, Product,
};

use crate::enums::{DomainType, Kind, LicenseStatus, PriceKind};

/// A product. Its signing secret (LicenseCM's) is never shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Product))]
pub struct ProductBody {
    /// `prd_…`.
    pub id: String,
    /// The number FaxStore and WemX name it by.
    pub numeric_id: u64,
    /// The code tokens carry.
    pub code: String,
    /// Its name.
    pub name: String,
    /// License keys: `X` a random character, anything else itself.
    pub key_format: String,
    /// Put before every key.
    pub key_prefix: String,
    /// The policy new licenses get.
    pub default_policy_id: Option<String>,
    /// Seconds a token lives.
    pub token_lifetime: u64,
    /// Its description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether it answers clients.
    pub is_active: bool,
    /// The LicenseCM user who owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Refuses clients that report a virtual machine.
    pub block_vm: bool,
    /// Refuses clients that report a debugger.
    pub block_debug: bool,
    /// When it was made.
    pub created_at: i64,
    /// The compatibility families it answers through.
    pub compat: FamiliesBody,
}

/// The compatibility families a product answers through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Families))]
pub struct FamiliesBody {
    /// FaxStore's checks.
    pub faxstore: bool,
    /// WemX's licensing service.
    pub wemx: bool,
    /// The store Verify API.
    pub verify: bool,
    /// LicenseCM's API.
    pub licensecm: bool,
}

#[cfg(feature = "core")]
impl From<&Families> for FamiliesBody {
    fn from(f: &Families) -> Self {
        FamiliesBody {
            faxstore: f.faxstore,
            wemx: f.wemx,
            verify: f.verify,
            licensecm: f.licensecm,
        }
    }
}

#[cfg(feature = "core")]
impl From<&Product> for ProductBody {
    fn from(p: &Product) -> Self {
        ProductBody {
            id: p.id.to_string(),
            numeric_id: p.numeric_id,
            code: p.code.clone(),
            name: p.name.clone(),
            key_format: p.key_format.clone(),
            key_prefix: p.key_prefix.clone(),
            default_policy_id: p.default_policy_id.clone().map(Into::into),
            token_lifetime: p.token_lifetime,
            description: p.description.clone(),
            is_active: p.is_active,
            owner_id: p.owner_id.clone(),
            block_vm: p.block_vm,
            block_debug: p.block_debug,
            created_at: p.created_at,
            compat: FamiliesBody::from(&p.compat),
        }
    }
}

/// A policy: how licenses may be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Policy))]
pub struct PolicyBody {
    /// `pol_…`.
    pub id: String,
    /// Its product.
    pub product_id: String,
    /// Its name.
    pub name: String,
    /// Seats are held only while heartbeats come.
    pub floating: bool,
    /// Machines a license may have (unless the license says otherwise).
    pub max_machines: u32,
    /// Seconds a new license lasts; none: forever.
    pub duration: Option<u64>,
    /// Seconds between heartbeats.
    pub heartbeat_interval: u64,
    /// Seconds a heartbeat may be overdue before the seat is lost.
    pub heartbeat_ttl: u64,
    /// Seconds a token works offline past its refresh time.
    pub offline_grace: u64,
    /// Seconds after which a client should refresh its token.
    pub refresh_after: u64,
    /// Entitlements every license gets.
    pub entitlements: Vec<String>,
    /// Licenses bound to their first machine.
    pub hwid_locked: bool,
    /// When it was made.
    pub created_at: i64,
    /// Activation without a device key is refused.
    #[serde(default)]
    pub require_device_key: bool,
    /// Seconds an offline activation's lease lasts; none: the product's token lifetime.
    #[serde(default)]
    pub offline_lease: Option<u64>,
    /// Seconds an offline request may be old when it reaches the server.
    #[serde(default)]
    pub offline_window: u64,
    /// Longest borrow of a floating seat, seconds (0: off).
    #[serde(default)]
    pub max_borrow: u64,
}

#[cfg(feature = "core")]
impl From<&Policy> for PolicyBody {
    fn from(p: &Policy) -> Self {
        PolicyBody {
            id: p.id.to_string(),
            product_id: p.product_id.to_string(),
            name: p.name.clone(),
            floating: p.floating,
            max_machines: p.max_machines,
            duration: p.duration,
            heartbeat_interval: p.heartbeat_interval,
            heartbeat_ttl: p.heartbeat_ttl,
            offline_grace: p.offline_grace,
            refresh_after: p.refresh_after,
            entitlements: p.entitlements.clone(),
            hwid_locked: p.hwid_locked,
            created_at: p.created_at,
            require_device_key: p.require_device_key,
            offline_lease: p.offline_lease,
            offline_window: p.offline_window,
            max_borrow: p.max_borrow,
        }
    }
}

/// A price of a product (WemX's `price_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Price))]
pub struct PriceBody {
    /// Its number.
    pub id: u64,
    /// Its product.
    pub product_id: String,
    /// Its name.
    pub name: String,
    /// Single, recurring or free.
    pub kind: PriceKind,
    /// Days a recurring period lasts.
    pub period_days: Option<u32>,
    /// In the currency's smallest unit.
    pub amount: u64,
    /// ISO 4217.
    pub currency: String,
    /// When it was made.
    pub created_at: i64,
}

#[cfg(feature = "core")]
impl From<&Price> for PriceBody {
    fn from(p: &Price) -> Self {
        PriceBody {
            id: p.id,
            product_id: p.product_id.to_string(),
            name: p.name.clone(),
            kind: p.kind.into(),
            period_days: p.period_days,
            amount: p.amount,
            currency: p.currency.clone(),
            created_at: p.created_at,
        }
    }
}

/// A file licensees may download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Download))]
pub struct DownloadBody {
    /// Its number.
    pub id: u64,
    /// Its product.
    pub product_id: String,
    /// The name clients ask for.
    pub name: String,
    /// The file, relative to the downloads folder (or the product's).
    pub file: String,
    /// Whether the file is in the product's own folder.
    pub product_folder: bool,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// When it was registered.
    pub created_at: i64,
}

#[cfg(feature = "core")]
impl From<&Download> for DownloadBody {
    fn from(d: &Download) -> Self {
        DownloadBody {
            id: d.id,
            product_id: d.product_id.to_string(),
            name: d.name.clone(),
            file: d.file.clone(),
            product_folder: d.product_folder,
            size: d.size,
            sha256: d.sha256.clone(),
            created_at: d.created_at,
        }
    }
}

/// A license, its status as of the answer (`expired` once past its expiry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = License))]
pub struct LicenseBody {
    /// `lic_…`.
    pub id: String,
    /// The license key.
    pub key: String,
    /// Its product.
    pub product_id: String,
    /// Its policy.
    pub policy_id: String,
    /// Its status now.
    pub status: LicenseStatus,
    /// Trial, subscription or lifetime.
    pub kind: Kind,
    /// When it expires; none: never.
    pub expires_at: Option<i64>,
    /// Machines it may have (else its policy's).
    pub seats: Option<u32>,
    /// Domains its tokens name.
    pub domains: Vec<String>,
    /// Its own entitlements.
    pub entitlements: Vec<String>,
    /// The vendor's data.
    pub metadata: BTreeMap<String, Value>,
    /// The one address it may be used from (FaxStore).
    pub ip: Option<String>,
    /// The product name FaxStore shows.
    pub product_name: Option<String>,
    /// Whether its owner (a shop customer) is active.
    pub owner_active: bool,
    /// Its number.
    pub numeric_id: u64,
    /// Further products it covers (WemX packages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_products: Vec<String>,
    /// The shop customer it was sold to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<u64>,
    /// The order it was sold with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<u64>,
    /// Bound to its first machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hwid_locked: Option<bool>,
    /// When its current expiry was announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_announced: Option<i64>,
    /// WemX's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// When it was made.
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

/// A page of licenses (`GET /v1/licenses`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicensePage {
    /// The licenses, in id order.
    pub items: Vec<LicenseBody>,
    /// The cursor of the next page (`after`), if there is one.
    pub next: Option<String>,
}

/// A license as a list shows it (`GET /v1/licenses?summary=true`): what tells licenses apart
/// at a glance, without their metadata, domains, entitlements or reported data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = LicenseSummary))]
pub struct LicenseSummaryBody {
    /// `lic_…`.
    pub id: String,
    /// The license key.
    pub key: String,
    /// Its product.
    pub product_id: String,
    /// Its policy.
    pub policy_id: String,
    /// Its status now.
    pub status: LicenseStatus,
    /// When it expires; none: never.
    pub expires_at: Option<i64>,
    /// When it was made.
    pub created_at: i64,
}

/// A page of license summaries (`GET /v1/licenses?summary=true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseSummaryPage {
    /// The licenses, in id order.
    pub items: Vec<LicenseSummaryBody>,
    /// The cursor of the next page (`after`), if there is one.
    pub next: Option<String>,
}

#[cfg(feature = "core")]
impl LicenseSummaryBody {
    /// The summary of a license with row `r`, at `now`.
    pub fn of(r: LicenseRow, now: i64) -> LicenseSummaryBody {
        LicenseSummaryBody {
            status: r.status_at(now).into(),
            id: r.id.into(),
            key: r.key,
            product_id: r.product_id.into(),
            policy_id: r.policy_id.into(),
            expires_at: r.expires_at,
            created_at: r.created_at,
        }
    }
}

#[cfg(feature = "core")]
impl LicenseBody {
    /// The body of `l` at `now`.
    pub fn of(l: &License, now: i64) -> LicenseBody {
        LicenseBody::owned(l.clone(), now)
    }

    /// [`LicenseBody::of`] a license the caller no longer needs (nothing is copied).
    pub fn owned(l: License, now: i64) -> LicenseBody {
        LicenseBody {
            status: l.status_at(now).into(),
            id: l.id.into(),
            key: l.key,
            product_id: l.product_id.into(),
            policy_id: l.policy_id.into(),
            kind: l.kind.into(),
            expires_at: l.expires_at,
            seats: l.seats,
            domains: l.domains,
            entitlements: l.entitlements,
            metadata: l.metadata,
            ip: l.ip,
            product_name: l.product_name,
            owner_active: l.owner_active,
            numeric_id: l.numeric_id,
            extra_products: l.extra_products.into_iter().map(Into::into).collect(),
            customer_id: l.customer_id,
            order_id: l.order_id,
            hwid_locked: l.hwid_locked,
            expiry_announced: l.expiry_announced,
            data: l.data,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

/// A machine (or a domain or address) holding a seat of a license.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Machine))]
pub struct MachineBody {
    /// `mch_…`.
    pub id: String,
    /// Its license.
    pub license_id: String,
    /// Its fingerprint (`domain:…` and `ip:…` for environments).
    pub fingerprint: String,
    /// Its host name, as it said.
    pub hostname: Option<String>,
    /// Its platform, as it said.
    pub platform: Option<String>,
    /// The address it last came from.
    pub ip: Option<String>,
    /// When it took its seat.
    pub first_seen: i64,
    /// When it was last seen.
    pub last_seen: i64,
    /// Its last heartbeat.
    pub last_heartbeat: i64,
    /// The id of its current token.
    pub token_id: String,
    /// Its number.
    pub numeric_id: u64,
    /// Production or development (domains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_type: Option<DomainType>,
    /// The protocol a domain was installed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Its fingerprint's parts, hex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<String>,
    /// The device key its token binds (hex), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    /// How the seat is held without heartbeats: `offline` (activated offline) or `borrowed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
    /// When that lease ends and the seat comes back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
}

#[cfg(feature = "core")]
impl From<&Machine> for MachineBody {
    fn from(m: &Machine) -> Self {
        MachineBody {
            id: m.id.to_string(),
            license_id: m.license_id.to_string(),
            fingerprint: m.fingerprint.clone(),
            hostname: m.hostname.clone(),
            platform: m.platform.clone(),
            ip: m.ip.clone(),
            first_seen: m.first_seen,
            last_seen: m.last_seen,
            last_heartbeat: m.last_heartbeat,
            token_id: m.token_id.clone(),
            numeric_id: m.numeric_id,
            domain_type: m.domain_type.map(Into::into),
            protocol: m.protocol.clone(),
            parts: m.parts.clone(),
            device_key: m.device_key.clone(),
            lease: m.lease.map(|l| l.as_str().to_owned()),
            lease_until: m.lease.and(m.lease_until),
        }
    }
}

/// A shop order (WemX's private API sells licenses with them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Order))]
pub struct OrderBody {
    /// Its number.
    pub id: u64,
    /// The customer.
    pub customer_id: u64,
    /// The product sold.
    pub product_id: String,
    /// The price it was sold at.
    pub price_id: u64,
    /// The license sold.
    pub license_id: String,
    /// When a recurring order is due (the license's expiry).
    pub due_date: Option<i64>,
    /// When it was placed.
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

#[cfg(feature = "core")]
impl From<&Order> for OrderBody {
    fn from(o: &Order) -> Self {
        OrderBody {
            id: o.id,
            customer_id: o.customer_id,
            product_id: o.product_id.to_string(),
            price_id: o.price_id,
            license_id: o.license_id.to_string(),
            due_date: o.due_date,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// The prices of a product (`GET /v1/products/{id}/prices`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceList {
    /// Every price of the product, in id order.
    pub items: Vec<PriceBody>,
}

/// Downloads (`GET /v1/downloads`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DownloadList {
    /// Every download the caller sees, of the product asked for if one was.
    pub items: Vec<DownloadBody>,
}

/// A shop customer as the API shows it: never the password's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Customer))]
pub struct CustomerBody {
    /// Its number.
    pub id: u64,
    /// Its e-mail address, lower-case.
    pub email: String,
    /// When it was made.
    pub created_at: i64,
}

#[cfg(feature = "core")]
impl From<&licet_core::model::Customer> for CustomerBody {
    fn from(c: &licet_core::model::Customer) -> Self {
        CustomerBody {
            id: c.id,
            email: c.email.clone(),
            created_at: c.created_at,
        }
    }
}

/// A page of customers (`GET /v1/customers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerPage {
    /// The customers, in id order.
    pub items: Vec<CustomerBody>,
    /// The cursor of the next page (`after`), if there is one.
    pub next: Option<String>,
}

/// A customer with its orders (`GET /v1/customers/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerOrders {
    /// The customer.
    #[serde(flatten)]
    pub customer: CustomerBody,
    /// Its orders, each with the key of the license it bought.
    pub orders: Vec<CustomerOrder>,
}

/// An order of a customer, with its license's key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerOrder {
    /// The order.
    #[serde(flatten)]
    pub order: OrderBody,
    /// The key of its license; none if the license was deleted.
    pub license_key: Option<String>,
}

/// A customer's new password (`POST /v1/customers/{id}/password`), shown only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPasswordBody {
    /// The customer's number.
    pub id: u64,
    /// Its e-mail address.
    pub email: String,
    /// The new password.
    pub password: String,
}

/// An entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = AuditEvent))]
pub struct AuditEntryBody {
    /// Its place in the log (the cursor of the next page).
    pub seq: u64,
    /// When.
    pub at: i64,
    /// Who: an API key's id, `license:<id>`, `server`, or a user.
    pub actor: String,
    /// What (`license.suspended`, `machine.activated`, …).
    pub action: String,
    /// The object it is about.
    pub subject: String,
    /// The caller's address.
    pub ip: Option<String>,
    /// What else the entry records.
    pub detail: Value,
    /// The product it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
}

#[cfg(feature = "core")]
impl From<&AuditEvent> for AuditEntryBody {
    fn from(e: &AuditEvent) -> Self {
        AuditEntryBody {
            seq: e.seq,
            at: e.at,
            actor: e.actor.clone(),
            action: e.action.clone(),
            subject: e.subject.clone(),
            ip: e.ip.clone(),
            detail: e.detail.clone(),
            product_id: e.product_id.clone().map(Into::into),
        }
    }
}

/// Bodies of records, for lists.
pub fn all<'a, R: 'a, B: From<&'a R>>(records: &'a [R]) -> Vec<B> {
    records.iter().map(B::from).collect()
}

/// The current revocation list (`GET /v1/revocations`): its header fields, and the signed list
/// itself, base64url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevocationListBody {
    /// Its sequence number: a newer list has a higher one.
    pub sequence: u64,
    /// When it was signed.
    pub issued_at: i64,
    /// When a fresher one is due.
    pub next_update: i64,
    /// Token ids it names.
    pub revoked_tokens: usize,
    /// License ids it names.
    pub revoked_licenses: usize,
    /// The signed list (CBOR), base64url.
    pub list: String,
}

/// The token key after a rotation (`POST /v1/keys/rotate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyRotated {
    /// The new generation's number.
    pub generation: u32,
    /// The new key's id.
    pub kid: String,
    /// The key it replaced, which verifies what it signed until `valid_until`.
    pub previous: Option<RetiringKey>,
}

/// A key that verifies until a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetiringKey {
    /// Its key id.
    pub kid: String,
    /// When it stops verifying.
    pub valid_until: Option<i64>,
}

/// An API key as the API shows it: never its secret, which only the answer that made it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyBody {
    /// `key_…`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it may do.
    pub scope: crate::enums::Scope,
    /// The one product it is limited to, if any.
    pub product_id: Option<String>,
    /// Requests a day it may make, if limited.
    pub daily_quota: Option<u64>,
    /// When it was made.
    pub created_at: i64,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

#[cfg(feature = "core")]
impl From<&licet_core::model::ApiKey> for ApiKeyBody {
    fn from(k: &licet_core::model::ApiKey) -> Self {
        ApiKeyBody {
            id: k.id.clone(),
            name: k.name.clone(),
            scope: k.scope.into(),
            product_id: k.product_id.clone().map(Into::into),
            daily_quota: k.daily_quota,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new API key (`POST /v1/api-keys`, `POST /v1/api-keys/{id}/rotate`): its record and the
/// full key, shown only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewApiKeyBody {
    /// The key's record.
    #[serde(flatten)]
    pub record: ApiKeyBody,
    /// The full key: `lk_…`.
    pub key: String,
}

/// An API key's requests (`GET /v1/api-keys/{id}/usage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyUsage {
    /// The key.
    pub id: String,
    /// Requests a day it may make, if limited.
    pub daily_quota: Option<u64>,
    /// Requests over the days kept.
    pub total: u64,
    /// Requests by UTC day.
    pub days: Vec<DayUsage>,
}

/// One day's requests of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayUsage {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: Option<String>,
    /// Its requests.
    pub requests: u64,
}

/// The root secret after a rotation (`POST /v1/keys/rotate-root`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RootRotated {
    /// The new version.
    pub version: u32,
    /// Stored secrets sealed again under it.
    pub resealed: usize,
}

/// One of licet's own webhooks (`/v1/webhooks`): never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookBody {
    /// `whk_…`.
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The events it hears.
    pub events: Vec<String>,
    /// Whether it receives deliveries.
    pub active: bool,
    /// The one product whose events it hears; none: every product's.
    pub product_id: Option<String>,
    /// The key that made it.
    pub created_by: String,
    /// When it was made.
    pub created_at: i64,
}

#[cfg(feature = "core")]
impl From<&licet_core::model::Webhook> for WebhookBody {
    fn from(w: &licet_core::model::Webhook) -> Self {
        WebhookBody {
            id: w.id.clone(),
            url: w.url.clone(),
            events: w.events.clone(),
            active: w.is_active,
            product_id: w.product_id.clone().map(Into::into),
            created_by: w.owner_id.clone(),
            created_at: w.created_at,
        }
    }
}

/// A new webhook: its record and its signing secret, shown only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewWebhookBody {
    /// The webhook.
    #[serde(flatten)]
    pub record: WebhookBody,
    /// Its signing secret.
    pub secret: String,
}

/// A webhook delivery and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryBody {
    /// Its number.
    pub id: u64,
    /// The event it carries.
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it was queued.
    pub created_at: i64,
    /// When it is next tried, while pending.
    pub next_attempt_at: Option<i64>,
    /// When it was delivered or given up.
    pub settled_at: Option<i64>,
    /// The receiver's last status.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

#[cfg(feature = "core")]
impl From<&licet_core::model::Delivery> for DeliveryBody {
    fn from(d: &licet_core::model::Delivery) -> Self {
        use licet_core::model::DeliveryState;
        DeliveryBody {
            id: d.id,
            event: d.event.clone(),
            state: match d.state {
                DeliveryState::Pending => "pending",
                DeliveryState::Delivered => "delivered",
                DeliveryState::Failed => "failed",
            }
            .to_owned(),
            attempts: d.attempts,
            created_at: d.created_at,
            next_attempt_at: (d.state == DeliveryState::Pending).then_some(d.next_attempt_at),
            settled_at: d.settled_at,
            last_status: d.last_status,
            last_error: d.last_error.clone(),
        }
    }
}
