//! Device keys: an Ed25519 key pair a client makes on activation and never lets leave the
//! machine. A token binds its public half as a CWT confirmation claim (`cnf`, RFC 8747, key 8)
//! holding a COSE_Key, so that the token is only worth something next to the secret half:
//!
//! ```text
//! 8: { 1: { 1: 1, -1: 6, -2: x } }   ; cnf → COSE_Key → kty OKP, crv Ed25519, x (32 bytes)
//! ```
//!
//! What the device key signs is domain-separated by a label, so that no signature made for one
//! purpose is accepted for another:
//!
//! | what | signed bytes |
//! |---|---|
//! | proof of possession | `"licet/device-pop/v1\0" ‖ challenge` |
//! | an online request | `"licet/device-request/v1\0" ‖ path ‖ "\0" ‖ body` |
//! | an offline request or receipt | the COSE `Sig_structure` of its COSE_Sign1 (its own `typ`) |
//!
//! Verifying is `no_std` with no allocator; making and keeping keys is the client's
//! (`licet_client::device::DeviceKey`).

use crate::cbor::{Key, KeyOrder, Reader};
use crate::error::Error;
use crate::key::PublicKey;

/// Size of a device public key (Ed25519).
pub const DEVICE_KEY_LEN: usize = 32;
/// Size of the COSE_Key encoding of a device key.
pub const COSE_KEY_LEN: usize = 40;
/// Label of a proof of possession.
pub const POP_LABEL: &[u8] = b"licet/device-pop/v1\0";
/// Label of a device-signed online request.
pub const REQUEST_LABEL: &[u8] = b"licet/device-request/v1\0";

/// The COSE_Key (RFC 9052 §7, RFC 9053 OKP) of an Ed25519 public key, in deterministic CBOR:
/// `{1: 1, -1: 6, -2: x}`.
pub fn cose_key(x: &[u8; DEVICE_KEY_LEN]) -> [u8; COSE_KEY_LEN] {
    let mut out = [0u8; COSE_KEY_LEN];
    out[..8].copy_from_slice(&[0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20]);
    out[8..].copy_from_slice(x);
    out
}

/// Reads a COSE_Key that must be an Ed25519 public key with exactly `kty`, `crv` and `x`, and
/// a valid point (not of small order, canonical).
pub(crate) fn read_cose_key(r: &mut Reader<'_>) -> Result<[u8; DEVICE_KEY_LEN], Error> {
    let bad = Error::Malformed("device key: a COSE_Key {1: 1, -1: 6, -2: x} is expected");
    let n = r.map()?;
    if n != 3 {
        return Err(bad);
    }
    let mut order = KeyOrder::default();
    let (mut kty, mut crv, mut x) = (None, None, None);
    for _ in 0..n {
        let (k, encoded) = r.key()?;
        order.next(encoded)?;
        match k {
            Key::Int(1) => kty = Some(r.int()?),
            Key::Int(-1) => crv = Some(r.int()?),
            Key::Int(-2) => x = Some(r.bytes()?),
            _ => return Err(bad),
        }
    }
    let x: [u8; DEVICE_KEY_LEN] = match (kty, crv, x) {
        (Some(1), Some(6), Some(x)) => x.try_into().map_err(|_| bad)?,
        _ => return Err(bad),
    };
    PublicKey::ed25519(&x).map_err(|_| Error::Malformed("device key: not a valid Ed25519 key"))?;
    Ok(x)
}

/// Reads the `cnf` claim: a map holding only a COSE_Key (`1`). Other confirmation methods
/// (a key id, an encrypted key) are refused: a verifier that ignored them would accept the
/// token without the binding it asks for.
pub(crate) fn read_cnf(r: &mut Reader<'_>) -> Result<[u8; DEVICE_KEY_LEN], Error> {
    if r.map()? != 1 {
        return Err(Error::Malformed("cnf: only a COSE_Key (1) is supported"));
    }
    match r.key()?.0 {
        Key::Int(1) => read_cose_key(r),
        _ => Err(Error::Malformed("cnf: only a COSE_Key (1) is supported")),
    }
}

fn verify(device_key: &[u8; DEVICE_KEY_LEN], parts: &[&[u8]], sig: &[u8]) -> Result<(), Error> {
    let key = PublicKey::ed25519(device_key).map_err(|_| Error::DeviceKeyMismatch)?;
    // `verify_parts` has `verify_strict`'s semantics (see `key.rs`).
    key.verify_parts(parts, sig)
        .map_err(|_| Error::DeviceKeyMismatch)
}

/// Checks a proof of possession: `signature` is the device key's signature of
/// `"licet/device-pop/v1\0" ‖ challenge`. Fails with [`Error::DeviceKeyMismatch`] unless it
/// is. The challenge should be fresh and random (the verifier's, not the prover's).
pub fn verify_possession(
    device_key: &[u8; DEVICE_KEY_LEN],
    challenge: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    verify(device_key, &[POP_LABEL, challenge], signature)
}

/// Checks the device signature of an online request: over
/// `"licet/device-request/v1\0" ‖ path ‖ "\0" ‖ body`, the body exactly as received. Fails
/// with [`Error::DeviceKeyMismatch`].
pub fn verify_request(
    device_key: &[u8; DEVICE_KEY_LEN],
    path: &str,
    body: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    verify(
        device_key,
        &[REQUEST_LABEL, path.as_bytes(), b"\0", body],
        signature,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: [u8; 32] = [
        0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07,
        0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07,
        0x51, 0x1a,
    ];

    #[test]
    fn the_cose_key_reads_back_and_nothing_else_does() {
        let k = cose_key(&X);
        assert_eq!(read_cose_key(&mut Reader::new(&k)), Ok(X));
        // Another curve, an extra parameter, a short x, a small-order point.
        let mut other_crv = k;
        other_crv[4] = 0x04;
        assert!(read_cose_key(&mut Reader::new(&other_crv)).is_err());
        assert!(read_cose_key(&mut Reader::new(&k[..39])).is_err());
        let mut zero = k;
        zero[8..].copy_from_slice(&[0; 32]);
        zero[8] = 1; // the identity point: small order
        assert!(read_cose_key(&mut Reader::new(&zero)).is_err());
        let mut four = [0u8; 43];
        four[0] = 0xa4;
        four[1..40].copy_from_slice(&k[1..]);
        four[40..].copy_from_slice(&[0x22, 0x41, 0x00]);
        assert!(read_cose_key(&mut Reader::new(&four)).is_err());
    }
}
