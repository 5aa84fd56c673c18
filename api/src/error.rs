//! licet's JSON error: every refusal of the native API has this body.

use serde::{Deserialize, Serialize};

/// The error body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code and a human message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable machine code (`invalid_field`, `too_many_machines`, …).
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// Declares [`ErrorCode`]: each variant with its stable code and the status it is usually
/// answered with.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $status:literal;)*) => {
        /// Every stable code an error of licet's native HTTP API can carry. The code is the
        /// contract (clients match on it); the message is for people. `docs/server.md` lists
        /// them all, and a test holds the list and the document to each other.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the document.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as it is written in an error body.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The status it is usually answered with (a few codes have a second one, which
            /// `docs/server.md` names).
            pub const fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }

            /// The code written `code`, if it is one.
            pub fn from_code(code: &str) -> Option<ErrorCode> {
                match code {
                    $($code => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// Malformed JSON, wrong types, a bad query string; 422 for an unknown field.
    InvalidRequest = "invalid_request", 400;
    /// A field breaks a rule; the message names it.
    InvalidField = "invalid_field", 400;
    /// A value that is not valid base64url or armored text.
    BadEncoding = "bad_encoding", 400;
    /// No, unknown, revoked or expired credential.
    Unauthorized = "unauthorized", 401;
    /// The credential's scope or product does not allow it.
    Forbidden = "forbidden", 403;
    /// A dashboard form without its session's token.
    CsrfFailed = "csrf_failed", 403;
    /// A device-bound machine's request without its device signature.
    DeviceSignatureRequired = "device_signature_required", 401;
    /// A device signature that does not verify.
    BadDeviceSignature = "bad_device_signature", 401;
    /// A device-signed request dated too far from the server's clock, or seen before.
    StaleRequest = "stale_request", 401;
    /// The license is revoked (409 for an operation on a revoked license).
    Revoked = "revoked", 403;
    /// The license is suspended.
    Suspended = "suspended", 403;
    /// The license has expired.
    Expired = "expired", 403;
    /// The license's owner (a shop customer) is switched off.
    LicenseInactive = "license_inactive", 403;
    /// The product is switched off.
    ProductInactive = "product_inactive", 403;
    /// A blacklist entry in force matches the request.
    Blacklisted = "blacklisted", 403;
    /// Another machine than the license is bound to, or parts that are not the machine's.
    HwidMismatch = "hwid_mismatch", 403;
    /// The client reports a virtual machine and the product refuses them.
    VmBlocked = "vm_blocked", 403;
    /// The client reports a debugger and the product refuses them.
    DebugBlocked = "debug_blocked", 403;
    /// The license is for another product than the client named.
    WrongProduct = "wrong_product", 403;
    /// The policy lets no machine borrow a seat.
    BorrowNotAllowed = "borrow_not_allowed", 403;
    /// A borrow longer than the policy allows.
    BorrowTooLong = "borrow_too_long", 403;
    /// The policy requires device keys and the machine has none.
    DeviceKeyRequired = "device_key_required", 403;
    /// A receipt or request signed by another device key than the machine's.
    DeviceKeyMismatch = "device_key_mismatch", 403;
    /// No such object.
    NotFound = "not_found", 404;
    /// No license with this key.
    LicenseNotFound = "license_not_found", 404;
    /// No such machine of the license.
    MachineNotFound = "machine_not_found", 404;
    /// No offline response was kept for this request.
    NoOfflineResponse = "no_offline_response", 404;
    /// The request took longer than `--request-timeout`.
    RequestTimeout = "request_timeout", 408;
    /// A unique value (a code, a key, an e-mail, a number) is taken.
    Duplicate = "duplicate", 409;
    /// A product name another product answering by name has.
    DuplicateName = "duplicate_name", 409;
    /// The object is still used by others.
    InUse = "in_use", 409;
    /// Every seat is held by a live machine.
    TooManyMachines = "too_many_machines", 409;
    /// A machine would hold more than 16 unexpired replaced tokens.
    TooManyTokens = "too_many_tokens", 409;
    /// The machine got a new token while its seat was being freed; retry.
    MachineBusy = "machine_busy", 409;
    /// A per-product or per-key limit of objects is reached.
    LimitReached = "limit_reached", 409;
    /// The machine's lease has ended.
    LeaseEnded = "lease_ended", 409;
    /// The key ring cannot rotate (its keys come from files or a database it does not own).
    KeysNotRotatable = "keys_not_rotatable", 409;
    /// An offline request answered before, sent again for another machine.
    RequestReplayed = "request_replayed", 409;
    /// A floating machine's heartbeat was overdue; its seat was released.
    HeartbeatDead = "heartbeat_dead", 410;
    /// The body exceeds `--max-body-bytes`.
    BodyTooLarge = "body_too_large", 413;
    /// An upload exceeds `--max-upload-bytes`.
    PayloadTooLarge = "payload_too_large", 413;
    /// A dashboard field or an artefact larger than its cap.
    TooLarge = "too_large", 413;
    /// A JSON body without `content-type: application/json`.
    UnsupportedMediaType = "unsupported_media_type", 415;
    /// The key's daily quota is used up; with `Retry-After`.
    QuotaExceeded = "quota_exceeded", 429;
    /// Too many requests from this address or for this license; with `Retry-After`.
    RateLimited = "rate_limited", 429;
    /// An internal failure; its detail goes only to the log.
    Internal = "internal", 500;
    /// PostgreSQL does not answer; nothing was written.
    StoreUnavailable = "store_unavailable", 503;
    /// An offline artefact that is not well-formed.
    Malformed = "malformed", 400;
    /// An artefact of another kind than the route takes.
    WrongType = "wrong_type", 400;
    /// An artefact's signature does not verify (403 on a receipt).
    BadSignature = "bad_signature", 400;
    /// An offline request older than the policy's `offline_window`.
    RequestExpired = "request_expired", 400;
    /// An offline request dated ahead of the server's clock.
    RequestFromFuture = "request_from_future", 400;
    /// A receipt given back before.
    ReceiptReplayed = "receipt_replayed", 409;
    /// A receipt for a token a newer one replaced.
    TokenNotCurrent = "token_not_current", 409;
    /// An artefact signed with an algorithm licet does not take.
    UnsupportedAlg = "unsupported_alg", 400;
    /// An artefact with a critical header licet does not know.
    UnsupportedCritical = "unsupported_critical", 400;
    /// An artefact with a claim licet does not know.
    UnsupportedClaim = "unsupported_claim", 400;
    /// An artefact signed by a key the server does not have.
    UnknownKey = "unknown_key", 400;
    /// An artefact whose algorithm is not its key's.
    AlgMismatch = "alg_mismatch", 400;
    /// A key that is not a valid public key.
    InvalidKey = "invalid_key", 400;
    /// An artefact not valid yet.
    NotYetValid = "not_yet_valid", 400;
    /// An artefact that names no machine where one is required.
    HwidRequired = "hwid_required", 400;
    /// An artefact bound to no domain where one is required.
    DomainRequired = "domain_required", 400;
    /// An artefact bound to another domain.
    DomainMismatch = "domain_mismatch", 400;
    /// An artefact without an entitlement required.
    MissingEntitlement = "missing_entitlement", 400;
    /// A revocation list older than required.
    StaleRevocations = "stale_revocations", 400;
    /// A revocation list older than one seen before.
    RevocationRollback = "revocation_rollback", 400;
    /// A response that does not answer its request.
    RequestMismatch = "request_mismatch", 400;
    /// An artefact decoded into a buffer too small for it.
    BufferTooSmall = "buffer_too_small", 400;
}

impl ErrorCode {
    /// The code of a refusal of the verifier (an offline artefact the server checked), which
    /// the offline routes answer with as it is.
    pub fn of_artefact(e: &licet_verifier::Error) -> ErrorCode {
        ErrorCode::from_code(e.code()).unwrap_or(ErrorCode::Malformed)
    }
}

#[cfg(feature = "core")]
impl From<&licet_core::rules::Refusal> for ErrorCode {
    fn from(r: &licet_core::rules::Refusal) -> Self {
        use licet_core::rules::Refusal;
        match r {
            Refusal::Blacklisted(_) => ErrorCode::Blacklisted,
            Refusal::ProductInactive => ErrorCode::ProductInactive,
            Refusal::Suspended => ErrorCode::Suspended,
            Refusal::Revoked => ErrorCode::Revoked,
            Refusal::Expired => ErrorCode::Expired,
            Refusal::OwnerInactive => ErrorCode::LicenseInactive,
            Refusal::HwidMismatch => ErrorCode::HwidMismatch,
            Refusal::VmBlocked => ErrorCode::VmBlocked,
            Refusal::DebugBlocked => ErrorCode::DebugBlocked,
            _ => ErrorCode::Forbidden,
        }
    }
}

#[cfg(feature = "core")]
impl From<licet_core::store::Constraint> for ErrorCode {
    fn from(c: licet_core::store::Constraint) -> Self {
        use licet_core::store::Constraint;
        match c {
            Constraint::ProductName => ErrorCode::DuplicateName,
            Constraint::InUse => ErrorCode::InUse,
            _ => ErrorCode::Duplicate,
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_read_back_and_are_unique_snake_case() {
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(ErrorCode::from_code(c.as_str()), Some(*c));
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{c}"
            );
            assert!((400..600).contains(&c.status()), "{c}");
            assert!(!ErrorCode::ALL[..i].contains(c), "{c} twice");
        }
    }

    #[test]
    fn every_refusal_of_the_verifier_is_a_code() {
        use licet_verifier::Error as E;
        for e in [
            E::Malformed("x"),
            E::TooLarge,
            E::BadEncoding,
            E::BufferTooSmall,
            E::UnsupportedAlgorithm,
            E::UnsupportedCritical,
            E::UnsupportedClaim,
            E::WrongType,
            E::UnknownKey,
            E::AlgorithmMismatch,
            E::BadSignature,
            E::InvalidKey,
            E::Expired,
            E::NotYetValid,
            E::WrongProduct,
            E::HwidRequired,
            E::HwidMismatch,
            E::DomainRequired,
            E::DomainMismatch,
            E::MissingEntitlement,
            E::Revoked,
            E::StaleRevocations,
            E::RevocationRollback,
            E::DeviceKeyMismatch,
            E::DeviceKeyRequired,
            E::RequestMismatch,
            E::RequestExpired,
            E::RequestFromFuture,
            E::ReceiptReplayed,
            E::TokenNotCurrent,
        ] {
            assert!(ErrorCode::from_code(e.code()).is_some(), "{}", e.code());
        }
    }
}
