//! LicenseCM users and sessions, and API keys with their usage.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::error::{Error, Res};
use crate::layout::*;

impl SledStore {
    /// Inserts a user as given; the e-mail must be unused (checked and claimed in one
    /// transaction, so two registrations of one address cannot both win). Nobody becomes an
    /// admin by registering: admins are made by the operator.
    pub fn insert_user(&self, u: &User) -> Res<User> {
        let value = to_json(u)?;
        (&self.users, &self.user_emails).transaction(|(users, emails)| {
            if emails.get(u.email.as_bytes())?.is_some() {
                return Err(ConflictableTransactionError::Abort(Error::conflict(
                    Constraint::UserEmail,
                    "a user with this e-mail exists",
                )));
            }
            emails.insert(u.email.as_bytes(), u.id.as_bytes())?;
            users.insert(u.id.as_bytes(), value.clone())?;
            Ok(())
        })?;
        Ok(u.clone())
    }

    /// Replaces a user (the e-mail does not change).
    pub fn update_user(&self, u: &User) -> Res<()> {
        self.users.insert(u.id.as_bytes(), to_json(u)?)?;
        Ok(())
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Res<Option<User>> {
        Self::get_json(&self.users, id.as_bytes())
    }

    /// A user by e-mail (lower-case).
    pub fn user_by_email(&self, email: &str) -> Res<Option<User>> {
        match self.user_emails.get(email)? {
            Some(id) => self.user(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// All users.
    pub fn users(&self) -> Res<Vec<User>> {
        Self::all_json(&self.users)
    }

    /// Stores a session and points `token_hashes` at it.
    pub fn put_session(&self, s: &Session, token_hashes: &[&str]) -> Res<()> {
        let value = to_json(s)?;
        let mut by_license = s.license_id.as_bytes().to_vec();
        by_license.push(0);
        by_license.extend_from_slice(s.id.as_bytes());
        (
            &self.session_records,
            &self.sessions,
            &self.license_sessions,
        )
            .transaction(|(records, tokens, index)| {
                records.insert(s.id.as_bytes(), value.clone())?;
                index.insert(by_license.clone(), &[])?;
                for h in token_hashes {
                    tokens.insert(h.as_bytes(), s.id.as_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<Error>>(())
            })?;
        Ok(())
    }

    /// Rotates a session's token under its license's lock (see `Identity::rotate_session`).
    pub fn rotate_session(
        &self,
        next: &Session,
        expected_hash: &str,
        token_hashes: &[&str],
        forget: &[String],
    ) -> Res<bool> {
        let _license = self.seat_lock(&next.license_id);
        let current = self.session(&next.id)?;
        if current.is_none_or(|c| c.token_hash != expected_hash || c.license_id != next.license_id)
        {
            return Ok(false);
        }
        self.forget_session_tokens(forget)?;
        self.put_session(next, token_hashes)?;
        Ok(true)
    }

    /// The sessions of one license.
    pub fn sessions_of(&self, license_id: &str) -> Res<Vec<Session>> {
        let mut prefix = license_id.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.license_sessions.scan_prefix(&prefix) {
            let (k, _) = kv?;
            if let Some(s) = self.session(&String::from_utf8_lossy(&k[prefix.len()..]))? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Forgets token hashes (a rotated token after its grace).
    pub fn forget_session_tokens(&self, token_hashes: &[String]) -> Res<()> {
        for h in token_hashes {
            self.sessions.remove(h.as_bytes())?;
        }
        Ok(())
    }

    /// The session a token hash belongs to.
    pub fn session_by_token(&self, token_hash: &str) -> Res<Option<Session>> {
        match self.sessions.get(token_hash)? {
            Some(id) => self.session(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// A session by id.
    pub fn session(&self, id: &str) -> Res<Option<Session>> {
        Self::get_json(&self.session_records, id.as_bytes())
    }

    /// Every session.
    pub fn sessions(&self) -> Res<Vec<Session>> {
        Self::all_json(&self.session_records)
    }

    /// Inserts or replaces an API key record.
    pub fn put_api_key(&self, k: &ApiKey) -> Res<()> {
        self.api_keys.insert(k.id.as_bytes(), to_json(k)?)?;
        Ok(())
    }

    /// An API key record by id.
    pub fn api_key(&self, id: &str) -> Res<Option<ApiKey>> {
        self.api_keys.get(id)?.map(|b| from_json(&b)).transpose()
    }

    /// All API key records.
    pub fn api_keys(&self) -> Res<Vec<ApiKey>> {
        self.api_keys
            .iter()
            .values()
            .map(|v| from_json(&v?))
            .collect()
    }

    /// Counts one request of `key_id` on `day` (days since the epoch); returns the new count.
    pub fn count_usage(&self, key_id: &str, day: u64) -> Res<u64> {
        let mut k = key_id.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&day.to_be_bytes());
        let v = self.usage.update_and_fetch(k, |old| {
            let n = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Request counts of `key_id`: (day, count), oldest first.
    pub fn usage(&self, key_id: &str) -> Res<Vec<(u64, u64)>> {
        let mut prefix = key_id.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.usage.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let day = <[u8; 8]>::try_from(&k[prefix.len()..])
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            let n = <[u8; 8]>::try_from(&v[..])
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            out.push((day, n));
        }
        Ok(out)
    }

    /// Whether any API key exists (the first start creates the bootstrap key).
    pub fn has_api_keys(&self) -> bool {
        !self.api_keys.is_empty()
    }
}

#[async_trait]
impl Identity for SledStore {
    async fn insert_user(&self, u: &User) -> StoreResult<User> {
        let done = SledStore::insert_user(self, u)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn update_user(&self, u: &User) -> StoreResult<()> {
        let done = SledStore::update_user(self, u)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn user(&self, id: &str) -> StoreResult<Option<User>> {
        Ok(SledStore::user(self, id)?)
    }
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        Ok(SledStore::user_by_email(self, email)?)
    }
    async fn users(&self) -> StoreResult<Vec<User>> {
        Ok(SledStore::users(self)?)
    }
    async fn put_session(&self, s: &Session, token_hashes: &[&str]) -> StoreResult<()> {
        let done = SledStore::put_session(self, s, token_hashes)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn rotate_session(
        &self,
        next: &Session,
        expected_hash: &str,
        token_hashes: &[&str],
        forget: &[String],
    ) -> StoreResult<bool> {
        let stored = SledStore::rotate_session(self, next, expected_hash, token_hashes, forget)?;
        self.committer.commit().await?;
        Ok(stored)
    }
    async fn sessions_of(&self, license_id: &str) -> StoreResult<Vec<Session>> {
        Ok(SledStore::sessions_of(self, license_id)?)
    }
    async fn forget_session_tokens(&self, token_hashes: &[String]) -> StoreResult<()> {
        let done = SledStore::forget_session_tokens(self, token_hashes)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn session_by_token(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        Ok(SledStore::session_by_token(self, token_hash)?)
    }
    async fn session(&self, id: &str) -> StoreResult<Option<Session>> {
        Ok(SledStore::session(self, id)?)
    }
    async fn sessions(&self) -> StoreResult<Vec<Session>> {
        Ok(SledStore::sessions(self)?)
    }
    async fn put_api_key(&self, k: &ApiKey) -> StoreResult<()> {
        let done = SledStore::put_api_key(self, k)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        Ok(SledStore::api_key(self, id)?)
    }
    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        Ok(SledStore::api_keys(self)?)
    }
    async fn has_api_keys(&self) -> StoreResult<bool> {
        Ok(SledStore::has_api_keys(self))
    }
    async fn count_usage(&self, key_id: &str, day: u64) -> StoreResult<u64> {
        // Not flushed here: every keyed request counts, reads too, and a flush per read was a
        // tenth of the dashboard's list page. The next durable write, the server's tick
        // ([`Durability::settle`]) or the shutdown flush carries the count to the disk.
        let n = SledStore::count_usage(self, key_id, day)?;
        self.committer.later();
        Ok(n)
    }
    async fn usage(&self, key_id: &str) -> StoreResult<Vec<(u64, u64)>> {
        Ok(SledStore::usage(self, key_id)?)
    }
}
