//! The client API (`/v1/client/*`): what a licensed application sends and what it is
//! answered. The server reads these requests and writes these answers; the online client
//! (`licet_client::online`) writes the requests and reads the answers. Their wire format is
//! pinned by `test-vectors/wire/`.

use serde::{Deserialize, Serialize};

use crate::answers::MachineBody;
use crate::error::ErrorDetail;

/// Activation, heartbeat and deactivation: a license key and the machine asking.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MachineRequest {
    /// The license key.
    pub key: String,
    /// The machine's fingerprint.
    pub fingerprint: String,
    /// The product (code or id) the client is for: a license of another product is refused
    /// (`wrong_product`) before a seat is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Its host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Its platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// A random value the signed answer repeats, so that a recorded answer cannot be replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The machine's fingerprint parts (16 hex digits each, at most 16), from
    /// `licet_client::fingerprint`: tokens then bind them with a k-of-n rule, and a machine
    /// whose fingerprint changed in a few components is still recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<String>>,
    /// What the client reports about where it runs; a product may refuse virtual machines or
    /// debuggers (`block_vm`, `block_debug`), as LicenseCM clients are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_data: Option<ClientReport>,
    /// The machine's device public key (64 hex digits, Ed25519). With it, the request must be
    /// signed by that key (`Licet-Device-Signature`: base64url of the Ed25519 signature of
    /// `"licet/device-request/v1\0" ‖ path ‖ "\0" ‖ body`), tokens bind it (`cnf`), and later
    /// requests for the machine must be signed by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    /// The client's time (unix seconds) when it signed the request; a signed request more than
    /// five minutes off the server's time is refused (`stale_request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    /// `/v1/client/borrow` only: when the borrowed seat comes back (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// A client's report about its environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientReport {
    /// Signs of a virtual machine the client found (at most 32, each at most 255 bytes).
    #[serde(default)]
    pub vm_indicators: Vec<String>,
    /// Signs of a debugger the client found.
    #[serde(default)]
    pub debug_indicators: Vec<String>,
    /// A device fingerprint, matched against `fingerprint` blacklist entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_fingerprint: Option<String>,
}

/// What a validation asks about (a JSON body, or the query of `GET /v1/licenses/validate`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The license key.
    pub key: String,
    /// Product code (or id) the license must be for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The machine must be activated (and, if floating, alive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Entitlements the license must carry; in a query string, comma-separated.
    #[serde(
        default,
        deserialize_with = "comma_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entitlements: Vec<String>,
    /// A random value the signed answer repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// A list in JSON, or comma-separated in a query string.
fn comma_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum L {
        Many(Vec<String>),
        One(String),
    }
    Ok(match L::deserialize(d)? {
        L::Many(v) => v,
        L::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// The answer to an activation or a heartbeat: a new token (signed, in `Licet-Signature`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenAnswer {
    /// The token, in its text form (base64url of the COSE_Sign1).
    pub token: String,
    /// Its id (`cti`): what the revocation list names.
    pub token_id: String,
    /// When it expires.
    pub expires_at: i64,
    /// The machine holding the seat.
    pub machine: MachineBody,
    /// For a floating license, how often to send a heartbeat; none otherwise.
    pub heartbeat: Option<HeartbeatTerms>,
    /// The server's clock.
    pub server_time: i64,
    /// The request's nonce.
    pub nonce: Option<String>,
}

/// How a floating seat is kept.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatTerms {
    /// Seconds between heartbeats.
    pub interval: u64,
    /// Seconds a heartbeat may be overdue before the seat is lost.
    pub ttl: u64,
}

/// The answer to a deactivation (signed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeactivateAnswer {
    /// Always true.
    pub deactivated: bool,
    /// The machine that gave its seat back.
    pub machine_id: String,
    /// The server's clock.
    pub server_time: i64,
    /// The request's nonce.
    pub nonce: Option<String>,
}

/// A refusal of a client route: licet's error, signed, with the server's clock and the
/// request's nonce, so that a client acts on it only when it verifies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefusalAnswer {
    /// The error.
    pub error: ErrorDetail,
    /// The server's clock.
    pub server_time: i64,
    /// The request's nonce.
    pub nonce: Option<String>,
}

/// The server's published keys (`GET /v1/keys`): the token key's generations newest first,
/// then the RSA key of the compatibility endpoints. A client that pinned one generation trusts
/// a later one only through the chain of endorsements.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeySet {
    /// The keys.
    pub keys: Vec<PublishedKey>,
}

/// One published public key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedKey {
    /// Its key id (hex), as tokens name it.
    pub kid: String,
    /// `EdDSA` or `RS256`.
    pub alg: String,
    /// What it signs.
    #[serde(rename = "use")]
    pub purpose: String,
    /// `active` signs; `retiring` verifies what it signed until `valid_until`; `retired`
    /// verifies nothing.
    pub status: String,
    /// When it began signing.
    pub valid_from: Option<i64>,
    /// When it stops verifying.
    pub valid_until: Option<i64>,
    /// The key as SubjectPublicKeyInfo PEM: what an application pins.
    pub public_key_pem: String,
    /// The key as a COSE_Key (RFC 9052 §7), deterministic CBOR, base64url.
    pub cose_key: String,
    /// The kid of the generation before, which vouches for this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsed_by: Option<String>,
    /// That generation's Ed25519 signature over `"licet/key-endorsement/v1\0"` and this key's
    /// 32 bytes, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsement: Option<String>,
}

impl PublishedKey {
    /// A retired generation verifies nothing: everything it signed has expired.
    pub fn is_retired(&self) -> bool {
        self.status == "retired"
    }
}

/// The answer to a validation (`POST /v1/client/validate`, `GET /v1/licenses/validate`),
/// signed: the verdict in the core's order, and the license it is about when the key names
/// one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidationAnswer {
    /// Whether the license may be used as asked.
    pub valid: bool,
    /// `valid`, or the first failing check's code.
    pub code: String,
    /// The verdict in words.
    pub detail: String,
    /// The license, when the key names one the caller may see.
    pub license: Option<ValidatedLicense>,
    /// The server's clock.
    pub server_time: i64,
    /// The request's nonce.
    pub nonce: Option<String>,
}

/// What a validation says of its license.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidatedLicense {
    /// `lic_…`.
    pub id: String,
    /// Its product.
    pub product_id: String,
    /// Its status at the answer's time.
    pub status: crate::enums::LicenseStatus,
    /// Its kind.
    pub kind: crate::enums::Kind,
    /// When it expires; none: never.
    pub expires_at: Option<i64>,
    /// What it entitles to.
    pub entitlements: Vec<String>,
}

#[cfg(feature = "core")]
impl ValidatedLicense {
    /// What a validation at `now` says of `l`.
    pub fn of(l: &licet_core::model::License, now: i64) -> ValidatedLicense {
        ValidatedLicense {
            id: l.id.to_string(),
            product_id: l.product_id.to_string(),
            status: l.status_at(now).into(),
            kind: l.kind.into(),
            expires_at: l.expires_at,
            entitlements: l.entitlements.clone(),
        }
    }
}
