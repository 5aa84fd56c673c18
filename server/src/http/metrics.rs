//! Prometheus text metrics: requests by route and status, a latency histogram per route,
//! activations, and active seats (read from the store when scraped).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    activations: AtomicU64,
    snapshot: tokio::sync::Mutex<Option<Snapshot>>,
}

/// Figures that cost a walk over the store, as last counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// When they were counted (server clock).
    pub at: i64,
    /// Machines holding a seat.
    pub active_seats: usize,
    /// Licenses.
    pub licenses: usize,
}

/// Seconds a snapshot serves scrapes before it is counted again: a scrape is cheap however
/// often anyone asks, and the store is walked at most once a minute.
pub const SNAPSHOT_TTL: i64 = 60;

impl Metrics {
    /// The store-wide figures: the snapshot if younger than [`SNAPSHOT_TTL`], else counted
    /// now by `count` (under the lock, so concurrent scrapes wait for one count rather than
    /// each walking the store).
    pub async fn snapshot<E, F>(&self, now: i64, count: impl FnOnce() -> F) -> Result<Snapshot, E>
    where
        F: std::future::Future<Output = Result<(usize, usize), E>>,
    {
        // Held while counting: concurrent scrapes wait for one count rather than each walking.
        let mut slot = self.snapshot.lock().await;
        if let Some(snap) = *slot
            && now - snap.at < SNAPSHOT_TTL
            && now >= snap.at
        {
            return Ok(snap);
        }
        let (active_seats, licenses) = count().await?;
        let snap = Snapshot {
            at: now,
            active_seats,
            licenses,
        };
        *slot = Some(snap);
        Ok(snap)
    }

    /// Records one request.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_owned()).or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// Counts a successful activation.
    pub fn activation(&self) {
        self.activations.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, active_seats: usize, licenses: usize, flushes: u64) -> String {
        let mut out = String::new();
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str(
            "# HELP licet_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE licet_http_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((m, route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "licet_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{status}\"}} {n}",
                    esc(route)
                );
            }
        }
        out.push_str("# HELP licet_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE licet_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                let route = esc(route);
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "licet_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "licet_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "licet_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "licet_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        out.push_str("# HELP licet_activations_total Successful machine activations.\n# TYPE licet_activations_total counter\n");
        let _ = writeln!(
            out,
            "licet_activations_total {}",
            self.activations.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP licet_active_seats Machines holding a seat.\n# TYPE licet_active_seats gauge\n",
        );
        let _ = writeln!(out, "licet_active_seats {active_seats}");
        out.push_str("# HELP licet_licenses Licenses in the store.\n# TYPE licet_licenses gauge\n");
        let _ = writeln!(out, "licet_licenses {licenses}");
        out.push_str("# HELP licet_store_flushes_total Flushes of the store to disk (concurrent commits share one).\n# TYPE licet_store_flushes_total counter\n");
        let _ = writeln!(out, "licet_store_flushes_total {flushes}");
        out
    }
}
