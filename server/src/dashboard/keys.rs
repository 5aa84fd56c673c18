//! API keys: create (the secret shown once, on the answer page, never in a URL), rotate,
//! revoke, and each key's use today. The API lets only an unrestricted admin key manage keys,
//! so a product-limited one sees that refusal here.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;

use super::desk::{Desk, Posted, Refusal};
use super::page::{self, q, when};
use super::templates::{self, ApiKeyRow};
use super::{Ask, Flash, confirm, licenses, refused};
use crate::app::credentials as keys;
use licet_api::answers::ApiKeyBody;
use licet_api::requests::CreateApiKey;

fn scope_text(s: licet_api::Scope) -> &'static str {
    match s {
        licet_api::Scope::ReadOnly => "read_only",
        licet_api::Scope::ReadWrite => "read_write",
        licet_api::Scope::Admin => "admin",
    }
}

fn row(k: ApiKeyBody, today: Option<u64>, now: i64) -> ApiKeyRow {
    ApiKeyRow {
        scope: scope_text(k.scope).to_owned(),
        product: k.product_id.unwrap_or_else(|| "every product".to_owned()),
        today: today.map_or_else(|| "—".to_owned(), |n| n.to_string()),
        quota: k
            .daily_quota
            .map_or_else(|| "none".to_owned(), |n| format!("{n} a day")),
        created: when(k.created_at, now),
        state: k.revoked_at.map_or_else(
            || "live".to_owned(),
            |t| format!("revoked {}", when(t, now)),
        ),
        live: k.revoked_at.is_none(),
        id: k.id,
        name: k.name,
    }
}

/// The page, with a secret just made if there is one.
async fn page_of(d: &Desk, shown: Option<String>, notice: Option<templates::Notice>) -> Response {
    let now = d.s.clock.now();
    let day = chrono::DateTime::from_timestamp(now, 0).map(|t| t.date_naive().to_string());
    let (rows, notice) = match keys::list(&d.s, d.caller()).await {
        Ok(list) => {
            let mut rows = Vec::new();
            for k in list {
                let today = keys::usage(&d.s, d.caller(), &k.id).await.ok().map(|u| {
                    u.days
                        .iter()
                        .find(|x| x.day == day)
                        .map_or(0, |x| x.requests)
                });
                rows.push(row(k, today, now));
            }
            (rows, notice)
        }
        Err(e) => (Vec::new(), Some(refused(&e.into()))),
    };
    let products = licenses::choices(d).await.unwrap_or_default();
    let t = templates::ApiKeys {
        chrome: d.v.chrome("api-keys"),
        notice,
        shown,
        keys: rows,
        products,
    };
    page::render(StatusCode::OK, &t)
}

/// `GET /admin/api-keys`.
pub async fn list(d: Desk, Query(flash): Query<Flash>) -> Response {
    page_of(&d, None, flash.notice(&d)).await
}

/// `POST /admin/api-keys`: the answer page shows the secret once.
pub async fn create(Posted { d, form }: Posted) -> Response {
    let refuse =
        |text: &str| page::see_other(&format!("/admin/api-keys?{}", Flash::refusal(&d, text)));
    let scope = form.get("scope").unwrap_or("read_only").to_owned();
    let Ok(scope) = super::page::choice::<licet_api::Scope>(&scope) else {
        return refuse("scope: read_only, read_write or admin (invalid_field)");
    };
    let daily_quota = match form.get("daily_quota").map(|n| n.trim().parse::<u64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return refuse("daily_quota: a whole number (invalid_field)"),
    };
    let new = CreateApiKey {
        name: form.get("name").unwrap_or("").to_owned(),
        scope,
        product_id: form.get("product_id").map(str::to_owned),
        daily_quota,
    };
    match keys::create(&d.s, d.caller(), d.ip, new).await {
        Ok(k) => {
            let notice = templates::Notice {
                kind: "ok",
                text: format!("Key {} created.", k.record.name),
            };
            page_of(&d, Some(k.key), Some(notice)).await
        }
        Err(e) => page::see_other(&format!(
            "/admin/api-keys?{}",
            Flash::of(&d, &Err(e.into()))
        )),
    }
}

/// `POST /admin/api-keys/{id}/{rotate|revoke}`, after a confirmation: rotation shows the new
/// secret once.
pub async fn act(
    Path((id, action)): Path<(String, String)>,
    Posted { d, form }: Posted,
) -> Response {
    let (question, consequence, verb) = match action.as_str() {
        "rotate" => (
            "Rotate this API key?",
            "A new key with the same name, scope and limits replaces it; the old one stops working at once.",
            "Rotate",
        ),
        "revoke" => (
            "Revoke this API key?",
            "It stops working at once, and its dashboard sessions end.",
            "Revoke",
        ),
        _ => return page::failure(&crate::app::error::ApiError::not_found("action")),
    };
    if form.get("confirm") != Some("yes") {
        return confirm(
            &d.v,
            "api-keys",
            Ask {
                question,
                consequence,
                verb,
                action: format!("/admin/api-keys/{}/{action}", q(&id)),
                back: "/admin/api-keys".to_owned(),
                fields: Vec::new(),
            },
        );
    }
    if action == "rotate" {
        return match keys::rotate(&d.s, d.caller(), d.ip, &id).await {
            Ok(k) => {
                let notice = templates::Notice {
                    kind: "ok",
                    text: format!(
                        "Key {} rotated: the old one no longer works.",
                        k.record.name
                    ),
                };
                page_of(&d, Some(k.key), Some(notice)).await
            }
            Err(e) => page::see_other(&format!(
                "/admin/api-keys?{}",
                Flash::of(&d, &Err(e.into()))
            )),
        };
    }
    let result = keys::revoke(&d.s, d.caller(), d.ip, &id)
        .await
        .map(|()| "Key revoked.".to_owned())
        .map_err(Refusal::from);
    page::see_other(&format!("/admin/api-keys?{}", Flash::of(&d, &result)))
}
