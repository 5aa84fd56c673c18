//! Users, API keys, sessions, security events and one-time tokens.

use super::*;

/// Makes the record of a security event once it has its sequence number.
pub type TellSecurity<'a> = &'a (dyn Fn(&SecurityEvent) -> Record + Send + Sync);

/// Users, sessions and API keys.
#[async_trait]
pub trait Identity: Send + Sync {
    /// Adds a user; the e-mail must be free.
    async fn insert_user(&self, u: &User) -> StoreResult<User>;
    /// Replaces a user.
    async fn update_user(&self, u: &User) -> StoreResult<()>;
    /// A user.
    async fn user(&self, id: &str) -> StoreResult<Option<User>>;
    /// A user by e-mail.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Every user.
    async fn users(&self) -> StoreResult<Vec<User>>;
    /// Stores a session, reachable by each of the token hashes.
    async fn put_session(&self, s: &Session, token_hashes: &[&str]) -> StoreResult<()>;
    /// Stores `next` in place of its session only if the stored session's `token_hash` is
    /// still `expected_hash` (no concurrent rotation came first), pointing `token_hashes` to it
    /// and making `forget` lead nowhere, in one operation. Whether it was stored.
    async fn rotate_session(
        &self,
        next: &Session,
        expected_hash: &str,
        token_hashes: &[&str],
        forget: &[String],
    ) -> StoreResult<bool>;
    /// The sessions of a license.
    async fn sessions_of(&self, license_id: &str) -> StoreResult<Vec<Session>>;
    /// Makes token hashes lead nowhere.
    async fn forget_session_tokens(&self, token_hashes: &[String]) -> StoreResult<()>;
    /// The session of a token hash.
    async fn session_by_token(&self, token_hash: &str) -> StoreResult<Option<Session>>;
    /// A session.
    async fn session(&self, id: &str) -> StoreResult<Option<Session>>;
    /// Every session.
    async fn sessions(&self) -> StoreResult<Vec<Session>>;
    /// Adds or replaces an API key record.
    async fn put_api_key(&self, k: &ApiKey) -> StoreResult<()>;
    /// An API key record.
    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>>;
    /// Every API key record.
    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    /// Whether any API key exists.
    async fn has_api_keys(&self) -> StoreResult<bool>;
    /// Counts one use of a key on a day; the day's count so far.
    ///
    /// Unlike every other write, the count need not be durable when this returns (it is
    /// taken on every keyed request, reads included): a backend may leave it for its next
    /// flush or for [`Durability::settle`]. A crash can then forget the last seconds of
    /// counts, letting a key with a daily quota make that many requests more that day.
    async fn count_usage(&self, key_id: &str, day: u64) -> StoreResult<u64>;
    /// A key's use by day: (day, count).
    async fn usage(&self, key_id: &str) -> StoreResult<Vec<(u64, u64)>>;
}

/// The blacklist and the security log.
#[async_trait]
pub trait Security: Send + Sync {
    /// Adds or replaces a blacklist entry.
    async fn put_blacklist(&self, e: &BlacklistEntry) -> StoreResult<()>;
    /// A blacklist entry.
    async fn blacklist_entry(&self, id: &str) -> StoreResult<Option<BlacklistEntry>>;
    /// The whole blacklist.
    async fn blacklist(&self) -> StoreResult<Vec<BlacklistEntry>>;
    /// Removes a blacklist entry; whether it existed.
    async fn delete_blacklist(&self, id: &str) -> StoreResult<bool>;
    /// The entries that match any of the probes (type, value), in force or not.
    async fn blacklist_matches(
        &self,
        probes: &[(BlacklistType, &str)],
    ) -> StoreResult<Vec<BlacklistEntry>>;
    /// Appends a security event, with the record `tell` makes of it once it has its sequence
    /// number, in one operation.
    async fn append_security_event(
        &self,
        e: SecurityEvent,
        tell: TellSecurity<'_>,
    ) -> StoreResult<SecurityEvent>;
    /// Security events that pass `filter`, oldest first.
    async fn security_events(
        &self,
        filter: &SecurityEventFilter,
    ) -> StoreResult<Vec<SecurityEvent>>;
}

/// Ids that may be used once.
#[async_trait]
pub trait OneTime: Send + Sync {
    /// Claims a WemX `transaction_id` for a license: whether this call claimed it.
    async fn claim_transaction(&self, id: &str, license_id: &str) -> StoreResult<bool>;
    /// Whether a `transaction_id` was claimed.
    async fn transaction_seen(&self, id: &str) -> StoreResult<bool>;
    /// Accepts an encrypted request's MAC once: whether it is new. Entries older than
    /// `forget_before_ms` are forgotten.
    async fn accept_envelope(
        &self,
        mac: &str,
        ts_ms: i64,
        forget_before_ms: i64,
    ) -> StoreResult<bool>;
    /// Spends a challenge nonce once: whether this call spent it. Nonces that expired before
    /// `forget_before` are forgotten.
    async fn spend_challenge(
        &self,
        nonce: &[u8],
        expires_at: i64,
        forget_before: i64,
    ) -> StoreResult<bool>;
    /// Whether a nonce was spent with this `expires_at` (and not forgotten yet).
    async fn challenge_spent(&self, nonce: &[u8], expires_at: i64) -> StoreResult<bool>;
}
