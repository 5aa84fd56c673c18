//! The shop (prices, customers, orders) and product downloads with their one-time grants.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;

use crate::licenses::{change_in, put_license};
use crate::outbox::write_record;
use crate::seats::upsert_machine;
use crate::*;

#[async_trait]
impl Shop for PgStore {
    async fn insert_price(&self, p: &Price) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO prices (id, product_id, data) VALUES ($1, $2, $3)",
            &[&big(p.id)?, &p.product_id.as_str(), &json(p)],
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict { constraint, .. } => {
                StoreError::conflict(constraint, format!("a price with id {} exists", p.id))
            }
            e => e,
        })?;
        Ok(())
    }
    async fn next_price_id(&self) -> StoreResult<u64> {
        // Ids given explicitly are skipped.
        loop {
            let n = self.next_counter("price_number").await?;
            if self.price(n).await?.is_none() {
                return Ok(n);
            }
        }
    }
    async fn price(&self, id: u64) -> StoreResult<Option<Price>> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let c = self.conn().await?;
        one(&c, "SELECT data FROM prices WHERE id = $1", &[&id]).await
    }
    async fn prices(&self, product_id: Option<&str>) -> StoreResult<Vec<Price>> {
        let c = self.conn().await?;
        all(
            &c,
            "SELECT data FROM prices WHERE $1::text IS NULL OR product_id = $1 ORDER BY id",
            &[&product_id],
        )
        .await
    }
    async fn delete_price(&self, id: u64) -> StoreResult<()> {
        let id = big(id)?;
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        row(&tx, "SELECT 1 FROM prices WHERE id = $1 FOR UPDATE", &[&id]).await?;
        if row(
            &tx,
            "SELECT 1 FROM orders WHERE price_id = $1 LIMIT 1",
            &[&id],
        )
        .await?
        .is_some()
        {
            return Err(StoreError::conflict(
                Constraint::InUse,
                "orders still use the price",
            ));
        }
        exec(&tx, "DELETE FROM prices WHERE id = $1", &[&id]).await?;
        tx.commit().await.map_err(pg)
    }
    async fn customer(&self, id: u64) -> StoreResult<Option<Customer>> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let c = self.conn().await?;
        one(&c, "SELECT data FROM customers WHERE id = $1", &[&id]).await
    }
    async fn customer_by_email(&self, email: &str) -> StoreResult<Option<Customer>> {
        let c = self.conn().await?;
        one(&c, "SELECT data FROM customers WHERE email = $1", &[&email]).await
    }
    async fn insert_customer_if_new(&self, cu: &Customer) -> StoreResult<(Customer, bool)> {
        let c = self.conn().await?;
        let inserted = exec(
            &c,
            "INSERT INTO customers (id, email, data) VALUES ($1, $2, $3) \
             ON CONFLICT (email) DO NOTHING",
            &[&big(cu.id)?, &cu.email, &json(cu)],
        )
        .await?;
        if inserted > 0 {
            return Ok((cu.clone(), true));
        }
        let found = one(
            &c,
            "SELECT data FROM customers WHERE email = $1",
            &[&cu.email],
        )
        .await?
        .ok_or_else(|| StoreError::backend("a customer's e-mail is taken by nobody"))?;
        Ok((found, false))
    }
    async fn update_customer(&self, cu: &Customer) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "UPDATE customers SET email = $2, data = $3 WHERE id = $1",
            &[&big(cu.id)?, &cu.email, &json(cu)],
        )
        .await?;
        Ok(())
    }
    async fn customers(&self, after: u64, limit: usize) -> StoreResult<Page<Customer>> {
        let c = self.conn().await?;
        let take = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
        let mut items: Vec<Customer> = all(
            &c,
            "SELECT data FROM customers WHERE id > $1 ORDER BY id LIMIT $2",
            &[&big(after)?, &take],
        )
        .await?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|c| c.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next })
    }
    async fn order(&self, id: u64) -> StoreResult<Option<Order>> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let c = self.conn().await?;
        one(&c, "SELECT data FROM orders WHERE id = $1", &[&id]).await
    }
    async fn orders_of_customer(&self, customer_id: u64) -> StoreResult<Vec<Order>> {
        let c = self.conn().await?;
        all(
            &c,
            "SELECT data FROM orders WHERE customer_id = $1 ORDER BY id",
            &[&big(customer_id)?],
        )
        .await
    }
    async fn insert_order(
        &self,
        o: &Order,
        l: &License,
        machines: &[Machine],
        record: Record,
    ) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        put_license(&tx, l, true).await?;
        put_order(&tx, o).await?;
        for m in machines {
            upsert_machine(&tx, m).await?;
        }
        write_record(&tx, record).await?;
        tx.commit().await.map_err(pg)
    }
    async fn update_order(
        &self,
        o: &Order,
        change: ChangeLicense<'_>,
    ) -> StoreResult<Option<License>> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let Some(l) = change_in(&tx, &o.license_id, change).await? else {
            return Ok(None);
        };
        put_order(&tx, o).await?;
        tx.commit().await.map_err(pg)?;
        Ok(Some(l))
    }
}

async fn put_order(tx: &deadpool_postgres::Transaction<'_>, o: &Order) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO orders (id, customer_id, price_id, license_id, data) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET customer_id = EXCLUDED.customer_id, \
           price_id = EXCLUDED.price_id, license_id = EXCLUDED.license_id, data = EXCLUDED.data",
        &[
            &big(o.id)?,
            &big(o.customer_id)?,
            &big(o.price_id)?,
            &o.license_id.as_str(),
            &json(o),
        ],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Downloads for PgStore {
    async fn insert_download(&self, d: &Download) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO downloads (id, product_id, name, data) VALUES ($1, $2, $3, $4)",
            &[&big(d.id)?, &d.product_id.as_str(), &d.name, &json(d)],
        )
        .await?;
        Ok(())
    }
    async fn download(&self, id: u64) -> StoreResult<Option<Download>> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let c = self.conn().await?;
        one(&c, "SELECT data FROM downloads WHERE id = $1", &[&id]).await
    }
    async fn download_by_name(
        &self,
        product_id: &str,
        name: &str,
    ) -> StoreResult<Option<Download>> {
        let c = self.conn().await?;
        one(
            &c,
            "SELECT data FROM downloads WHERE product_id = $1 AND name = $2",
            &[&product_id, &name],
        )
        .await
    }
    async fn downloads(&self, product_id: Option<&str>) -> StoreResult<Vec<Download>> {
        let c = self.conn().await?;
        all(
            &c,
            "SELECT data FROM downloads WHERE $1::text IS NULL OR product_id = $1 ORDER BY id",
            &[&product_id],
        )
        .await
    }
    async fn delete_download(&self, d: &Download) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(&c, "DELETE FROM downloads WHERE id = $1", &[&big(d.id)?]).await?;
        Ok(())
    }
    async fn put_grant(&self, id: &[u8; 16], g: &DownloadGrant) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO download_grants (id, expires_at, data) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at, data = EXCLUDED.data",
            &[&&id[..], &g.expires_at, &json(g)],
        )
        .await?;
        Ok(())
    }
    async fn grant(&self, id: &[u8; 16]) -> StoreResult<Option<DownloadGrant>> {
        let c = self.conn().await?;
        one(
            &c,
            "SELECT data FROM download_grants WHERE id = $1",
            &[&&id[..]],
        )
        .await
    }
    async fn use_grant(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let Some(mut g): Option<DownloadGrant> = one(
            &tx,
            "SELECT data FROM download_grants WHERE id = $1 FOR UPDATE",
            &[&&id[..]],
        )
        .await?
        else {
            return Ok(false);
        };
        if g.used_at.is_some() {
            return Ok(false);
        }
        g.used_at = Some(now);
        exec(
            &tx,
            "UPDATE download_grants SET data = $2 WHERE id = $1",
            &[&&id[..], &json(&g)],
        )
        .await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }
    async fn prune_grants(&self, before: i64) -> StoreResult<usize> {
        let c = self.conn().await?;
        let n = exec(
            &c,
            "DELETE FROM download_grants WHERE expires_at < $1",
            &[&before],
        )
        .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}
