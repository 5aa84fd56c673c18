//! Products and policies.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;

use crate::*;

/// A product's key in the name column: names are compared as WemX compares them, trimmed and
/// without regard to ASCII case, and only among products that a family addresses by name.
fn name_key(p: &Product) -> Option<String> {
    p.compat
        .by_name()
        .then(|| p.name.trim().to_ascii_lowercase())
}

/// The conflict of a product write, told with the product's own code, number or name.
fn about(p: &Product, e: StoreError) -> StoreError {
    match &e {
        StoreError::Conflict { constraint, .. } => match constraint {
            Constraint::ProductCode => StoreError::conflict(
                *constraint,
                format!("a product with code {:?} exists", p.code),
            ),
            Constraint::ProductNumber => StoreError::conflict(
                *constraint,
                format!("a product with numeric id {} exists", p.numeric_id),
            ),
            Constraint::ProductName => StoreError::conflict(
                *constraint,
                format!(
                    "a product answering by name (WemX, the Verify API) is already called {:?}",
                    p.name.trim()
                ),
            ),
            _ => e,
        },
        _ => e,
    }
}

impl PgStore {
    /// Commits a change of products or policies, announced to every instance in the same
    /// transaction (delivered only if it commits), and forgets this instance's cache at once.
    async fn commit_catalog(&self, tx: deadpool_postgres::Transaction<'_>) -> StoreResult<()> {
        exec(&tx, crate::cache::ANNOUNCE, &[]).await?;
        let done = tx.commit().await.map_err(pg);
        // Even when the commit's outcome is unknown (the connection lost on the way).
        self.catalog.forget();
        done
    }

    /// A product or policy read through the cache: `cached` when the cache held it, else the
    /// record `sql` finds by `id`, kept by `keep` under the ticket taken before the read.
    async fn read_through<T: serde::de::DeserializeOwned + Send>(
        &self,
        cached: Option<T>,
        sql: &str,
        id: &str,
        keep: fn(&crate::cache::CatalogCache, Option<crate::cache::Ticket>, &T),
    ) -> StoreResult<Option<T>> {
        if cached.is_some() {
            return Ok(cached);
        }
        let ticket = self.catalog.ticket();
        let c = self.conn().await?;
        let found: Option<T> = one(&c, sql, &[&id]).await?;
        if let Some(r) = &found {
            keep(&self.catalog, ticket, r);
        }
        Ok(found)
    }
}

#[async_trait]
impl Catalog for PgStore {
    async fn next_product_number(&self) -> StoreResult<u64> {
        // Numbers given explicitly are skipped.
        loop {
            let n = self.next_counter("product_number").await?;
            let c = self.conn().await?;
            if row(&c, "SELECT 1 FROM products WHERE number = $1", &[&big(n)?])
                .await?
                .is_none()
            {
                return Ok(n);
            }
        }
    }
    async fn insert_product(&self, p: &Product) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        exec(
            &tx,
            "INSERT INTO products (id, code, number, name_key, owner_id, data) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &p.id.as_str(),
                &p.code,
                &big(p.numeric_id)?,
                &name_key(p),
                &p.owner_id,
                &json(p),
            ],
        )
        .await
        .map_err(|e| about(p, e))?;
        self.commit_catalog(tx).await
    }
    async fn update_product(&self, p: &Product) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        exec(
            &tx,
            "UPDATE products SET code = $2, number = $3, name_key = $4, owner_id = $5, data = $6 \
             WHERE id = $1",
            &[
                &p.id.as_str(),
                &p.code,
                &big(p.numeric_id)?,
                &name_key(p),
                &p.owner_id,
                &json(p),
            ],
        )
        .await
        .map_err(|e| about(p, e))?;
        self.commit_catalog(tx).await
    }
    async fn delete_product(&self, p: &Product) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // The product's row is locked first, so that no license is added to it meanwhile
        // unseen (a license insert reads the product first, see `insert_licenses`).
        row(
            &tx,
            "SELECT 1 FROM products WHERE id = $1 FOR UPDATE",
            &[&p.id.as_str()],
        )
        .await?;
        if row(
            &tx,
            "SELECT 1 FROM licenses WHERE product_id = $1 LIMIT 1",
            &[&p.id.as_str()],
        )
        .await?
        .is_some()
        {
            return Err(StoreError::conflict(
                Constraint::InUse,
                "the product still has licenses",
            ));
        }
        exec(&tx, "DELETE FROM products WHERE id = $1", &[&p.id.as_str()]).await?;
        self.commit_catalog(tx).await
    }
    async fn product(&self, id: &licet_core::model::ProductId) -> StoreResult<Option<Product>> {
        self.read_through(
            self.catalog.product(id),
            "SELECT data FROM products WHERE id = $1",
            id.as_str(),
            crate::cache::CatalogCache::keep_product,
        )
        .await
    }
    async fn product_by_code(&self, code: &str) -> StoreResult<Option<Product>> {
        let c = self.conn().await?;
        one(&c, "SELECT data FROM products WHERE code = $1", &[&code]).await
    }
    async fn product_by_number(&self, n: u64) -> StoreResult<Option<Product>> {
        let Ok(n) = i64::try_from(n) else {
            return Ok(None);
        };
        let c = self.conn().await?;
        one(&c, "SELECT data FROM products WHERE number = $1", &[&n]).await
    }
    async fn products(&self) -> StoreResult<Vec<Product>> {
        let c = self.conn().await?;
        all(&c, "SELECT data FROM products ORDER BY id", &[]).await
    }
    async fn products_of_owner(&self, owner: &str) -> StoreResult<Vec<Product>> {
        let c = self.conn().await?;
        all(
            &c,
            "SELECT data FROM products WHERE owner_id = $1 ORDER BY id",
            &[&owner],
        )
        .await
    }
    async fn put_policy(&self, p: &Policy) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        exec(
            &tx,
            "INSERT INTO policies (id, product_id, data) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET product_id = EXCLUDED.product_id, data = EXCLUDED.data",
            &[&p.id.as_str(), &p.product_id.as_str(), &json(p)],
        )
        .await?;
        self.commit_catalog(tx).await
    }
    async fn policy(&self, id: &licet_core::model::PolicyId) -> StoreResult<Option<Policy>> {
        self.read_through(
            self.catalog.policy(id),
            "SELECT data FROM policies WHERE id = $1",
            id.as_str(),
            crate::cache::CatalogCache::keep_policy,
        )
        .await
    }
    async fn policies(&self, product_id: Option<&str>) -> StoreResult<Vec<Policy>> {
        let c = self.conn().await?;
        all(
            &c,
            "SELECT data FROM policies WHERE $1::text IS NULL OR product_id = $1 ORDER BY id",
            &[&product_id],
        )
        .await
    }
    async fn delete_policy(&self, id: &str) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        row(
            &tx,
            "SELECT 1 FROM policies WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?;
        if row(
            &tx,
            "SELECT 1 FROM licenses WHERE policy_id = $1 LIMIT 1",
            &[&id],
        )
        .await?
        .is_some()
        {
            return Err(StoreError::conflict(
                Constraint::InUse,
                "licenses still use the policy",
            ));
        }
        exec(&tx, "DELETE FROM policies WHERE id = $1", &[&id]).await?;
        self.commit_catalog(tx).await
    }
}
