//! Times as pages show them: in UTC, with a relative hint ("3 h ago").

/// A time in UTC as a page shows it, with a relative hint ("3 h ago").
pub fn when(t: i64, now: i64) -> String {
    When(t, now).to_string()
}

/// "3 h ago", "in 2 d", "now".
pub fn relative(t: i64, now: i64) -> String {
    Relative(t, now).to_string()
}

/// [`when`] as a template writes it: straight into the page, with no string of its own (a
/// list page shows a hundred times).
#[derive(Debug, Clone, Copy)]
pub struct When(pub i64, pub i64);

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::{Datelike, Timelike};
        let When(t, now) = *self;
        let date =
            chrono::DateTime::from_timestamp(t, 0).filter(|d| (0..=9999).contains(&d.year()));
        let Some(d) = date else {
            return write!(f, "{t} ({})", Relative(t, now));
        };
        // The digits set by hand: chrono's `format` parses its pattern on every call, and
        // padded `{:02}` fields were still most of a list page's time spent on times.
        let mut b = *b"0000-00-00 00:00 UTC (";
        let year = d.year().unsigned_abs();
        for (i, n) in [
            (0, year / 100),
            (2, year % 100),
            (5, d.month()),
            (8, d.day()),
            (11, d.hour()),
            (14, d.minute()),
        ] {
            b[i] = b'0' + (n / 10) as u8;
            b[i + 1] = b'0' + (n % 10) as u8;
        }
        f.write_str(std::str::from_utf8(&b).map_err(|_| std::fmt::Error)?)?;
        write!(f, "{})", Relative(t, now))
    }
}

/// [`relative`], written where it is needed.
#[derive(Debug, Clone, Copy)]
struct Relative(i64, i64);

impl std::fmt::Display for Relative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0 - self.1;
        let a = d.unsigned_abs();
        let (amount, unit) = match a {
            0..=59 => return f.write_str("now"),
            60..=3599 => (a / 60, "min"),
            3600..=86_399 => (a / 3600, "h"),
            86_400..=5_183_999 => (a / 86_400, "d"),
            _ => (a / 2_592_000, "mo"),
        };
        if d < 0 {
            write!(f, "{amount} {unit} ago")
        } else {
            write!(f, "in {amount} {unit}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_say_them() {
        let now = 1_800_000_000;
        assert_eq!(relative(now - 3 * 3600, now), "3 h ago");
        assert_eq!(relative(now + 2 * 86_400, now), "in 2 d");
        assert_eq!(relative(now - 30, now), "now");
        assert_eq!(relative(now - 90, now), "1 min ago");
        assert_eq!(when(now, now), "2027-01-15 08:00 UTC (now)");
        // Every field padded, as the format string did.
        assert_eq!(
            when(3 * 86_400 + 5 * 3600 + 7 * 60, 0),
            "1970-01-04 05:07 UTC (in 3 d)"
        );
        assert_eq!(
            when(253_402_300_799, 253_402_300_799 - 3 * 2_592_000),
            "9999-12-31 23:59 UTC (in 3 mo)"
        );
        // Past year 9999 (or before year 0) the seconds themselves.
        assert_eq!(when(253_402_300_800, 253_402_300_800), "253402300800 (now)");
    }
}
