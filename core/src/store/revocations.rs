//! The revocation list's state and the trait that keeps it.

use super::*;

/// The revoked ids the server has published.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RevocationState {
    /// Sequence number of the last list signed.
    pub sequence: u64,
    /// Revoked token ids, hex.
    pub token_ids: BTreeSet<String>,
    /// Revoked license ids.
    pub license_ids: BTreeSet<String>,
}

impl RevocationState {
    /// Adds token ids (empty ones are no token): whether any was new.
    pub fn add_tokens(&mut self, token_ids: &[String]) -> bool {
        let before = self.token_ids.len();
        self.token_ids
            .extend(token_ids.iter().filter(|t| !t.is_empty()).cloned());
        self.token_ids.len() != before
    }
}

/// Signs a revocation list for a state (the core's signer, handed to [`Revocations::revoke`]
/// so that the list published is the one stored, in the same operation).
pub type SignList<'a> = &'a (dyn Fn(&RevocationState) -> StoreResult<Vec<u8>> + Send + Sync);

/// Makes the record of a revocation from the state it published.
pub type TellRevocation<'a> = &'a (dyn Fn(&RevocationState) -> Record + Send + Sync);

/// The published revocation list.
#[async_trait]
pub trait Revocations: Send + Sync {
    /// The revoked ids published so far.
    async fn revocation_state(&self) -> StoreResult<RevocationState>;
    /// The signed list last published.
    async fn revocation_list(&self) -> StoreResult<Option<Vec<u8>>>;
    /// Stores a state and its signed list.
    async fn put_revocations(&self, state: &RevocationState, list: &[u8]) -> StoreResult<()>;
    /// Revokes a license and its tokens in one operation: the license's status, the next
    /// state (sequence + 1) and its list as `sign` signs it, and the record `tell` makes of
    /// the new state, all or none. The new state.
    async fn revoke_license(
        &self,
        l: &License,
        token_ids: &[String],
        sign: SignList<'_>,
        tell: TellRevocation<'_>,
    ) -> StoreResult<RevocationState>;
    /// Revokes tokens (a seat given back before its long-lived token expired): the next state
    /// (sequence + 1) holding `token_ids`, its list as `sign` signs it, and the record `tell`
    /// makes, all or none. Tokens already listed are not listed twice; if every one is, nothing
    /// is written and the current state is returned.
    async fn revoke_tokens(
        &self,
        token_ids: &[String],
        sign: SignList<'_>,
        tell: TellRevocation<'_>,
    ) -> StoreResult<RevocationState>;
}
