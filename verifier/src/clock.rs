//! Detecting a clock that was moved back, as a pure function.
//!
//! An offline verifier cannot know the time; it can only notice that the clock now reads earlier
//! than a time it has already seen (its own earlier readings, or a token's `iat`, which the
//! issuer's clock produced). The caller loads [`ClockState`] from wherever it keeps state, calls
//! [`ClockState::check`], and stores [`ClockState::observe`]'s result. What to do about a
//! rollback (refuse, or carry on with a warning) is the application's policy.

/// What the guard remembers between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockState {
    /// The highest `now` ever observed.
    pub highest_time_seen: i64,
    /// The highest token `iat` ever observed.
    pub highest_iat_seen: i64,
}

/// The graded result of a clock check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockCheck {
    /// The clock is at or after everything seen before.
    Ok,
    /// The clock is behind by at most the tolerance (ordinary drift or a time-zone slip).
    Skew {
        /// Seconds behind the highest time seen.
        behind_by: u64,
    },
    /// The clock is behind by more than the tolerance.
    RolledBack {
        /// Seconds behind the highest time seen.
        behind_by: u64,
    },
}

impl ClockState {
    /// Grades `now` against what was seen, allowing `tolerance` seconds of drift.
    pub fn check(&self, now: i64, tolerance: u64) -> ClockCheck {
        let reference = self.highest_time_seen.max(self.highest_iat_seen);
        if now >= reference {
            return ClockCheck::Ok;
        }
        let behind_by = reference.abs_diff(now);
        if behind_by <= tolerance {
            ClockCheck::Skew { behind_by }
        } else {
            ClockCheck::RolledBack { behind_by }
        }
    }

    /// The state to store after observing `now` and, if a token was seen, its `iat`. Values only
    /// ever move forward, so observing a rolled-back clock does not erase the evidence.
    #[must_use]
    pub fn observe(&self, now: i64, iat: Option<i64>) -> ClockState {
        ClockState {
            highest_time_seen: self.highest_time_seen.max(now),
            highest_iat_seen: iat.map_or(self.highest_iat_seen, |i| self.highest_iat_seen.max(i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades() {
        let s = ClockState::default().observe(1_000, Some(900));
        assert_eq!(s.check(1_000, 60), ClockCheck::Ok);
        assert_eq!(s.check(2_000, 60), ClockCheck::Ok);
        assert_eq!(s.check(950, 60), ClockCheck::Skew { behind_by: 50 });
        assert_eq!(s.check(500, 60), ClockCheck::RolledBack { behind_by: 500 });
    }

    #[test]
    fn iat_from_the_issuer_counts() {
        let s = ClockState::default().observe(100, Some(10_000));
        assert_eq!(
            s.check(9_000, 60),
            ClockCheck::RolledBack { behind_by: 1_000 }
        );
    }

    #[test]
    fn observing_never_moves_back() {
        let s = ClockState::default().observe(1_000, Some(1_000));
        let t = s.observe(10, Some(5));
        assert_eq!(s, t);
    }
}
