//! Webhooks, the outbox of deliveries, and notifications.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;

use crate::SledStore;
use crate::error::Res;
use crate::layout::*;

impl SledStore {
    /// Inserts or replaces a webhook.
    pub fn put_webhook(&self, w: &Webhook) -> Res<()> {
        self.webhooks.insert(w.id.as_bytes(), to_json(w)?)?;
        Ok(())
    }

    /// A webhook by id.
    pub fn webhook(&self, id: &str) -> Res<Option<Webhook>> {
        Self::get_json(&self.webhooks, id.as_bytes())
    }

    /// Every webhook.
    pub fn webhooks(&self) -> Res<Vec<Webhook>> {
        Self::all_json(&self.webhooks)
    }

    /// Deletes a webhook, its pending deliveries and its delivery log.
    pub fn delete_webhook(&self, id: &str) -> Res<bool> {
        for d in self.deliveries()? {
            if d.webhook_id == id {
                self.outbox.remove(d.id.to_be_bytes())?;
            }
        }
        for k in self.delivery_log.scan_prefix(log_prefix(id)).keys() {
            self.delivery_log.remove(k?)?;
        }
        Ok(self.webhooks.remove(id)?.is_some())
    }

    /// Writes what a change records: its audit entries and its deliveries. Called after the
    /// change's own writes, so that a crash in between (sled keeps a prefix of the writes)
    /// never leaves an announcement of a change that did not happen.
    pub(crate) fn write_record(&self, r: Record) -> Res<()> {
        for e in r.audit {
            self.append_audit(e)?;
        }
        let mut ds = r.deliveries;
        self.enqueue(&mut ds)
    }

    /// Moves a delivery from the queue to its webhook's log, keeping the newest
    /// [`DELIVERY_LOG`] there.
    pub fn settle_delivery(&self, d: &Delivery) -> Res<()> {
        let prefix = log_prefix(&d.webhook_id);
        let mut key = prefix.clone();
        key.extend_from_slice(&d.id.to_be_bytes());
        self.delivery_log.insert(key, to_json(d)?)?;
        self.outbox.remove(d.id.to_be_bytes())?;
        let kept: Vec<sled::IVec> = self
            .delivery_log
            .scan_prefix(&prefix)
            .keys()
            .collect::<Result<_, _>>()?;
        for k in kept.iter().take(kept.len().saturating_sub(DELIVERY_LOG)) {
            self.delivery_log.remove(k)?;
        }
        Ok(())
    }

    /// A webhook's deliveries, queued and settled, newest first.
    pub fn deliveries_of(&self, webhook_id: &str, limit: usize) -> Res<Vec<Delivery>> {
        let mut out: Vec<Delivery> = self
            .deliveries()?
            .into_iter()
            .filter(|d| d.webhook_id == webhook_id)
            .collect();
        for v in self
            .delivery_log
            .scan_prefix(log_prefix(webhook_id))
            .values()
        {
            out.push(from_json(&v?)?);
        }
        out.sort_by_key(|d| std::cmp::Reverse(d.id));
        out.truncate(limit);
        Ok(out)
    }

    /// Queues deliveries (their ids assigned here).
    pub fn enqueue(&self, ds: &mut [Delivery]) -> Res<()> {
        for d in ds.iter_mut() {
            d.id = self.next_sequence("outbox_seq")?;
            self.outbox.insert(d.id.to_be_bytes(), to_json(d)?)?;
        }
        Ok(())
    }

    /// Every queued delivery, oldest first.
    pub fn deliveries(&self) -> Res<Vec<Delivery>> {
        Self::all_json(&self.outbox)
    }

    /// One queued delivery, if it is still queued.
    pub fn delivery(&self, id: u64) -> Res<Option<Delivery>> {
        Self::get_json(&self.outbox, &id.to_be_bytes())
    }

    /// Replaces a queued delivery (after a failed attempt).
    pub fn update_delivery(&self, d: &Delivery) -> Res<()> {
        self.outbox.insert(d.id.to_be_bytes(), to_json(d)?)?;
        Ok(())
    }

    /// Removes a delivery (sent, or given up).
    pub fn remove_delivery(&self, id: u64) -> Res<()> {
        self.outbox.remove(id.to_be_bytes())?;
        Ok(())
    }

    pub(crate) fn notification_key(user_id: &str, id: &str) -> Vec<u8> {
        let mut k = user_id.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(id.as_bytes());
        k
    }

    /// Inserts or replaces a notification.
    pub fn put_notification(&self, n: &Notification) -> Res<()> {
        self.notifications
            .insert(Self::notification_key(&n.user_id, &n.id), to_json(n)?)?;
        Ok(())
    }

    /// A user's notification.
    pub fn notification(&self, user_id: &str, id: &str) -> Res<Option<Notification>> {
        Self::get_json(&self.notifications, &Self::notification_key(user_id, id))
    }

    /// A user's notifications, newest first.
    pub fn notifications(&self, user_id: &str) -> Res<Vec<Notification>> {
        let mut prefix = user_id.as_bytes().to_vec();
        prefix.push(0);
        let mut out: Vec<Notification> = self
            .notifications
            .scan_prefix(prefix)
            .values()
            .map(|v| from_json(&v?))
            .collect::<Res<_>>()?;
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }
}

/// The delivery log's keys of one webhook.
fn log_prefix(webhook_id: &str) -> Vec<u8> {
    let mut k = webhook_id.as_bytes().to_vec();
    k.push(0);
    k
}

#[async_trait]
impl Outbox for SledStore {
    async fn put_webhook(&self, w: &Webhook) -> StoreResult<()> {
        let done = SledStore::put_webhook(self, w)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn webhook(&self, id: &str) -> StoreResult<Option<Webhook>> {
        Ok(SledStore::webhook(self, id)?)
    }
    async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        Ok(SledStore::webhooks(self)?)
    }
    async fn delete_webhook(&self, id: &str) -> StoreResult<bool> {
        let done = SledStore::delete_webhook(self, id)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn enqueue(&self, ds: &mut [Delivery]) -> StoreResult<()> {
        let done = SledStore::enqueue(self, ds)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn deliveries(&self) -> StoreResult<Vec<Delivery>> {
        Ok(SledStore::deliveries(self)?)
    }
    async fn delivery(&self, id: u64) -> StoreResult<Option<Delivery>> {
        Ok(SledStore::delivery(self, id)?)
    }
    async fn update_delivery(&self, d: &Delivery) -> StoreResult<()> {
        let done = SledStore::update_delivery(self, d)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn remove_delivery(&self, id: u64) -> StoreResult<()> {
        SledStore::remove_delivery(self, id)?;
        Ok(self.committer.commit().await?)
    }
    async fn settle_delivery(&self, d: &Delivery) -> StoreResult<()> {
        SledStore::settle_delivery(self, d)?;
        Ok(self.committer.commit().await?)
    }
    async fn deliveries_of(&self, webhook_id: &str, limit: usize) -> StoreResult<Vec<Delivery>> {
        Ok(SledStore::deliveries_of(self, webhook_id, limit)?)
    }
    async fn put_notification(&self, n: &Notification) -> StoreResult<()> {
        let done = SledStore::put_notification(self, n)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn notification(&self, user_id: &str, id: &str) -> StoreResult<Option<Notification>> {
        Ok(SledStore::notification(self, user_id, id)?)
    }
    async fn notifications(&self, user_id: &str) -> StoreResult<Vec<Notification>> {
        Ok(SledStore::notifications(self, user_id)?)
    }
}
