//! Ids used once: WemX transactions, LicenseCM envelopes and challenges.

use async_trait::async_trait;
use licet_core::store::*;

use crate::SledStore;
use crate::error::Res;

impl SledStore {
    /// Accepts a transaction id once: true the first time, false ever after.
    pub fn claim_transaction(&self, id: &str, license_id: &str) -> Res<bool> {
        Ok(self
            .transactions
            .compare_and_swap(id, None::<&[u8]>, Some(license_id.as_bytes()))?
            .is_ok())
    }

    /// Whether a transaction id was accepted before.
    pub fn transaction_seen(&self, id: &str) -> Res<bool> {
        Ok(self.transactions.contains_key(id)?)
    }

    /// Accepts an encrypted request once: false if the same envelope (`mac`, sent at `ts_ms`)
    /// was accepted before. Envelopes sent before `forget_before_ms` are forgotten; the caller
    /// refuses those as stale anyway.
    pub fn accept_envelope(&self, mac: &str, ts_ms: i64, forget_before_ms: i64) -> Res<bool> {
        Self::spend_once(&self.envelopes, ts_ms, mac.as_bytes(), forget_before_ms)
    }

    /// Spends an answered challenge (its `nonce`, valid until `expires_at`) once: false if it
    /// was spent before. Challenges that expired before `forget_before` are forgotten.
    pub fn spend_challenge(&self, nonce: &[u8], expires_at: i64, forget_before: i64) -> Res<bool> {
        Self::spend_once(&self.spent_challenges, expires_at, nonce, forget_before)
    }

    /// Records `id` at time `at` in `tree` unless it is there already (whether it was new), and
    /// removes the entries older than `forget_before`. Keys are `at ‖ id`, so the check is one
    /// compare-and-swap and the pruning a range at the front of the tree: the cost does not
    /// grow with how many entries the window holds.
    pub(crate) fn spend_once(
        tree: &sled::Tree,
        at: i64,
        id: &[u8],
        forget_before: i64,
    ) -> Res<bool> {
        let mut key = u64::try_from(at).unwrap_or(0).to_be_bytes().to_vec();
        key.extend_from_slice(id);
        let fresh = tree
            .compare_and_swap(key, None::<&[u8]>, Some(&[][..]))?
            .is_ok();
        let cutoff = u64::try_from(forget_before).unwrap_or(0).to_be_bytes();
        for k in tree.range(..&cutoff[..]).keys() {
            tree.remove(k?)?;
        }
        Ok(fresh)
    }
}

#[async_trait]
impl OneTime for SledStore {
    async fn claim_transaction(&self, id: &str, license_id: &str) -> StoreResult<bool> {
        let done = SledStore::claim_transaction(self, id, license_id)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn transaction_seen(&self, id: &str) -> StoreResult<bool> {
        Ok(SledStore::transaction_seen(self, id)?)
    }
    async fn accept_envelope(
        &self,
        mac: &str,
        ts_ms: i64,
        forget_before_ms: i64,
    ) -> StoreResult<bool> {
        let done = SledStore::accept_envelope(self, mac, ts_ms, forget_before_ms)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn spend_challenge(
        &self,
        nonce: &[u8],
        expires_at: i64,
        forget_before: i64,
    ) -> StoreResult<bool> {
        let done = SledStore::spend_challenge(self, nonce, expires_at, forget_before)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn challenge_spent(&self, nonce: &[u8], expires_at: i64) -> StoreResult<bool> {
        let mut key = u64::try_from(expires_at)
            .unwrap_or(0)
            .to_be_bytes()
            .to_vec();
        key.extend_from_slice(nonce);
        Ok(self
            .spent_challenges
            .contains_key(key)
            .map_err(crate::error::Error::from)?)
    }
}
