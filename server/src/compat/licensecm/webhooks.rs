//! LicenseCM webhooks: CRUD and a test delivery. Deliveries themselves go through the durable
//! outbox ([`crate::events`]).

use axum::extract::State;
use axum::http::StatusCode;
use licet_core::audit::AuditAction;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, Fail, Id, In, Me, iso, ok, ok_with};
use crate::app::state::AppState;
use crate::http::extract::ClientIp;
use licet_core::model::Webhook;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(test))
}

fn view(w: &Webhook) -> Value {
    json!({
        "id": w.id,
        "url": w.url,
        "events": w.events,
        "is_active": w.is_active,
        "created_at": iso(w.created_at),
    })
}

async fn check_url(s: &AppState, url: &str) -> Result<(), Fail> {
    crate::events::check_webhook_url(s, url)
        .await
        .map_err(Fail::invalid)
}

/// Webhooks one user may have: each is a stream of outbound requests the server makes.
const MAX_WEBHOOKS_PER_USER: usize = 20;

fn check_events(events: &[String]) -> Result<(), Fail> {
    crate::events::check_webhook_events(events).map_err(Fail::invalid)
}

fn check_secret(secret: &str) -> Result<(), Fail> {
    crate::events::check_webhook_secret(secret).map_err(Fail::invalid)
}

async fn load(s: &AppState, me: &Me, id: &str) -> Result<Webhook, Fail> {
    s.store
        .webhook(id)
        .await?
        .filter(|w| !w.api && (me.is_admin() || w.owner_id == me.0.id))
        .ok_or_else(|| Fail::not_found("NOT_FOUND", "Webhook not found"))
}

/// The user's webhooks (an admin: all).
#[utoipa::path(get, path = "/api/webhooks", tag = "licensecm",
    responses((status = 200, description = "`{success, data: [{id, url, events, is_active, created_at}]}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn list(State(s): State<AppState>, me: Me) -> Answer {
    let mut hooks: Vec<Webhook> = s
        .store
        .webhooks()
        .await?
        .into_iter()
        .filter(|w| !w.api && (me.is_admin() || w.owner_id == me.0.id))
        .collect();
    hooks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    ok(json!(hooks.iter().map(view).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct NewWebhook {
    url: Option<String>,
    events: Option<Vec<String>>,
    secret: Option<String>,
    is_active: Option<bool>,
}

/// Creates a webhook; without a `secret`, one is made (and shown only here).
#[utoipa::path(post, path = "/api/webhooks", tag = "licensecm", request_body = NewWebhook,
    responses((status = 201, description = "`{success, data: {id, url, events, is_active, secret, created_at}}`", body = serde_json::Value),
              (status = 400, description = "invalid URL or events", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn create(State(s): State<AppState>, me: Me, ip: ClientIp, In(b): In<NewWebhook>) -> Answer {
    let url = b.url.unwrap_or_default().trim().to_owned();
    check_url(&s, &url).await?;
    let owned = s
        .store
        .webhooks()
        .await?
        .iter()
        .filter(|w| !w.api && w.owner_id == me.0.id)
        .count();
    if owned >= MAX_WEBHOOKS_PER_USER {
        return Err(Fail::new(
            StatusCode::BAD_REQUEST,
            "LIMIT_REACHED",
            format!("At most {MAX_WEBHOOKS_PER_USER} webhooks per user"),
        ));
    }
    let events = b.events.unwrap_or_default();
    check_events(&events)?;
    let secret = b.secret.unwrap_or_else(crate::events::new_webhook_secret);
    check_secret(&secret)?;
    let w = Webhook {
        id: crate::ids::uuid(),
        owner_id: me.0.id.clone(),
        url,
        events,
        sealed_secret: s.tokens.keys().seal(&secret),
        is_active: b.is_active.unwrap_or(true),
        created_at: s.clock.now(),
        api: false,
        product_id: None,
    };
    s.store.put_webhook(&w).await?;
    s.journal
        .audit(
            &me.actor(),
            AuditAction::WebhookCreated,
            &w.id,
            ip.text(),
            json!({ "url": w.url }),
        )
        .await?;
    let mut v = view(&w);
    v["secret"] = json!(secret);
    ok_with(StatusCode::CREATED, v)
}

/// One webhook.
#[utoipa::path(get, path = "/api/webhooks/{id}", tag = "licensecm", params(("id" = String, Path, description = "Webhook ID")),
    responses((status = 200, description = "`{success, data: webhook}`", body = serde_json::Value),
              (status = 404, description = "`NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn get(State(s): State<AppState>, me: Me, Id(id): Id) -> Answer {
    ok(view(&load(&s, &me, &id).await?))
}

/// Changes a webhook's `url`, `events`, `secret` or `is_active`.
#[utoipa::path(put, path = "/api/webhooks/{id}", tag = "licensecm", params(("id" = String, Path, description = "Webhook ID")), request_body = NewWebhook,
    responses((status = 200, description = "`{success, data: webhook}`", body = serde_json::Value),
              (status = 404, description = "`NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn update(
    State(s): State<AppState>,
    me: Me,
    ip: ClientIp,
    Id(id): Id,
    In(b): In<NewWebhook>,
) -> Answer {
    let mut w = load(&s, &me, &id).await?;
    if let Some(u) = b.url {
        let u = u.trim().to_owned();
        check_url(&s, &u).await?;
        w.url = u;
    }
    if let Some(e) = b.events {
        check_events(&e)?;
        w.events = e;
    }
    if let Some(secret) = b.secret {
        check_secret(&secret)?;
        w.sealed_secret = s.tokens.keys().seal(&secret);
    }
    if let Some(a) = b.is_active {
        w.is_active = a;
    }
    s.store.put_webhook(&w).await?;
    s.journal
        .audit(
            &me.actor(),
            AuditAction::WebhookUpdated,
            &w.id,
            ip.text(),
            json!({}),
        )
        .await?;
    ok(view(&w))
}

/// Deletes a webhook and its queued deliveries.
#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "licensecm", params(("id" = String, Path, description = "Webhook ID")),
    responses((status = 200, description = "`{success, data: {}}`", body = serde_json::Value),
              (status = 404, description = "`NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn delete(State(s): State<AppState>, me: Me, ip: ClientIp, Id(id): Id) -> Answer {
    let w = load(&s, &me, &id).await?;
    s.store.delete_webhook(&w.id).await?;
    s.journal
        .audit(
            &me.actor(),
            AuditAction::WebhookDeleted,
            &w.id,
            ip.text(),
            json!({}),
        )
        .await?;
    ok(json!({}))
}

/// Delivers a sample `webhook.test` event now and reports what the receiver answered.
#[utoipa::path(post, path = "/api/webhooks/{id}/test", tag = "licensecm", params(("id" = String, Path, description = "Webhook ID")),
    responses((status = 200, description = "`{success, data: {status_code, response_time_ms}}`", body = serde_json::Value),
              (status = 404, description = "`NOT_FOUND`", body = serde_json::Value),
              (status = 502, description = "`WEBHOOK_FAILED`: the receiver could not be reached", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn test(State(s): State<AppState>, me: Me, Id(id): Id) -> Answer {
    let w = load(&s, &me, &id).await?;
    let secret = s.tokens.keys().unseal(&w.sealed_secret).ok_or_else(|| {
        crate::app::error::ApiError::internal("webhook secret cannot be unsealed")
    })?;
    let body = json!({
        "event": "webhook.test",
        "timestamp": iso(s.clock.now()),
        "data": { "webhook_id": w.id, "message": "This is a test delivery from licet-server." },
    })
    .to_string();
    let (state, url) = (s.clone(), w.url.clone());
    let result = tokio::task::spawn_blocking(move || {
        crate::events::deliver(&state, &url, secret.as_bytes(), "webhook.test", &body)
    })
    .await
    .unwrap_or(Err(crate::outbound::Failure::Connection));
    match result {
        Ok((status, ms)) => ok(json!({ "status_code": status, "response_time_ms": ms })),
        // A class, never the raw error: its text would tell what listens where.
        Err(why) => Err(Fail::new(
            StatusCode::BAD_GATEWAY,
            "WEBHOOK_FAILED",
            format!("Delivery failed: {}", why.class()),
        )),
    }
}
