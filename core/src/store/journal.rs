//! The outbox of webhook deliveries and the audit log.

use super::*;

/// Webhooks, their outbox, and LicenseCM notifications.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds or replaces a webhook.
    async fn put_webhook(&self, w: &Webhook) -> StoreResult<()>;
    /// A webhook.
    async fn webhook(&self, id: &str) -> StoreResult<Option<Webhook>>;
    /// Every webhook.
    async fn webhooks(&self) -> StoreResult<Vec<Webhook>>;
    /// Removes a webhook; whether it existed.
    async fn delete_webhook(&self, id: &str) -> StoreResult<bool>;
    /// Queues deliveries; each gets its id.
    async fn enqueue(&self, ds: &mut [Delivery]) -> StoreResult<()>;
    /// Every queued delivery, oldest first.
    async fn deliveries(&self) -> StoreResult<Vec<Delivery>>;
    /// A queued delivery.
    async fn delivery(&self, id: u64) -> StoreResult<Option<Delivery>>;
    /// Replaces a queued delivery (after an attempt).
    async fn update_delivery(&self, d: &Delivery) -> StoreResult<()>;
    /// Removes a delivery from the queue, forgotten (its webhook is gone).
    async fn remove_delivery(&self, id: u64) -> StoreResult<()>;
    /// Takes a delivery out of the queue into the delivery log, as it was settled (delivered
    /// or given up). The log keeps the newest [`DELIVERY_LOG`] of each webhook.
    async fn settle_delivery(&self, d: &Delivery) -> StoreResult<()>;
    /// A webhook's deliveries, queued and settled, newest first, at most `limit`.
    async fn deliveries_of(&self, webhook_id: &str, limit: usize) -> StoreResult<Vec<Delivery>>;
    /// Adds or replaces a notification.
    async fn put_notification(&self, n: &Notification) -> StoreResult<()>;
    /// A notification of a user.
    async fn notification(&self, user_id: &str, id: &str) -> StoreResult<Option<Notification>>;
    /// The notifications of a user.
    async fn notifications(&self, user_id: &str) -> StoreResult<Vec<Notification>>;
}

/// Settled deliveries the log keeps per webhook.
pub const DELIVERY_LOG: usize = 100;

/// The audit log.
#[async_trait]
pub trait Audit: Send + Sync {
    /// Appends an entry; its sequence number.
    async fn append_audit(&self, e: AuditEvent) -> StoreResult<u64>;
    /// The entries about one subject, newest first: `skip` then at most `limit`, and the total.
    async fn audit_of(
        &self,
        subject: &str,
        skip: usize,
        limit: usize,
    ) -> StoreResult<(Vec<AuditEvent>, usize)>;
    /// Entries that pass `filter`, oldest first, one page (the cursor is a sequence number).
    async fn audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>>;
    /// Forgets audit and security entries older than `before`, and the oldest beyond
    /// `max_entries` of each, at most `budget` in this call: (audit, security) removed.
    async fn prune_logs(
        &self,
        before: i64,
        max_entries: u64,
        budget: usize,
    ) -> StoreResult<(usize, usize)>;
}
