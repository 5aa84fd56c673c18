//! Rate limits: per client IP (every route) and per license key (client routes). Each is a
//! token bucket refilled evenly over a minute; 0 switches a limit off.

use crate::app::error::ErrorCode;
use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::app::error::{ApiError, ApiResult};

/// The server's limiters.
#[derive(Debug)]
pub struct Limits {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_license: Option<DefaultKeyedRateLimiter<String>>,
    /// LicenseCM's "100 req/min (API)", per client IP.
    lcm_api: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// LicenseCM's "10 req/min (validation)", per license key.
    lcm_validation: Option<DefaultKeyedRateLimiter<String>>,
    /// Login attempts, per client IP and per e-mail address.
    login: Option<DefaultKeyedRateLimiter<String>>,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

fn refused(r: Result<(), governor::NotUntil<governor::clock::QuantaInstant>>) -> ApiResult<()> {
    r.map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::too_many_requests(ErrorCode::RateLimited, wait.as_secs() + 1)
    })
}

impl Limits {
    /// Limiters with the configured per-minute quotas.
    pub fn new(c: &crate::config::Config) -> Limits {
        Limits {
            per_ip: limiter(c.rate_limit_ip),
            per_license: limiter(c.rate_limit_license),
            lcm_api: limiter(c.licensecm_rate_api),
            lcm_validation: limiter(c.licensecm_rate_validation),
            login: limiter(c.login_rate_limit),
        }
    }

    /// Counts a LicenseCM API request of `ip`.
    pub fn check_lcm_api(&self, ip: IpAddr) -> ApiResult<()> {
        match &self.lcm_api {
            Some(l) => refused(l.check_key(&crate::net::rate_key(ip))),
            None => Ok(()),
        }
    }

    /// Counts a LicenseCM client request for a license key.
    pub fn check_lcm_validation(&self, key: &str) -> ApiResult<()> {
        match &self.lcm_validation {
            Some(l) => refused(l.check_key(&key.to_owned())),
            None => Ok(()),
        }
    }

    /// Counts a login attempt from `ip` for `email`; both must have quota left.
    pub fn check_login(&self, ip: Option<IpAddr>, email: &str) -> ApiResult<()> {
        match &self.login {
            Some(l) => {
                if let Some(ip) = ip {
                    refused(l.check_key(&format!("ip:{}", crate::net::rate_key(ip))))?;
                }
                refused(l.check_key(&format!("email:{email}")))
            }
            None => Ok(()),
        }
    }

    /// Counts a request of `ip` (an IPv6 client by its /64).
    pub fn check_ip(&self, ip: IpAddr) -> ApiResult<()> {
        match &self.per_ip {
            Some(l) => refused(l.check_key(&crate::net::rate_key(ip))),
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
        for l in [&self.per_license, &self.lcm_validation, &self.login]
            .into_iter()
            .flatten()
        {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.lcm_api {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}
