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

use licet_core::ids::LicenseId;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use licet_core::store::{LicenseFilter, PageRequest};
use licet_core::tally::{Count, DAY, day_of};
use serde::Serialize;

pub use crate::http::figures::{Stats, Summary};

use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;

/// How often an instance adds its counts to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// Seconds a summary of licenses and seats is served before it is summed up again.
pub const SUMMARY_TTL: i64 = 60;

/// Days of counts kept; older ones are pruned by the maintenance pass.
pub const DAYS_KEPT: i64 = 400;

/// Licenses read per round trip while summing up.
const BATCH: usize = 1_000;

/// Days the overview charts, today included.
pub const DAYS_SHOWN: i64 = 30;

/// How far ahead the overview looks for licenses expiring.
pub const EXPIRING_WITHIN: i64 = 14 * DAY;

/// Licenses expiring the overview lists, soonest first.
pub const EXPIRING_SHOWN: usize = 50;

/// Entries of the expiry index read at most for that list: a key limited to one product
/// skips other products' entries, and this bounds how many it may skip.
pub const EXPIRING_READ: usize = 1_000;

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
    if !e.is_server_error() && e.retry_after().is_none() {
        count(s, product_id, Count::Refusal(e.code().as_str()));
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
/// shutdown), and settles the store's lazy writes.
pub fn run(s: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            tick.tick().await;
            let _pass = s.gate.enter().await;
            if let Err(e) = flush(&s).await {
                tracing::warn!(
                    code = e.code().as_str(),
                    "adding the daily counts to the store failed"
                );
            }
            // The keys' usage counts, taken without waiting for the disk, are durable at the
            // latest one tick after they were counted.
            if let Err(e) = s.store.settle().await {
                tracing::warn!(code = e.code(), "flushing the keys' usage counts failed");
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
                .entry((l.product_id.to_string(), status))
                .or_insert(0u64) += 1;
        }
        product_of.extend(
            got.items
                .into_iter()
                .map(|l| (l.id.into_string(), l.product_id.into_string())),
        );
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
        if let Some(n) = seats.get_mut(l.product_id.as_str()) {
            *n = n.saturating_sub(dead.len() as u64);
        }
    }
    Ok(Summary {
        at: now,
        licenses,
        seats,
    })
}

/// Whose figures a caller sees.
#[derive(Debug, Clone, Copy)]
pub enum Whose<'a> {
    /// Every product's, and those of requests that named no license known (product `""`).
    All,
    /// One product's.
    Product(&'a str),
}

impl Whose<'_> {
    fn covers(self, product_id: &str) -> bool {
        match self {
            Whose::All => true,
            Whose::Product(p) => p == product_id,
        }
    }
}

/// The overview's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// Now, by the server's clock.
    pub as_of: i64,
    /// When licenses and seats were last summed up (at most [`SUMMARY_TTL`] ago).
    pub summary_at: i64,
    /// Products.
    pub products: usize,
    /// Licenses by status (`active`, `expired`, `suspended`, `revoked`).
    pub licenses: BTreeMap<String, u64>,
    /// Seats held.
    pub seats: u64,
    /// The same, per product, in code order.
    pub by_product: Vec<ProductFigures>,
    /// Counts per UTC day, the oldest first, [`DAYS_SHOWN`] of them ending today.
    pub days: Vec<DayFigures>,
    /// Refusals over those days by stable code, the most frequent first.
    pub refusals: Vec<RefusalFigure>,
    /// Active licenses expiring within [`EXPIRING_WITHIN`], soonest first, at most
    /// [`EXPIRING_SHOWN`].
    pub expiring: Vec<ExpiringLicense>,
    /// Whether there may be more than `expiring` lists.
    pub expiring_more: bool,
}

/// One product's licenses and seats.
#[derive(Debug, Clone, Serialize)]
pub struct ProductFigures {
    pub product_id: String,
    pub code: String,
    pub name: String,
    pub licenses: BTreeMap<String, u64>,
    pub seats: u64,
}

/// One day's counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DayFigures {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub activations: u64,
    pub validations: u64,
    pub refusals: u64,
}

/// Refusals of one code.
#[derive(Debug, Clone, Serialize)]
pub struct RefusalFigure {
    pub code: String,
    pub count: u64,
}

/// A license about to expire.
#[derive(Debug, Clone, Serialize)]
pub struct ExpiringLicense {
    pub id: String,
    pub key: String,
    pub product_id: String,
    pub policy_id: String,
    pub expires_at: i64,
}

/// The overview for `whose`: this instance's tally flushed first, so that its own counts are
/// never behind it; licenses and seats from the cached [`summary`]; the expiring licenses read
/// fresh through the expiry index, each license re-read (an entry may be stale).
pub async fn overview(s: &AppState, whose: Whose<'_>) -> ApiResult<Overview> {
    if let Err(e) = flush(s).await {
        // The figures of other flushes are still there to show; this instance's wait in its
        // tally for the next one.
        tracing::warn!(
            code = e.code().as_str(),
            "adding the daily counts to the store failed"
        );
    }
    let now = s.clock.now();
    let sum = summary(s).await?;
    let products: Vec<_> = s
        .store
        .products()
        .await?
        .into_iter()
        .filter(|p| whose.covers(&p.id))
        .collect();
    let mut licenses = BTreeMap::new();
    let mut by_product = Vec::new();
    for p in &products {
        let mine: BTreeMap<String, u64> = sum
            .licenses
            .iter()
            .filter(|((pid, _), _)| *pid == p.id)
            .map(|((_, status), n)| (status.clone(), *n))
            .collect();
        for (status, n) in &mine {
            *licenses.entry(status.clone()).or_insert(0) += n;
        }
        by_product.push(ProductFigures {
            product_id: p.id.to_string(),
            code: p.code.clone(),
            name: p.name.clone(),
            licenses: mine,
            seats: sum.seats.get(p.id.as_str()).copied().unwrap_or(0),
        });
    }
    by_product.sort_by(|a, b| a.code.cmp(&b.code));
    let seats = by_product.iter().map(|p| p.seats).sum();

    let today = day_of(now);
    let first = today - (DAYS_SHOWN - 1);
    let mut days: Vec<DayFigures> = (first..=today)
        .map(|d| DayFigures {
            day: chrono::DateTime::from_timestamp(d * DAY, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            ..DayFigures::default()
        })
        .collect();
    let mut refusals: BTreeMap<String, u64> = BTreeMap::new();
    for (k, n) in s.store.counts(first, today).await? {
        if !whose.covers(&k.product_id) {
            continue;
        }
        let Some(day) = usize::try_from(k.day - first)
            .ok()
            .and_then(|i| days.get_mut(i))
        else {
            continue;
        };
        match k.name.as_str() {
            "activation" => day.activations += n,
            "validation" => day.validations += n,
            name => {
                if let Some(code) = name.strip_prefix("refusal:") {
                    day.refusals += n;
                    *refusals.entry(code.to_owned()).or_insert(0) += n;
                }
            }
        }
    }
    let mut refusals: Vec<RefusalFigure> = refusals
        .into_iter()
        .map(|(code, count)| RefusalFigure { code, count })
        .collect();
    refusals.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));

    let (expiring, expiring_more) = expiring(s, whose, now).await?;
    Ok(Overview {
        as_of: now,
        summary_at: sum.at,
        products: products.len(),
        licenses,
        seats,
        by_product,
        days,
        refusals,
        expiring,
        expiring_more,
    })
}

/// Active licenses of `whose` expiring after `now` and within [`EXPIRING_WITHIN`].
async fn expiring(
    s: &AppState,
    whose: Whose<'_>,
    now: i64,
) -> ApiResult<(Vec<ExpiringLicense>, bool)> {
    let entries = s
        .store
        .expiring(now, now + EXPIRING_WITHIN, EXPIRING_READ)
        .await?;
    let read_all = entries.len() < EXPIRING_READ;
    let mut out = Vec::new();
    for (at, id) in entries {
        let Some(l) = s.store.license(&LicenseId::from(&id)).await? else {
            continue;
        };
        // The index may be behind a renewal, a revocation or a deletion: the license says.
        if l.expires_at != Some(at)
            || l.status_at(now) != licet_core::model::LicenseStatus::Active
            || !whose.covers(&l.product_id)
        {
            continue;
        }
        if out.len() == EXPIRING_SHOWN {
            return Ok((out, true));
        }
        out.push(ExpiringLicense {
            id: l.id.into(),
            key: l.key,
            product_id: l.product_id.into(),
            policy_id: l.policy_id.into(),
            expires_at: at,
        });
    }
    Ok((out, !read_all))
}
