//! Licenses and their indexes (by key, by product, by expiry).

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;
use std::sync::atomic::Ordering;

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::error::{Error, Res};
use crate::layout::*;

/// An entry of the expiry index: (expiry, license id).
fn expiry_entry(k: &[u8]) -> (i64, String) {
    let at = <[u8; 8]>::try_from(&k[..8.min(k.len())]).map_or(0, u64::from_be_bytes);
    let id = String::from_utf8_lossy(k.get(8..).unwrap_or_default()).into_owned();
    (i64::try_from(at).unwrap_or(i64::MAX), id)
}

impl SledStore {
    /// The licenses of a product, through the index (not every license).
    pub fn licenses_of(&self, product_id: &str) -> Res<Vec<License>> {
        let prefix = pair_key(product_id, "");
        let mut out = Vec::new();
        for k in self.product_licenses.scan_prefix(&prefix).keys() {
            let k = k?;
            if let Some(l) = self.license(&String::from_utf8_lossy(&k[prefix.len()..]))?
                && l.product_id == product_id
            {
                out.push(l);
            }
        }
        Ok(out)
    }

    /// Inserts a license; its key must be unused.
    pub fn insert_license(&self, l: &License) -> Res<()> {
        self.insert_licenses(std::slice::from_ref(l))
    }

    /// Inserts many licenses at once: all or none.
    pub fn insert_licenses(&self, ls: &[License]) -> Res<()> {
        let values = ls.iter().map(license_value).collect::<Res<Vec<_>>>()?;
        self.index_expiry(ls)?;
        self.index_products(ls)?;
        (&self.licenses, &self.license_keys).transaction(|(licenses, keys)| {
            for (l, value) in ls.iter().zip(&values) {
                if keys.get(l.key.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(Error::conflict(
                        Constraint::LicenseKey,
                        "a license with this key exists",
                    )));
                }
                keys.insert(l.key.as_bytes(), l.id.as_bytes())?;
                licenses.insert(l.id.as_bytes(), value.clone())?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Replaces a license (its key does not change), under its lock, so that it never lands
    /// in the middle of a [`SledStore::change_license`].
    pub fn update_license(&self, l: &License) -> Res<()> {
        let _license = self.seat_lock(&l.id);
        self.update_license_unlocked(l)
    }

    pub(crate) fn update_license_unlocked(&self, l: &License) -> Res<()> {
        self.index_expiry(std::slice::from_ref(l))?;
        self.licenses.insert(l.id.as_bytes(), license_value(l)?)?;
        Ok(())
    }

    /// Reads a license and stores what `change` makes of it, under the license's lock (which
    /// every write of the license and its seats takes), with the audit entries. Not yet durable:
    /// the trait's `change_license` commits after the lock is released.
    pub fn change_license(&self, id: &str, change: ChangeLicense<'_>) -> Res<Option<License>> {
        let _license = self.seat_lock(id);
        let Some(current) = self.license(id)? else {
            return Ok(None);
        };
        let Some((next, log)) = change(&current)? else {
            return Ok(Some(current));
        };
        if next.id != current.id || next.key != current.key || next.product_id != current.product_id
        {
            return Err(Error::backend(
                "change_license: the id, key and product of a license do not change",
            ));
        }
        self.update_license_unlocked(&next)?;
        self.write_record(log)?;
        Ok(Some(next))
    }

    /// Deletes a license, its key and its machines, under the license's lock: no seat is taken
    /// meanwhile (a seat operation finds no license once it has the lock).
    pub fn delete_license(&self, l: &License) -> Res<()> {
        let _license = self.seat_lock(&l.id);
        let machines = self.machines(&l.id)?;
        (
            &self.licenses,
            &self.license_keys,
            &self.machines,
            &self.machine_ids,
            &self.machine_counts,
        )
            .transaction(|(licenses, keys, ms, ids, counts)| {
                licenses.remove(l.id.as_bytes())?;
                keys.remove(l.key.as_bytes())?;
                counts.remove(l.id.as_bytes())?;
                for m in &machines {
                    ms.remove(machine_key(&m.license_id, &m.fingerprint))?;
                    ids.remove(m.id.as_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<Error>>(())
            })?;
        self.product_licenses
            .remove(pair_key(&l.product_id, &l.id))?;
        Ok(())
    }

    /// Adds each license to its product's index, before the license is written.
    pub(crate) fn index_products(&self, ls: &[License]) -> Res<()> {
        for l in ls {
            self.product_licenses
                .insert(pair_key(&l.product_id, &l.id), &[])?;
        }
        Ok(())
    }

    /// Adds the expiry of each license to the sweep's index. Called before the license is
    /// written, so a crash leaves at most a stale entry (which the sweep drops), never a
    /// license the sweep cannot find.
    pub(crate) fn index_expiry(&self, ls: &[License]) -> Res<()> {
        for key in ls.iter().filter_map(expiry_key) {
            self.license_expiry.insert(key, &[])?;
        }
        Ok(())
    }

    /// Entries of the expiry index up to `now`: (expiry, license id). The license may have
    /// changed since; the caller reads it and drops the entry with [`SledStore::forget_expiry`].
    pub fn expiry_candidates(&self, now: i64) -> Res<Vec<(i64, String)>> {
        let end = u64::try_from(now)
            .unwrap_or(0)
            .saturating_add(1)
            .to_be_bytes();
        self.license_expiry
            .range(..&end[..])
            .keys()
            .map(|k| Ok(expiry_entry(&k?)))
            .collect()
    }

    /// Entries of the expiry index in `(from, to]`, soonest first, at most `limit`.
    pub fn expiring(&self, from: i64, to: i64, limit: usize) -> Res<Vec<(i64, String)>> {
        let bound = |t: i64| {
            u64::try_from(t)
                .unwrap_or(0)
                .saturating_add(1)
                .to_be_bytes()
        };
        if to <= from {
            return Ok(Vec::new());
        }
        self.license_expiry
            .range(&bound(from)[..]..&bound(to)[..])
            .keys()
            .take(limit)
            .map(|k| Ok(expiry_entry(&k?)))
            .collect()
    }

    /// Drops an entry of the expiry index.
    pub fn forget_expiry(&self, at: i64, license_id: &str) -> Res<()> {
        let mut key = u64::try_from(at).unwrap_or(0).to_be_bytes().to_vec();
        key.extend_from_slice(license_id.as_bytes());
        self.license_expiry.remove(key)?;
        Ok(())
    }

    /// Number of licenses.
    pub fn license_count(&self) -> usize {
        self.licenses.len()
    }

    /// A license by id.
    pub fn license(&self, id: &str) -> Res<Option<License>> {
        self.licenses
            .get(id)?
            .map(|b| stored_license(&b))
            .transpose()
    }

    /// A license by its key.
    pub fn license_by_key(&self, key: &str) -> Res<Option<License>> {
        match self.license_keys.get(key)? {
            Some(id) => self.license(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// Licenses in id order after `after` that pass `filter`, at most `limit`.
    pub fn licenses(&self, filter: &LicenseFilter, req: &PageRequest) -> Res<Page<License>> {
        self.walk(filter, req, stored_license, |l| filter.admits(l), |l| &l.id)
    }

    /// [`SledStore::licenses`] as rows, read without the rest of each license; a filter with
    /// a search reads the licenses.
    pub fn license_rows(&self, filter: &LicenseFilter, req: &PageRequest) -> Res<Page<LicenseRow>> {
        if filter.search.is_some() {
            return Ok(self.licenses(filter, req)?.map(|l| LicenseRow::of(&l)));
        }
        self.walk(
            filter,
            req,
            stored_row,
            |r| filter.admits_row(r) == Some(true),
            |r| &r.id,
        )
    }

    /// One page of stored licenses, each read by `read`, those that `keep`, in id order.
    fn walk<T>(
        &self,
        filter: &LicenseFilter,
        req: &PageRequest,
        read: impl Fn(&[u8]) -> Res<T>,
        keep: impl Fn(&T) -> bool,
        id: impl Fn(&T) -> &str,
    ) -> Res<Page<T>> {
        let after = req.after.as_deref();
        if let Some(product) = &filter.product_id {
            // One product's licenses through its index, in id order, rather than a walk over
            // every license. `keep` checks the product too: an index entry may be stale.
            let prefix = pair_key(product, "");
            let start = pair_key(product, after.unwrap_or(""));
            let mut items = Vec::new();
            for k in self.product_licenses.range(start..) {
                let k = k?.0;
                if !k.starts_with(&prefix) {
                    break;
                }
                let license_id = &k[prefix.len()..];
                if after.is_some_and(|a| license_id <= a.as_bytes()) {
                    continue;
                }
                let Some(v) = self.licenses.get(license_id)? else {
                    continue;
                };
                let x = read(&v)?;
                if !keep(&x) {
                    continue;
                }
                if items.len() == req.limit {
                    let next = items.last().map(|x| id(x).to_owned());
                    return Ok(Page { items, next });
                }
                items.push(x);
            }
            return Ok(Page { items, next: None });
        }
        // Without a product this walks the licenses tree itself, as far as the filter needs:
        // counted, so tests can see that no request of a registered user or an anonymous
        // caller reaches here.
        self.license_scans.fetch_add(1, Ordering::Relaxed);
        let start = after.map(|a| {
            let mut k = a.as_bytes().to_vec();
            k.push(0);
            k
        });
        let iter = match start {
            Some(s) => self.licenses.range(s..),
            None => self.licenses.iter(),
        };
        if filter.policy_id.is_none() && filter.status_at.is_none() && filter.search.is_none() {
            return page_all(iter, req.limit, read, |x| id(x).to_owned());
        }
        page(iter, req.limit, read, keep, |x| id(x).to_owned())
    }
}

#[async_trait]
impl Licenses for SledStore {
    fn license_scans(&self) -> u64 {
        SledStore::license_scans(self)
    }
    async fn insert_license(&self, l: &License, record: Record) -> StoreResult<()> {
        SledStore::insert_license(self, l)?;
        self.write_record(record)?;
        Ok(self.committer.commit().await?)
    }
    async fn insert_licenses(&self, ls: &[License], record: Record) -> StoreResult<()> {
        SledStore::insert_licenses(self, ls)?;
        self.write_record(record)?;
        Ok(self.committer.commit().await?)
    }
    async fn update_license(&self, l: &License) -> StoreResult<()> {
        let done = SledStore::update_license(self, l)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn change_license(
        &self,
        id: &str,
        change: ChangeLicense<'_>,
    ) -> StoreResult<Option<License>> {
        let l = SledStore::change_license(self, id, change)?;
        self.committer.commit().await?;
        Ok(l)
    }
    async fn delete_license(&self, l: &License, record: Record) -> StoreResult<()> {
        SledStore::delete_license(self, l)?;
        self.write_record(record)?;
        Ok(self.committer.commit().await?)
    }
    async fn license(&self, id: &licet_core::model::LicenseId) -> StoreResult<Option<License>> {
        Ok(SledStore::license(self, id)?)
    }
    async fn license_by_key(&self, key: &str) -> StoreResult<Option<License>> {
        Ok(SledStore::license_by_key(self, key)?)
    }
    async fn licenses(
        &self,
        filter: &LicenseFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<License>> {
        Ok(SledStore::licenses(self, filter, page)?)
    }
    async fn license_rows(
        &self,
        filter: &LicenseFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<LicenseRow>> {
        Ok(SledStore::license_rows(self, filter, page)?)
    }
    async fn licenses_of(&self, product_id: &str) -> StoreResult<Vec<License>> {
        Ok(SledStore::licenses_of(self, product_id)?)
    }
    async fn license_count(&self) -> StoreResult<usize> {
        Ok(SledStore::license_count(self))
    }
    async fn expiry_candidates(&self, now: i64) -> StoreResult<Vec<(i64, String)>> {
        Ok(SledStore::expiry_candidates(self, now)?)
    }
    async fn expiring(&self, from: i64, to: i64, limit: usize) -> StoreResult<Vec<(i64, String)>> {
        Ok(SledStore::expiring(self, from, to, limit)?)
    }
    async fn forget_expiry(&self, at: i64, license_id: &str) -> StoreResult<()> {
        let done = SledStore::forget_expiry(self, at, license_id)?;
        self.committer.commit().await?;
        Ok(done)
    }
}
