//! The device key: an Ed25519 key pair a client makes on activation and never lets leave the
//! machine. Tokens bind its public half (`cnf`); what it signs, and how that is checked, is
//! the verifier's ([`licet_verifier::device`]).

use ed25519_dalek::Signer;
use licet_verifier::device::{DEVICE_KEY_LEN, POP_LABEL, REQUEST_LABEL};
use licet_verifier::{Algorithm, KeyId, PublicKey};

/// A device's key pair. The secret is zeroized on drop and never shown by `Debug`.
pub struct DeviceKey {
    secret: ed25519_dalek::SigningKey,
}

impl core::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// A new key from the operating system's random number generator.
    pub fn generate() -> std::io::Result<DeviceKey> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut seed[..])
            .map_err(|e| std::io::Error::other(format!("no random numbers: {e:?}")))?;
        Ok(DeviceKey::from_seed(&seed))
    }

    /// The key of a 32-byte seed (what is stored).
    pub fn from_seed(seed: &[u8; 32]) -> DeviceKey {
        DeviceKey {
            secret: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// The seed, to store (0600, in the product's state).
    pub fn seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.secret.to_bytes())
    }

    /// The public half, as a `cnf` binds it.
    pub fn public(&self) -> [u8; DEVICE_KEY_LEN] {
        self.secret.verifying_key().to_bytes()
    }

    /// The public half as a verifying key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::ed25519(&self.public())
            .unwrap_or_else(|_| unreachable!("a key made from a seed is a valid point"))
    }

    /// The key id of the public half (what signed artefacts name in `kid`).
    pub fn kid(&self) -> KeyId {
        self.public_key().kid()
    }

    fn sign_parts(&self, parts: &[&[u8]]) -> [u8; 64] {
        let msg: Vec<u8> = parts.concat();
        self.secret.sign(&msg).to_bytes()
    }

    /// A proof of possession of `challenge` ([`licet_verifier::device::verify_possession`]).
    pub fn prove(&self, challenge: &[u8]) -> [u8; 64] {
        self.sign_parts(&[POP_LABEL, challenge])
    }

    /// The signature of an online request ([`licet_verifier::device::verify_request`]).
    pub fn sign_request(&self, path: &str, body: &[u8]) -> [u8; 64] {
        self.sign_parts(&[REQUEST_LABEL, path.as_bytes(), b"\0", body])
    }

    /// A COSE_Sign1 with `typ` over `payload`, signed by this key (EdDSA, its kid).
    pub fn sign_artefact(&self, typ: &str, payload: &[u8]) -> Vec<u8> {
        use licet_verifier::cose::encode;
        let protected = encode::protected_header(Algorithm::Ed25519, &self.kid(), Some(typ));
        let tbs = encode::sig_structure(&protected, payload);
        let sig = self.secret.sign(&tbs).to_bytes();
        encode::sign1(&protected, payload, &sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use licet_verifier::Error;
    use licet_verifier::device::{verify_possession, verify_request};

    #[test]
    fn possession_and_requests_verify_only_with_their_own_key_and_label() {
        let a = DeviceKey::from_seed(&[1; 32]);
        let b = DeviceKey::from_seed(&[2; 32]);
        let proof = a.prove(b"challenge");
        assert_eq!(verify_possession(&a.public(), b"challenge", &proof), Ok(()));
        assert_eq!(
            verify_possession(&b.public(), b"challenge", &proof),
            Err(Error::DeviceKeyMismatch)
        );
        assert_eq!(
            verify_possession(&a.public(), b"another", &proof),
            Err(Error::DeviceKeyMismatch)
        );
        let sig = a.sign_request("/v1/client/heartbeat", b"{}");
        assert_eq!(
            verify_request(&a.public(), "/v1/client/heartbeat", b"{}", &sig),
            Ok(())
        );
        // Not for another path, another body, nor as a proof of possession.
        for (path, body) in [
            ("/v1/client/deactivate", &b"{}"[..]),
            ("/v1/client/heartbeat", b"{ }"),
        ] {
            assert!(verify_request(&a.public(), path, body, &sig).is_err());
        }
        assert!(verify_possession(&a.public(), b"/v1/client/heartbeat\0{}", &sig).is_err());
        assert_eq!(DeviceKey::from_seed(&a.seed()).public(), a.public());
    }
}
