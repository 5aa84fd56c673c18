//! licet's own webhooks over HTTP, `/v1/webhooks`: each route answers with what
//! `crate::app::webhooks` returns.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use licet_api::answers::{DeliveryBody, NewWebhookBody, WebhookBody};
use licet_api::requests::{NewWebhook, WebhookChange};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::caller::Caller;
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::app::webhooks;
use crate::http::extract::{Body, ClientIp, Q, page_limit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, delete))
        .routes(routes!(deliveries))
        .routes(routes!(test))
        .routes(routes!(resend))
}

#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", responses((status = 200, description = "`{items: [{id, url, events, active, product_id, created_by, created_at}]}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let items = webhooks::list(&s, &caller).await?;
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = NewWebhook, responses((status = 201, description = "the webhook and, this once, its `secret`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn create(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<NewWebhook>,
) -> ApiResult<(StatusCode, Json<NewWebhookBody>)> {
    let w = webhooks::create(&s, &caller, ip, b).await?;
    Ok((StatusCode::CREATED, Json(w)))
}

#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "the webhook", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookBody>> {
    Ok(Json(webhooks::read(&s, &caller, &id).await?))
}

#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "the object's id")), request_body = WebhookChange, responses((status = 200, description = "the webhook", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn update(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<WebhookChange>,
) -> ApiResult<Json<WebhookBody>> {
    Ok(Json(webhooks::update(&s, &caller, ip, &id, b).await?))
}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deleted, with its queued deliveries and its log"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    webhooks::delete(&s, &caller, ip, &id).await?;
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
    let items = webhooks::deliveries(&s, &caller, &id, page_limit(q.limit)).await?;
    Ok(Json(json!({ "items": items })))
}

/// Sends a delivery of the log again: a new delivery with the same event and body, queued
/// now and attempted at once (the one before stays in the log as it was).
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery}/resend", tag = "webhooks", params(("id" = String, Path, description = "the webhook's id"), ("delivery" = u64, Path, description = "the delivery's id")), responses((status = 200, description = "the new delivery as it stands after its first attempt", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn resend(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path((id, delivery)): Path<(String, u64)>,
) -> ApiResult<Json<DeliveryBody>> {
    Ok(Json(
        webhooks::resend(&s, &caller, ip, &id, delivery).await?,
    ))
}

#[utoipa::path(post, path = "/v1/webhooks/{id}/test", tag = "webhooks", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "the test delivery as it stands after its first attempt (`state`, `last_status`, `last_error`): it is in the outbox like any other, and retried if the receiver failed", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn test(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryBody>> {
    Ok(Json(webhooks::test(&s, &caller, ip, &id).await?))
}
