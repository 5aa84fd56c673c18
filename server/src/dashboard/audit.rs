//! The audit log, filtered by action prefix, subject, actor and time.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::desk::Desk;
use super::page::{self, parse_date, q, when};
use super::templates::{self, AuditRow};
use super::{Flash, refused};
use crate::app::audit;
use crate::app::error::{ApiError, ErrorCode};

/// The filters of the page, as typed.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    after: Option<String>,
    #[serde(flatten)]
    flash: Flash,
}

impl AuditQuery {
    /// The query string of these filters (without the cursor).
    fn query(&self) -> String {
        format!(
            "action={}&subject={}&actor={}&since={}&until={}",
            q(&self.action),
            q(&self.subject),
            q(&self.actor),
            q(&self.since),
            q(&self.until)
        )
    }
}

/// `GET /admin/audit`: an admin key, and a product-limited one sees its product's entries
/// only.
pub async fn list(d: Desk, Query(f): Query<AuditQuery>) -> Response {
    let now = d.s.clock.now();
    let given = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    // Newest first: what happened last is what a support person looks for.
    let mut asked = licet_core::store::AuditFilter {
        action: given(&f.action),
        subject: given(&f.subject),
        actor: given(&f.actor),
        newest_first: true,
        ..licet_core::store::AuditFilter::default()
    };
    let mut notice = f.flash.notice(&d);
    for (name, value, bound) in [
        ("since", &f.since, &mut asked.since),
        ("until", &f.until, &mut asked.until),
    ] {
        if value.trim().is_empty() {
            continue;
        }
        match parse_date(value) {
            Some(t) => *bound = Some(t),
            None => {
                notice = Some(templates::Notice {
                    kind: "error",
                    text: format!("{name}: a date as YYYY-MM-DD (invalid_field)"),
                });
            }
        }
    }
    let listed = match f.after.as_deref().map(str::parse::<u64>) {
        Some(Err(_)) => Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "after: the cursor of a page",
        )),
        after => {
            let page = licet_core::store::PageRequest {
                after: after.and_then(Result::ok).map(|a| a.to_string()),
                limit: 100,
            };
            audit::entries(&d.s, d.caller(), asked, page).await
        }
    };
    let (rows, next) = match listed {
        Ok(page) => {
            let rows = page
                .items
                .into_iter()
                .map(|e| AuditRow {
                    at: when(e.at, now),
                    detail: match &e.detail {
                        Value::Object(o) if o.is_empty() => String::new(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    },
                    actor: e.actor,
                    action: e.action,
                    subject: e.subject,
                    ip: e.ip.unwrap_or_default(),
                })
                .collect();
            let next = page
                .next
                .map(|n| format!("/admin/audit?{}&after={}", f.query(), q(&n)));
            (rows, next)
        }
        Err(e) => {
            notice = Some(refused(&e.into()));
            (Vec::new(), None)
        }
    };
    let t = templates::Audit {
        chrome: d.v.chrome("audit"),
        notice,
        action: f.action,
        subject: f.subject,
        actor: f.actor,
        since: f.since,
        until: f.until,
        rows,
        next,
    };
    page::render(StatusCode::OK, &t)
}
