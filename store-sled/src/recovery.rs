//! Opening a database: indexes built once for databases written before them, and the seat
//! counts recounted after a crash.

use licet_core::model::*;

use crate::layout::*;
use crate::{CLEAN_SHUTDOWN, SledStore};

impl SledStore {
    /// Builds the expiry and floating-seat indexes once, for a database written before they
    /// existed: one streaming pass, then a marker in `meta`.
    pub(crate) fn build_indexes(&self) -> sled::Result<()> {
        const MARKER: &str = "indexes_v1";
        if self.meta.contains_key(MARKER)? {
            return Ok(());
        }
        for v in self.licenses.iter().values() {
            if let Ok(l) = stored_license(&v?)
                && let Some(key) = expiry_key(&l)
            {
                self.license_expiry.insert(key, &[])?;
            }
        }
        // Every license with machines; the culler drops those whose policy does not float.
        self.mark_licenses_with_machines()?;
        self.meta.insert(MARKER, &[])?;
        Ok(())
    }

    /// Builds the licenses-by-product and products-by-owner indexes once, for a database
    /// written before they existed.
    pub(crate) fn build_owner_indexes(&self) -> sled::Result<()> {
        const MARKER: &str = "owner_indexes_v1";
        if self.meta.contains_key(MARKER)? {
            return Ok(());
        }
        for v in self.licenses.iter().values() {
            if let Ok(l) = stored_license(&v?) {
                self.product_licenses
                    .insert(pair_key(&l.product_id, &l.id), &[])?;
            }
        }
        for v in self.products.iter().values() {
            if let Ok(p) = serde_json::from_slice::<Product>(&v?)
                && let Some(owner) = &p.owner_id
            {
                self.owner_products.insert(pair_key(owner, &p.id), &[])?;
            }
        }
        self.meta.insert(MARKER, &[])?;
        Ok(())
    }

    /// Rewrites once every license stored before licenses kept their rows in front
    /// ([`license_value`]), so that a page of rows never reads a whole license. Values that do
    /// not read are left as they are, for the reads that find them to report.
    pub(crate) fn build_license_rows(&self) -> sled::Result<()> {
        const MARKER: &str = "license_rows_v1";
        if self.meta.contains_key(MARKER)? {
            return Ok(());
        }
        for kv in self.licenses.iter() {
            let (k, v) = kv?;
            if has_row(&v) {
                continue;
            }
            if let Ok(value) = stored_license(&v).and_then(|l| license_value(&l)) {
                self.licenses.insert(k, value)?;
            }
        }
        self.meta.insert(MARKER, &[])?;
        Ok(())
    }

    /// Builds the name index of name-addressed products once, for a database written before
    /// it existed. Names that two such products already share stay with the first: both keep
    /// answering as they did, but neither name can be taken again.
    pub(crate) fn build_name_index(&self) -> sled::Result<()> {
        const MARKER: &str = "product_names_v1";
        if self.meta.contains_key(MARKER)? {
            return Ok(());
        }
        for v in self.products.iter().values() {
            if let Ok(p) = serde_json::from_slice::<Product>(&v?)
                && p.compat.by_name()
            {
                let _ = self.product_names.compare_and_swap(
                    name_key(&p.name),
                    None as Option<&[u8]>,
                    Some(p.id.as_bytes()),
                )?;
            }
        }
        self.meta.insert(MARKER, &[])?;
        Ok(())
    }

    /// Builds the seat-end and hardware-part indexes of machines once, for a database written
    /// before they existed: one streaming pass, then a marker in `meta`.
    pub(crate) fn build_seat_indexes(&self) -> sled::Result<()> {
        const MARKER: &str = "seat_indexes_v1";
        if self.meta.contains_key(MARKER)? {
            return Ok(());
        }
        for v in self.machines.iter().values() {
            if let Ok(m) = serde_json::from_slice::<Machine>(&v?) {
                let (end, parts) = machine_index_keys(&m);
                self.seat_ends.insert(end, &[])?;
                for k in parts {
                    self.machine_parts.insert(k, &[])?;
                }
            }
        }
        self.meta.insert(MARKER, &[])?;
        Ok(())
    }

    pub(crate) fn mark_licenses_with_machines(&self) -> sled::Result<()> {
        for k in self.machine_counts.iter().keys() {
            self.floating_licenses.insert(k?, &[])?;
        }
        Ok(())
    }

    /// Records a clean shutdown (after a last flush), so the next [`SledStore::open`] can skip
    /// recounting seats. Call it last: any write after it makes the marker a lie.
    pub fn close(&self) -> sled::Result<()> {
        self.db.flush()?;
        self.meta.insert(CLEAN_SHUTDOWN, &[])?;
        self.db.flush()?;
        Ok(())
    }

    /// After a crash, recounts every license's machines from the machines themselves (keys
    /// only, one pass): machine writes are not transactions, and a crash between them can
    /// leave a count one too high. After a clean shutdown there is nothing to do. Either way
    /// the marker is removed, durably, before the store is used.
    pub(crate) fn recount_after_crash(&self) -> sled::Result<()> {
        if self.meta.remove(CLEAN_SHUTDOWN)?.is_some() {
            self.db.flush()?;
            return Ok(());
        }
        let mut counts: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
        for k in self.machines.iter().keys() {
            let k = k?;
            let license = k.split(|b| *b == 0).next().unwrap_or(&[]).to_vec();
            *counts.entry(license).or_default() += 1;
        }
        for k in self.machine_counts.iter().keys() {
            let k = k?;
            if !counts.contains_key(k.as_ref()) {
                self.machine_counts.remove(k)?;
            }
        }
        for (license, n) in counts {
            self.machine_counts.insert(license, &n.to_be_bytes())?;
        }
        self.db.flush()?;
        Ok(())
    }
}
