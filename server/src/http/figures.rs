//! What the overview's figures are kept in, per instance (the figures themselves are
//! `crate::stats`'s): apart, so that the state can hold them without importing the code that
//! reads the state.

use std::collections::BTreeMap;
use std::sync::Arc;

use licet_core::tally::Tally;

/// The licenses and seats, as last summed up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// When (server clock).
    pub at: i64,
    /// Licenses by (product id, status at `at`).
    pub licenses: BTreeMap<(String, String), u64>,
    /// Seats held by product: machines, less floating ones whose heartbeat is overdue.
    pub seats: BTreeMap<String, u64>,
}

/// An instance's figures: its tally, and the last summary.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) tally: Tally,
    /// One flush at a time, so that a read after a flush sees everything counted before it.
    pub(crate) flushing: tokio::sync::Mutex<()>,
    /// Held while summing up: concurrent readers wait for one walk rather than each walking.
    pub(crate) summary: tokio::sync::Mutex<Option<Arc<Summary>>>,
}
