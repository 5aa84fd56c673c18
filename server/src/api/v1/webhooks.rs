//! licet's own webhooks, `/v1/webhooks`: create, list, read, change and delete them, see their
//! deliveries with where each stands, and send a test. They share the durable outbox, the
//! signatures and the retries of LicenseCM's webhooks ([`crate::events`]).
//!
//! Webhooks are an admin's business: each is a stream of signed requests the server makes. An
//! admin key limited to one product makes webhooks that hear only that product's events and
//! sees only those webhooks; an unrestricted key's hear every product's.

use crate::app::error::ErrorCode;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use licet_core::audit::AuditAction;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::http::extract::{Body, ClientIp, Q, page_limit};
use licet_core::model::{Delivery, DeliveryState, Scope, Webhook};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, delete))
        .routes(routes!(deliveries))
        .routes(routes!(test))
        .routes(routes!(resend))
}

/// API webhooks that hear every product there may be (an unrestricted key's).
const MAX_API_WEBHOOKS: usize = 50;

/// API webhooks there may be for one product: a quota of the product's own, so that a key
/// limited to one product cannot use up another's, nor the operator's.
const MAX_PRODUCT_WEBHOOKS: usize = 10;

/// A webhook as the API shows it: never its secret, which is shown once, on creation.
fn view(w: &Webhook) -> Value {
    json!({
        "id": w.id,
        "url": w.url,
        "events": w.events,
        "active": w.is_active,
        "product_id": w.product_id,
        "created_by": w.owner_id,
        "created_at": w.created_at,
    })
}

fn delivery_view(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "event": d.event,
        "state": d.state,
        "attempts": d.attempts,
        "created_at": d.created_at,
        "next_attempt_at": (d.state == DeliveryState::Pending).then_some(d.next_attempt_at),
        "settled_at": d.settled_at,
        "last_status": d.last_status,
        "last_error": d.last_error,
    })
}

/// Webhooks are managed with an admin key.
fn admin(caller: &Caller) -> ApiResult<()> {
    caller.require(Scope::Admin)
}

/// Whether the caller may see `w`: an API webhook, and of its product for a product-limited key.
fn visible(caller: &Caller, w: &Webhook) -> bool {
    w.api
        && match (&caller.key.product_id, &w.product_id) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => mine == theirs,
            (Some(_), None) => false,
        }
}

/// The API webhook `id`, if the caller may see it.
async fn load(s: &AppState, caller: &Caller, id: &str) -> ApiResult<Webhook> {
    s.store
        .webhook(id)
        .await?
        .filter(|w| visible(caller, w))
        .ok_or_else(|| ApiError::not_found("webhook"))
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidField, message)
}

#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", responses((status = 200, description = "`{items: [{id, url, events, active, product_id, created_by, created_at}]}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    admin(&caller)?;
    // One read of the webhooks, not one more per webhook.
    let mut items: Vec<Webhook> = s
        .store
        .webhooks()
        .await?
        .into_iter()
        .filter(|w| visible(&caller, w))
        .collect();
    items.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(Json(
        json!({ "items": items.iter().map(view).collect::<Vec<_>>() }),
    ))
}

/// A new webhook.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    /// Where deliveries are POSTed: `http(s)://`, a public address.
    url: String,
    /// Event names (`license.created`, `license.activated`, …).
    events: Vec<String>,
    /// The signing secret (1–256 characters); made if absent, and shown only in this answer.
    secret: Option<String>,
    /// Whether it receives deliveries (default true).
    active: Option<bool>,
    /// The one product whose events it hears; a product-limited key's webhooks hear only its
    /// product's, an unrestricted key's every product's when absent.
    product_id: Option<String>,
}

#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = NewWebhook, responses((status = 201, description = "the webhook and, this once, its `secret`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn create(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<NewWebhook>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    admin(&caller)?;
    let product_id = match (&caller.key.product_id, b.product_id) {
        (Some(mine), None) => Some(mine.clone()),
        (_, Some(p)) => {
            caller.require_product(&p)?;
            s.store
                .product(&p)
                .await?
                .ok_or_else(|| ApiError::not_found("product"))?;
            Some(p)
        }
        (None, None) => None,
    };
    let url = b.url.trim().to_owned();
    crate::events::check_webhook_url(&s, &url)
        .await
        .map_err(invalid)?;
    crate::events::check_webhook_events(&b.events).map_err(invalid)?;
    let secret = b.secret.unwrap_or_else(crate::events::new_webhook_secret);
    crate::events::check_webhook_secret(&secret).map_err(invalid)?;
    let existing = s.store.webhooks().await?;
    let alike = existing
        .iter()
        .filter(|w| w.api && w.product_id == product_id)
        .count();
    let most = match product_id {
        Some(_) => MAX_PRODUCT_WEBHOOKS,
        None => MAX_API_WEBHOOKS,
    };
    if alike >= most {
        return Err(ApiError::conflict(
            ErrorCode::LimitReached,
            match product_id {
                Some(_) => format!("at most {most} webhooks for one product"),
                None => format!("at most {most} webhooks for every product"),
            },
        ));
    }
    let w = Webhook {
        id: crate::ids::random_id("whk_"),
        owner_id: caller.actor(),
        url,
        events: b.events,
        sealed_secret: s.tokens.keys().seal(&secret),
        is_active: b.active.unwrap_or(true),
        created_at: s.clock.now(),
        api: true,
        product_id,
    };
    s.store.put_webhook(&w).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::WebhookCreated,
            &w.id,
            ip.text(),
            json!({ "url": w.url, "product_id": w.product_id }),
        )
        .await?;
    let mut v = view(&w);
    v["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "the webhook", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&caller)?;
    Ok(Json(view(&load(&s, &caller, &id).await?)))
}

/// A change of a webhook: the fields given.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct WebhookChange {
    url: Option<String>,
    events: Option<Vec<String>>,
    /// A new signing secret.
    secret: Option<String>,
    active: Option<bool>,
}

#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "the object's id")), request_body = WebhookChange, responses((status = 200, description = "the webhook", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn update(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<WebhookChange>,
) -> ApiResult<Json<Value>> {
    admin(&caller)?;
    let mut w = load(&s, &caller, &id).await?;
    if let Some(u) = b.url {
        let u = u.trim().to_owned();
        crate::events::check_webhook_url(&s, &u)
            .await
            .map_err(invalid)?;
        w.url = u;
    }
    if let Some(e) = b.events {
        crate::events::check_webhook_events(&e).map_err(invalid)?;
        w.events = e;
    }
    if let Some(secret) = b.secret {
        crate::events::check_webhook_secret(&secret).map_err(invalid)?;
        w.sealed_secret = s.tokens.keys().seal(&secret);
    }
    if let Some(a) = b.active {
        w.is_active = a;
    }
    s.store.put_webhook(&w).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::WebhookUpdated,
            &w.id,
            ip.text(),
            json!({}),
        )
        .await?;
    Ok(Json(view(&w)))
}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deleted, with its queued deliveries and its log"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&caller)?;
    let w = load(&s, &caller, &id).await?;
    s.store.delete_webhook(&w.id).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::WebhookDeleted,
            &w.id,
            ip.text(),
            json!({}),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    /// At most this many (1–100, default 50), newest first.
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = String, Path, description = "the object's id"), DeliveryQuery), responses((status = 200, description = "`{items: [{id, event, state (pending, delivered, failed), attempts, created_at, next_attempt_at, settled_at, last_status, last_error}]}`, newest first: the queued ones and the last 100 settled", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn deliveries(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Q(q): Q<DeliveryQuery>,
) -> ApiResult<Json<Value>> {
    admin(&caller)?;
    let w = load(&s, &caller, &id).await?;
    let items = s.store.deliveries_of(&w.id, page_limit(q.limit)).await?;
    Ok(Json(
        json!({ "items": items.iter().map(delivery_view).collect::<Vec<_>>() }),
    ))
}

/// Queues a delivery of `body` to `w`, due now.
async fn queue_now(s: &AppState, w: &Webhook, event: &str, body: String) -> ApiResult<Delivery> {
    let now = s.clock.now();
    let mut queued = [Delivery {
        webhook_id: w.id.clone(),
        event: event.to_owned(),
        body,
        next_attempt_at: now,
        created_at: now,
        ..Delivery::default()
    }];
    s.store.enqueue(&mut queued).await?;
    let [d] = queued;
    Ok(d)
}

/// Makes the first attempt of `d` now, and shows it as it then stands.
async fn attempted(s: &AppState, w: &Webhook, d: Delivery) -> ApiResult<Value> {
    crate::events::attempt(s, d.id, s.clock.now()).await?;
    let after = s
        .store
        .deliveries_of(&w.id, licet_core::store::DELIVERY_LOG + 1)
        .await?
        .into_iter()
        .find(|x| x.id == d.id)
        .unwrap_or(d);
    Ok(delivery_view(&after))
}

/// Sends a delivery of the log again: a new delivery with the same event and body, queued
/// now and attempted at once (the one before stays in the log as it was).
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery}/resend", tag = "webhooks", params(("id" = String, Path, description = "the webhook's id"), ("delivery" = u64, Path, description = "the delivery's id")), responses((status = 200, description = "the new delivery as it stands after its first attempt", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn resend(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path((id, delivery)): Path<(String, u64)>,
) -> ApiResult<Json<Value>> {
    admin(&caller)?;
    let w = load(&s, &caller, &id).await?;
    let log = s
        .store
        .deliveries_of(&w.id, licet_core::store::DELIVERY_LOG + 1)
        .await?;
    let old = log
        .into_iter()
        .find(|d| d.id == delivery)
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    let d = queue_now(&s, &w, &old.event, old.body.clone()).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::WebhookResent,
            &w.id,
            ip.text(),
            json!({ "delivery": old.id, "as": d.id, "event": old.event }),
        )
        .await?;
    Ok(Json(attempted(&s, &w, d).await?))
}

#[utoipa::path(post, path = "/v1/webhooks/{id}/test", tag = "webhooks", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "the test delivery as it stands after its first attempt (`state`, `last_status`, `last_error`): it is in the outbox like any other, and retried if the receiver failed", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn test(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&caller)?;
    let w = load(&s, &caller, &id).await?;
    let now = s.clock.now();
    let body = json!({
        "event": "webhook.test",
        "timestamp": crate::payload::iso(now),
        "data": { "webhook_id": w.id, "message": "This is a test delivery from licet-server." },
    })
    .to_string();
    let d = queue_now(&s, &w, "webhook.test", body).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::WebhookTested,
            &w.id,
            ip.text(),
            json!({}),
        )
        .await?;
    Ok(Json(attempted(&s, &w, d).await?))
}
