//! Counters kept per key and window.

use super::*;

/// One day's count of one thing for one product: what the dashboard's overview charts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CountKey {
    /// Days since 1970-01-01, UTC.
    pub day: i64,
    /// What is counted: `activation`, `validation`, or `refusal:<code>` with the stable code
    /// of a refused activation or validation. Names come from the server's code, never from
    /// a request, so there are as many as there are codes.
    pub name: String,
    /// The product, or `""` when the request named no license the server knows.
    pub product_id: String,
}

/// Daily counts, added to by every instance that shares the store: each keeps its own tally
/// in memory and adds it now and then ([`crate::tally::Tally`]), so that counting costs a
/// request nothing and a chart costs one read, not a walk over the audit log.
#[async_trait]
pub trait Counters: Send + Sync {
    /// Adds each count to its key's total, as one operation: all or none. Additions, never
    /// overwrites, so that instances flushing at once lose nothing.
    async fn add_counts(&self, counts: &[(CountKey, u64)]) -> StoreResult<()>;
    /// The totals of the days `from..=to`, in key order.
    async fn counts(&self, from: i64, to: i64) -> StoreResult<Vec<(CountKey, u64)>>;
    /// Removes the days before `before`; how many totals went.
    async fn prune_counts(&self, before: i64) -> StoreResult<u64>;
}
