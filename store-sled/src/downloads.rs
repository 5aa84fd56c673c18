//! Downloads and their one-time grants.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::SledStore;
use crate::error::{Error, Res};
use crate::layout::*;

impl SledStore {
    pub(crate) fn download_name_key(product_id: &str, name: &str) -> Vec<u8> {
        let mut k = product_id.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(name.as_bytes());
        k
    }

    /// Registers a download; its name must be unused for the product.
    pub fn insert_download(&self, d: &Download) -> Res<()> {
        let value = to_json(d)?;
        let name = Self::download_name_key(&d.product_id, &d.name);
        (&self.downloads, &self.download_names).transaction(|(ds, names)| {
            if names.get(&name)?.is_some() {
                return Err(ConflictableTransactionError::Abort(Error::conflict(
                    Constraint::DownloadName,
                    "the product already has a download of this name",
                )));
            }
            names.insert(name.clone(), &d.id.to_be_bytes())?;
            ds.insert(&d.id.to_be_bytes(), value.clone())?;
            Ok(())
        })?;
        Ok(())
    }

    /// A download by id.
    pub fn download(&self, id: u64) -> Res<Option<Download>> {
        self.downloads
            .get(id.to_be_bytes())?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// A product's download by name.
    pub fn download_by_name(&self, product_id: &str, name: &str) -> Res<Option<Download>> {
        match self
            .download_names
            .get(Self::download_name_key(product_id, name))?
        {
            Some(id) => match <[u8; 8]>::try_from(&id[..]) {
                Ok(b) => self.download(u64::from_be_bytes(b)),
                Err(_) => Err(Error::backend("corrupt download index")),
            },
            None => Ok(None),
        }
    }

    /// Downloads, of one product or all.
    pub fn downloads(&self, product_id: Option<&str>) -> Res<Vec<Download>> {
        let all = self
            .downloads
            .iter()
            .values()
            .map(|v| from_json(&v?))
            .collect::<Res<Vec<Download>>>()?;
        Ok(all
            .into_iter()
            .filter(|d| product_id.is_none_or(|id| d.product_id == id))
            .collect())
    }

    /// Unregisters a download (the file stays).
    pub fn delete_download(&self, d: &Download) -> Res<()> {
        let name = Self::download_name_key(&d.product_id, &d.name);
        (&self.downloads, &self.download_names).transaction(|(ds, names)| {
            ds.remove(&d.id.to_be_bytes())?;
            names.remove(name.clone())?;
            Ok::<_, ConflictableTransactionError<Error>>(())
        })?;
        Ok(())
    }

    /// Records a download grant.
    pub fn put_grant(&self, id: &[u8; 16], g: &DownloadGrant) -> Res<()> {
        self.download_grants.insert(id, to_json(g)?)?;
        Ok(())
    }

    /// A download grant by id.
    pub fn grant(&self, id: &[u8; 16]) -> Res<Option<DownloadGrant>> {
        self.download_grants
            .get(id)?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// Marks a grant used at `now`, atomically: `Ok(true)` for the one caller that used it,
    /// `Ok(false)` if it was used already or does not exist.
    pub fn use_grant(&self, id: &[u8; 16], now: i64) -> Res<bool> {
        loop {
            let Some(old) = self.download_grants.get(id)? else {
                return Ok(false);
            };
            let mut g: DownloadGrant = from_json(&old)?;
            if g.used_at.is_some() {
                return Ok(false);
            }
            g.used_at = Some(now);
            let new = to_json(&g)?;
            if self
                .download_grants
                .compare_and_swap(id, Some(old), Some(new))?
                .is_ok()
            {
                return Ok(true);
            }
        }
    }

    /// Removes grants that expired before `before` (used or not); how many.
    pub fn prune_grants(&self, before: i64) -> Res<usize> {
        let mut n = 0;
        for kv in self.download_grants.iter() {
            let (k, v) = kv?;
            let g: DownloadGrant = from_json(&v)?;
            if g.expires_at < before {
                self.download_grants.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[async_trait]
impl Downloads for SledStore {
    async fn insert_download(&self, d: &Download) -> StoreResult<()> {
        let done = SledStore::insert_download(self, d)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn download(&self, id: u64) -> StoreResult<Option<Download>> {
        Ok(SledStore::download(self, id)?)
    }
    async fn download_by_name(
        &self,
        product_id: &str,
        name: &str,
    ) -> StoreResult<Option<Download>> {
        Ok(SledStore::download_by_name(self, product_id, name)?)
    }
    async fn downloads(&self, product_id: Option<&str>) -> StoreResult<Vec<Download>> {
        Ok(SledStore::downloads(self, product_id)?)
    }
    async fn delete_download(&self, d: &Download) -> StoreResult<()> {
        let done = SledStore::delete_download(self, d)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn put_grant(&self, id: &[u8; 16], g: &DownloadGrant) -> StoreResult<()> {
        let done = SledStore::put_grant(self, id, g)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn grant(&self, id: &[u8; 16]) -> StoreResult<Option<DownloadGrant>> {
        Ok(SledStore::grant(self, id)?)
    }
    async fn use_grant(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
        let done = SledStore::use_grant(self, id, now)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn prune_grants(&self, before: i64) -> StoreResult<usize> {
        let done = SledStore::prune_grants(self, before)?;
        self.committer.commit().await?;
        Ok(done)
    }
}
