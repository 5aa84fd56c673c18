//! The requests of the native API's administration routes that the `licet` CLI sends. The
//! server reads them with these types, so a field renamed or added on one side is renamed or
//! added on the other. Defaults that are part of the API (a license's kind) are here; the
//! rules a value must keep are the server's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::enums::{DomainType, Kind, PriceKind, Scope};

/// `POST /v1/licenses`: a new license (or an imported one, with `key`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewLicense {
    /// The product (`prd_…`).
    pub product_id: String,
    /// The policy [default: the product's default policy].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Trial, subscription or lifetime [default: subscription].
    #[serde(default = "subscription")]
    pub kind: Kind,
    /// When it expires [default: the policy's duration from now, or never].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Machines it may have [default: its policy's].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<u32>,
    /// Domains its tokens name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Its own entitlements (besides its policy's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<String>,
    /// The vendor's data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Value>,
    /// The one IP address the license may be used from (FaxStore checks).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = "ip"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<std::net::IpAddr>,
    /// A key of your own (when importing licenses from another system); by default one is made
    /// from the product's key format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Further products the license also covers (WemX packages), by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_products: Vec<String>,
    /// Bind the license to the machine it was first activated on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hwid_locked: bool,
}

fn subscription() -> Kind {
    Kind::Subscription
}

impl NewLicense {
    /// A license of `product` with every default.
    pub fn of(product: impl Into<String>) -> NewLicense {
        NewLicense {
            product_id: product.into(),
            policy_id: None,
            kind: Kind::Subscription,
            expires_at: None,
            seats: None,
            domains: Vec::new(),
            entitlements: Vec::new(),
            metadata: BTreeMap::new(),
            ip: None,
            key: None,
            extra_products: Vec::new(),
            hwid_locked: false,
        }
    }
}

/// `POST /v1/licenses/bulk`: `count` licenses like `license`, each with a key of its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// How many (1–1000).
    pub count: usize,
    /// What each is like (`key` must be absent).
    pub license: NewLicense,
}

/// `PATCH /v1/licenses/{id}`: what to change; a field left out stays as it is, and `null`
/// clears the fields that may be empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LicenseChange {
    /// Trial, subscription or lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// When it expires (`null`: never).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<Option<i64>>,
    /// Machines it may have (`null`: its policy's).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub seats: Option<Option<u32>>,
    /// Domains its tokens name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
    /// Its own entitlements (besides its policy's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlements: Option<Vec<String>>,
    /// The vendor's data, replaced whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, Value>>,
    /// Another policy of the same product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Further products the license also covers (WemX packages), by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_products: Option<Vec<String>>,
    /// Set (or, with `null`, clear) the one IP address the license may be used from.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = "ip"))]
    pub ip: Option<Option<std::net::IpAddr>>,
    /// The owner's own on/off switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_active: Option<bool>,
    /// Bind the license to the machine it was first activated on (no other machine takes a
    /// seat, through any family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hwid_locked: Option<bool>,
}

/// `PATCH /v1/policies/{id}`: what to change; a field left out stays as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether its seats float (held by heartbeats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floating: Option<bool>,
    /// Machines a license of it may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_machines: Option<u32>,
    /// Seconds a new license of it lasts (`null`: for ever).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Option<u64>>,
    /// Seconds between heartbeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval: Option<u64>,
    /// Seconds without a heartbeat before a floating seat is freed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ttl: Option<u64>,
    /// Seconds a client works offline past its token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_grace: Option<u64>,
    /// Seconds after which a client refreshes its token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_after: Option<u64>,
    /// The entitlements every license of it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlements: Option<Vec<String>>,
    /// Bind each license to its first machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hwid_locked: Option<bool>,
    /// Machines must hold a device key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_device_key: Option<bool>,
    /// Seconds an offline seat is leased (`null`: the product's token lifetime).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub offline_lease: Option<Option<u64>>,
    /// Seconds an offline request may be old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_window: Option<u64>,
    /// Longest borrow, seconds (0: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_borrow: Option<u64>,
}

/// `POST /v1/webhooks`: a new webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are POSTed: `http(s)://`, a public address.
    pub url: String,
    /// Event names (`license.created`, `license.activated`, …).
    pub events: Vec<String>,
    /// The signing secret (1–256 characters); made if absent, and shown only in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Whether it receives deliveries [default: true].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The one product whose events it hears; a product-limited key's webhooks hear only its
    /// product's, an unrestricted key's every product's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
}

/// `PATCH /v1/webhooks/{id}`: the fields given change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookChange {
    /// Where deliveries are POSTed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The events it hears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// A new signing secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Whether it receives deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// For `Option<Option<T>>` fields of a change: absent → `None` (leave alone), `null` →
/// `Some(None)` (clear), a value → `Some(Some(v))`. Plain serde reads `null` as absent.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as Deserialize>::deserialize(d).map(Some)
}

/// `POST /v1/licenses/{id}/renew`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Renew {
    /// Seconds to extend by (default: the policy's duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
}

/// `POST /v1/licenses/{id}/domains`: a domain registered before the license is installed there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    /// Host name, optionally with protocol (`https://shop.example.net`).
    pub domain: String,
    /// `production` or `development` [default: guessed from the name].
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub domain_type: Option<DomainType>,
}

/// `POST /v1/products/{id}/prices`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPrice {
    /// Display name (`Monthly`).
    pub name: String,
    /// `single`, `recurring` or `free`.
    pub kind: PriceKind,
    /// Days between due dates; recurring prices only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_days: Option<u32>,
    /// Amount in the smallest currency unit.
    #[serde(default)]
    pub amount: u64,
    /// ISO 4217 code [default: USD].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The price's id, when moving from a system whose clients already use one (WemX's
    /// `price_id`) [default: the next free id].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

/// `POST /v1/api-keys`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// The one product it reaches [default: every product].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Requests a day [default: no quota].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_quota: Option<u64>,
}

/// `POST /v1/downloads`: a file already in the product's downloads folder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterDownload {
    /// The product (`prd_…`).
    pub product_id: String,
    /// The name clients ask for (`resource_name`).
    pub name: String,
    /// Path of the file relative to the product's folder, `<data>/downloads/<product id>/`.
    pub file: String,
}

/// The key format of a product made without one: `X` a random character, anything else itself.
pub const DEFAULT_KEY_FORMAT: &str = "XXXX-XXXX-XXXX-XXXX";
/// Seconds a token lives, for a product made without `token_lifetime`.
pub const DEFAULT_TOKEN_LIFETIME: u64 = 30 * 86_400;

fn default_key_format() -> String {
    DEFAULT_KEY_FORMAT.into()
}

fn default_token_lifetime() -> u64 {
    DEFAULT_TOKEN_LIFETIME
}

/// `POST /v1/products`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    /// The code tokens carry (1–64 of a-z, 0-9, `-`, `_`, `.`).
    pub code: String,
    /// Its name.
    pub name: String,
    /// License keys: `X` a random character, anything else itself.
    #[serde(default = "default_key_format")]
    pub key_format: String,
    /// Put before every key.
    #[serde(default)]
    pub key_prefix: String,
    /// Seconds a token lives (at least 60).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime: u64,
    /// The product's number in FaxStore / WemX requests, when moving from a system whose
    /// clients already use one [default: the next free number].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric_id: Option<u64>,
    /// The compatibility families the product answers through [default: FaxStore, WemX and the
    /// Verify API; LicenseCM off].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compat: Option<FamiliesChange>,
}

impl CreateProduct {
    /// A product of this code and name, with every default.
    pub fn of(code: impl Into<String>, name: impl Into<String>) -> CreateProduct {
        CreateProduct {
            code: code.into(),
            name: name.into(),
            key_format: default_key_format(),
            key_prefix: String::new(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            numeric_id: None,
            compat: None,
        }
    }
}

/// `PATCH /v1/products/{id}`: the fields named change, the others stay.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// License keys made from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_format: Option<String>,
    /// Put before keys made from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// Seconds the tokens issued from now on live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime: Option<u64>,
    /// The policy new licenses get (one of this product's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_policy_id: Option<String>,
    /// Switches compatibility families on or off; those not named keep their setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compat: Option<FamiliesChange>,
}

/// A change of the families a product answers through: the families named are switched, the
/// others keep their setting.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FamiliesChange {
    /// FaxStore's checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faxstore: Option<bool>,
    /// WemX's licensing service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wemx: Option<bool>,
    /// The store Verify API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<bool>,
    /// LicenseCM's API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licensecm: Option<bool>,
}

impl FamiliesChange {
    /// Whether it switches nothing.
    pub fn is_empty(&self) -> bool {
        *self == FamiliesChange::default()
    }

    /// The families a product answers through once this change is made to `f`.
    #[cfg(feature = "core")]
    pub fn apply(&self, mut f: licet_core::model::Families) -> licet_core::model::Families {
        f.faxstore = self.faxstore.unwrap_or(f.faxstore);
        f.wemx = self.wemx.unwrap_or(f.wemx);
        f.verify = self.verify.unwrap_or(f.verify);
        f.licensecm = self.licensecm.unwrap_or(f.licensecm);
        f
    }
}

/// Seconds between heartbeats, for a policy made without `heartbeat_interval`.
pub const DEFAULT_HEARTBEAT_INTERVAL: u64 = 600;
/// Seconds a token works offline past its refresh time, for a policy made without
/// `offline_grace`.
pub const DEFAULT_OFFLINE_GRACE: u64 = 7 * 86_400;
/// Seconds after which a client should refresh its token, for a policy made without
/// `refresh_after`.
pub const DEFAULT_REFRESH_AFTER: u64 = 86_400;

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn default_interval() -> u64 {
    DEFAULT_HEARTBEAT_INTERVAL
}
fn default_grace() -> u64 {
    DEFAULT_OFFLINE_GRACE
}
fn default_refresh() -> u64 {
    DEFAULT_REFRESH_AFTER
}

/// `POST /v1/policies`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePolicy {
    /// Its product.
    pub product_id: String,
    /// Its name (1–200 characters).
    pub name: String,
    /// Seats are held only while heartbeats come.
    #[serde(default)]
    pub floating: bool,
    /// Machines a license may have (1–100000) [default: 1].
    #[serde(default = "one")]
    pub max_machines: u32,
    /// Seconds a new license lasts [default: forever].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// Seconds between heartbeats (at least 10).
    #[serde(default = "default_interval")]
    pub heartbeat_interval: u64,
    /// Seconds a heartbeat may be overdue before the seat is lost [default: three intervals].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ttl: Option<u64>,
    /// Seconds a token works offline past its refresh time.
    #[serde(default = "default_grace")]
    pub offline_grace: u64,
    /// Seconds after which a client should refresh its token.
    #[serde(default = "default_refresh")]
    pub refresh_after: u64,
    /// Entitlements every license gets.
    #[serde(default)]
    pub entitlements: Vec<String>,
    /// Licenses bound to their first machine [default: yes].
    #[serde(default = "yes")]
    pub hwid_locked: bool,
    /// Make it the product's default policy.
    #[serde(default)]
    pub default: bool,
    /// Refuse activations without a device key.
    #[serde(default)]
    pub require_device_key: bool,
    /// Seconds an offline activation's lease lasts [default: the product's token lifetime].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_lease: Option<u64>,
    /// Seconds an offline request may be old when it reaches the server [default: 7 days].
    #[serde(default = "default_offline_window")]
    pub offline_window: u64,
    /// Longest borrow of a floating seat, seconds [default: 0, borrowing off].
    #[serde(default)]
    pub max_borrow: u64,
}

fn default_offline_window() -> u64 {
    7 * 86_400
}

impl CreatePolicy {
    /// A policy of `product` called `name`, with every default.
    pub fn of(product: impl Into<String>, name: impl Into<String>) -> CreatePolicy {
        CreatePolicy {
            product_id: product.into(),
            name: name.into(),
            floating: false,
            max_machines: one(),
            duration: None,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            heartbeat_ttl: None,
            offline_grace: DEFAULT_OFFLINE_GRACE,
            refresh_after: DEFAULT_REFRESH_AFTER,
            entitlements: Vec::new(),
            hwid_locked: yes(),
            default: false,
            require_device_key: false,
            offline_lease: None,
            offline_window: default_offline_window(),
            max_borrow: 0,
        }
    }
}

/// `POST /v1/licensecm/admins`: a LicenseCM admin, made by the operator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    /// The admin's e-mail. An existing LicenseCM user with it is promoted (their password stays).
    pub email: String,
    /// 8–128 characters [default: a random one, shown once in the answer].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The name LicenseCM shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Operator products (made through `/v1`) the admin may administer through LicenseCM.
    #[serde(default)]
    pub products: Vec<String>,
}

/// `PATCH /v1/licensecm/admins/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AdminChange {
    /// Replaces the granted operator products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<String>>,
    /// `user` demotes the admin (their grants go with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::enums::Role>,
    /// Whether the admin may sign in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}
