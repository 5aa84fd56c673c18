//! Filters, searches and pages: data a backend turns into its own query.

use super::*;

/// A page of results and the cursor of the next page.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page with nothing on it, and no next page.
    pub fn empty() -> Page<T> {
        Page {
            items: Vec::new(),
            next: None,
        }
    }

    /// The same page, each item made into another by `f`; the same cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// Which page: after the cursor `after` (exclusive), at most `limit` items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// At most this many items.
    pub limit: usize,
}

/// Which licenses a listing returns; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseFilter {
    /// Of this product.
    pub product_id: Option<String>,
    /// Of this policy.
    pub policy_id: Option<String>,
    /// With this status at the given time (an active license past its expiry is expired).
    pub status_at: Option<(LicenseStatus, i64)>,
    /// Matching what a support person types (see [`LicenseSearch`]).
    pub search: Option<LicenseSearch>,
}

/// What a support person searches licenses by: a license key in full or its last four
/// characters, a license id, a customer (found by e-mail first) or a metadata value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseSearch {
    /// The text typed, trimmed.
    pub text: String,
    /// The customer whose e-mail the text is, if there is one.
    pub customer_id: Option<u64>,
}

impl LicenseSearch {
    /// A search for `text` (trimmed), by e-mail too when `customer_id` is the customer whose
    /// e-mail it is.
    pub fn new(text: &str, customer_id: Option<u64>) -> LicenseSearch {
        LicenseSearch {
            text: text.trim().to_owned(),
            customer_id,
        }
    }

    /// Whether `l` matches. Four characters match the end of a key, regardless of case
    /// (keys are shown in groups, and read out over the phone); anything else must be a whole
    /// key, id or metadata value.
    pub fn matches(&self, l: &License) -> bool {
        let t = self.text.as_str();
        if t.is_empty() {
            return true;
        }
        let last4 = t.chars().count() == 4
            && l.key.len() >= 4
            && l.key.is_char_boundary(l.key.len() - 4)
            && l.key[l.key.len() - 4..].eq_ignore_ascii_case(t);
        last4
            || l.key == t
            || l.id == t
            || self.customer_id.is_some_and(|c| l.customer_id == Some(c))
            || l.metadata.values().any(|v| match v {
                serde_json::Value::String(s) => s == t,
                serde_json::Value::Number(n) => n.to_string() == t,
                _ => false,
            })
    }
}

impl LicenseFilter {
    /// Whether a license with row `r` passes, when the row is enough to tell: `None` for a
    /// filter with a search, which needs the whole license.
    pub fn admits_row(&self, r: &LicenseRow) -> Option<bool> {
        if self.search.is_some() {
            return None;
        }
        Some(
            self.product_id.as_deref().is_none_or(|p| r.product_id == p)
                && self.policy_id.as_deref().is_none_or(|p| r.policy_id == p)
                && self
                    .status_at
                    .is_none_or(|(st, now)| r.status_at(now) == st),
        )
    }

    /// Whether `l` passes.
    pub fn admits(&self, l: &License) -> bool {
        self.product_id.as_deref().is_none_or(|p| l.product_id == p)
            && self.policy_id.as_deref().is_none_or(|p| l.policy_id == p)
            && self
                .status_at
                .is_none_or(|(st, now)| l.status_at(now) == st)
            && self.search.as_ref().is_none_or(|s| s.matches(l))
    }
}

/// Which audit entries a listing returns; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Entries about this product only (what a product-limited key may read).
    pub product_id: Option<String>,
    /// This action, or, ending in `.`, actions starting with it (`license.`).
    pub action: Option<String>,
    /// About this subject.
    pub subject: Option<String>,
    /// By this actor.
    pub actor: Option<String>,
    /// About this license: the license itself, or anything whose detail names it as
    /// `license_id` (its machines' activations and deactivations).
    pub license: Option<String>,
    /// At or after this time.
    pub since: Option<i64>,
    /// Before this time.
    pub until: Option<i64>,
    /// Newest first (a page's `next` then reads on towards older entries); oldest first if
    /// not.
    pub newest_first: bool,
}

impl AuditFilter {
    /// Whether `e` passes.
    pub fn admits(&self, e: &AuditEvent) -> bool {
        self.product_id
            .as_deref()
            .is_none_or(|p| e.product_id.as_deref() == Some(p))
            && self
                .action
                .as_deref()
                .is_none_or(|a| e.action == a || (a.ends_with('.') && e.action.starts_with(a)))
            && self.subject.as_deref().is_none_or(|x| e.subject == x)
            && self.actor.as_deref().is_none_or(|x| e.actor == x)
            && self.license.as_deref().is_none_or(|x| {
                e.subject == x || e.detail.get("license_id").and_then(|v| v.as_str()) == Some(x)
            })
            && self.since.is_none_or(|t| e.at >= t)
            && self.until.is_none_or(|t| e.at < t)
    }
}

/// Which security events a listing returns; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityEventFilter {
    /// Of this type.
    pub event_type: Option<String>,
    /// Of this severity.
    pub severity: Option<Severity>,
    /// About this license.
    pub license_id: Option<String>,
    /// From this address.
    pub ip_address: Option<String>,
    /// From this hardware id.
    pub hwid: Option<String>,
    /// Blocked or not.
    pub is_blocked: Option<bool>,
    /// At or after this time.
    pub since: Option<i64>,
    /// At or before this time.
    pub until: Option<i64>,
}

impl SecurityEventFilter {
    /// Whether `e` passes.
    pub fn admits(&self, e: &SecurityEvent) -> bool {
        self.event_type.as_deref().is_none_or(|t| e.event_type == t)
            && self.severity.is_none_or(|v| e.severity == v)
            && self
                .license_id
                .as_deref()
                .is_none_or(|l| e.license_id.as_deref() == Some(l))
            && self
                .ip_address
                .as_deref()
                .is_none_or(|i| e.ip_address.as_deref() == Some(i))
            && self
                .hwid
                .as_deref()
                .is_none_or(|h| e.hwid.as_deref() == Some(h))
            && self.is_blocked.is_none_or(|b| e.is_blocked == b)
            && self.since.is_none_or(|t| e.created_at >= t)
            && self.until.is_none_or(|t| e.created_at <= t)
    }
}
