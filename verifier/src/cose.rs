//! The COSE_Sign1 envelope (RFC 9052 §4.2) as licet profiles it.
//!
//! ```text
//! 18([ protected: bstr .cbor { 1: alg, 4: kid, ?16: typ, ?2: crit },
//!      unprotected: {},
//!      payload: bstr,
//!      signature: bstr ])
//! ```
//!
//! Domain separation: a license token carries no `typ`; every other licet artefact carries its
//! own `typ` in the protected (signed) header. The token verifier refuses anything with a `typ`,
//! and every other verifier insists on its own, so no artefact can be accepted as another.

use crate::cbor::{self, Key, KeyOrder, Reader};
use crate::error::Error;
use crate::key::{Algorithm, KeyProvider, PublicKey};

/// COSE_Sign1 CBOR tag.
pub const COSE_SIGN1_TAG: u64 = 18;

/// Header labels (RFC 9052 §3.1, RFC 9596).
pub(crate) const LABEL_ALG: i64 = 1;
pub(crate) const LABEL_CRIT: i64 = 2;
pub(crate) const LABEL_KID: i64 = 4;
pub(crate) const LABEL_TYP: i64 = 16;

/// `typ` of a licet revocation list.
pub const TYP_REVOCATION_LIST: &str = "licet-revocation-list";

/// The start of every `Sig_structure`: `["Signature1", …` (an array of four, then the context).
const SIG_STRUCTURE_PREFIX: [u8; 12] = [
    0x84, 0x6a, b'S', b'i', b'g', b'n', b'a', b't', b'u', b'r', b'e', b'1',
];
/// The empty external AAD (`h''`).
const EMPTY_AAD: [u8; 1] = [0x40];

/// The protected header, as read (not yet trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtectedHeader<'a> {
    /// COSE algorithm identifier as written (`-8`, `-19`, `-37`, `-257`).
    pub alg: i64,
    /// Key id bytes.
    pub kid: &'a [u8],
    /// The `typ` header, if present (text form only).
    pub typ: Option<&'a str>,
}

impl ProtectedHeader<'_> {
    /// The algorithm, if licet supports it.
    pub fn algorithm(&self) -> Result<Algorithm, Error> {
        Algorithm::from_cose_id(self.alg)
    }
}

/// A parsed COSE_Sign1 whose signature has not been checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sign1<'a> {
    pub(crate) header: ProtectedHeader<'a>,
    protected_with_head: &'a [u8],
    pub(crate) protected: &'a [u8],
    payload_with_head: &'a [u8],
    pub(crate) payload: &'a [u8],
    pub(crate) signature: &'a [u8],
}

impl<'a> Sign1<'a> {
    pub(crate) fn parse(bytes: &'a [u8], max_len: usize) -> Result<Sign1<'a>, Error> {
        if bytes.len() > max_len {
            return Err(Error::TooLarge);
        }
        let mut r = Reader::new(bytes);
        if r.tag()? != COSE_SIGN1_TAG {
            return Err(Error::Malformed("not a COSE_Sign1 (tag 18)"));
        }
        if r.array()? != 4 {
            return Err(Error::Malformed("COSE_Sign1 is not an array of four"));
        }
        let (protected_with_head, protected) = r.bytes_with_head()?;
        if r.peek_major()? != cbor::MAP {
            return Err(Error::Malformed("unprotected header is not a map"));
        }
        // The unprotected header is not signed; licet reads nothing from it but insists that it
        // is well-formed.
        r.skip()?;
        if r.peek_major()? != cbor::BYTES {
            return Err(Error::Malformed(
                "payload is not a byte string (detached payloads are not supported)",
            ));
        }
        let (payload_with_head, payload) = r.bytes_with_head()?;
        let signature = r.bytes()?;
        r.finish()?;
        Ok(Sign1 {
            header: parse_protected(protected)?,
            protected_with_head,
            protected,
            payload_with_head,
            payload,
            signature,
        })
    }

    /// Checks `typ`, finds the key, checks that the header's algorithm is the key's, and verifies
    /// the signature over the bytes as received. Nothing in the payload is read before this.
    /// Returns the key that verified the signature.
    pub(crate) fn verify<'k, K: KeyProvider + ?Sized>(
        &self,
        keys: &'k K,
        typ: Option<&str>,
    ) -> Result<&'k PublicKey, Error> {
        if self.header.typ != typ {
            return Err(Error::WrongType);
        }
        let alg = self.header.algorithm()?;
        let key = keys.key_for(self.header.kid).ok_or(Error::UnknownKey)?;
        if key.algorithm() != alg {
            return Err(Error::AlgorithmMismatch);
        }
        key.verify_parts(
            &[
                &SIG_STRUCTURE_PREFIX,
                self.protected_with_head,
                &EMPTY_AAD,
                self.payload_with_head,
            ],
            self.signature,
        )?;
        Ok(key)
    }
}

fn parse_protected(bytes: &[u8]) -> Result<ProtectedHeader<'_>, Error> {
    let mut r = Reader::new(bytes);
    let n = r.map()?;
    let mut order = KeyOrder::default();
    let (mut alg, mut kid, mut typ) = (None, None, None);
    for _ in 0..n {
        let (key, encoded) = r.key()?;
        order.next(encoded)?;
        match key {
            Key::Int(LABEL_ALG) => alg = Some(r.int()?),
            Key::Int(LABEL_CRIT) => {
                let count = r.array()?;
                if count == 0 {
                    return Err(Error::Malformed("empty crit"));
                }
                for _ in 0..count {
                    // licet processes alg, kid and typ; anything else marked critical is refused.
                    match r.key()?.0 {
                        Key::Int(LABEL_ALG | LABEL_KID | LABEL_TYP) => {}
                        _ => return Err(Error::UnsupportedCritical),
                    }
                }
            }
            Key::Int(LABEL_KID) => kid = Some(r.bytes()?),
            Key::Int(LABEL_TYP) => {
                if r.peek_major()? == cbor::TEXT {
                    typ = Some(r.text()?);
                } else {
                    // A numeric content-format `typ` is never a licet one.
                    r.skip()?;
                    typ = Some("");
                }
            }
            _ => r.skip()?,
        }
    }
    r.finish()?;
    Ok(ProtectedHeader {
        alg: alg.ok_or(Error::Malformed("protected header lacks alg"))?,
        kid: kid.ok_or(Error::Malformed("protected header lacks kid"))?,
        typ,
    })
}

/// Encodes a protected header and assembles a COSE_Sign1 around a payload and signature.
#[cfg(feature = "alloc")]
pub mod encode {
    use alloc::vec::Vec;

    use super::{COSE_SIGN1_TAG, EMPTY_AAD, LABEL_ALG, LABEL_KID, LABEL_TYP, SIG_STRUCTURE_PREFIX};
    use crate::cbor::Writer;
    use crate::key::{Algorithm, KeyId};

    /// The protected header bytes for `alg`, `kid` and an optional `typ`.
    pub fn protected_header(alg: Algorithm, kid: &KeyId, typ: Option<&str>) -> Vec<u8> {
        let mut w = Writer::new();
        w.map(2 + usize::from(typ.is_some()));
        w.int(LABEL_ALG).int(alg.cose_id());
        w.int(LABEL_KID).bytes(kid.as_bytes());
        if let Some(typ) = typ {
            w.int(LABEL_TYP).text(typ);
        }
        w.into_bytes()
    }

    /// The `Sig_structure` (RFC 9052 §4.4) to be signed: the exact bytes a verifier hashes.
    pub fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(&SIG_STRUCTURE_PREFIX)
            .bytes(protected)
            .raw(&EMPTY_AAD)
            .bytes(payload);
        w.into_bytes()
    }

    /// The tagged COSE_Sign1 with an empty unprotected header.
    pub fn sign1(protected: &[u8], payload: &[u8], signature: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        w.tag(COSE_SIGN1_TAG)
            .array(4)
            .bytes(protected)
            .map(0)
            .bytes(payload)
            .bytes(signature);
        w.into_bytes()
    }
}
