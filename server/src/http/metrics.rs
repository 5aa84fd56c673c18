//! Prometheus text metrics: requests by method, route and status, a latency histogram per
//! route, activations, and active seats (read from the store when scraped).
//!
//! A request is counted without a lock and without allocating: every route's endpoint carries
//! its own figures (made by [`Track`] when the router is built, named after the route's template
//! at its first request), and counting is a few relaxed atomic additions on them. The registry
//! that `/metrics` reads is locked only when a route answers for the first time, and its size
//! is bounded by the router's routes: the label values are the router's templates, the known
//! methods (any other is `OTHER`) and the statuses a route answers.

use std::fmt::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Label values of the methods counted by name; any other is counted as `OTHER` (so a client
/// cannot grow the label set by inventing methods).
const METHODS: [&str; 9] = [
    "OTHER", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT",
];

fn method_index(m: &Method) -> u32 {
    match *m {
        Method::GET => 1,
        Method::HEAD => 2,
        Method::POST => 3,
        Method::PUT => 4,
        Method::PATCH => 5,
        Method::DELETE => 6,
        Method::OPTIONS => 7,
        Method::CONNECT => 8,
        _ => 0,
    }
}

/// (method, status) pairs a route keeps apart; past them, its answers are counted under
/// `status="other"`. A route answers far fewer.
const SLOTS: usize = 24;

/// One route's figures.
#[derive(Debug)]
struct RouteFigures {
    route: Box<str>,
    /// `method << 16 | status`, 0 while free; claimed once, never given back.
    keys: [AtomicU32; SLOTS],
    counts: [AtomicU64; SLOTS],
    /// Answers beyond the slots, by method.
    other: [AtomicU64; METHODS.len()],
    /// Requests whose latency fell in each bucket (not cumulative; the exposition sums them).
    /// The last is above the highest bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    nanos: AtomicU64,
}

impl RouteFigures {
    fn new(route: &str) -> RouteFigures {
        RouteFigures {
            route: route.into(),
            keys: std::array::from_fn(|_| AtomicU32::new(0)),
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            other: std::array::from_fn(|_| AtomicU64::new(0)),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            nanos: AtomicU64::new(0),
        }
    }

    fn record(&self, method: u32, status: u16, elapsed: std::time::Duration) {
        let key = method << 16 | u32::from(status);
        let mut counted = false;
        for (k, c) in self.keys.iter().zip(&self.counts) {
            let held = k.load(Ordering::Acquire);
            let mine = held == key
                || (held == 0
                    && match k.compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire) {
                        Ok(_) => true,
                        Err(now) => now == key,
                    });
            if mine {
                c.fetch_add(1, Ordering::Relaxed);
                counted = true;
                break;
            }
        }
        if !counted {
            self.other[method as usize].fetch_add(1, Ordering::Relaxed);
        }
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Every route that has answered, once each: locked when a route answers for the first
    /// time and when scraped, never per request.
    routes: Mutex<Vec<Arc<RouteFigures>>>,
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

    /// The figures of `route`, made at its first answer.
    fn register(&self, route: &str) -> Arc<RouteFigures> {
        let mut routes = self
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = routes.iter().find(|r| &*r.route == route) {
            return r.clone();
        }
        let r = Arc::new(RouteFigures::new(route));
        routes.push(r.clone());
        r
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
        let mut routes: Vec<Arc<RouteFigures>> = self
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        routes.sort_by(|a, b| a.route.cmp(&b.route));
        for r in &routes {
            let route = esc(&r.route);
            let mut rows: Vec<(u32, u32, u64)> = r
                .keys
                .iter()
                .zip(&r.counts)
                .filter_map(|(k, c)| {
                    let key = k.load(Ordering::Acquire);
                    (key != 0).then(|| (key >> 16, key & 0xffff, c.load(Ordering::Relaxed)))
                })
                .collect();
            rows.sort_unstable();
            for (m, status, n) in rows {
                let m = METHODS[m as usize];
                let _ = writeln!(
                    out,
                    "licet_http_requests_total{{method=\"{m}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
            for (m, c) in METHODS.iter().zip(&r.other) {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "licet_http_requests_total{{method=\"{m}\",route=\"{route}\",status=\"other\"}} {n}"
                    );
                }
            }
        }
        out.push_str("# HELP licet_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE licet_http_request_duration_seconds histogram\n");
        for r in &routes {
            let route = esc(&r.route);
            let mut cumulative = 0;
            for (b, c) in BUCKETS.iter().zip(&r.buckets) {
                cumulative += c.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "licet_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cumulative}"
                );
            }
            let count = cumulative + r.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "licet_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            #[allow(clippy::cast_precision_loss)]
            let sum = r.nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "licet_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "licet_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
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

/// Route layer: counts each request under its route's template, method and status, and times
/// it; with `--access-log`, carries the template out on the response for the access log.
#[derive(Debug, Clone)]
pub struct Track {
    metrics: Arc<Metrics>,
    carry_route: bool,
}

impl Track {
    /// The layer for a router whose figures go to `metrics`.
    pub fn new(metrics: Arc<Metrics>, carry_route: bool) -> Track {
        Track {
            metrics,
            carry_route,
        }
    }
}

impl<S> tower::Layer<S> for Track {
    type Service = Tracked<S>;

    /// Called once for each route's endpoint when the router is built: the figures it makes
    /// are that endpoint's, shared by the clones that serve its requests.
    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked {
            inner,
            metrics: self.metrics.clone(),
            figures: Arc::new(OnceLock::new()),
            carry_route: self.carry_route,
        }
    }
}

/// A route's endpoint, counted (see [`Track`]).
#[derive(Debug, Clone)]
pub struct Tracked<S> {
    inner: S,
    metrics: Arc<Metrics>,
    figures: Arc<OnceLock<Arc<RouteFigures>>>,
    carry_route: bool,
}

/// The route template that answered, carried out to the access log on the response.
#[derive(Debug, Clone)]
pub struct Route(Arc<RouteFigures>);

impl Route {
    /// The template, as the router names it (`/v1/licenses/{id}`).
    pub fn as_str(&self) -> &str {
        &self.0.route
    }
}

impl<S> tower::Service<Request> for Tracked<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Timed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let method = method_index(req.method());
        let figures = self
            .figures
            .get_or_init(|| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                self.metrics.register(route)
            })
            .clone();
        Timed {
            inner: self.inner.call(req),
            figures,
            method,
            start: Instant::now(),
            carry_route: self.carry_route,
        }
    }
}

pin_project_lite::pin_project! {
    /// A route's answer being made, counted when it is ready.
    pub struct Timed<F> {
        #[pin]
        inner: F,
        figures: Arc<RouteFigures>,
        method: u32,
        start: Instant,
        carry_route: bool,
    }
}

impl<F, E> std::future::Future for Timed<F>
where
    F: std::future::Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut answer = std::task::ready!(this.inner.poll(cx));
        if let Ok(resp) = &mut answer {
            this.figures
                .record(*this.method, resp.status().as_u16(), this.start.elapsed());
            if *this.carry_route {
                resp.extensions_mut().insert(Route(this.figures.clone()));
            }
        }
        Poll::Ready(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_route_counts_each_method_and_status_apart_and_sums_its_latency() {
        let m = Metrics::default();
        let r = m.register("/v1/x/{id}");
        assert!(
            Arc::ptr_eq(&r, &m.register("/v1/x/{id}")),
            "one figure per template"
        );
        r.record(1, 200, Duration::from_micros(300));
        r.record(1, 200, Duration::from_millis(3));
        r.record(3, 404, Duration::from_secs(9));
        let text = m.render(0, 0, 0);
        assert!(
            text.contains(
                "licet_http_requests_total{method=\"GET\",route=\"/v1/x/{id}\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "licet_http_requests_total{method=\"POST\",route=\"/v1/x/{id}\",status=\"404\"} 1"
            ),
            "{text}"
        );
        // Cumulative buckets: 300 µs is under 0.0005 s, 3 ms under 0.005 s, 9 s above them all.
        assert!(
            text.contains("_bucket{route=\"/v1/x/{id}\",le=\"0.0005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("_bucket{route=\"/v1/x/{id}\",le=\"0.005\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("_bucket{route=\"/v1/x/{id}\",le=\"5\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("_bucket{route=\"/v1/x/{id}\",le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("_count{route=\"/v1/x/{id}\"} 3\n"), "{text}");
        assert!(
            text.contains("_sum{route=\"/v1/x/{id}\"} 9.0033\n"),
            "{text}"
        );
    }

    #[test]
    fn a_route_past_its_slots_counts_the_rest_as_other() {
        let m = Metrics::default();
        let r = m.register("/r");
        for status in 0..u16::try_from(SLOTS).expect("small") + 3 {
            r.record(1, 200 + status, Duration::ZERO);
        }
        r.record(0, 200, Duration::ZERO);
        let text = m.render(0, 0, 0);
        // Every slot, then the rest of GET's and of the other methods'.
        assert_eq!(
            text.matches("licet_http_requests_total{").count(),
            SLOTS + 2,
            "{text}"
        );
        assert!(
            text.contains("{method=\"GET\",route=\"/r\",status=\"other\"} 3\n"),
            "{text}"
        );
        assert!(
            !text.contains("method=\"OTHER\",route=\"/r\",status=\"200\""),
            "slots are full: {text}"
        );
        assert!(
            text.contains("{method=\"OTHER\",route=\"/r\",status=\"other\"} 1\n"),
            "{text}"
        );
    }
}
