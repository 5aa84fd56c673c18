//! licet's own webhooks: create, list, read, change and delete them, see their deliveries with
//! where each stands, send one again, and send a test. They share the durable outbox, the
//! signatures and the retries of LicenseCM's webhooks ([`crate::events`]).
//!
//! Webhooks are an admin's business: each is a stream of signed requests the server makes. An
//! admin key limited to one product makes webhooks that hear only that product's events and
//! sees only those webhooks; an unrestricted key's hear every product's.

use licet_api::answers::{DeliveryBody, NewWebhookBody, WebhookBody};
use licet_api::requests::{NewWebhook, WebhookChange};
use licet_core::audit::AuditAction;
use licet_core::ids::ProductId;
use licet_core::model::{Delivery, Scope, Webhook};
use serde_json::json;

use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;
use crate::net::ClientIp;

/// API webhooks that hear every product there may be (an unrestricted key's).
const MAX_API_WEBHOOKS: usize = 50;

/// API webhooks there may be for one product: a quota of the product's own, so that a key
/// limited to one product cannot use up another's, nor the operator's.
const MAX_PRODUCT_WEBHOOKS: usize = 10;

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

/// The webhooks the caller sees, oldest first.
pub async fn list(s: &AppState, caller: &Caller) -> ApiResult<Vec<WebhookBody>> {
    admin(caller)?;
    // One read of the webhooks, not one more per webhook.
    let mut items: Vec<Webhook> = s
        .store
        .webhooks()
        .await?
        .into_iter()
        .filter(|w| visible(caller, w))
        .collect();
    items.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(items.iter().map(WebhookBody::from).collect())
}

/// Adds a webhook; the answer holds its secret, shown only here.
pub async fn create(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    b: NewWebhook,
) -> ApiResult<NewWebhookBody> {
    admin(caller)?;
    let product_id = match (&caller.key.product_id, b.product_id) {
        (Some(mine), None) => Some(mine.clone()),
        (_, Some(p)) => {
            caller.require_product(&p)?;
            s.store
                .product(&ProductId::from(&p))
                .await?
                .ok_or_else(|| ApiError::not_found("product"))?;
            Some(Into::into(p))
        }
        (None, None) => None,
    };
    let url = b.url.trim().to_owned();
    crate::events::check_webhook_url(s, &url)
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
    Ok(NewWebhookBody {
        record: WebhookBody::from(&w),
        secret,
    })
}

/// Webhook `id`, if the caller sees it.
pub async fn read(s: &AppState, caller: &Caller, id: &str) -> ApiResult<WebhookBody> {
    admin(caller)?;
    Ok(WebhookBody::from(&load(s, caller, id).await?))
}

/// Changes webhook `id` as `b` says.
pub async fn update(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
    b: WebhookChange,
) -> ApiResult<WebhookBody> {
    admin(caller)?;
    let mut w = load(s, caller, id).await?;
    if let Some(u) = b.url {
        let u = u.trim().to_owned();
        crate::events::check_webhook_url(s, &u)
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
            json!({ "product_id": w.product_id }),
        )
        .await?;
    Ok(WebhookBody::from(&w))
}

/// Deletes webhook `id`, with its queued deliveries and its log.
pub async fn delete(s: &AppState, caller: &Caller, ip: ClientIp, id: &str) -> ApiResult<()> {
    admin(caller)?;
    let w = load(s, caller, id).await?;
    s.store.delete_webhook(&w.id).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::WebhookDeleted,
            &w.id,
            ip.text(),
            json!({ "product_id": w.product_id }),
        )
        .await?;
    Ok(())
}

/// Webhook `id`'s deliveries, newest first, at most `limit`: the queued ones and the last
/// settled.
pub async fn deliveries(
    s: &AppState,
    caller: &Caller,
    id: &str,
    limit: usize,
) -> ApiResult<Vec<DeliveryBody>> {
    admin(caller)?;
    let w = load(s, caller, id).await?;
    let items = s.store.deliveries_of(&w.id, limit).await?;
    Ok(items.iter().map(DeliveryBody::from).collect())
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
async fn attempted(s: &AppState, w: &Webhook, d: Delivery) -> ApiResult<DeliveryBody> {
    crate::events::attempt(s, d.id, s.clock.now()).await?;
    let after = s
        .store
        .deliveries_of(&w.id, licet_core::store::DELIVERY_LOG + 1)
        .await?
        .into_iter()
        .find(|x| x.id == d.id)
        .unwrap_or(d);
    Ok(DeliveryBody::from(&after))
}

/// Sends delivery `delivery` of webhook `id`'s log again: a new delivery with the same event
/// and body, queued now and attempted at once (the one before stays in the log as it was).
pub async fn resend(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
    delivery: u64,
) -> ApiResult<DeliveryBody> {
    admin(caller)?;
    let w = load(s, caller, id).await?;
    let log = s
        .store
        .deliveries_of(&w.id, licet_core::store::DELIVERY_LOG + 1)
        .await?;
    let old = log
        .into_iter()
        .find(|d| d.id == delivery)
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    let d = queue_now(s, &w, &old.event, old.body.clone()).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::WebhookResent,
            &w.id,
            ip.text(),
            json!({ "delivery": old.id, "as": d.id, "event": old.event, "product_id": w.product_id }),
        )
        .await?;
    attempted(s, &w, d).await
}

/// Queues a `webhook.test` delivery to webhook `id` and attempts it now; it is in the outbox
/// like any other, and retried if the receiver failed.
pub async fn test(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
) -> ApiResult<DeliveryBody> {
    admin(caller)?;
    let w = load(s, caller, id).await?;
    let now = s.clock.now();
    let body = json!({
        "event": "webhook.test",
        "timestamp": crate::payload::iso(now),
        "data": { "webhook_id": w.id, "message": "This is a test delivery from licet-server." },
    })
    .to_string();
    let d = queue_now(s, &w, "webhook.test", body).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::WebhookTested,
            &w.id,
            ip.text(),
            json!({ "product_id": w.product_id }),
        )
        .await?;
    attempted(s, &w, d).await
}
