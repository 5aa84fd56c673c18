//! The overview's figures (`GET /v1/stats`, the dashboard's first page): activations,
//! validations and refusals per day, and the licenses and seats as last summed up.
//!
//! Neither costs a request a walk over the store:
//!
//! - Daily counts are kept in memory per instance ([`Tally`]), counted where every API family
//!   validates and activates, and added to the store's [`licet_core::store::Counters`] every
//!   [`FLUSH_EVERY`] (and before a read, so an instance's own figures are never behind it).
//! - Licenses by status and seats are summed up at most once a [`SUMMARY_TTL`], by one walk
//!   whoever asks, and served from that summary meanwhile: status is a function of time
//!   (`expired` is derived), so no counter kept at write time could say it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use licet_core::store::{LicenseFilter, PageRequest};
use licet_core::tally::Count;

pub use crate::http::figures::{Stats, Summary};

use crate::http::error::{ApiError, ApiResult};
use crate::http::state::AppState;

/// How often an instance adds its counts to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// Seconds a summary of licenses and seats is served before it is summed up again.
pub const SUMMARY_TTL: i64 = 60;

/// Days of counts kept; older ones are pruned by the maintenance pass.
pub const DAYS_KEPT: i64 = 400;

/// Licenses read per round trip while summing up.
const BATCH: usize = 1_000;

/// Counts `what` for `product_id` (`""`: the request named no license known) now.
pub fn count(s: &AppState, product_id: &str, what: Count<'_>) {
    s.stats.tally.count(s.clock.now(), product_id, what);
}

/// Counts a validation, refused with `refusal` (a stable code) or not.
pub fn validated(s: &AppState, product_id: &str, refusal: Option<&str>) {
    count(s, product_id, Count::Validation);
    if let Some(code) = refusal {
        count(s, product_id, Count::Refusal(code));
    }
}

/// Counts a refusal of a client's request for a seat, when it is the client's: a server
/// fault (5xx) or a rate limit is not the license saying no.
pub fn refused(s: &AppState, product_id: &str, e: &ApiError) {
    let status = e.status();
    if status.is_client_error() && status != axum::http::StatusCode::TOO_MANY_REQUESTS {
        count(s, product_id, Count::Refusal(e.code()));
    }
}

/// Adds this instance's counts to the store; on failure they stay in the tally for the next
/// flush.
pub async fn flush(s: &AppState) -> ApiResult<()> {
    let _one = s.stats.flushing.lock().await;
    let counts = s.stats.tally.take();
    if counts.is_empty() {
        return Ok(());
    }
    if let Err(e) = s.store.add_counts(&counts).await {
        s.stats.tally.give_back(counts);
        return Err(e.into());
    }
    Ok(())
}

/// Flushes every [`FLUSH_EVERY`] until the process ends (the server flushes once more at
/// shutdown).
pub fn run(s: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = flush(&s).await {
                tracing::warn!(
                    code = e.code(),
                    "adding the daily counts to the store failed"
                );
            }
        }
    })
}

/// The summary, summed up again if it is older than [`SUMMARY_TTL`].
pub async fn summary(s: &AppState) -> ApiResult<Arc<Summary>> {
    let now = s.clock.now();
    let mut slot = s.stats.summary.lock().await;
    if let Some(sum) = slot.as_ref()
        && now >= sum.at
        && now - sum.at < SUMMARY_TTL
    {
        return Ok(sum.clone());
    }
    let sum = Arc::new(sum_up(s, now).await?);
    *slot = Some(sum.clone());
    Ok(sum)
}

async fn sum_up(s: &AppState, now: i64) -> ApiResult<Summary> {
    let mut licenses = BTreeMap::new();
    let mut product_of: HashMap<String, String> = HashMap::new();
    let mut page = PageRequest {
        after: None,
        limit: BATCH,
    };
    loop {
        let got = s.store.licenses(&LicenseFilter::default(), &page).await?;
        for l in &got.items {
            let status = serde_json::to_value(l.status_at(now))
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            *licenses
                .entry((l.product_id.clone(), status))
                .or_insert(0u64) += 1;
        }
        product_of.extend(got.items.into_iter().map(|l| (l.id, l.product_id)));
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let mut seats: BTreeMap<String, u64> = BTreeMap::new();
    for (license_id, n) in s.store.seat_counts().await? {
        if let Some(p) = product_of.get(&license_id) {
            *seats.entry(p.clone()).or_default() += n;
        }
    }
    for (l, _, dead) in crate::licensing::dead_floating_machines(s, now, false).await? {
        if let Some(n) = seats.get_mut(&l.product_id) {
            *n = n.saturating_sub(dead.len() as u64);
        }
    }
    Ok(Summary {
        at: now,
        licenses,
        seats,
    })
}
