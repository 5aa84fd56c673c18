//! Ids that may be used once, and the store's counters.

use async_trait::async_trait;
use licet_core::store::*;

use crate::*;

impl PgStore {
    /// The next value of a named counter: 1, 2, 3, … The counter's row is locked only for the
    /// statement, so instances drawing numbers at once never draw the same one.
    pub(crate) async fn next_counter(&self, name: &str) -> StoreResult<u64> {
        let c = self.conn().await?;
        let n: i64 = scalar(
            &c,
            "INSERT INTO counters (name, value) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            &[&name],
        )
        .await?;
        Ok(unbig(n))
    }
}

#[async_trait]
impl Durability for PgStore {
    async fn next_number(&self, sequence: &str) -> StoreResult<u64> {
        // Machines are numbered inside seat operations, from a sequence of their own.
        if sequence == "machine" {
            let c = self.conn().await?;
            return crate::seats::machine_numbers(&c, 1)
                .await?
                .pop()
                .ok_or_else(|| StoreError::backend("no machine number drawn"));
        }
        self.next_counter(&format!("{sequence}_number")).await
    }
    async fn health(&self) -> StoreResult<()> {
        PgStore::health(self).await
    }
    async fn lead(&self, task: &str) -> StoreResult<bool> {
        PgStore::lead(self, task).await
    }
}

#[async_trait]
impl OneTime for PgStore {
    async fn claim_transaction(&self, id: &str, license_id: &str) -> StoreResult<bool> {
        let c = self.conn().await?;
        Ok(exec(
            &c,
            "INSERT INTO transactions (id, license_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&id, &license_id],
        )
        .await?
            > 0)
    }
    async fn transaction_seen(&self, id: &str) -> StoreResult<bool> {
        let c = self.conn().await?;
        Ok(row(&c, "SELECT 1 FROM transactions WHERE id = $1", &[&id])
            .await?
            .is_some())
    }
    async fn accept_envelope(
        &self,
        mac: &str,
        ts_ms: i64,
        forget_before_ms: i64,
    ) -> StoreResult<bool> {
        let c = self.conn().await?;
        let fresh = exec(
            &c,
            "INSERT INTO seen_envelopes (ts_ms, mac) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&ts_ms, &mac],
        )
        .await?
            > 0;
        exec(
            &c,
            "DELETE FROM seen_envelopes WHERE ts_ms < $1",
            &[&forget_before_ms],
        )
        .await?;
        Ok(fresh)
    }
    async fn spend_challenge(
        &self,
        nonce: &[u8],
        expires_at: i64,
        forget_before: i64,
    ) -> StoreResult<bool> {
        let c = self.conn().await?;
        let fresh = exec(
            &c,
            "INSERT INTO spent_challenges (expires_at, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&expires_at, &nonce],
        )
        .await?
            > 0;
        exec(
            &c,
            "DELETE FROM spent_challenges WHERE expires_at < $1",
            &[&forget_before],
        )
        .await?;
        Ok(fresh)
    }
    async fn challenge_spent(&self, nonce: &[u8], expires_at: i64) -> StoreResult<bool> {
        let c = self.conn().await?;
        Ok(row(
            &c,
            "SELECT 1 FROM spent_challenges WHERE expires_at = $1 AND nonce = $2",
            &[&expires_at, &nonce],
        )
        .await?
        .is_some())
    }
}
