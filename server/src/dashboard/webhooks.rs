//! Webhooks: the endpoints, each with its recent deliveries (state, attempts, next retry, the
//! receiver's last answer) and a resend button; adding one (its secret shown once), a test
//! delivery, deleting.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;

use super::desk::{Desk, Posted, Refusal};
use super::page::{self, q, when};
use super::templates::{self, DeliveryRow, Notice, WebhookRow};
use super::{Ask, Flash, confirm, licenses, refused};
use crate::app::webhooks;
use licet_api::answers::DeliveryBody;
use licet_api::requests::NewWebhook;

fn delivery(d: DeliveryBody, now: i64) -> DeliveryRow {
    let at = |t: Option<i64>| t.map_or_else(|| "—".to_owned(), |t| when(t, now));
    DeliveryRow {
        id: d.id.to_string(),
        queued: at(Some(d.created_at)),
        next: at(d.next_attempt_at),
        last: match (d.last_status, d.last_error) {
            (Some(s), Some(e)) => format!("HTTP {s}: {e}"),
            (Some(s), None) => format!("HTTP {s}"),
            (None, Some(e)) => e,
            (None, None) => "—".to_owned(),
        },
        event: d.event,
        state: d.state,
        attempts: d.attempts.to_string(),
    }
}

async fn page_of(d: &Desk, shown: Option<String>, notice: Option<Notice>) -> Response {
    let now = d.s.clock.now();
    let (hooks, notice) = match webhooks::list(&d.s, d.caller()).await {
        Ok(list) => {
            let mut rows = Vec::new();
            for w in list {
                let deliveries = webhooks::deliveries(&d.s, d.caller(), &w.id, 20)
                    .await
                    .map(|l| l.into_iter().map(|x| delivery(x, now)).collect())
                    .unwrap_or_default();
                rows.push(WebhookRow {
                    url: w.url,
                    events: w.events.join(", "),
                    product: w
                        .product_id
                        .map_or_else(|| "every product".to_owned(), |p| format!("only {p}")),
                    active: w.active,
                    deliveries,
                    id: w.id,
                });
            }
            (rows, notice)
        }
        Err(e) => (Vec::new(), Some(refused(&e.into()))),
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

/// `POST /admin/webhooks`: the answer page shows the secret once.
pub async fn create(Posted { d, form }: Posted) -> Response {
    let new = NewWebhook {
        url: form.get("url").unwrap_or("").to_owned(),
        events: form
            .0
            .iter()
            .filter(|(k, _)| k == "event")
            .map(|(_, v)| v.clone())
            .collect(),
        secret: None,
        active: None,
        product_id: form.get("product_id").map(str::to_owned),
    };
    match webhooks::create(&d.s, d.caller(), d.ip, new).await {
        Ok(w) => {
            let notice = Notice {
                kind: "ok",
                text: format!("Webhook to {} added.", w.record.url),
            };
            page_of(&d, Some(w.secret), Some(notice)).await
        }
        Err(e) => page::see_other(&format!(
            "/admin/webhooks?{}",
            Flash::of(&d, &Err(e.into()))
        )),
    }
}

/// `POST /admin/webhooks/{id}/{test|delete}`.
pub async fn act(
    Path((id, action)): Path<(String, String)>,
    Posted { d, form }: Posted,
) -> Response {
    let result = match action.as_str() {
        "test" => webhooks::test(&d.s, d.caller(), d.ip, &id)
            .await
            .map(|x| format!("Test delivery sent: {}.", x.state)),
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
            webhooks::delete(&d.s, d.caller(), d.ip, &id)
                .await
                .map(|()| "Webhook deleted.".to_owned())
        }
        _ => return page::failure(&crate::app::error::ApiError::not_found("action")),
    };
    let result = result.map_err(Refusal::from);
    page::see_other(&format!("/admin/webhooks?{}", Flash::of(&d, &result)))
}

/// `POST /admin/webhooks/{id}/deliveries/{delivery}/resend`.
pub async fn resend(
    Path((id, delivery)): Path<(String, String)>,
    Posted { d, form: _ }: Posted,
) -> Response {
    let result = match delivery.parse::<u64>() {
        Ok(n) => webhooks::resend(&d.s, d.caller(), d.ip, &id, n)
            .await
            .map(|x| format!("Sent again: {}.", x.state)),
        Err(_) => Err(crate::app::error::ApiError::not_found("delivery")),
    }
    .map_err(Refusal::from);
    page::see_other(&format!("/admin/webhooks?{}", Flash::of(&d, &result)))
}
