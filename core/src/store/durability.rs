//! Durability, and moving a whole store from one backend to another.

use super::*;

/// Sequences and durability. There is no `commit`: every write operation of every trait is
/// durable when it returns (a backend may share one flush among concurrent operations, as
/// sled's group commit does, but never returns before its own writes are durable).
#[async_trait]
pub trait Durability: Send + Sync {
    /// The next number of a named sequence (`license`, `machine`, `price`, `customer`,
    /// `order`, `download`): 1, 2, 3, … never reused.
    async fn next_number(&self, sequence: &str) -> StoreResult<u64>;
    /// Makes durable the writes the backend took without waiting for the disk
    /// ([`Identity::count_usage`]); cheap when there are none. The server calls it on its
    /// periodic tick, which bounds what a crash can forget.
    async fn settle(&self) -> StoreResult<()> {
        Ok(())
    }
    /// How many times the backend made writes durable so far (sled: flushes), for metrics; 0
    /// where it does not count.
    fn flush_count(&self) -> u64 {
        0
    }
    /// Whether the backend answers now (`/healthz`): `Unavailable` when it does not. Cheap
    /// enough to call per request (a backend may answer from a recent probe).
    async fn health(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Whether this handle leads background `task` now (the outbox drain, the expiry sweep,
    /// culling, pruning), so that work which must happen once runs on one process at a time.
    /// Asked before each round. Of the processes sharing a store, at most one leads a task at a
    /// time, and a leader that dies gives it up. An embedded store has one process: it always
    /// leads.
    async fn lead(&self, task: &str) -> StoreResult<bool> {
        let _ = task;
        Ok(true)
    }
}

/// What moving a store to another backend needs besides the other traits' reads and writes:
/// the raw state of the sequences, the spent WemX transaction ids, API keys' daily counts and
/// the key vault (see [`crate::transfer`]).
#[async_trait]
pub trait Transfer: Send + Sync {
    /// The last number a sequence gave (0 if none), or a number past it.
    async fn last_number(&self, sequence: &str) -> StoreResult<u64>;
    /// Makes a sequence give only numbers above `at_least` from now on; never lowers it.
    async fn raise_number(&self, sequence: &str, at_least: u64) -> StoreResult<()>;
    /// Every claimed WemX `transaction_id`, with its license.
    async fn transactions(&self) -> StoreResult<Vec<(String, String)>>;
    /// Sets an API key's count of one day.
    async fn set_usage(&self, key_id: &str, day: u64, count: u64) -> StoreResult<()>;
    /// Every entry of the key vault: (name, bytes).
    async fn sealed_keys(&self) -> StoreResult<Vec<(String, Vec<u8>)>>;
}
