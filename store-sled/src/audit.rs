//! The audit log, and the pruning of both logs.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;

use crate::SledStore;
use crate::error::Res;
use crate::layout::*;
use serde::Deserialize;

impl SledStore {
    /// Drops the oldest entries of the audit log and the security log: those written before
    /// `before`, and beyond `max_entries` of each log; at most `budget` in one call, so a
    /// background pass stays short. Returns how many of each were dropped.
    ///
    /// Both logs are keyed by an increasing sequence, so the oldest come first, and a log's
    /// length is at most its last sequence minus its first plus one (numbers a restart skipped
    /// are never written): no count is kept, none is read.
    pub fn prune_logs(&self, before: i64, max_entries: u64, budget: usize) -> Res<(usize, usize)> {
        #[derive(Deserialize)]
        struct Head {
            at: Option<i64>,
            created_at: Option<i64>,
            subject: Option<String>,
        }
        let prune = |tree: &sled::Tree, index: Option<&sled::Tree>| -> Res<usize> {
            let mut dropped = 0;
            while dropped < budget {
                let (Some((first, value)), Some((last, _))) = (tree.first()?, tree.last()?) else {
                    break;
                };
                let seq = |k: &[u8]| k.try_into().map(u64::from_be_bytes).unwrap_or(0);
                let len = seq(&last).saturating_sub(seq(&first)) + 1;
                let head: Head = serde_json::from_slice(&value).unwrap_or(Head {
                    at: None,
                    created_at: None,
                    subject: None,
                });
                let at = head.at.or(head.created_at).unwrap_or(i64::MIN);
                if at >= before && len <= max_entries {
                    break;
                }
                if let (Some(index), Some(subject)) = (index, head.subject) {
                    let mut k = subject.into_bytes();
                    k.push(0);
                    k.extend_from_slice(&first);
                    index.remove(k)?;
                }
                tree.remove(&first)?;
                dropped += 1;
            }
            Ok(dropped)
        };
        Ok((
            prune(&self.audit, Some(&self.audit_subjects))?,
            prune(&self.security_events, None)?,
        ))
    }

    /// Appends an event; its `seq` is assigned here. The event is also indexed by its subject.
    pub fn append_audit(&self, mut e: AuditEvent) -> Res<u64> {
        e.seq = self.next_sequence("audit_seq")?;
        let mut subject = e.subject.as_bytes().to_vec();
        subject.push(0);
        subject.extend_from_slice(&e.seq.to_be_bytes());
        let value = to_json(&e)?;
        // Two plain writes, the index first: a crash between them leaves an index entry
        // without its event, which `audit_of` skips, never an event it cannot find. (A
        // transaction here cost more than the writes themselves.)
        self.audit_subjects.insert(subject, &[])?;
        self.audit.insert(e.seq.to_be_bytes(), value)?;
        Ok(e.seq)
    }

    /// The audit events about one subject, newest first: `skip` then at most `limit`, and the
    /// total.
    pub fn audit_of(
        &self,
        subject: &str,
        skip: usize,
        limit: usize,
    ) -> Res<(Vec<AuditEvent>, usize)> {
        let mut prefix = subject.as_bytes().to_vec();
        prefix.push(0);
        let mut total = 0;
        let mut out = Vec::new();
        for kv in self.audit_subjects.scan_prefix(&prefix).rev() {
            let (k, _) = kv?;
            total += 1;
            if total > skip
                && out.len() < limit
                && let Some(v) = self.audit.get(&k[prefix.len()..])?
            {
                out.push(from_json(&v)?);
            }
        }
        Ok((out, total))
    }

    /// Events after `after` (exclusive) for which `keep` holds, oldest first, at most `limit`.
    pub fn audit(&self, filter: &AuditFilter, req: &PageRequest) -> Res<Page<AuditEvent>> {
        let after = req.after.as_deref().and_then(|a| a.parse::<u64>().ok());
        let entries = match filter.newest_first {
            true => Box::new(
                self.audit
                    .range(..after.unwrap_or(u64::MAX).to_be_bytes())
                    .rev(),
            ) as Box<dyn Iterator<Item = _>>,
            false => Box::new(
                self.audit
                    .range(after.unwrap_or(0).saturating_add(1).to_be_bytes()..),
            ),
        };
        page(
            entries,
            req.limit,
            from_json,
            |e| filter.admits(e),
            |e: &AuditEvent| e.seq.to_string(),
        )
    }
}

#[async_trait]
impl Audit for SledStore {
    async fn append_audit(&self, e: AuditEvent) -> StoreResult<u64> {
        let done = SledStore::append_audit(self, e)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn audit_of(
        &self,
        subject: &str,
        skip: usize,
        limit: usize,
    ) -> StoreResult<(Vec<AuditEvent>, usize)> {
        Ok(SledStore::audit_of(self, subject, skip, limit)?)
    }
    async fn audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        Ok(SledStore::audit(self, filter, page)?)
    }
    async fn prune_logs(
        &self,
        before: i64,
        max_entries: u64,
        budget: usize,
    ) -> StoreResult<(usize, usize)> {
        let done = SledStore::prune_logs(self, before, max_entries, budget)?;
        self.committer.commit().await?;
        Ok(done)
    }
}
