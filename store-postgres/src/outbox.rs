//! Webhooks, their outbox and delivery log, and LicenseCM notifications; and what every change
//! writes with itself, its [`Record`].

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use licet_core::model::*;
use licet_core::store::*;

use crate::*;

/// Writes a change's record (audit entries and deliveries) in the change's transaction.
pub(crate) async fn write_record(tx: &Transaction<'_>, r: Record) -> StoreResult<()> {
    for e in r.audit {
        crate::logs::append_in(tx, e).await?;
    }
    let mut ds = r.deliveries;
    enqueue_in(tx, &mut ds).await
}

async fn enqueue_in<C: GenericClient>(c: &C, ds: &mut [Delivery]) -> StoreResult<()> {
    for d in ds.iter_mut() {
        let id: i64 = scalar(c, "SELECT nextval('outbox_seq')", &[]).await?;
        d.id = unbig(id);
        exec(
            c,
            "INSERT INTO outbox (id, webhook_id, data) VALUES ($1, $2, $3)",
            &[&id, &d.webhook_id, &json(&*d)],
        )
        .await?;
    }
    Ok(())
}

#[async_trait]
impl Outbox for PgStore {
    async fn put_webhook(&self, w: &Webhook) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO webhooks (id, data) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data",
            &[&w.id, &json(w)],
        )
        .await?;
        Ok(())
    }
    async fn webhook(&self, id: &str) -> StoreResult<Option<Webhook>> {
        let c = self.conn().await?;
        one(&c, "SELECT data FROM webhooks WHERE id = $1", &[&id]).await
    }
    async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let c = self.conn().await?;
        all(&c, "SELECT data FROM webhooks ORDER BY id", &[]).await
    }
    async fn delete_webhook(&self, id: &str) -> StoreResult<bool> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        exec(&tx, "DELETE FROM outbox WHERE webhook_id = $1", &[&id]).await?;
        exec(
            &tx,
            "DELETE FROM delivery_log WHERE webhook_id = $1",
            &[&id],
        )
        .await?;
        let existed = exec(&tx, "DELETE FROM webhooks WHERE id = $1", &[&id]).await? > 0;
        tx.commit().await.map_err(pg)?;
        Ok(existed)
    }
    async fn enqueue(&self, ds: &mut [Delivery]) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        enqueue_in(&tx, ds).await?;
        tx.commit().await.map_err(pg)
    }
    async fn deliveries(&self) -> StoreResult<Vec<Delivery>> {
        let c = self.conn().await?;
        all(&c, "SELECT data FROM outbox ORDER BY id", &[]).await
    }
    async fn delivery(&self, id: u64) -> StoreResult<Option<Delivery>> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let c = self.conn().await?;
        one(&c, "SELECT data FROM outbox WHERE id = $1", &[&id]).await
    }
    async fn update_delivery(&self, d: &Delivery) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "UPDATE outbox SET data = $2 WHERE id = $1",
            &[&big(d.id)?, &json(d)],
        )
        .await?;
        Ok(())
    }
    async fn remove_delivery(&self, id: u64) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(&c, "DELETE FROM outbox WHERE id = $1", &[&big(id)?]).await?;
        Ok(())
    }
    async fn settle_delivery(&self, d: &Delivery) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        let id = big(d.id)?;
        exec(
            &tx,
            "INSERT INTO delivery_log (webhook_id, id, data) VALUES ($1, $2, $3) \
             ON CONFLICT (webhook_id, id) DO UPDATE SET data = EXCLUDED.data",
            &[&d.webhook_id, &id, &json(d)],
        )
        .await?;
        exec(&tx, "DELETE FROM outbox WHERE id = $1", &[&id]).await?;
        let keep = big(DELIVERY_LOG as u64)?;
        exec(
            &tx,
            "DELETE FROM delivery_log WHERE webhook_id = $1 AND id < ( \
               SELECT min(id) FROM ( \
                 SELECT id FROM delivery_log WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2 \
               ) AS newest)",
            &[&d.webhook_id, &keep],
        )
        .await?;
        tx.commit().await.map_err(pg)
    }
    async fn deliveries_of(&self, webhook_id: &str, limit: usize) -> StoreResult<Vec<Delivery>> {
        let c = self.conn().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        all(
            &c,
            "SELECT data FROM ( \
               SELECT id, data FROM outbox WHERE webhook_id = $1 \
               UNION ALL \
               SELECT id, data FROM delivery_log WHERE webhook_id = $1 \
             ) AS d ORDER BY id DESC LIMIT $2",
            &[&webhook_id, &limit],
        )
        .await
    }
    async fn put_notification(&self, n: &Notification) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO notifications (user_id, id, created_at, data) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, id) DO UPDATE SET created_at = EXCLUDED.created_at, \
               data = EXCLUDED.data",
            &[&n.user_id, &n.id, &n.created_at, &json(n)],
        )
        .await?;
        Ok(())
    }
    async fn notification(&self, user_id: &str, id: &str) -> StoreResult<Option<Notification>> {
        let c = self.conn().await?;
        one(
            &c,
            "SELECT data FROM notifications WHERE user_id = $1 AND id = $2",
            &[&user_id, &id],
        )
        .await
    }
    async fn notifications(&self, user_id: &str) -> StoreResult<Vec<Notification>> {
        let c = self.conn().await?;
        all(
            &c,
            "SELECT data FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
            &[&user_id],
        )
        .await
    }
}
