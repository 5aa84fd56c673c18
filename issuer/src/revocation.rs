//! The revocation-list builder.

use std::collections::BTreeSet;

use licet_verifier::binding::license_id_hash;
use licet_verifier::cose::TYP_REVOCATION_LIST;
use licet_verifier::revocation::{MAX_REVOCATION_LIST_BYTES, key};
use licet_verifier::{RevocationList, Writer};
use rand_core::CryptoRng;

use crate::error::Error;
use crate::keys::SigningKey;

/// Builds a signed revocation list. Entries are kept sorted, as the verifier's binary search
/// requires.
#[derive(Debug, Clone, Default)]
pub struct RevocationListBuilder {
    sequence: u64,
    issued_at: i64,
    next_update: i64,
    token_ids: BTreeSet<[u8; 16]>,
    license_ids: BTreeSet<[u8; 16]>,
}

impl RevocationListBuilder {
    /// An empty list with this sequence number, issue time and next-update time.
    pub fn new(sequence: u64, issued_at: i64, next_update: i64) -> Self {
        RevocationListBuilder {
            sequence,
            issued_at,
            next_update,
            ..Default::default()
        }
    }

    /// The next list after `previous`: sequence + 1, and every entry of `previous` carried over.
    pub fn successor(previous: &RevocationList<'_>, issued_at: i64, next_update: i64) -> Self {
        let mut b = RevocationListBuilder::new(previous.sequence() + 1, issued_at, next_update);
        for id in previous.token_ids() {
            if let Ok(id) = <[u8; 16]>::try_from(id) {
                b.token_ids.insert(id);
            }
        }
        for h in previous.license_id_hashes() {
            if let Ok(h) = <[u8; 16]>::try_from(h) {
                b.license_ids.insert(h);
            }
        }
        b
    }

    /// Revokes one token by its 16-byte token id.
    pub fn revoke_token(&mut self, token_id: [u8; 16]) -> &mut Self {
        self.token_ids.insert(token_id);
        self
    }

    /// Revokes every token of a license.
    pub fn revoke_license(&mut self, license_id: &str) -> &mut Self {
        self.license_ids.insert(license_id_hash(license_id));
        self
    }

    /// Number of entries (token ids plus license ids).
    pub fn len(&self) -> usize {
        self.token_ids.len() + self.license_ids.len()
    }

    /// Whether the list revokes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload in deterministic CBOR.
    pub fn payload(&self) -> Result<Vec<u8>, Error> {
        if self.next_update <= self.issued_at {
            return Err(Error::InvalidClaim(
                "next-update is not after issued-at".into(),
            ));
        }
        let concat = |set: &BTreeSet<[u8; 16]>| set.iter().flatten().copied().collect::<Vec<u8>>();
        let mut w = Writer::new();
        w.map(5);
        w.int(key::SEQUENCE).head(0, self.sequence);
        w.int(key::ISSUED_AT).int(self.issued_at);
        w.int(key::NEXT_UPDATE).int(self.next_update);
        w.int(key::TOKEN_IDS).bytes(&concat(&self.token_ids));
        w.int(key::LICENSE_IDS).bytes(&concat(&self.license_ids));
        Ok(w.into_bytes())
    }

    /// Signs the list.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        self.sign_with_rng(key, &mut crate::os_rng())
    }

    /// Signs the list with randomness (RSA only) from `rng`.
    pub fn sign_with_rng<R: CryptoRng + ?Sized>(
        &self,
        key: &SigningKey,
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        let list = crate::sign_payload(key, Some(TYP_REVOCATION_LIST), &self.payload()?, rng)?;
        if list.len() > MAX_REVOCATION_LIST_BYTES {
            return Err(Error::TooLarge);
        }
        Ok(list)
    }
}
