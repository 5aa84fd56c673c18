//! The verifier's one error type.

use core::fmt;

/// Why a token, revocation list or key was refused.
///
/// Every variant has a stable machine code ([`Error::code`]); HTTP answers, CLI output and the
/// test vectors use the codes, never the `Display` text. Signature failures are deliberately
/// opaque: [`Error::BadSignature`] says nothing about which check failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The input is not a well-formed licet artefact (bad CBOR, not core deterministic, wrong
    /// structure, a claim of the wrong type, trailing bytes). The text says what was wrong.
    Malformed(&'static str),
    /// The input is larger than the documented cap for its kind.
    TooLarge,
    /// The text or armored form is not valid base64url or lacks its BEGIN/END lines.
    BadEncoding,
    /// A caller-supplied buffer is too small for the decoded bytes.
    BufferTooSmall,
    /// The protected header names an algorithm licet does not support (or that this build lacks,
    /// such as RSA without the `alloc` feature).
    UnsupportedAlgorithm,
    /// The protected header marks as critical a header parameter licet does not understand.
    UnsupportedCritical,
    /// The token carries a licet claim this verifier does not understand. Unknown licet claims
    /// are refused rather than skipped, since a newer issuer may use them to restrict a license.
    UnsupportedClaim,
    /// The artefact is of another kind (for example a revocation list offered as a license
    /// token): its `typ` header does not match.
    WrongType,
    /// No key with the token's key id is in the key set.
    UnknownKey,
    /// The header's algorithm is not the algorithm of the key with that key id.
    AlgorithmMismatch,
    /// The signature does not verify. Opaque by design.
    BadSignature,
    /// A public key was refused: wrong length or encoding, a small-order Ed25519 point, or an RSA
    /// modulus outside 2048–4096 bits.
    InvalidKey,
    /// The token's expiry (`exp`) has passed.
    Expired,
    /// The token's not-before time (`nbf`) has not come yet.
    NotYetValid,
    /// The token is for another product.
    WrongProduct,
    /// The token is bound to a machine, and the caller supplied no fingerprint to check it.
    HwidRequired,
    /// The token is bound to another machine.
    HwidMismatch,
    /// The token is bound to domains, and the caller supplied no domain to check.
    DomainRequired,
    /// The domain is not one the token names.
    DomainMismatch,
    /// The token lacks an entitlement the caller requires.
    MissingEntitlement,
    /// The revocation list names the token or its license.
    Revoked,
    /// The revocation list is past its next-update time and the caller requires a fresh one.
    StaleRevocations,
    /// The revocation list's sequence number is lower than one already seen.
    RevocationRollback,
    /// The device key is not the one the token (or the pending request) binds, or a device
    /// signature does not verify with it.
    DeviceKeyMismatch,
    /// A device key binding is missing: the token binds a device key and no device key (or
    /// proof of possession) was given, or the caller requires a token bound to a device key
    /// (`Context::require_device_binding`, an offline response) or the token's own claim does
    /// (its license's policy requires device keys) and it binds none.
    DeviceKeyRequired,
    /// An activation response answers another request than the one pending on this machine.
    RequestMismatch,
    /// An activation request is older than the window its vendor accepts: make a new one.
    RequestExpired,
    /// An activation request is dated further ahead than the allowed clock skew.
    RequestFromFuture,
    /// A deactivation receipt names a token that was given back already.
    ReceiptReplayed,
    /// A deactivation receipt names a token no machine holds any more (a newer one replaced it).
    TokenNotCurrent,
}

impl Error {
    /// The stable machine code of this error.
    pub const fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed",
            Error::TooLarge => "too_large",
            Error::BadEncoding => "bad_encoding",
            Error::BufferTooSmall => "buffer_too_small",
            Error::UnsupportedAlgorithm => "unsupported_alg",
            Error::UnsupportedCritical => "unsupported_critical",
            Error::UnsupportedClaim => "unsupported_claim",
            Error::WrongType => "wrong_type",
            Error::UnknownKey => "unknown_key",
            Error::AlgorithmMismatch => "alg_mismatch",
            Error::BadSignature => "bad_signature",
            Error::InvalidKey => "invalid_key",
            Error::Expired => "expired",
            Error::NotYetValid => "not_yet_valid",
            Error::WrongProduct => "wrong_product",
            Error::HwidRequired => "hwid_required",
            Error::HwidMismatch => "hwid_mismatch",
            Error::DomainRequired => "domain_required",
            Error::DomainMismatch => "domain_mismatch",
            Error::MissingEntitlement => "missing_entitlement",
            Error::Revoked => "revoked",
            Error::StaleRevocations => "stale_revocations",
            Error::RevocationRollback => "revocation_rollback",
            Error::DeviceKeyMismatch => "device_key_mismatch",
            Error::DeviceKeyRequired => "device_key_required",
            Error::RequestMismatch => "request_mismatch",
            Error::RequestExpired => "request_expired",
            Error::RequestFromFuture => "request_from_future",
            Error::ReceiptReplayed => "receipt_replayed",
            Error::TokenNotCurrent => "token_not_current",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::Malformed(what) => return write!(f, "malformed token: {what}"),
            Error::TooLarge => "input exceeds the size limit",
            Error::BadEncoding => "not valid base64url text or armor",
            Error::BufferTooSmall => "output buffer too small",
            Error::UnsupportedAlgorithm => "unsupported signature algorithm",
            Error::UnsupportedCritical => "unsupported critical header parameter",
            Error::UnsupportedClaim => "unsupported licet claim",
            Error::WrongType => "artefact of the wrong type",
            Error::UnknownKey => "no key with this key id",
            Error::AlgorithmMismatch => "algorithm does not match the key",
            Error::BadSignature => "signature verification failed",
            Error::InvalidKey => "invalid public key",
            Error::Expired => "token has expired",
            Error::NotYetValid => "token is not yet valid",
            Error::WrongProduct => "token is for another product",
            Error::HwidRequired => "token is machine-bound but no fingerprint was given",
            Error::HwidMismatch => "token is bound to another machine",
            Error::DomainRequired => "token is domain-bound but no domain was given",
            Error::DomainMismatch => "domain not covered by the token",
            Error::MissingEntitlement => "required entitlement missing",
            Error::Revoked => "token or license revoked",
            Error::StaleRevocations => "revocation list is stale",
            Error::RevocationRollback => "revocation list is older than one already seen",
            Error::DeviceKeyMismatch => "the device key is not the one bound",
            Error::DeviceKeyRequired => "token is bound to a device key but none was given",
            Error::RequestMismatch => "the response answers another request",
            Error::RequestExpired => "the request is older than the vendor accepts",
            Error::RequestFromFuture => "the request is dated in the future",
            Error::ReceiptReplayed => "the token was given back already",
            Error::TokenNotCurrent => "no machine holds this token any more",
        };
        f.write_str(text)
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn codes_are_unique_snake_case() {
        let all = [
            Error::Malformed("x"),
            Error::TooLarge,
            Error::BadEncoding,
            Error::BufferTooSmall,
            Error::UnsupportedAlgorithm,
            Error::UnsupportedCritical,
            Error::UnsupportedClaim,
            Error::WrongType,
            Error::UnknownKey,
            Error::AlgorithmMismatch,
            Error::BadSignature,
            Error::InvalidKey,
            Error::Expired,
            Error::NotYetValid,
            Error::WrongProduct,
            Error::HwidRequired,
            Error::HwidMismatch,
            Error::DomainRequired,
            Error::DomainMismatch,
            Error::MissingEntitlement,
            Error::Revoked,
            Error::StaleRevocations,
            Error::RevocationRollback,
            Error::DeviceKeyMismatch,
            Error::DeviceKeyRequired,
            Error::RequestMismatch,
            Error::RequestExpired,
            Error::RequestFromFuture,
            Error::ReceiptReplayed,
            Error::TokenNotCurrent,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(
                a.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
            for b in &all[i + 1..] {
                assert_ne!(a.code(), b.code());
            }
        }
    }
}
