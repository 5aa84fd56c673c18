//! The issuer's one error type.

use core::fmt;

/// Why a key could not be read or made, or a token or list could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A claim value is not allowed (empty product, bad domain pattern, too many items…). The
    /// text names the claim and the rule.
    InvalidClaim(String),
    /// The key material is not a PKCS#8 private key or SPKI public key licet understands.
    KeyFormat(String),
    /// The key is of an unsupported kind or size (RSA must be 2048–4096 bits).
    UnsupportedKey(String),
    /// The finished artefact would exceed the verifier's size cap.
    TooLarge,
    /// Signing failed (the RSA implementation reported an error).
    Signing,
    /// The operating system's random number generator failed.
    Rng,
}

impl Error {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidClaim(_) => "invalid_claim",
            Error::KeyFormat(_) => "key_format",
            Error::UnsupportedKey(_) => "unsupported_key",
            Error::TooLarge => "too_large",
            Error::Signing => "signing_failed",
            Error::Rng => "rng_failed",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidClaim(m) => write!(f, "invalid claim: {m}"),
            Error::KeyFormat(m) => write!(f, "unreadable key: {m}"),
            Error::UnsupportedKey(m) => write!(f, "unsupported key: {m}"),
            Error::TooLarge => f.write_str("token exceeds the size limit"),
            Error::Signing => f.write_str("signing failed"),
            Error::Rng => f.write_str("the system random number generator failed"),
        }
    }
}

impl std::error::Error for Error {}
