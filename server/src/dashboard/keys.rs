//! API keys: create (the secret shown once, on the answer page, never in a URL), rotate,
//! revoke, and each key's use today. The API lets only an unrestricted admin key manage keys,
//! so a product-limited one sees that refusal here.

use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::api::{Desk, Posted};
use super::page::{self, q, text, when};
use super::templates::{self, ApiKeyRow};
use super::{Ask, Flash, confirm, licenses, refused};

fn row(k: &Value, today: Option<u64>, now: i64) -> ApiKeyRow {
    let revoked = k["revoked_at"].as_i64();
    ApiKeyRow {
        id: text(&k["id"]),
        name: text(&k["name"]),
        scope: text(&k["scope"]),
        product: k["product_id"]
            .as_str()
            .map_or_else(|| "every product".to_owned(), str::to_owned),
        today: today.map_or_else(|| "—".to_owned(), |n| n.to_string()),
        quota: k["daily_quota"]
            .as_u64()
            .map_or_else(|| "none".to_owned(), |n| format!("{n} a day")),
        created: k["created_at"]
            .as_i64()
            .map_or_else(String::new, |t| when(t, now)),
        state: revoked.map_or_else(
            || "live".to_owned(),
            |t| format!("revoked {}", when(t, now)),
        ),
        live: revoked.is_none(),
    }
}

/// The page, with a secret just made if there is one.
async fn page_of(d: &Desk, shown: Option<String>, notice: Option<templates::Notice>) -> Response {
    let now = d.s.clock.now();
    let (keys, notice) = match d.get("/v1/api-keys").await {
        Ok(list) => {
            let mut rows = Vec::new();
            for k in list["items"].as_array().into_iter().flatten() {
                let today = d
                    .get(&format!("/v1/api-keys/{}/usage", q(&text(&k["id"]))))
                    .await
                    .ok()
                    .and_then(|u| {
                        let day = chrono::DateTime::from_timestamp(now, 0)?
                            .date_naive()
                            .to_string();
                        Some(
                            u["days"]
                                .as_array()?
                                .iter()
                                .find(|x| x["day"] == json!(day))
                                .and_then(|x| x["requests"].as_u64())
                                .unwrap_or(0),
                        )
                    });
                rows.push(row(k, today, now));
            }
            (rows, notice)
        }
        Err(e) => (Vec::new(), Some(refused(&e))),
    };
    let products = licenses::choices(d).await.unwrap_or_default();
    let t = templates::ApiKeys {
        chrome: d.v.chrome("api-keys"),
        notice,
        shown,
        keys,
        products,
    };
    page::render(StatusCode::OK, &t)
}

/// `GET /admin/api-keys`.
pub async fn list(d: Desk, Query(flash): Query<Flash>) -> Response {
    page_of(&d, None, flash.notice(&d)).await
}

/// `POST /admin/api-keys` (`POST /v1/api-keys`): the answer page shows the secret once.
pub async fn create(Posted { d, form }: Posted) -> Response {
    let mut body = json!({
        "name": form.get("name").unwrap_or(""),
        "scope": form.get("scope").unwrap_or("read"),
    });
    if let Some(p) = form.get("product_id") {
        body["product_id"] = json!(p);
    }
    if let Some(n) = form.get("daily_quota") {
        match n.trim().parse::<u64>() {
            Ok(n) => body["daily_quota"] = json!(n),
            Err(_) => {
                return page::see_other(&format!(
                    "/admin/api-keys?{}",
                    Flash::refusal(&d, "daily_quota: a whole number (invalid_field)")
                ));
            }
        }
    }
    match d.send(Method::POST, "/v1/api-keys", Some(body)).await {
        Ok(k) => {
            let notice = templates::Notice {
                kind: "ok",
                text: format!("Key {} created.", text(&k["name"])),
            };
            page_of(&d, Some(text(&k["key"])), Some(notice)).await
        }
        Err(e) => page::see_other(&format!("/admin/api-keys?{}", Flash::of(&d, &Err(e)))),
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
        return match d
            .send(
                Method::POST,
                &format!("/v1/api-keys/{}/rotate", q(&id)),
                Some(json!({})),
            )
            .await
        {
            Ok(k) => {
                let notice = templates::Notice {
                    kind: "ok",
                    text: format!(
                        "Key {} rotated: the old one no longer works.",
                        text(&k["name"])
                    ),
                };
                page_of(&d, Some(text(&k["key"])), Some(notice)).await
            }
            Err(e) => page::see_other(&format!("/admin/api-keys?{}", Flash::of(&d, &Err(e)))),
        };
    }
    let result = d
        .send(Method::DELETE, &format!("/v1/api-keys/{}", q(&id)), None)
        .await
        .map(|_| "Key revoked.".to_owned());
    page::see_other(&format!("/admin/api-keys?{}", Flash::of(&d, &result)))
}
