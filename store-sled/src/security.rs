//! The blacklist and the security log.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;

use crate::error::{Error, Res};
use crate::layout::*;
use crate::{BlacklistIndex, SledStore};
use std::sync::Arc;

impl SledStore {
    /// Inserts or replaces a blacklist entry.
    pub fn put_blacklist(&self, e: &BlacklistEntry) -> Res<()> {
        self.blacklist.insert(e.id.as_bytes(), to_json(e)?)?;
        self.forget_blacklist_index();
        Ok(())
    }

    /// A blacklist entry by id.
    pub fn blacklist_entry(&self, id: &str) -> Res<Option<BlacklistEntry>> {
        Self::get_json(&self.blacklist, id.as_bytes())
    }

    /// Every blacklist entry.
    pub fn blacklist(&self) -> Res<Vec<BlacklistEntry>> {
        Self::all_json(&self.blacklist)
    }

    /// Removes a blacklist entry; whether it existed.
    pub fn delete_blacklist(&self, id: &str) -> Res<bool> {
        let existed = self.blacklist.remove(id)?.is_some();
        self.forget_blacklist_index();
        Ok(existed)
    }

    /// The entries (in force or not, by id) matching any of `probes`, from the index.
    ///
    /// The index is rebuilt under its write lock, and a change drops it under the same lock
    /// after writing the tree, so an index never misses a change made before it was read.
    pub fn blacklist_matches(&self, probes: &[(BlacklistType, &str)]) -> Res<Vec<BlacklistEntry>> {
        let cached = self.blacklist_index.read().ok().and_then(|i| i.clone());
        let index = match cached {
            Some(i) => i,
            None => {
                let mut slot = self
                    .blacklist_index
                    .write()
                    .map_err(|_| Error::backend("blacklist index lock poisoned"))?;
                match &*slot {
                    Some(i) => i.clone(),
                    None => {
                        let mut built = BlacklistIndex::new();
                        for e in self.blacklist()? {
                            built.entry((e.kind, e.value.clone())).or_default().push(e);
                        }
                        let built = Arc::new(built);
                        *slot = Some(built.clone());
                        built
                    }
                }
            }
        };
        let mut out: Vec<BlacklistEntry> = probes
            .iter()
            .filter_map(|(kind, value)| index.get(&(*kind, (*value).to_owned())))
            .flatten()
            .cloned()
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    pub(crate) fn forget_blacklist_index(&self) {
        if let Ok(mut slot) = self.blacklist_index.write() {
            *slot = None;
        }
    }

    /// Appends a security event; its `seq` is assigned here.
    pub fn append_security_event(&self, mut e: SecurityEvent) -> Res<SecurityEvent> {
        e.seq = self.next_sequence("security_seq")?;
        self.security_events
            .insert(e.seq.to_be_bytes(), to_json(&e)?)?;
        Ok(e)
    }

    /// Security events, newest first, for which `keep` holds.
    pub fn security_events(&self, filter: &SecurityEventFilter) -> Res<Vec<SecurityEvent>> {
        let mut out = Vec::new();
        for v in self.security_events.iter().values().rev() {
            let e: SecurityEvent = from_json(&v?)?;
            if filter.admits(&e) {
                out.push(e);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Security for SledStore {
    async fn put_blacklist(&self, e: &BlacklistEntry) -> StoreResult<()> {
        let done = SledStore::put_blacklist(self, e)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn blacklist_entry(&self, id: &str) -> StoreResult<Option<BlacklistEntry>> {
        Ok(SledStore::blacklist_entry(self, id)?)
    }
    async fn blacklist(&self) -> StoreResult<Vec<BlacklistEntry>> {
        Ok(SledStore::blacklist(self)?)
    }
    async fn delete_blacklist(&self, id: &str) -> StoreResult<bool> {
        let done = SledStore::delete_blacklist(self, id)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn blacklist_matches(
        &self,
        probes: &[(BlacklistType, &str)],
    ) -> StoreResult<Vec<BlacklistEntry>> {
        Ok(SledStore::blacklist_matches(self, probes)?)
    }
    async fn append_security_event(
        &self,
        e: SecurityEvent,
        tell: TellSecurity<'_>,
    ) -> StoreResult<SecurityEvent> {
        let e = SledStore::append_security_event(self, e)?;
        self.write_record(tell(&e))?;
        self.committer.commit().await?;
        Ok(e)
    }
    async fn security_events(
        &self,
        filter: &SecurityEventFilter,
    ) -> StoreResult<Vec<SecurityEvent>> {
        Ok(SledStore::security_events(self, filter)?)
    }
}
