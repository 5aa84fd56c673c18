//! Times on the command line: unix seconds, `YYYY-MM-DD` (midnight UTC) or RFC 3339.

use anyhow::{Result, anyhow};
use chrono::{DateTime, NaiveDate, Utc};

/// Parses a time argument into unix seconds.
pub fn parse(what: &str, s: &str) -> Result<i64> {
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(secs);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(dt) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(dt.and_utc().timestamp());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp())
        .map_err(|_| anyhow!("{what}: {s:?} is not unix seconds, YYYY-MM-DD or an RFC 3339 time"))
}

/// The current time, unless overridden by `--now`.
pub fn now(arg: Option<&str>) -> Result<i64> {
    match arg {
        Some(s) => parse("--now", s),
        None => Ok(Utc::now().timestamp()),
    }
}

/// A unix time as RFC 3339 (UTC), for display.
pub fn display(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0).map_or_else(|| t.to_string(), |d| d.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("x", "0").ok(), Some(0));
        assert_eq!(parse("x", "2027-01-01").ok(), Some(1_798_761_600));
        assert_eq!(parse("x", "2027-01-01T00:00:00Z").ok(), Some(1_798_761_600));
        assert_eq!(
            parse("x", "2027-01-01T01:00:00+01:00").ok(),
            Some(1_798_761_600)
        );
        assert!(parse("x", "next week").is_err());
    }
}
