//! The published revocation list.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::error::{Error, Res};
use crate::layout::*;

impl SledStore {
    /// The revocation state.
    pub fn revocation_state(&self) -> Res<RevocationState> {
        Ok(self
            .revocations
            .get("state")?
            .map(|b| from_json(&b))
            .transpose()?
            .unwrap_or_default())
    }

    /// Stores the state and the list signed from it, together.
    pub fn put_revocations(&self, state: &RevocationState, list: &[u8]) -> Res<()> {
        let state = to_json(state)?;
        self.revocations.transaction(|t| {
            t.insert("state", state.clone())?;
            t.insert("list", list)?;
            Ok::<_, ConflictableTransactionError<Error>>(())
        })?;
        Ok(())
    }

    /// Stores `l` (revoked) and publishes a list that holds it and `token_ids`, in one
    /// transaction: a crash leaves both or neither, never a license marked revoked that no
    /// list holds. `sign` signs the new state, its sequence already raised.
    pub fn revoke_license(
        &self,
        l: &License,
        token_ids: &[String],
        sign: SignList<'_>,
    ) -> Res<RevocationState> {
        self.index_expiry(std::slice::from_ref(l))?;
        let value = license_value(l)?;
        let state = (&self.licenses, &self.revocations).transaction(|(licenses, revs)| {
            let abort = ConflictableTransactionError::Abort;
            let mut state: RevocationState = match revs.get("state")? {
                Some(b) => from_json(&b).map_err(abort)?,
                None => RevocationState::default(),
            };
            state.add_tokens(token_ids);
            state.license_ids.insert(l.id.to_string());
            state.sequence += 1;
            let list = sign(&state).map_err(|e| abort(Error(e)))?;
            revs.insert("state", to_json(&state).map_err(abort)?)?;
            revs.insert("list", list)?;
            licenses.insert(l.id.as_bytes(), value.clone())?;
            Ok(state)
        })?;
        Ok(state)
    }

    /// Publishes a list that also holds `token_ids`, in one transaction; `None` if every one
    /// was listed already (nothing written).
    pub fn revoke_tokens(
        &self,
        token_ids: &[String],
        sign: SignList<'_>,
    ) -> Res<Option<RevocationState>> {
        let state = self.revocations.transaction(|revs| {
            let abort = ConflictableTransactionError::Abort;
            let mut state: RevocationState = match revs.get("state")? {
                Some(b) => from_json(&b).map_err(abort)?,
                None => RevocationState::default(),
            };
            if !state.add_tokens(token_ids) {
                return Ok(None);
            }
            state.sequence += 1;
            let list = sign(&state).map_err(|e| abort(Error(e)))?;
            revs.insert("state", to_json(&state).map_err(abort)?)?;
            revs.insert("list", list)?;
            Ok(Some(state))
        })?;
        Ok(state)
    }

    /// The current signed revocation list.
    pub fn revocation_list(&self) -> Res<Option<Vec<u8>>> {
        Ok(self.revocations.get("list")?.map(|v| v.to_vec()))
    }
}

#[async_trait]
impl Revocations for SledStore {
    async fn revocation_state(&self) -> StoreResult<RevocationState> {
        Ok(SledStore::revocation_state(self)?)
    }
    async fn revocation_list(&self) -> StoreResult<Option<Vec<u8>>> {
        Ok(SledStore::revocation_list(self)?)
    }
    async fn put_revocations(&self, state: &RevocationState, list: &[u8]) -> StoreResult<()> {
        let done = SledStore::put_revocations(self, state, list)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn revoke_license(
        &self,
        l: &License,
        token_ids: &[String],
        sign: SignList<'_>,
        tell: TellRevocation<'_>,
    ) -> StoreResult<RevocationState> {
        let state = {
            let _license = self.seat_lock(&l.id);
            SledStore::revoke_license(self, l, token_ids, sign)?
        };
        self.write_record(tell(&state))?;
        self.committer.commit().await?;
        Ok(state)
    }
    async fn revoke_tokens(
        &self,
        token_ids: &[String],
        sign: SignList<'_>,
        tell: TellRevocation<'_>,
    ) -> StoreResult<RevocationState> {
        let Some(state) = SledStore::revoke_tokens(self, token_ids, sign)? else {
            return Ok(SledStore::revocation_state(self)?);
        };
        self.write_record(tell(&state))?;
        self.committer.commit().await?;
        Ok(state)
    }
}

#[async_trait]
impl KeyVault for SledStore {
    async fn sealed_key(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .sealed_keys
            .get(name)
            .map_err(Error::from)?
            .map(|v| v.to_vec()))
    }
    async fn insert_sealed_key(&self, name: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        // Compare-and-swap from nothing: of two handles inserting at once, one wins.
        let stored = match self
            .sealed_keys
            .compare_and_swap(name, None::<&[u8]>, Some(sealed))
            .map_err(Error::from)?
        {
            Ok(()) => sealed.to_vec(),
            Err(e) => e.current.map(|v| v.to_vec()).unwrap_or_default(),
        };
        self.committer.commit().await?;
        Ok(stored)
    }
}

/// sled keeps download files in the server's data directory, not in the store.
impl FileVault for SledStore {}

fn be_u64(b: &[u8]) -> u64 {
    <[u8; 8]>::try_from(b).map_or(0, u64::from_be_bytes)
}

#[async_trait]
impl Transfer for SledStore {
    async fn last_number(&self, sequence: &str) -> StoreResult<u64> {
        // A block of numbers handed to this process counts as given: the counter stands at
        // the block's end.
        Ok(self
            .meta
            .get(format!("{sequence}_number"))
            .map_err(Error::from)?
            .map_or(0, |v| be_u64(&v)))
    }
    async fn raise_number(&self, sequence: &str, at_least: u64) -> StoreResult<()> {
        self.meta
            .update_and_fetch(format!("{sequence}_number"), |old| {
                Some(old.map_or(0, be_u64).max(at_least).to_be_bytes().to_vec())
            })
            .map_err(Error::from)?;
        self.committer.commit().await?;
        Ok(())
    }
    async fn transactions(&self) -> StoreResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        for kv in self.transactions.iter() {
            let (k, v) = kv.map_err(Error::from)?;
            out.push((
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            ));
        }
        Ok(out)
    }
    async fn set_usage(&self, key_id: &str, day: u64, count: u64) -> StoreResult<()> {
        let mut k = key_id.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&day.to_be_bytes());
        self.usage
            .insert(k, count.to_be_bytes().to_vec())
            .map_err(Error::from)?;
        self.committer.commit().await?;
        Ok(())
    }
    async fn sealed_keys(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for kv in self.sealed_keys.iter() {
            let (k, v) = kv.map_err(Error::from)?;
            out.push((String::from_utf8_lossy(&k).into_owned(), v.to_vec()));
        }
        Ok(out)
    }
}

#[async_trait]
impl Lookups for SledStore {
    async fn validation_facts(
        &self,
        probes: &[(BlacklistType, &str)],
        key: &str,
        fingerprint: Option<&str>,
    ) -> StoreResult<ValidationFacts> {
        // Reads of a local store cost no round trip.
        facts_one_by_one(self, probes, key, fingerprint).await
    }
}
