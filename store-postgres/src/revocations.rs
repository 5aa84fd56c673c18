//! The published revocation list (one row, advanced under its lock), and the sealed signing keys.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use licet_core::model::*;
use licet_core::store::*;

use crate::licenses::{lock_license, put_license};
use crate::outbox::write_record;
use crate::*;

/// The published revocation state, its row locked until `tx` ends.
async fn locked_state(tx: &Transaction<'_>) -> StoreResult<RevocationState> {
    Ok(one(
        tx,
        "SELECT state FROM revocations WHERE id = 1 FOR UPDATE",
        &[],
    )
    .await?
    .unwrap_or_default())
}

/// Raises the sequence of `state` and stores it with the list `sign` makes of it, in `tx`.
async fn publish(
    tx: &Transaction<'_>,
    state: &mut RevocationState,
    sign: SignList<'_>,
) -> StoreResult<()> {
    state.sequence += 1;
    let list = sign(state)?;
    exec(
        tx,
        "UPDATE revocations SET state = $1, list = $2 WHERE id = 1",
        &[&json(&*state), &list],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Revocations for PgStore {
    async fn revocation_state(&self) -> StoreResult<RevocationState> {
        let c = self.conn().await?;
        Ok(one(&c, "SELECT state FROM revocations WHERE id = 1", &[])
            .await?
            .unwrap_or_default())
    }
    async fn revocation_list(&self) -> StoreResult<Option<Vec<u8>>> {
        let c = self.conn().await?;
        match row(&c, "SELECT list FROM revocations WHERE id = 1", &[]).await? {
            Some(r) => col(&r, 0),
            None => Ok(None),
        }
    }
    async fn put_revocations(&self, state: &RevocationState, list: &[u8]) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "UPDATE revocations SET state = $1, list = $2 WHERE id = 1",
            &[&json(state), &list],
        )
        .await?;
        Ok(())
    }
    async fn revoke_license(
        &self,
        l: &License,
        token_ids: &[String],
        sign: SignList<'_>,
        tell: TellRevocation<'_>,
    ) -> StoreResult<RevocationState> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // The license first, then the list, as every operation that takes both: two
        // revocations at once on two instances get consecutive sequence numbers.
        lock_license(&tx, &l.id).await?;
        let mut state = locked_state(&tx).await?;
        state.add_tokens(token_ids);
        state.license_ids.insert(l.id.to_string());
        publish(&tx, &mut state, sign).await?;
        put_license(&tx, l, false).await?;
        write_record(&tx, tell(&state)).await?;
        tx.commit().await.map_err(pg)?;
        Ok(state)
    }
    async fn revoke_tokens(
        &self,
        token_ids: &[String],
        sign: SignList<'_>,
        tell: TellRevocation<'_>,
    ) -> StoreResult<RevocationState> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let mut state = locked_state(&tx).await?;
        if !state.add_tokens(token_ids) {
            return Ok(state);
        }
        publish(&tx, &mut state, sign).await?;
        write_record(&tx, tell(&state)).await?;
        tx.commit().await.map_err(pg)?;
        Ok(state)
    }
}

#[async_trait]
impl KeyVault for PgStore {
    async fn sealed_key(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let c = self.conn().await?;
        match row(
            &c,
            "SELECT sealed FROM sealed_keys WHERE name = $1",
            &[&name],
        )
        .await?
        {
            Some(r) => Ok(Some(col(&r, 0)?)),
            None => Ok(None),
        }
    }
    async fn insert_sealed_key(&self, name: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO sealed_keys (name, sealed) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&name, &sealed],
        )
        .await?;
        let r = row(
            &c,
            "SELECT sealed FROM sealed_keys WHERE name = $1",
            &[&name],
        )
        .await?
        .ok_or_else(|| StoreError::backend("a sealed key vanished"))?;
        col(&r, 0)
    }
}

#[async_trait]
impl Transfer for PgStore {
    async fn last_number(&self, sequence: &str) -> StoreResult<u64> {
        let c = self.conn().await?;
        let name = format!("{sequence}_number");
        Ok(
            match row(&c, "SELECT value FROM counters WHERE name = $1", &[&name]).await? {
                Some(r) => unbig(col(&r, 0)?),
                None => 0,
            },
        )
    }
    async fn raise_number(&self, sequence: &str, at_least: u64) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO counters (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = GREATEST(counters.value, EXCLUDED.value)",
            &[&format!("{sequence}_number"), &big(at_least)?],
        )
        .await
        .map(drop)
    }
    async fn transactions(&self) -> StoreResult<Vec<(String, String)>> {
        let c = self.conn().await?;
        rows(
            &c,
            "SELECT id, license_id FROM transactions ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect()
    }
    async fn set_usage(&self, key_id: &str, day: u64, count: u64) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO api_key_usage (key_id, day, count) VALUES ($1, $2, $3) \
             ON CONFLICT (key_id, day) DO UPDATE SET count = EXCLUDED.count",
            &[&key_id, &big(day)?, &big(count)?],
        )
        .await
        .map(drop)
    }
    async fn sealed_keys(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let c = self.conn().await?;
        rows(
            &c,
            "SELECT name, sealed FROM sealed_keys ORDER BY name",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect()
    }
}
