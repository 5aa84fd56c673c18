//! Signing keys: generation, PKCS#8 in PEM or DER, and the public half as SPKI.
//!
//! RSA keys carry their scheme in the algorithm identifier, as OpenSSL writes them: an
//! `id-RSASSA-PSS` key signs PS256 only, an `rsaEncryption` key RS256 only. So a key file alone
//! says which algorithm it signs with, and its key id (derived from the SPKI) differs between
//! the two schemes even for the same modulus.

use core::fmt;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use licet_verifier::{Algorithm, KeyId, PublicKey};
use pkcs8::der::asn1::OctetStringRef;
use pkcs8::der::{Decode, Encode};
use pkcs8::{ObjectIdentifier, PrivateKeyInfoRef};
use rand_core::CryptoRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use crate::error::Error;

const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// What kind of key to generate.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// Ed25519.
    Ed25519,
    /// RSA for PS256 with a modulus of this many bits (2048, 3072 or 4096).
    RsaPss(usize),
    /// RSA for RS256 with a modulus of this many bits (2048, 3072 or 4096).
    RsaPkcs1(usize),
}

impl KeySpec {
    /// Parses the CLI names: `ed25519`, `rsa-pss-2048`, `rsa-pkcs1-4096`, …
    pub fn parse(name: &str) -> Option<KeySpec> {
        if name == "ed25519" {
            return Some(KeySpec::Ed25519);
        }
        let (scheme, bits) = name.rsplit_once('-')?;
        let bits = match bits {
            "2048" => 2048,
            "3072" => 3072,
            "4096" => 4096,
            _ => return None,
        };
        match scheme {
            "rsa-pss" => Some(KeySpec::RsaPss(bits)),
            "rsa-pkcs1" => Some(KeySpec::RsaPkcs1(bits)),
            _ => None,
        }
    }

    /// All names [`KeySpec::parse`] accepts.
    pub const NAMES: &'static [&'static str] = &[
        "ed25519",
        "rsa-pss-2048",
        "rsa-pss-3072",
        "rsa-pss-4096",
        "rsa-pkcs1-2048",
        "rsa-pkcs1-3072",
        "rsa-pkcs1-4096",
    ];
}

/// A private signing key. Zeroized on drop; `Debug` shows only the key id and algorithm.
pub struct SigningKey {
    inner: Inner,
    public: PublicKey,
}

// Keys are few and long-lived; the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Ed25519(ed25519_dalek::SigningKey),
    Ps256(Box<rsa::pss::SigningKey<sha2::Sha256>>),
    Rs256(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.public.kid())
            .field("alg", &self.public.algorithm())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a key with the operating system's random number generator.
    pub fn generate(spec: KeySpec) -> Result<SigningKey, Error> {
        SigningKey::generate_with_rng(spec, &mut crate::os_rng())
    }

    /// Generates a key from `rng` (deterministic for a seeded RNG, as the test vectors need).
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(
        spec: KeySpec,
        rng: &mut R,
    ) -> Result<SigningKey, Error> {
        match spec {
            KeySpec::Ed25519 => Ok(SigningKey::from_ed25519(
                ed25519_dalek::SigningKey::generate(rng),
            )),
            KeySpec::RsaPss(bits) | KeySpec::RsaPkcs1(bits) => {
                if ![2048, 3072, 4096].contains(&bits) {
                    return Err(Error::UnsupportedKey(format!(
                        "RSA-{bits}: use 2048, 3072 or 4096 bits"
                    )));
                }
                let key = rsa::PrivateKey::new(rng, bits).map_err(|_| Error::Rng)?;
                let alg = if matches!(spec, KeySpec::RsaPss(_)) {
                    Algorithm::Ps256
                } else {
                    Algorithm::Rs256
                };
                SigningKey::from_rsa(key, alg)
            }
        }
    }

    /// Wraps an Ed25519 key.
    pub fn from_ed25519(key: ed25519_dalek::SigningKey) -> SigningKey {
        let public = PublicKey::ed25519(key.verifying_key().as_bytes())
            // A key derived from a secret scalar is never of small order.
            .unwrap_or_else(|_| unreachable!("Ed25519 public keys from secret keys are valid"));
        SigningKey {
            inner: Inner::Ed25519(key),
            public,
        }
    }

    /// Wraps an RSA key for PS256 or RS256.
    pub fn from_rsa(key: rsa::PrivateKey, alg: Algorithm) -> Result<SigningKey, Error> {
        let public = PublicKey::rsa(key.to_public_key(), alg).map_err(|_| {
            Error::UnsupportedKey(format!(
                "RSA modulus of {} bits: licet accepts 2048–4096 bits",
                key.n().bit_width()
            ))
        })?;
        let inner = match alg {
            Algorithm::Ps256 => Inner::Ps256(Box::new(rsa::pss::SigningKey::new(key))),
            _ => Inner::Rs256(Box::new(rsa::pkcs1v15::SigningKey::new(key))),
        };
        Ok(SigningKey { inner, public })
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key id.
    pub fn kid(&self) -> KeyId {
        self.public.kid()
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }

    /// The RSA private key, for protocols that need another padding or hash than the key's
    /// token algorithm (licet-server's LicenseCM answers use PKCS#1 v1.5 with SHA-512);
    /// `None` for Ed25519.
    pub fn rsa_private_key(&self) -> Option<&rsa::PrivateKey> {
        match &self.inner {
            Inner::Ed25519(_) => None,
            Inner::Ps256(k) => Some(k.as_ref().as_ref()),
            Inner::Rs256(k) => Some(k.as_ref().as_ref()),
        }
    }

    /// Reads a PKCS#8 private key in PEM (`PRIVATE KEY`) or DER.
    pub fn from_pkcs8(bytes: &[u8]) -> Result<SigningKey, Error> {
        if bytes.starts_with(b"-----BEGIN") {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Error::KeyFormat("PEM is not UTF-8".into()))?;
            let (label, der) = pkcs8::der::pem::decode_vec(text.as_bytes())
                .map_err(|e| Error::KeyFormat(format!("bad PEM: {e}")))?;
            let der = Zeroizing::new(der);
            if label != "PRIVATE KEY" {
                return Err(Error::KeyFormat(format!(
                    "expected a PRIVATE KEY, found {label}"
                )));
            }
            SigningKey::from_pkcs8_der(&der)
        } else {
            SigningKey::from_pkcs8_der(bytes)
        }
    }

    /// Reads a PKCS#8 private key in DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, Error> {
        let info = PrivateKeyInfoRef::from_der(der)
            .map_err(|e| Error::KeyFormat(format!("not PKCS#8: {e}")))?;
        let oid = info.algorithm.oid;
        if oid == ED25519 {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map_err(|e| Error::KeyFormat(format!("bad Ed25519 key: {e}")))?;
            Ok(SigningKey::from_ed25519(key))
        } else if oid == RSA_ENCRYPTION || oid == RSASSA_PSS {
            let key = rsa::PrivateKey::from_pkcs1_der(info.private_key.as_bytes())
                .map_err(|e| Error::KeyFormat(format!("bad RSA key: {e}")))?;
            let alg = if oid == RSASSA_PSS {
                Algorithm::Ps256
            } else {
                Algorithm::Rs256
            };
            SigningKey::from_rsa(key, alg)
        } else {
            Err(Error::UnsupportedKey(format!(
                "algorithm {oid}: licet signs with Ed25519 or RSA"
            )))
        }
    }

    /// The PKCS#8 DER encoding. Zeroized when dropped.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        match &self.inner {
            Inner::Ed25519(k) => Ok(Zeroizing::new(
                k.to_pkcs8_der().map_err(fail)?.as_bytes().to_vec(),
            )),
            Inner::Ps256(k) => self.rsa_pkcs8(k.as_ref().as_ref()),
            Inner::Rs256(k) => self.rsa_pkcs8(k.as_ref().as_ref()),
        }
    }

    /// PKCS#8 around the PKCS#1 key, with the algorithm identifier that names the scheme.
    fn rsa_pkcs8(&self, k: &rsa::PrivateKey) -> Result<Zeroizing<Vec<u8>>, Error> {
        let pkcs1 = k.to_pkcs1_der().map_err(fail)?;
        let algorithm = licet_verifier::rsa_algorithm_identifier(self.algorithm())
            .ok_or_else(|| Error::UnsupportedKey("not an RSA key".into()))?;
        let octets = OctetStringRef::new(pkcs1.as_bytes()).map_err(fail)?;
        let info = PrivateKeyInfoRef::new(algorithm, octets);
        Ok(Zeroizing::new(info.to_der().map_err(fail)?))
    }

    /// The PKCS#8 PEM encoding (`PRIVATE KEY`). Zeroized when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, Error> {
        let der = self.to_pkcs8_der()?;
        pkcs8::der::pem::encode_string("PRIVATE KEY", pkcs8::LineEnding::LF, &der)
            .map(Zeroizing::new)
            .map_err(|e| Error::KeyFormat(format!("cannot encode PEM: {e}")))
    }

    /// Signs `message` (the COSE `Sig_structure`). Ed25519 is deterministic; RSA signing is
    /// blinded and PSS salted with randomness from `rng`.
    pub(crate) fn sign_with_rng<R: CryptoRng + ?Sized>(
        &self,
        message: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
        match &self.inner {
            Inner::Ed25519(k) => Ok(k.sign(message).to_bytes().to_vec()),
            Inner::Ps256(k) => k
                .try_sign_with_rng(rng, message)
                .map(|s| s.to_vec())
                .map_err(|_| Error::Signing),
            Inner::Rs256(k) => k
                .try_sign_with_rng(rng, message)
                .map(|s| s.to_vec())
                .map_err(|_| Error::Signing),
        }
    }
}

fn fail(e: impl core::fmt::Display) -> Error {
    Error::KeyFormat(format!("cannot encode key: {e}"))
}

/// Reads a public key in SPKI PEM (`PUBLIC KEY`) or DER, or a PKCS#8 private key (whose public
/// half is taken).
pub fn read_public_key(bytes: &[u8]) -> Result<PublicKey, Error> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if text.contains("-----BEGIN PUBLIC KEY-----") {
            return PublicKey::from_spki_pem(text)
                .map_err(|e| Error::KeyFormat(format!("bad public key: {}", e.code())));
        }
        if text.contains("-----BEGIN PRIVATE KEY-----") {
            return SigningKey::from_pkcs8(text.trim_start().as_bytes()).map(|k| k.public.clone());
        }
    }
    PublicKey::from_spki_der(bytes)
        .map_err(|e| Error::KeyFormat(format!("not an SPKI public key ({})", e.code())))
}

// `Signer` for Ed25519 is used through `rsa::signature`, the same `signature` crate.
#[allow(unused_imports)]
use ed25519_dalek::Signer as _;

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    fn rng(seed: u8) -> ChaCha20Rng {
        ChaCha20Rng::from_seed([seed; 32])
    }

    #[test]
    fn pkcs8_round_trips_keep_key_id_and_algorithm() {
        for spec in [
            KeySpec::Ed25519,
            KeySpec::RsaPss(2048),
            KeySpec::RsaPkcs1(2048),
        ] {
            let key = SigningKey::generate_with_rng(spec, &mut rng(1)).expect("keygen");
            let pem = key.to_pkcs8_pem().expect("pem");
            let der = key.to_pkcs8_der().expect("der");
            for again in [
                SigningKey::from_pkcs8(pem.as_bytes()),
                SigningKey::from_pkcs8(&der),
            ] {
                let again = again.expect("read back");
                assert_eq!(again.kid(), key.kid(), "{spec:?}");
                assert_eq!(again.algorithm(), key.algorithm(), "{spec:?}");
            }
            let public = read_public_key(key.public_key().to_spki_pem().as_bytes()).expect("spki");
            assert_eq!(public.kid(), key.kid());
            assert_eq!(public.algorithm(), key.algorithm());
            let public = read_public_key(&key.public_key().to_spki_der()).expect("spki der");
            assert_eq!(public.kid(), key.kid());
        }
    }

    #[test]
    fn the_rsa_scheme_is_part_of_the_key() {
        // The same modulus as PS256 and as RS256: two different keys, two key ids.
        let key = rsa::PrivateKey::new(&mut rng(2), 2048).expect("rsa");
        let pss = SigningKey::from_rsa(key.clone(), Algorithm::Ps256).expect("pss");
        let pkcs1 = SigningKey::from_rsa(key, Algorithm::Rs256).expect("pkcs1");
        assert_ne!(pss.kid(), pkcs1.kid());
        let pem = pss.to_pkcs8_pem().expect("pem");
        assert_eq!(
            SigningKey::from_pkcs8(pem.as_bytes())
                .expect("read")
                .algorithm(),
            Algorithm::Ps256
        );
    }

    #[test]
    fn weak_or_foreign_keys_are_refused() {
        let small = rsa::PrivateKey::new(&mut rng(3), 1024).expect("rsa");
        assert_eq!(
            SigningKey::from_rsa(small, Algorithm::Rs256)
                .map(|_| ())
                .map_err(|e| e.code()),
            Err("unsupported_key")
        );
        assert_eq!(
            SigningKey::from_pkcs8(b"not a key")
                .map(|_| ())
                .map_err(|e| e.code()),
            Err("key_format")
        );
        assert!(SigningKey::generate(KeySpec::RsaPss(1024)).is_err());
        assert_eq!(KeySpec::parse("rsa-pss-1024"), None);
        assert_eq!(
            KeySpec::parse("rsa-pkcs1-3072"),
            Some(KeySpec::RsaPkcs1(3072))
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = SigningKey::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]));
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.kid().to_string()));
        assert!(
            !shown.contains("42, 42") && !shown.contains("4242"),
            "{shown}"
        );
    }
}
