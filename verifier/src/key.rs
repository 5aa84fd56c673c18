//! Public keys, key ids, algorithms and the key set a verifier looks keys up in.

use core::fmt;

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// A signature algorithm of the licet profile, with its COSE identifier.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (pure EdDSA). Emitted as COSE `-8` (EdDSA); `-19` (Ed25519) is accepted too.
    Ed25519,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (COSE `-37`).
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (COSE `-257`).
    Rs256,
}

impl Algorithm {
    /// The COSE algorithm identifier licet emits.
    pub const fn cose_id(self) -> i64 {
        match self {
            Algorithm::Ed25519 => -8,
            Algorithm::Ps256 => -37,
            Algorithm::Rs256 => -257,
        }
    }

    /// Maps a COSE algorithm identifier to an algorithm; unknown ids are refused.
    pub const fn from_cose_id(id: i64) -> Result<Algorithm, Error> {
        match id {
            -8 | -19 => Ok(Algorithm::Ed25519),
            -37 => Ok(Algorithm::Ps256),
            -257 => Ok(Algorithm::Rs256),
            _ => Err(Error::UnsupportedAlgorithm),
        }
    }

    /// The JOSE-style name (`EdDSA`, `PS256`, `RS256`).
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "EdDSA",
            Algorithm::Ps256 => "PS256",
            Algorithm::Rs256 => "RS256",
        }
    }
}

/// The label of a key endorsement: a signing key's signature over this and the next key's 32
/// bytes says the next key is its successor.
pub const KEY_ENDORSEMENT_LABEL: &[u8] = b"licet/key-endorsement/v1\0";

/// Length of a licet key id in bytes.
pub const KID_LEN: usize = 8;

/// A key id: the first 8 bytes of SHA-256 over the key's SubjectPublicKeyInfo DER encoding.
///
/// Because the SPKI names the algorithm (Ed25519, rsaEncryption for RS256, id-RSASSA-PSS for
/// PS256), one key id always maps to exactly one algorithm.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; KID_LEN]);

impl KeyId {
    /// Derives the key id from a SubjectPublicKeyInfo DER encoding.
    pub fn from_spki_der(spki: &[u8]) -> KeyId {
        let digest = Sha256::digest(spki);
        let mut kid = [0u8; KID_LEN];
        kid.copy_from_slice(&digest[..KID_LEN]);
        KeyId(kid)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; KID_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32-byte key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A public key together with its key id and its one algorithm.
#[derive(Clone)]
pub struct PublicKey {
    kid: KeyId,
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Ed25519(VerifyingKey),
    #[cfg(feature = "rsa")]
    Ps256(alloc::boxed::Box<rsa::pss::VerifyingKey<Sha256>>),
    #[cfg(feature = "rsa")]
    Rs256(alloc::boxed::Box<rsa::pkcs1v15::VerifyingKey<Sha256>>),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm())
            .finish()
    }
}

impl PublicKey {
    /// An Ed25519 key from its 32 raw bytes. Non-canonical encodings and small-order points are
    /// refused with [`Error::InvalidKey`].
    pub fn ed25519(bytes: &[u8; 32]) -> Result<PublicKey, Error> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::InvalidKey)?;
        // `from_bytes` accepts non-canonical y coordinates; a key must round-trip exactly.
        if key.is_weak() || key.as_bytes() != bytes {
            return Err(Error::InvalidKey);
        }
        let mut spki = [0u8; 44];
        spki[..12].copy_from_slice(&ED25519_SPKI_PREFIX);
        spki[12..].copy_from_slice(bytes);
        Ok(PublicKey {
            kid: KeyId::from_spki_der(&spki),
            inner: Inner::Ed25519(key),
        })
    }

    /// A key from its SubjectPublicKeyInfo DER encoding. Without `rsa` only Ed25519 keys are
    /// understood; with it, also RSA (`rsaEncryption` → RS256, `id-RSASSA-PSS` → PS256).
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, Error> {
        if der.len() == 44 && der[..12] == ED25519_SPKI_PREFIX {
            let mut raw = [0u8; 32];
            raw.copy_from_slice(&der[12..]);
            return PublicKey::ed25519(&raw);
        }
        #[cfg(feature = "rsa")]
        {
            rsa_spki::decode(der)
        }
        #[cfg(not(feature = "rsa"))]
        {
            Err(Error::InvalidKey)
        }
    }

    /// A key from a PEM `PUBLIC KEY` (SPKI) document.
    #[cfg(feature = "alloc")]
    pub fn from_spki_pem(pem: &str) -> Result<PublicKey, Error> {
        use spki::der::Decode;
        // Blank space around the armour is how PEMs arrive from shells, JSON and editors
        // (`jq -r` adds a newline to one that ends in a newline); RFC 7468's parser does not
        // take it, so it is trimmed here. Inside the armour the parser is as strict as ever.
        let (label, der) =
            spki::der::pem::decode_vec(pem.trim().as_bytes()).map_err(|_| Error::InvalidKey)?;
        if label != "PUBLIC KEY" {
            return Err(Error::InvalidKey);
        }
        // Validate that it is DER before interpreting it.
        spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(|_| Error::InvalidKey)?;
        PublicKey::from_spki_der(&der)
    }

    /// Every `PUBLIC KEY` block of a PEM text, each read as [`PublicKey::from_spki_pem`] does:
    /// a vendor's key file may hold several (a key and its successor during a rotation). One
    /// unreadable block refuses the whole text, and a text with no block is refused too: a key
    /// file that silently yields fewer keys than it shows would fail only in the field.
    #[cfg(feature = "alloc")]
    pub fn all_from_pem(pem: &str) -> Result<alloc::vec::Vec<PublicKey>, Error> {
        const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
        const END: &str = "-----END PUBLIC KEY-----";
        let mut keys = alloc::vec::Vec::new();
        let mut rest = pem;
        while let Some(start) = rest.find(BEGIN) {
            let after = &rest[start..];
            let end = after.find(END).ok_or(Error::InvalidKey)? + END.len();
            keys.push(PublicKey::from_spki_pem(&after[..end])?);
            rest = &after[end..];
        }
        if keys.is_empty() {
            return Err(Error::InvalidKey);
        }
        Ok(keys)
    }

    /// An RSA key for the given algorithm (PS256 or RS256). The modulus must be 2048–4096 bits.
    #[cfg(feature = "rsa")]
    pub fn rsa(key: rsa::PublicKey, alg: Algorithm) -> Result<PublicKey, Error> {
        rsa_spki::from_key(key, alg)
    }

    /// A key from a COSE_Key (RFC 9052 §7): `kty` OKP with `crv` Ed25519 and `x` (RFC 9053), or,
    /// with `rsa`, `kty` RSA with `n`, `e` and an `alg` of PS256 or RS256 (RFC 8230). A `kid`
    /// or `alg` that is present must be the key's own; other parameters are skipped. What
    /// licet-server publishes in `/v1/keys` (`cose_key`) reads back to the same key.
    pub fn from_cose_key(bytes: &[u8]) -> Result<PublicKey, Error> {
        use crate::cbor::{Key, Reader};
        let bad = || Error::InvalidKey;
        let mut r = Reader::new(bytes);
        let n = r.map().map_err(|_| bad())?;
        let (mut kty, mut kid, mut alg, mut p1, mut p2) = (None, None, None, None, None);
        let mut crv = None;
        for _ in 0..n {
            let (k, _) = r.key().map_err(|_| bad())?;
            match k {
                Key::Int(1) => kty = Some(r.int().map_err(|_| bad())?),
                Key::Int(2) => kid = Some(r.bytes().map_err(|_| bad())?),
                Key::Int(3) => alg = Some(r.int().map_err(|_| bad())?),
                // -1 is `crv` (an integer) for OKP and `n` (bytes) for RSA.
                Key::Int(-1) => match r.peek_major().map_err(|_| bad())? {
                    crate::cbor::BYTES => p1 = Some(r.bytes().map_err(|_| bad())?),
                    _ => crv = Some(r.int().map_err(|_| bad())?),
                },
                Key::Int(-2) => p2 = Some(r.bytes().map_err(|_| bad())?),
                _ => r.skip().map_err(|_| bad())?,
            }
        }
        r.finish().map_err(|_| bad())?;
        let alg = alg.map(Algorithm::from_cose_id).transpose()?;
        let key = match kty {
            Some(1) => {
                if crv != Some(6) || p1.is_some() || alg.is_some_and(|a| a != Algorithm::Ed25519) {
                    return Err(bad());
                }
                let x: &[u8; 32] = p2.ok_or_else(bad)?.try_into().map_err(|_| bad())?;
                PublicKey::ed25519(x)?
            }
            #[cfg(feature = "rsa")]
            Some(3) => {
                let alg = alg.filter(|a| *a != Algorithm::Ed25519).ok_or_else(bad)?;
                rsa_spki::from_parts(p1.ok_or_else(bad)?, p2.ok_or_else(bad)?, alg)?
            }
            _ => return Err(bad()),
        };
        if kid.is_some_and(|k| k != key.kid().as_bytes()) {
            return Err(bad());
        }
        Ok(key)
    }

    /// The key id.
    pub fn kid(&self) -> KeyId {
        self.kid
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        match &self.inner {
            Inner::Ed25519(_) => Algorithm::Ed25519,
            #[cfg(feature = "rsa")]
            Inner::Ps256(_) => Algorithm::Ps256,
            #[cfg(feature = "rsa")]
            Inner::Rs256(_) => Algorithm::Rs256,
        }
    }

    /// The raw Ed25519 key bytes, if this is an Ed25519 key.
    pub fn ed25519_bytes(&self) -> Option<&[u8; 32]> {
        match &self.inner {
            Inner::Ed25519(k) => Some(k.as_bytes()),
            #[cfg(feature = "rsa")]
            _ => None,
        }
    }

    /// The RSA public key, if this is an RSA key.
    #[cfg(feature = "rsa")]
    pub fn rsa_key(&self) -> Option<&rsa::PublicKey> {
        match &self.inner {
            Inner::Ed25519(_) => None,
            Inner::Ps256(k) => Some(k.as_ref().as_ref()),
            Inner::Rs256(k) => Some(k.as_ref().as_ref()),
        }
    }

    /// The SubjectPublicKeyInfo DER encoding (the bytes the key id is derived from).
    #[cfg(feature = "alloc")]
    pub fn to_spki_der(&self) -> alloc::vec::Vec<u8> {
        match &self.inner {
            Inner::Ed25519(k) => {
                let mut v = alloc::vec::Vec::with_capacity(44);
                v.extend_from_slice(&ED25519_SPKI_PREFIX);
                v.extend_from_slice(k.as_bytes());
                v
            }
            #[cfg(feature = "rsa")]
            Inner::Ps256(k) => rsa_spki::encode(k.as_ref().as_ref(), Algorithm::Ps256),
            #[cfg(feature = "rsa")]
            Inner::Rs256(k) => rsa_spki::encode(k.as_ref().as_ref(), Algorithm::Rs256),
        }
    }

    /// The SPKI in PEM (`PUBLIC KEY`).
    #[cfg(feature = "alloc")]
    pub fn to_spki_pem(&self) -> alloc::string::String {
        spki::der::pem::encode_string(
            "PUBLIC KEY",
            spki::der::pem::LineEnding::LF,
            &self.to_spki_der(),
        )
        .unwrap_or_default()
    }

    /// Whether `signature` is this key's endorsement of `endorsed` ([`KEY_ENDORSEMENT_LABEL`]
    /// followed by the endorsed Ed25519 key's 32 bytes, checked as `verify_strict` does): how a
    /// rotated server key set is trusted from a key pinned before the rotation. Only Ed25519
    /// keys endorse and are endorsed.
    pub fn endorses(&self, endorsed: &PublicKey, signature: &[u8]) -> bool {
        match (&self.inner, endorsed.ed25519_bytes()) {
            (Inner::Ed25519(_), Some(raw)) => self
                .verify_parts(&[KEY_ENDORSEMENT_LABEL, raw], signature)
                .is_ok(),
            _ => false,
        }
    }

    /// Verifies `signature` over the concatenation of `parts`, without copying them together.
    ///
    /// For Ed25519 this is exactly the check of `ed25519_dalek::VerifyingKey::verify_strict`
    /// (the tests compare the two on every vector and on mutations): the signature's `S` must be
    /// canonical, its `R` must decompress and not be of small order, the key must not be of small
    /// order, and `R == [S]B - [k]A`. It is done through the streaming verifier so that the COSE
    /// `Sig_structure`, which is not contiguous in the token, is hashed in place: no buffer on
    /// the stack and no allocation, whatever the size of the payload.
    pub fn verify_parts(&self, parts: &[&[u8]], signature: &[u8]) -> Result<(), Error> {
        match &self.inner {
            Inner::Ed25519(key) => {
                let sig = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| Error::BadSignature)?;
                let r = CompressedEdwardsY(*sig.r_bytes())
                    .decompress()
                    .ok_or(Error::BadSignature)?;
                if r.is_small_order() || key.is_weak() {
                    return Err(Error::BadSignature);
                }
                // `verify_stream` refuses a non-canonical S.
                let mut stream = key.verify_stream(&sig).map_err(|_| Error::BadSignature)?;
                for part in parts {
                    stream.update(part);
                }
                stream
                    .finalize_and_verify()
                    .map_err(|_| Error::BadSignature)
            }
            #[cfg(feature = "rsa")]
            Inner::Ps256(key) => {
                use rsa::signature::hazmat::PrehashVerifier;
                let digest = sha256_parts(parts);
                let sig =
                    rsa::pss::Signature::try_from(signature).map_err(|_| Error::BadSignature)?;
                key.verify_prehash(&digest, &sig)
                    .map_err(|_| Error::BadSignature)
            }
            #[cfg(feature = "rsa")]
            Inner::Rs256(key) => {
                use rsa::signature::hazmat::PrehashVerifier;
                let digest = sha256_parts(parts);
                let sig = rsa::pkcs1v15::Signature::try_from(signature)
                    .map_err(|_| Error::BadSignature)?;
                key.verify_prehash(&digest, &sig)
                    .map_err(|_| Error::BadSignature)
            }
        }
    }
}

#[cfg(feature = "rsa")]
fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[cfg(feature = "rsa")]
pub use rsa_spki::rsa_algorithm_identifier;

#[cfg(feature = "rsa")]
mod rsa_spki {
    //! RSA keys in SubjectPublicKeyInfo form. The algorithm identifier carries the scheme:
    //! `rsaEncryption` (with NULL parameters) for RS256 and `id-RSASSA-PSS` (parameters absent,
    //! as RFC 4055 allows) for PS256, the way OpenSSL writes `RSA-PSS` keys.
    use alloc::boxed::Box;
    use alloc::vec::Vec;

    use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
    use rsa::traits::PublicKeyParts;
    use sha2::Sha256;
    use spki::der::asn1::{AnyRef, BitStringRef, ObjectIdentifier};
    use spki::der::{Decode, Encode};
    use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

    use super::{Algorithm, Inner, KeyId, PublicKey};
    use crate::error::Error;

    pub(super) const RSA_ENCRYPTION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    pub(super) const RSASSA_PSS: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

    /// Smallest and largest RSA modulus licet accepts, in bits.
    pub(super) const MIN_BITS: u32 = 2048;
    pub(super) const MAX_BITS: u32 = 4096;

    pub(super) fn decode(der: &[u8]) -> Result<PublicKey, Error> {
        let info = SubjectPublicKeyInfoRef::from_der(der).map_err(|_| Error::InvalidKey)?;
        let alg = if info.algorithm.oid == RSA_ENCRYPTION {
            if info.algorithm.parameters != Some(AnyRef::NULL) {
                return Err(Error::InvalidKey);
            }
            Algorithm::Rs256
        } else if info.algorithm.oid == RSASSA_PSS {
            if info.algorithm.parameters.is_some() {
                return Err(Error::InvalidKey);
            }
            Algorithm::Ps256
        } else {
            return Err(Error::InvalidKey);
        };
        let bits = info
            .subject_public_key
            .as_bytes()
            .ok_or(Error::InvalidKey)?;
        let key = rsa::PublicKey::from_pkcs1_der(bits).map_err(|_| Error::InvalidKey)?;
        let pk = from_key(key, alg)?;
        // The key id is over the canonical encoding, so a key read from a non-canonical but
        // parseable SPKI gets the same id as the one it was issued with; refuse the difference.
        if encode(pk.rsa_key().ok_or(Error::InvalidKey)?, alg) != der {
            return Err(Error::InvalidKey);
        }
        Ok(pk)
    }

    /// A key from its modulus and exponent (big-endian, as COSE carries them; no leading
    /// zeros).
    pub(super) fn from_parts(n: &[u8], e: &[u8], alg: Algorithm) -> Result<PublicKey, Error> {
        if n.first() == Some(&0) || e.first() == Some(&0) {
            return Err(Error::InvalidKey);
        }
        let pkcs1 = rsa::pkcs1::RsaPublicKey {
            modulus: spki::der::asn1::UintRef::new(n).map_err(|_| Error::InvalidKey)?,
            public_exponent: spki::der::asn1::UintRef::new(e).map_err(|_| Error::InvalidKey)?,
        }
        .to_der()
        .map_err(|_| Error::InvalidKey)?;
        let key = rsa::PublicKey::from_pkcs1_der(&pkcs1).map_err(|_| Error::InvalidKey)?;
        from_key(key, alg)
    }

    pub(super) fn from_key(key: rsa::PublicKey, alg: Algorithm) -> Result<PublicKey, Error> {
        let bits = key.n().bit_width();
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(Error::InvalidKey);
        }
        let kid = KeyId::from_spki_der(&encode(&key, alg));
        let inner = match alg {
            Algorithm::Ps256 => Inner::Ps256(Box::new(rsa::pss::VerifyingKey::<Sha256>::new(key))),
            Algorithm::Rs256 => {
                Inner::Rs256(Box::new(rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key)))
            }
            Algorithm::Ed25519 => return Err(Error::InvalidKey),
        };
        Ok(PublicKey { kid, inner })
    }

    /// The algorithm identifier of an RSA key for `alg` (PS256 or RS256), as it appears in the
    /// key's SPKI and PKCS#8 encodings; `None` for other algorithms.
    pub fn rsa_algorithm_identifier(alg: Algorithm) -> Option<AlgorithmIdentifierRef<'static>> {
        match alg {
            Algorithm::Ps256 => Some(AlgorithmIdentifierRef {
                oid: RSASSA_PSS,
                parameters: None,
            }),
            Algorithm::Rs256 => Some(AlgorithmIdentifierRef {
                oid: RSA_ENCRYPTION,
                parameters: Some(AnyRef::NULL),
            }),
            Algorithm::Ed25519 => None,
        }
    }

    pub(super) fn encode(key: &rsa::PublicKey, alg: Algorithm) -> Vec<u8> {
        let pkcs1 = key
            .to_pkcs1_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        let Some(algorithm) = rsa_algorithm_identifier(alg) else {
            return Vec::new();
        };
        let Ok(subject_public_key) = BitStringRef::from_bytes(&pkcs1) else {
            return Vec::new();
        };
        SubjectPublicKeyInfoRef {
            algorithm,
            subject_public_key,
        }
        .to_der()
        .unwrap_or_default()
    }
}

/// Where a verifier looks up the key for a key id.
///
/// Implemented for a single key, slices and arrays of keys (and `Vec` with `alloc`); implement
/// it yourself to fetch keys from elsewhere, for example during a key rotation.
pub trait KeyProvider {
    /// The key with this key id, if any.
    fn key_for(&self, kid: &[u8]) -> Option<&PublicKey>;
}

impl KeyProvider for PublicKey {
    fn key_for(&self, kid: &[u8]) -> Option<&PublicKey> {
        (self.kid.0[..] == *kid).then_some(self)
    }
}

impl KeyProvider for [PublicKey] {
    fn key_for(&self, kid: &[u8]) -> Option<&PublicKey> {
        self.iter().find(|k| k.kid.0[..] == *kid)
    }
}

impl<const N: usize> KeyProvider for [PublicKey; N] {
    fn key_for(&self, kid: &[u8]) -> Option<&PublicKey> {
        self[..].key_for(kid)
    }
}

impl<T: KeyProvider + ?Sized> KeyProvider for &T {
    fn key_for(&self, kid: &[u8]) -> Option<&PublicKey> {
        (**self).key_for(kid)
    }
}

#[cfg(feature = "alloc")]
impl KeyProvider for alloc::vec::Vec<PublicKey> {
    fn key_for(&self, kid: &[u8]) -> Option<&PublicKey> {
        self[..].key_for(kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_order_and_non_canonical_keys_are_refused() {
        // The identity point (y = 1) is of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::ed25519(&identity).err(), Some(Error::InvalidKey));
        // y = p (non-canonical encoding of y = 0).
        let p: [u8; 32] = [
            0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0x7f,
        ];
        assert_eq!(PublicKey::ed25519(&p).err(), Some(Error::InvalidKey));
    }

    #[test]
    fn cose_ids() {
        assert_eq!(Algorithm::from_cose_id(-8), Ok(Algorithm::Ed25519));
        assert_eq!(Algorithm::from_cose_id(-19), Ok(Algorithm::Ed25519));
        assert_eq!(
            Algorithm::from_cose_id(-7),
            Err(Error::UnsupportedAlgorithm)
        );
        for a in [Algorithm::Ed25519, Algorithm::Ps256, Algorithm::Rs256] {
            assert_eq!(Algorithm::from_cose_id(a.cose_id()), Ok(a));
        }
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn a_pem_is_read_whatever_its_line_ends_and_surrounding_blank_space() {
        use alloc::string::String;
        use base64::Engine;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let raw = sk.verifying_key().to_bytes();
        let mut spki = [0u8; 44];
        spki[..12].copy_from_slice(&ED25519_SPKI_PREFIX);
        spki[12..].copy_from_slice(&raw);
        let b64 = base64::engine::general_purpose::STANDARD.encode(spki);
        let pem = alloc::format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n");
        let want = PublicKey::ed25519(&raw).expect("key").kid();
        let variants: [String; 5] = [
            pem.clone(),
            alloc::format!("{pem}\n"), // `jq -r` of a PEM that already ends in a newline
            pem.replace('\n', "\r\n"), // written on Windows
            alloc::format!("\n  {pem}  \n\t"), // pasted with blank space around it
            pem.trim_end().into(),     // no final newline
        ];
        for v in &variants {
            let got = PublicKey::from_spki_pem(v).map(|k| k.kid());
            assert_eq!(got, Ok(want), "{v:?}");
        }
        // Blank space inside the armour is still refused, as is any other label.
        assert!(PublicKey::from_spki_pem(&pem.replace("PUBLIC KEY", "PRIVATE KEY")).is_err());
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn a_key_file_gives_every_block_or_nothing() {
        let a = PublicKey::ed25519(
            &ed25519_dalek::SigningKey::from_bytes(&[3u8; 32])
                .verifying_key()
                .to_bytes(),
        )
        .expect("key");
        let b = PublicKey::ed25519(
            &ed25519_dalek::SigningKey::from_bytes(&[4u8; 32])
                .verifying_key()
                .to_bytes(),
        )
        .expect("key");
        let two = alloc::format!(
            "{}\r\n\n{}\n",
            a.to_spki_pem(),
            b.to_spki_pem().replace('\n', "\r\n")
        );
        let kids: alloc::vec::Vec<KeyId> = PublicKey::all_from_pem(&two)
            .expect("two keys")
            .iter()
            .map(PublicKey::kid)
            .collect();
        assert_eq!(kids, [a.kid(), b.kid()]);
        // One bad block, an unterminated one, or none at all refuses the whole text.
        let broken = alloc::format!(
            "{}{}",
            a.to_spki_pem(),
            b.to_spki_pem().replace("MCow", "MCox")
        );
        assert_eq!(
            PublicKey::all_from_pem(&broken).map(|k| k.len()),
            Err(Error::InvalidKey)
        );
        let cut = &two[..two.len() - 10];
        assert_eq!(
            PublicKey::all_from_pem(cut).map(|k| k.len()),
            Err(Error::InvalidKey)
        );
        assert_eq!(
            PublicKey::all_from_pem("no key here").map(|k| k.len()),
            Err(Error::InvalidKey)
        );
    }

    #[test]
    fn spki_round_trip_gives_the_same_kid() {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let raw = sk.verifying_key().to_bytes();
        let pk = PublicKey::ed25519(&raw).expect("valid key");
        let mut spki = [0u8; 44];
        spki[..12].copy_from_slice(&ED25519_SPKI_PREFIX);
        spki[12..].copy_from_slice(&raw);
        let again = PublicKey::from_spki_der(&spki).expect("valid spki");
        assert_eq!(pk.kid(), again.kid());
        assert_eq!(
            pk.key_for(pk.kid().as_bytes()).map(|k| k.kid()),
            Some(pk.kid())
        );
        assert!(pk.key_for(&[0u8; 8]).is_none());
    }
}
