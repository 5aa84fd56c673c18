//! Offline verification of licet license tokens.
//!
//! A licet token is a COSE_Sign1 (RFC 9052) over CWT claims (RFC 8392) in deterministic CBOR,
//! signed with Ed25519 (default) or RSA (PS256 / RS256). This crate owns the wire format: it
//! decodes tokens and revocation lists, verifies them against a key set and a [`Context`], and
//! gives back a [`VerifiedLicense`] or an [`Error`] with a stable [`Error::code`].
//!
//! It is `#![no_std]`. The default features verify Ed25519 tokens with **no allocator**: the
//! token is read in place and the signed bytes are hashed where they lie. The `alloc` feature
//! adds owned decoding and PEM keys, `rsa` adds RSA keys (PS256 / RS256), and `std` adds std
//! conveniences with both. An application's side of the
//! online service (activation, the license state on disk, this machine's fingerprint, device
//! keys) is the `licet-client` crate, built on this one.
//!
//! # What is guaranteed, and what is not
//!
//! - A token that verifies was signed by the holder of a key in your key set, over exactly the
//!   bytes received, and its claims satisfied the context at the `now` you supplied.
//! - The verifier never reads a clock. An offline machine's clock can be moved back; the
//!   [`clock`] guard notices a rollback against times already seen, it cannot prove the time.
//! - Revocation needs fresh state from the issuer: offline, a token stays valid until its
//!   expiry unless a newer [`RevocationList`] that names it reaches the machine.
//!
//! # Example
//!
//! ```
//! use licet_verifier::{Context, PublicKey, UnverifiedToken};
//!
//! # fn main() -> Result<(), licet_verifier::Error> {
//! # let (public_key, token, now) = licet_verifier::doc_example();
//! // The vendor's public key, compiled in; the token from the license file.
//! let keys = [PublicKey::ed25519(&public_key)?];
//! let ctx = Context::new(now, "acme-pro")
//!     .fingerprint("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
//!     .domain("example.com")
//!     .entitlements(&["pro"]);
//! let license = UnverifiedToken::decode(&token)?.verify(&keys[..], &ctx)?;
//! assert_eq!(license.claims().license_id, "LIC-0001");
//! # Ok(())
//! # }
//! ```
#![no_std]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod binding;
mod cbor;
pub mod claims;
pub mod clock;
pub mod cose;
pub mod device;
mod error;
mod key;
pub mod offline;
pub mod revocation;
pub mod text;
mod token;

#[cfg(feature = "alloc")]
pub use cbor::Writer;
pub use claims::{Claims, HwidParts, LicenseKind, MetaValue, Metadata, TextList};
pub use clock::{ClockCheck, ClockState};
pub use error::Error;
#[cfg(feature = "rsa")]
pub use key::rsa_algorithm_identifier;
pub use key::{Algorithm, KEY_ENDORSEMENT_LABEL, KID_LEN, KeyId, KeyProvider, PublicKey};
pub use revocation::{Freshness, RevocationList};
#[cfg(feature = "alloc")]
pub use token::OwnedContext;
pub use token::{Context, MAX_TOKEN_BYTES, UnverifiedToken, VerifiedLicense, verify};

/// Material for the crate-level example: a public key, a token and a time at which it is valid.
#[doc(hidden)]
pub fn doc_example() -> ([u8; 32], &'static [u8], i64) {
    (DOC_KEY, DOC_TOKEN, 1_800_000_000)
}

include!("doc_example.rs");
