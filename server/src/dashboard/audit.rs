//! The audit log, filtered by action prefix, subject, actor and time.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::api::Desk;
use super::page::{self, parse_date, q, text, when};
use super::templates::{self, AuditRow};
use super::{Flash, refused};

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

/// `GET /admin/audit` (`GET /v1/audit`; an admin key, and a product-limited one sees its
/// product's entries only).
pub async fn list(d: Desk, Query(f): Query<AuditQuery>) -> Response {
    let now = d.s.clock.now();
    // Newest first: what happened last is what a support person looks for.
    let mut uri = String::from("/v1/audit?limit=100&order=newest");
    for (name, value) in [
        ("action", &f.action),
        ("subject", &f.subject),
        ("actor", &f.actor),
    ] {
        if !value.trim().is_empty() {
            uri.push_str(&format!("&{name}={}", q(value.trim())));
        }
    }
    let mut notice = f.flash.notice(&d);
    for (name, value) in [("since", &f.since), ("until", &f.until)] {
        if value.trim().is_empty() {
            continue;
        }
        match parse_date(value) {
            Some(t) => uri.push_str(&format!("&{name}={t}")),
            None => {
                notice = Some(templates::Notice {
                    kind: "error",
                    text: format!("{name}: a date as YYYY-MM-DD (invalid_field)"),
                });
            }
        }
    }
    if let Some(a) = &f.after {
        uri.push_str(&format!("&after={}", q(a)));
    }
    let (rows, next) = match d.get(&uri).await {
        Ok(page) => {
            let rows = page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| AuditRow {
                    at: e["at"].as_i64().map_or_else(String::new, |t| when(t, now)),
                    actor: text(&e["actor"]),
                    action: text(&e["action"]),
                    subject: text(&e["subject"]),
                    ip: text(&e["ip"]),
                    detail: match &e["detail"] {
                        Value::Object(o) if o.is_empty() => String::new(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    },
                })
                .collect();
            let next = page["next"]
                .as_str()
                .map(|n| format!("/admin/audit?{}&after={}", f.query(), q(n)));
            (rows, next)
        }
        Err(e) => {
            notice = Some(refused(&e));
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
