//! Building and signing licet license tokens and revocation lists.
//!
//! ```
//! use licet_issuer::{KeySpec, SigningKey, TokenBuilder};
//! use licet_verifier::{Context, UnverifiedToken};
//!
//! let key = SigningKey::generate(KeySpec::Ed25519).unwrap();
//! let now = 1_800_000_000;
//! let token = TokenBuilder::new("acme-pro", "LIC-0001", now)
//!     .issuer("acme")
//!     .expires_at(now + 365 * 86_400)
//!     .hwid("machine fingerprint")
//!     .domain("example.com")
//!     .entitlement("pro")
//!     .sign(&key)
//!     .unwrap();
//!
//! let ctx = Context::new(now, "acme-pro").fingerprint("machine fingerprint").domain("example.com");
//! let license = UnverifiedToken::decode(&token).unwrap().verify(key.public_key(), &ctx).unwrap();
//! assert_eq!(license.claims().license_id, "LIC-0001");
//! ```
//!
//! Keys are read and written as PKCS#8 (private) and SPKI (public), PEM or DER. The key id is
//! the first 8 bytes of SHA-256 over the public key's SPKI DER encoding. Private keys are
//! zeroized on drop and never shown by `Debug`. Every operation that needs randomness has a
//! `*_with_rng` variant, so test vectors are reproducible.

mod error;
mod keys;
mod revocation;
mod token;

pub use error::Error;
pub use keys::{KeySpec, SigningKey, read_public_key};
pub use revocation::RevocationListBuilder;
pub use token::{MetaValue, TokenBuilder};

pub use licet_verifier;

use licet_verifier::cose::encode;
use rand_core::CryptoRng;

/// Wraps a payload in a signed COSE_Sign1 with the key's algorithm and key id.
fn sign_payload<R: CryptoRng + ?Sized>(
    key: &SigningKey,
    typ: Option<&str>,
    payload: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, Error> {
    let protected = encode::protected_header(key.algorithm(), &key.kid(), typ);
    let tbs = encode::sig_structure(&protected, payload);
    let signature = key.sign_with_rng(&tbs, rng)?;
    Ok(encode::sign1(&protected, payload, &signature))
}

/// An offline activation response (`licet-activation-response`): the token answering the
/// request `request_id`, signed with the vendor's token key so that the machine can check
/// both came from the vendor and answer its own pending request.
pub fn sign_activation_response(
    key: &SigningKey,
    request_id: &[u8; 16],
    token: &[u8],
) -> Result<Vec<u8>, Error> {
    use licet_verifier::offline;
    if token.len() > licet_verifier::MAX_TOKEN_BYTES {
        return Err(Error::TooLarge);
    }
    let payload = offline::encode::response_payload(request_id, token);
    sign_payload(
        key,
        Some(offline::TYP_ACTIVATION_RESPONSE),
        &payload,
        &mut os_rng(),
    )
}

/// A random 8-character license id in Crockford base32 (no I, L, O, U), for tools that issue
/// tokens without an id of their own. Vendors with a license database should use its ids.
pub fn new_license_id() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = [0u8; 8];
    rand_core::Rng::fill_bytes(&mut os_rng(), &mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect()
}

/// The operating system's random number generator.
pub(crate) fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}
