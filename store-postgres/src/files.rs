//! Download files in the database: chunks of an upload, then one row that makes it a file.

use async_trait::async_trait;
use licet_core::store::{FileVault, StoreError, StoreResult};

use crate::{PgStore, col, exec, pg, row, scalar};

#[async_trait]
impl FileVault for PgStore {
    fn keeps_files(&self) -> bool {
        true
    }

    async fn put_upload_chunk(
        &self,
        upload: &str,
        n: u32,
        bytes: &[u8],
        now: i64,
    ) -> StoreResult<()> {
        let n = i32::try_from(n).map_err(|_| StoreError::backend("too many chunks"))?;
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO upload_chunks (upload, n, bytes, created_at) VALUES ($1, $2, $3, $4)",
            &[&upload, &n, &bytes, &now],
        )
        .await
        .map(drop)
    }

    async fn commit_file(&self, upload: &str, product_id: &str, file: &str) -> StoreResult<()> {
        let c = self.conn().await?;
        // The primary key keeps one upload per path: a second commit is a conflict, never a
        // replacement.
        exec(
            &c,
            "INSERT INTO files (product_id, file, upload) VALUES ($1, $2, $3)",
            &[&product_id, &file, &upload],
        )
        .await
        .map(drop)
    }

    async fn has_file(&self, product_id: &str, file: &str) -> StoreResult<bool> {
        let c = self.conn().await?;
        scalar(
            &c,
            "SELECT EXISTS (SELECT 1 FROM files WHERE product_id = $1 AND file = $2)",
            &[&product_id, &file],
        )
        .await
    }

    async fn file_chunk(
        &self,
        product_id: &str,
        file: &str,
        n: u32,
    ) -> StoreResult<Option<Vec<u8>>> {
        let Ok(n) = i32::try_from(n) else {
            return Ok(None);
        };
        let c = self.conn().await?;
        match row(
            &c,
            "SELECT c.bytes FROM files f JOIN upload_chunks c ON c.upload = f.upload AND c.n = $3 \
             WHERE f.product_id = $1 AND f.file = $2",
            &[&product_id, &file, &n],
        )
        .await?
        {
            Some(r) => Ok(Some(col(&r, 0)?)),
            None => Ok(None),
        }
    }

    async fn delete_file(&self, product_id: &str, file: &str) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        if let Some(r) = row(
            &tx,
            "DELETE FROM files WHERE product_id = $1 AND file = $2 RETURNING upload",
            &[&product_id, &file],
        )
        .await?
        {
            let upload: String = col(&r, 0)?;
            exec(
                &tx,
                "DELETE FROM upload_chunks WHERE upload = $1",
                &[&upload],
            )
            .await?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn prune_uploads(&self, before: i64) -> StoreResult<u64> {
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM upload_chunks c WHERE c.created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM files f WHERE f.upload = c.upload)",
            &[&before],
        )
        .await
    }
}
