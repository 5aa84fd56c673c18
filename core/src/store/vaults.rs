//! Sealed keys and stored files.

use super::*;

/// The server's signing keys, as the server seals them: a backend stores bytes it cannot read.
/// Where several instances share one store, the first to start creates the keys and the others
/// load them.
#[async_trait]
pub trait KeyVault: Send + Sync {
    /// A sealed key by name.
    async fn sealed_key(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Stores a sealed key under `name` unless one is stored already, as one operation: the key
    /// stored after it (this one, or the one another handle stored first).
    async fn insert_sealed_key(&self, name: &str, sealed: &[u8]) -> StoreResult<Vec<u8>>;
}

/// The contents of download files, for a store shared by several instances: a file must not
/// live on one instance's disk. A backend that keeps files (PostgreSQL) stores them in chunks;
/// one that does not (sled, whose server keeps them in its data directory) keeps the defaults,
/// and the server never calls the rest.
///
/// An upload is written as chunks under an upload id no one else knows, then made a file by
/// [`FileVault::commit_file`] in one step: a broken upload leaves only chunks no file names,
/// which [`FileVault::prune_uploads`] removes.
#[async_trait]
pub trait FileVault: Send + Sync {
    /// Whether download files live in the store.
    fn keeps_files(&self) -> bool {
        false
    }
    /// Stores chunk `n` (from 0) of upload `upload`, durably.
    async fn put_upload_chunk(
        &self,
        _upload: &str,
        _n: u32,
        _bytes: &[u8],
        _now: i64,
    ) -> StoreResult<()> {
        Err(StoreError::backend("this store keeps no files"))
    }
    /// Makes upload `upload` the file `file` of `product_id`, unless that file exists
    /// ([`Constraint::DownloadFile`]).
    async fn commit_file(&self, _upload: &str, _product_id: &str, _file: &str) -> StoreResult<()> {
        Err(StoreError::backend("this store keeps no files"))
    }
    /// Whether `product_id` has the file `file`.
    async fn has_file(&self, _product_id: &str, _file: &str) -> StoreResult<bool> {
        Ok(false)
    }
    /// Chunk `n` of a file; `None` past its end (or if there is no such file).
    async fn file_chunk(
        &self,
        _product_id: &str,
        _file: &str,
        _n: u32,
    ) -> StoreResult<Option<Vec<u8>>> {
        Ok(None)
    }
    /// Removes a file and its chunks (an upload whose registration failed).
    async fn delete_file(&self, _product_id: &str, _file: &str) -> StoreResult<()> {
        Ok(())
    }
    /// Removes chunks of uploads begun before `before` that never became a file; how many.
    async fn prune_uploads(&self, _before: i64) -> StoreResult<u64> {
        Ok(0)
    }
}
