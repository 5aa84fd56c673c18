//! Signed online answers of licet-server (feature `std`), checked before they are trusted.
//!
//! The server signs the JSON body of every answer a client may act on with its token key and
//! sends `Licet-Signature: kid=<hex>, sig=<base64url>` over `"licet-response-v1\0" || body`. A
//! client checks the signature with the same keys it checks tokens with, that the answer echoes
//! the nonce it sent (no replay of an old answer), and that the server's time is plausible.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use licet_api::client::{DeactivateAnswer, RefusalAnswer, TokenAnswer};
use licet_verifier::Error;
use licet_verifier::KeyProvider;

/// The domain-separation prefix of signed answers (never a COSE `Sig_structure`, never a JWT).
pub const RESPONSE_CONTEXT: &[u8] = b"licet-response-v1\0";

/// Checks the `Licet-Signature` header of an answer over its exact body bytes.
///
/// Errors: [`Error::Malformed`] for a header that does not parse, [`Error::UnknownKey`] for a
/// kid none of `keys` has, [`Error::BadSignature`] for a signature that does not verify.
pub fn verify_answer<K: KeyProvider + ?Sized>(
    keys: &K,
    header: &str,
    body: &[u8],
) -> Result<(), Error> {
    let mut kid = None;
    let mut sig = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("kid", v)) => kid = Some(v.trim()),
            Some(("sig", v)) => sig = Some(v.trim()),
            _ => {}
        }
    }
    let (Some(kid), Some(sig)) = (kid, sig) else {
        return Err(Error::Malformed("signature header without kid and sig"));
    };
    let kid = decode_hex(kid).ok_or(Error::Malformed("kid is not hex"))?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| Error::Malformed("signature is not base64url"))?;
    let key = keys.key_for(&kid).ok_or(Error::UnknownKey)?;
    key.verify_parts(&[RESPONSE_CONTEXT, body], &sig)
}

/// What every signed answer says about itself: the nonce it echoes and the server's clock.
pub trait SignedAnswer {
    /// The request's nonce, echoed.
    fn nonce(&self) -> Option<&str>;
    /// The server's clock when it answered (unix seconds).
    fn server_time(&self) -> i64;
}

macro_rules! signed_answer {
    ($($t:ty),*) => {$(
        impl SignedAnswer for $t {
            fn nonce(&self) -> Option<&str> {
                self.nonce.as_deref()
            }
            fn server_time(&self) -> i64 {
                self.server_time
            }
        }
    )*};
}
signed_answer!(TokenAnswer, DeactivateAnswer, RefusalAnswer);

/// Checks what a signed answer says about itself: that it echoes `nonce`, and that its
/// `server_time` is within `max_skew` seconds of `now` (a replayed or stale answer is refused).
pub fn check_freshness(
    answer: &impl SignedAnswer,
    nonce: &str,
    now: i64,
    max_skew: u64,
) -> Result<(), Error> {
    if answer.nonce() != Some(nonce) {
        return Err(Error::Malformed(
            "the answer does not echo the request's nonce",
        ));
    }
    if answer.server_time().abs_diff(now) > max_skew {
        return Err(Error::Malformed(
            "the answer's server_time is far from the local clock",
        ));
    }
    Ok(())
}

fn decode_hex(s: &str) -> Option<std::vec::Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
