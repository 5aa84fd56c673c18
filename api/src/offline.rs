//! The offline activation API (`/v1/offline/*`) and the text forms its artefacts travel in.
//!
//! An artefact (request, response, receipt) is binary CBOR. It is carried as any of:
//!
//! - armor: base64url lines between `-----BEGIN LICET … -----` and `-----END … -----` (a file);
//! - base64url without padding (one line);
//! - `LICET:` and Base45 (RFC 9285): what a QR code holds, in the code's alphanumeric mode,
//!   which packs 5.5 bits a character where byte mode would pack 8 bits of base64's 6.

use serde::{Deserialize, Serialize};

/// Prefix of the QR-code form.
pub const QR_PREFIX: &str = "LICET:";

/// The QR-code form of an artefact: `LICET:` and its Base45.
pub fn qr_text(bytes: &[u8]) -> String {
    format!("{QR_PREFIX}{}", base45::encode(bytes))
}

/// The bytes of an artefact in any of its forms (armor with `label`, base64url, QR text, or
/// the binary itself). The error is one line.
pub fn decode(input: &[u8], label: &str) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(input).map(str::trim);
    if let Ok(t) = text
        && let Some(b45) = t.strip_prefix(QR_PREFIX)
    {
        return base45::decode(b45.trim()).map_err(|_| "not valid Base45 after LICET:".to_owned());
    }
    licet_verifier::text::decode(input, label)
        .map_err(|e| format!("not a {label} (armor, base64url, LICET: Base45 or binary): {e}"))
}

/// `POST /v1/offline/activations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfflineActivation {
    /// The request, in any text form (see the module).
    pub request: String,
}

/// `POST /v1/offline/deactivations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfflineDeactivation {
    /// The receipt, in any text form.
    pub receipt: String,
}

/// The answer to an offline activation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineActivated {
    /// The response, armored (`LICET ACTIVATION RESPONSE`).
    pub response: String,
    /// The response's QR-code form.
    pub response_qr: String,
    /// The token's id (hex).
    pub token_id: String,
    /// When the lease, and its token, end.
    pub lease_until: i64,
    /// The machine's id.
    pub machine_id: String,
    /// The request was answered before: this is that answer, and no second seat was taken.
    pub repeated: bool,
}

/// The answer to an offline deactivation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineDeactivated {
    /// Always true.
    pub deactivated: bool,
    /// The machine whose seat came back.
    pub machine_id: String,
    /// The token put on the revocation list.
    pub token_id: String,
    /// The sequence of the list that holds it.
    pub revocation_sequence: u64,
}
