//! Users, sessions and API keys; the blacklist.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;

use crate::*;

#[async_trait]
impl Identity for PgStore {
    async fn insert_user(&self, u: &User) -> StoreResult<User> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO users (id, email, data) VALUES ($1, $2, $3)",
            &[&u.id, &u.email, &json(u)],
        )
        .await?;
        Ok(u.clone())
    }
    async fn update_user(&self, u: &User) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO users (id, email, data) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, data = EXCLUDED.data",
            &[&u.id, &u.email, &json(u)],
        )
        .await?;
        Ok(())
    }
    async fn user(&self, id: &str) -> StoreResult<Option<User>> {
        let c = self.conn().await?;
        one(&c, "SELECT data FROM users WHERE id = $1", &[&id]).await
    }
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let c = self.conn().await?;
        one(&c, "SELECT data FROM users WHERE email = $1", &[&email]).await
    }
    async fn users(&self) -> StoreResult<Vec<User>> {
        let c = self.conn().await?;
        all(&c, "SELECT data FROM users ORDER BY id", &[]).await
    }
    async fn put_session(&self, s: &Session, token_hashes: &[&str]) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        put_session_in(&tx, s, token_hashes).await?;
        tx.commit().await.map_err(pg)
    }
    async fn rotate_session(
        &self,
        next: &Session,
        expected_hash: &str,
        token_hashes: &[&str],
        forget: &[String],
    ) -> StoreResult<bool> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // The session's row lock: of two rotations from one token, the second sees the first's
        // new hash and stores nothing.
        let current: Option<Session> = one(
            &tx,
            "SELECT data FROM sessions WHERE id = $1 FOR UPDATE",
            &[&next.id],
        )
        .await?;
        if current.is_none_or(|c| c.token_hash != expected_hash || c.license_id != next.license_id)
        {
            return Ok(false);
        }
        exec(
            &tx,
            "DELETE FROM session_tokens WHERE hash = ANY($1)",
            &[&forget],
        )
        .await?;
        put_session_in(&tx, next, token_hashes).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }
    async fn sessions_of(&self, license_id: &str) -> StoreResult<Vec<Session>> {
        let c = self.conn().await?;
        all(
            &c,
            "SELECT data FROM sessions WHERE license_id = $1 ORDER BY id",
            &[&license_id],
        )
        .await
    }
    async fn forget_session_tokens(&self, token_hashes: &[String]) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM session_tokens WHERE hash = ANY($1)",
            &[&token_hashes],
        )
        .await?;
        Ok(())
    }
    async fn session_by_token(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        let c = self.conn().await?;
        one(
            &c,
            "SELECT s.data FROM session_tokens t JOIN sessions s ON s.id = t.session_id \
             WHERE t.hash = $1",
            &[&token_hash],
        )
        .await
    }
    async fn session(&self, id: &str) -> StoreResult<Option<Session>> {
        let c = self.conn().await?;
        one(&c, "SELECT data FROM sessions WHERE id = $1", &[&id]).await
    }
    async fn sessions(&self) -> StoreResult<Vec<Session>> {
        let c = self.conn().await?;
        all(&c, "SELECT data FROM sessions ORDER BY id", &[]).await
    }
    async fn put_api_key(&self, k: &ApiKey) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO api_keys (id, data) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data",
            &[&k.id, &json(k)],
        )
        .await?;
        Ok(())
    }
    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        let c = self.conn().await?;
        one(&c, "SELECT data FROM api_keys WHERE id = $1", &[&id]).await
    }
    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let c = self.conn().await?;
        all(&c, "SELECT data FROM api_keys ORDER BY id", &[]).await
    }
    async fn has_api_keys(&self) -> StoreResult<bool> {
        let c = self.conn().await?;
        Ok(row(&c, "SELECT 1 FROM api_keys LIMIT 1", &[])
            .await?
            .is_some())
    }
    async fn count_usage(&self, key_id: &str, day: u64) -> StoreResult<u64> {
        let c = self.conn().await?;
        let n: i64 = scalar(
            &c,
            "INSERT INTO api_key_usage (key_id, day, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key_id, day) DO UPDATE SET count = api_key_usage.count + 1 \
             RETURNING count",
            &[&key_id, &big(day)?],
        )
        .await?;
        Ok(unbig(n))
    }
    async fn usage(&self, key_id: &str) -> StoreResult<Vec<(u64, u64)>> {
        let c = self.conn().await?;
        rows(
            &c,
            "SELECT day, count FROM api_key_usage WHERE key_id = $1 ORDER BY day",
            &[&key_id],
        )
        .await?
        .iter()
        .map(|r| Ok((unbig(col(r, 0)?), unbig(col(r, 1)?))))
        .collect()
    }
}

async fn put_session_in(
    tx: &deadpool_postgres::Transaction<'_>,
    s: &Session,
    token_hashes: &[&str],
) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO sessions (id, license_id, data) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET license_id = EXCLUDED.license_id, data = EXCLUDED.data",
        &[&s.id, &s.license_id.as_str(), &json(s)],
    )
    .await?;
    for h in token_hashes {
        exec(
            tx,
            "INSERT INTO session_tokens (hash, session_id) VALUES ($1, $2) \
             ON CONFLICT (hash) DO UPDATE SET session_id = EXCLUDED.session_id",
            &[h, &s.id],
        )
        .await?;
    }
    Ok(())
}

/// How a blacklist entry's type is stored: its wire name.
pub(crate) fn kind_name(k: BlacklistType) -> StoreResult<String> {
    match serde_json::to_value(k).map_err(StoreError::backend)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(StoreError::backend(format!(
            "a blacklist type is not a name: {other}"
        ))),
    }
}

#[async_trait]
impl Security for PgStore {
    async fn put_blacklist(&self, e: &BlacklistEntry) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO blacklist (id, kind, value, data) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, value = EXCLUDED.value, \
               data = EXCLUDED.data",
            &[&e.id, &kind_name(e.kind)?, &e.value, &json(e)],
        )
        .await?;
        Ok(())
    }
    async fn blacklist_entry(&self, id: &str) -> StoreResult<Option<BlacklistEntry>> {
        let c = self.conn().await?;
        one(&c, "SELECT data FROM blacklist WHERE id = $1", &[&id]).await
    }
    async fn blacklist(&self) -> StoreResult<Vec<BlacklistEntry>> {
        let c = self.conn().await?;
        all(&c, "SELECT data FROM blacklist ORDER BY id", &[]).await
    }
    async fn delete_blacklist(&self, id: &str) -> StoreResult<bool> {
        let c = self.conn().await?;
        Ok(exec(&c, "DELETE FROM blacklist WHERE id = $1", &[&id]).await? > 0)
    }
    async fn blacklist_matches(
        &self,
        probes: &[(BlacklistType, &str)],
    ) -> StoreResult<Vec<BlacklistEntry>> {
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        let kinds = probes
            .iter()
            .map(|(k, _)| kind_name(*k))
            .collect::<StoreResult<Vec<_>>>()?;
        let values: Vec<&str> = probes.iter().map(|(_, v)| *v).collect();
        let c = self.conn().await?;
        all(
            &c,
            "SELECT b.data FROM blacklist b \
             JOIN unnest($1::text[], $2::text[]) AS p(kind, value) \
               ON b.kind = p.kind AND b.value = p.value \
             ORDER BY b.id",
            &[&kinds, &values],
        )
        .await
    }
    async fn append_security_event(
        &self,
        mut e: SecurityEvent,
        tell: TellSecurity<'_>,
    ) -> StoreResult<SecurityEvent> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let seq: i64 = scalar(&tx, "SELECT nextval('security_seq')", &[]).await?;
        e.seq = unbig(seq);
        exec(
            &tx,
            "INSERT INTO security_events (seq, created_at, data) VALUES ($1, $2, $3)",
            &[&seq, &e.created_at, &json(&e)],
        )
        .await?;
        crate::outbox::write_record(&tx, tell(&e)).await?;
        tx.commit().await.map_err(pg)?;
        Ok(e)
    }
    async fn security_events(
        &self,
        filter: &SecurityEventFilter,
    ) -> StoreResult<Vec<SecurityEvent>> {
        let c = self.conn().await?;
        // Newest first, as the sled store answers.
        let all: Vec<SecurityEvent> = all(
            &c,
            "SELECT data FROM security_events \
             WHERE ($1::bigint IS NULL OR created_at >= $1) \
               AND ($2::bigint IS NULL OR created_at <= $2) \
             ORDER BY seq DESC",
            &[&filter.since, &filter.until],
        )
        .await?;
        Ok(all.into_iter().filter(|e| filter.admits(e)).collect())
    }
}
