//! Webhooks: the endpoints, each with its recent deliveries (state, attempts, next retry, the
//! receiver's last answer) and a resend button; adding one (its secret shown once), a test
//! delivery, deleting.

use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::api::{Desk, Posted};
use super::page::{self, q, text, when};
use super::templates::{self, DeliveryRow, Notice, WebhookRow};
use super::{Ask, Flash, confirm, licenses, refused};

fn delivery(d: &Value, now: i64) -> DeliveryRow {
    let at = |v: &Value| v.as_i64().map_or_else(|| "—".to_owned(), |t| when(t, now));
    DeliveryRow {
        id: text(&d["id"]),
        event: text(&d["event"]),
        state: text(&d["state"]),
        attempts: text(&d["attempts"]),
        queued: at(&d["created_at"]),
        next: at(&d["next_attempt_at"]),
        last: match (d["last_status"].as_u64(), d["last_error"].as_str()) {
            (Some(s), Some(e)) => format!("HTTP {s}: {e}"),
            (Some(s), None) => format!("HTTP {s}"),
            (None, Some(e)) => e.to_owned(),
            (None, None) => "—".to_owned(),
        },
    }
}

async fn page_of(d: &Desk, shown: Option<String>, notice: Option<Notice>) -> Response {
    let now = d.s.clock.now();
    let (hooks, notice) = match d.get("/v1/webhooks").await {
        Ok(list) => {
            let mut rows = Vec::new();
            for w in list["items"].as_array().into_iter().flatten() {
                let id = text(&w["id"]);
                let deliveries = d
                    .get(&format!("/v1/webhooks/{}/deliveries?limit=20", q(&id)))
                    .await
                    .map(|l| {
                        l["items"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|x| delivery(x, now))
                            .collect()
                    })
                    .unwrap_or_default();
                rows.push(WebhookRow {
                    url: text(&w["url"]),
                    events: w["events"]
                        .as_array()
                        .map(|e| e.iter().map(text).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default(),
                    product: w["product_id"]
                        .as_str()
                        .map_or_else(|| "every product".to_owned(), |p| format!("only {p}")),
                    active: w["active"].as_bool() != Some(false),
                    deliveries,
                    id,
                });
            }
            (rows, notice)
        }
        Err(e) => (Vec::new(), Some(refused(&e))),
    };
    let t = templates::Webhooks {
        chrome: d.v.chrome("webhooks"),
        notice,
        shown,
        hooks,
        events: crate::events::WEBHOOK_EVENTS
            .iter()
            .map(|e| (*e).to_owned())
            .collect(),
        products: licenses::choices(d).await.unwrap_or_default(),
    };
    page::render(StatusCode::OK, &t)
}

/// `GET /admin/webhooks`.
pub async fn list(d: Desk, Query(flash): Query<Flash>) -> Response {
    page_of(&d, None, flash.notice(&d)).await
}

/// `POST /admin/webhooks` (`POST /v1/webhooks`): the answer page shows the secret once.
pub async fn create(Posted { d, form }: Posted) -> Response {
    let events: Vec<&str> = form
        .0
        .iter()
        .filter(|(k, _)| k == "event")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut body = json!({ "url": form.get("url").unwrap_or(""), "events": events });
    if let Some(p) = form.get("product_id") {
        body["product_id"] = json!(p);
    }
    match d.send(Method::POST, "/v1/webhooks", Some(body)).await {
        Ok(w) => {
            let notice = Notice {
                kind: "ok",
                text: format!("Webhook to {} added.", text(&w["url"])),
            };
            page_of(&d, Some(text(&w["secret"])), Some(notice)).await
        }
        Err(e) => page::see_other(&format!("/admin/webhooks?{}", Flash::of(&d, &Err(e)))),
    }
}

/// `POST /admin/webhooks/{id}/{test|delete}`.
pub async fn act(
    Path((id, action)): Path<(String, String)>,
    Posted { d, form }: Posted,
) -> Response {
    let result = match action.as_str() {
        "test" => d
            .send(
                Method::POST,
                &format!("/v1/webhooks/{}/test", q(&id)),
                Some(json!({})),
            )
            .await
            .map(|x| format!("Test delivery sent: {}.", text(&x["state"]))),
        "delete" => {
            if form.get("confirm") != Some("yes") {
                return confirm(
                    &d.v,
                    "webhooks",
                    Ask {
                        question: "Delete this webhook?",
                        consequence: "Nothing more is delivered to it; its queued deliveries are dropped.",
                        verb: "Delete",
                        action: format!("/admin/webhooks/{}/delete", q(&id)),
                        back: "/admin/webhooks".to_owned(),
                        fields: Vec::new(),
                    },
                );
            }
            d.send(Method::DELETE, &format!("/v1/webhooks/{}", q(&id)), None)
                .await
                .map(|_| "Webhook deleted.".to_owned())
        }
        _ => return page::failure(&crate::app::error::ApiError::not_found("action")),
    };
    page::see_other(&format!("/admin/webhooks?{}", Flash::of(&d, &result)))
}

/// `POST /admin/webhooks/{id}/deliveries/{delivery}/resend`.
pub async fn resend(
    Path((id, delivery)): Path<(String, String)>,
    Posted { d, form: _ }: Posted,
) -> Response {
    let result = d
        .send(
            Method::POST,
            &format!("/v1/webhooks/{}/deliveries/{}/resend", q(&id), q(&delivery)),
            Some(json!({})),
        )
        .await
        .map(|x| format!("Sent again: {}.", text(&x["state"])));
    page::see_other(&format!("/admin/webhooks?{}", Flash::of(&d, &result)))
}
