//! Rate limits: per client IP (every route) and per license key (client routes). Each is a
//! token bucket refilled evenly over a minute; 0 switches a limit off.

use std::net::IpAddr;
use std::num::NonZeroU32;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{ApiError, ApiResult};
use crate::routes::ClientIp;
use crate::state::AppState;

/// The server's limiters.
#[derive(Debug)]
pub struct Limits {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_license: Option<DefaultKeyedRateLimiter<String>>,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

fn refused(r: Result<(), governor::NotUntil<governor::clock::QuantaInstant>>) -> ApiResult<()> {
    r.map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::too_many_requests("rate_limited", wait.as_secs() + 1)
    })
}

impl Limits {
    /// Limiters with these per-minute quotas.
    pub fn new(per_ip: u32, per_license: u32) -> Limits {
        Limits {
            per_ip: limiter(per_ip),
            per_license: limiter(per_license),
        }
    }

    /// Counts a request of `ip`.
    pub fn check_ip(&self, ip: IpAddr) -> ApiResult<()> {
        match &self.per_ip {
            Some(l) => refused(l.check_key(&ip)),
            None => Ok(()),
        }
    }

    /// Counts a client request for a license key.
    pub fn check_license(&self, key: &str) -> ApiResult<()> {
        match &self.per_license {
            Some(l) => refused(l.check_key(&key.to_owned())),
            None => Ok(()),
        }
    }

    /// Forgets keys whose buckets are full again (called periodically so memory stays bounded).
    pub fn shrink(&self) {
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_license {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// Middleware: the per-IP limit, for requests that arrive on a socket.
pub async fn per_ip(State(s): State<AppState>, ip: ClientIp, req: Request, next: Next) -> Response {
    if let Some(ip) = ip.0
        && let Err(e) = s.limits.check_ip(ip)
    {
        return e.into_response();
    }
    next.run(req).await
}
