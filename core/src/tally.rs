//! An instance's daily counts, kept in memory until they are added to the store
//! ([`crate::store::Counters`]).
//!
//! Counting happens on the hottest paths (every validation), so it is one map update under a
//! short lock, never a store write; the server adds what it counted every few seconds and at
//! shutdown. A crash loses at most the counts since the last flush: the figures are for a
//! chart, not for billing.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::store::CountKey;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// The day (since 1970-01-01, UTC) of a time.
pub fn day_of(at: i64) -> i64 {
    at.div_euclid(DAY)
}

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count<'a> {
    /// A seat taken (or a machine activated again).
    Activation,
    /// A validation answered, valid or not.
    Validation,
    /// An activation or validation refused, with its stable code.
    Refusal(&'a str),
}

impl Count<'_> {
    fn name(self) -> String {
        match self {
            Count::Activation => "activation".into(),
            Count::Validation => "validation".into(),
            Count::Refusal(code) => format!("refusal:{code}"),
        }
    }
}

/// The counts of one instance not yet added to the store.
#[derive(Debug, Default)]
pub struct Tally {
    pending: Mutex<BTreeMap<CountKey, u64>>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Counts one `what` at `at` for `product_id` (`""`: none known).
    pub fn count(&self, at: i64, product_id: &str, what: Count<'_>) {
        let key = CountKey {
            day: day_of(at),
            name: what.name(),
            product_id: product_id.to_owned(),
        };
        *self.lock().entry(key).or_default() += 1;
    }

    /// Everything counted since the last take, leaving the tally empty. A caller whose write
    /// fails gives it back with [`Tally::give_back`].
    pub fn take(&self) -> Vec<(CountKey, u64)> {
        std::mem::take(&mut *self.lock()).into_iter().collect()
    }

    /// Adds counts taken but not written back to the tally.
    pub fn give_back(&self, counts: Vec<(CountKey, u64)>) {
        let mut p = self.lock();
        for (k, n) in counts {
            *p.entry(k).or_default() += n;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<CountKey, u64>> {
        // A panic while holding this lock leaves a map of plain numbers: still usable.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_day_name_and_product_and_come_back_after_a_failed_write() {
        let t = Tally::new();
        let noon = 20_000 * DAY + DAY / 2;
        t.count(noon, "prd_a", Count::Validation);
        t.count(noon + 60, "prd_a", Count::Validation);
        t.count(noon + DAY, "prd_a", Count::Validation);
        t.count(noon, "", Count::Refusal("not_found"));
        let taken = t.take();
        let get = |day: i64, name: &str, p: &str| {
            taken
                .iter()
                .find(|(k, _)| k.day == day && k.name == name && k.product_id == p)
                .map(|(_, n)| *n)
        };
        assert_eq!(get(20_000, "validation", "prd_a"), Some(2));
        assert_eq!(get(20_001, "validation", "prd_a"), Some(1));
        assert_eq!(get(20_000, "refusal:not_found", ""), Some(1));
        assert_eq!(taken.len(), 3);
        assert!(t.take().is_empty(), "a take empties the tally");
        t.count(noon, "prd_a", Count::Validation);
        t.give_back(taken);
        let again = t.take();
        assert_eq!(
            again
                .iter()
                .find(|(k, _)| k.day == 20_000 && k.name == "validation")
                .map(|(_, n)| *n),
            Some(3),
            "what was given back adds to what came since"
        );
    }

    #[test]
    fn days_are_utc_days_before_1970_too() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(DAY - 1), 0);
        assert_eq!(day_of(DAY), 1);
        assert_eq!(day_of(-1), -1);
    }
}
