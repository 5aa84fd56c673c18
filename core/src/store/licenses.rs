//! Licenses, and the record an operation writes with them.

use super::*;

/// Licenses.
#[async_trait]
pub trait Licenses: Send + Sync {
    /// Adds a license, with its record; its key must be free.
    async fn insert_license(&self, l: &License, record: Record) -> StoreResult<()>;
    /// Adds licenses with their record, all or none.
    async fn insert_licenses(&self, ls: &[License], record: Record) -> StoreResult<()>;
    /// Replaces a license.
    async fn update_license(&self, l: &License) -> StoreResult<()>;
    /// Reads license `id` and stores what `change` makes of it, as one operation that no other
    /// change of the license interleaves with (no lost update between two writers). The
    /// license as stored after; `None` when there is no such license.
    async fn change_license(
        &self,
        id: &str,
        change: ChangeLicense<'_>,
    ) -> StoreResult<Option<License>>;
    /// Removes a license with its machines, in one operation with the seat changes of the
    /// license: no seat is taken on a license being deleted.
    async fn delete_license(&self, l: &License, record: Record) -> StoreResult<()>;
    /// A license by id.
    async fn license(&self, id: &crate::model::LicenseId) -> StoreResult<Option<License>>;
    /// A license by its key.
    async fn license_by_key(&self, key: &str) -> StoreResult<Option<License>>;
    /// Licenses in id order that pass `filter`, one page.
    async fn licenses(
        &self,
        filter: &LicenseFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<License>>;
    /// [`Licenses::licenses`] as rows: the same licenses, pages and cursors. A backend that
    /// keeps rows apart reads a page without the whole licenses (a filter with a search still
    /// reads them).
    async fn license_rows(
        &self,
        filter: &LicenseFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<LicenseRow>> {
        Ok(self
            .licenses(filter, page)
            .await?
            .map(|l| LicenseRow::of(&l)))
    }
    /// Every license of one product.
    async fn licenses_of(&self, product_id: &str) -> StoreResult<Vec<License>>;
    /// How many licenses there are.
    async fn license_count(&self) -> StoreResult<usize>;
    /// Licenses whose recorded expiry is at or before `now`: (expiry, license id). Entries
    /// may be stale (the license was renewed); the sweep checks and forgets them.
    async fn expiry_candidates(&self, now: i64) -> StoreResult<Vec<(i64, String)>>;
    /// Forgets one expiry candidate.
    async fn forget_expiry(&self, at: i64, license_id: &str) -> StoreResult<()>;
    /// Entries of the expiry index after `from` and at or before `to`, soonest first, at
    /// most `limit`: (expiry, license id). Read from the sweep's index, never by walking the
    /// licenses; entries may be stale like [`Licenses::expiry_candidates`]' (the caller reads
    /// each license).
    async fn expiring(&self, from: i64, to: i64, limit: usize) -> StoreResult<Vec<(i64, String)>>;
    /// How many times an operation walked every license since the store was opened: what no
    /// request of a registered user or an anonymous caller may cost. A diagnostic
    /// for tests; 0 where the backend does not count.
    fn license_scans(&self) -> u64 {
        0
    }
}

/// What a change writes besides itself, in the same store operation: the audit entries that
/// record it and the webhook deliveries that announce its events. A change and its record are
/// durable together or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// Audit entries (their sequence numbers are given by the store).
    pub audit: Vec<AuditEvent>,
    /// Deliveries to queue in the outbox (their ids are given by the store).
    pub deliveries: Vec<Delivery>,
}

impl Record {
    /// Nothing to record.
    pub fn none() -> Record {
        Record::default()
    }

    /// This record and `other`'s entries.
    pub fn and(mut self, other: Record) -> Record {
        self.audit.extend(other.audit);
        self.deliveries.extend(other.deliveries);
        self
    }
}

impl From<Vec<AuditEvent>> for Record {
    fn from(audit: Vec<AuditEvent>) -> Record {
        Record {
            audit,
            deliveries: Vec::new(),
        }
    }
}

impl From<AuditEvent> for Record {
    fn from(e: AuditEvent) -> Record {
        Record::from(vec![e])
    }
}

/// [`Licenses::change_license`] with the caller's own reason to decline: `change` returns the
/// license to store (or `None` to leave it) or an `E`, and the caller gets that `E` back.
#[async_trait]
pub trait LicensesWith: Licenses {
    /// The license as stored after; `None` when there is no such license.
    async fn change_license_with<E>(
        &self,
        id: &str,
        change: &(
             dyn for<'l> Fn(&'l License) -> Result<Option<(License, Record)>, E> + Send + Sync
         ),
    ) -> Result<Option<License>, Halted<E, StoreError>>
    where
        E: Send + Sync + 'static,
    {
        let boxed = |l: &License| change(l).map_err(|e| StoreError::Declined(Carried::new(e)));
        self.change_license(id, &boxed)
            .await
            .map_err(|e| match crate::error::declined_as::<E>(e) {
                Ok(reason) => Halted::Declined(reason),
                Err(e) => Halted::Failed(e),
            })
    }
}

impl<L: Licenses + ?Sized> LicensesWith for L {}
