//! API keys (made, listed, revoked, rotated, their usage) and the rotation of the signing key and root secret.

use super::*;
use crate::app::error::ErrorCode;
use licet_core::audit::AuditAction;

pub(super) fn key_view(k: &licet_core::model::ApiKey) -> Value {
    json!({
        "id": k.id, "name": k.name, "scope": k.scope, "product_id": k.product_id,
        "daily_quota": k.daily_quota, "created_at": k.created_at, "revoked_at": k.revoked_at,
    })
}

#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = CreateApiKey, responses((status = 201, description = "the key record with the full `key`, shown only here", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn create_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_unrestricted()?;
    if b.name.trim().is_empty() || b.name.len() > 200 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "name: 1–200 characters",
        ));
    }
    if let Some(p) = &b.product_id {
        s.store.product(p).await?.ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidField, "product_id: no such product")
        })?;
    }
    let (full, record) = new_api_key(
        &b.name,
        b.scope.into(),
        b.product_id,
        b.daily_quota,
        s.clock.now(),
    );
    s.store.put_api_key(&record).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::ApiKeyCreated,
            &record.id,
            ip.text(),
            json!({ "scope": record.scope }),
        )
        .await?;
    let mut v = key_view(&record);
    v["key"] = json!(full);
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", responses((status = 200, description = "`{items: [key]}` (never the secret)", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn list_api_keys(
    State(s): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    let items: Vec<Value> = s.store.api_keys().await?.iter().map(key_view).collect();
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn get_api_key(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    let k = s
        .store
        .api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    Ok(Json(key_view(&k)))
}

#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "revoked"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn revoke_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_unrestricted()?;
    let mut k = s
        .store
        .api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    if k.revoked_at.is_none() {
        k.revoked_at = Some(s.clock.now());
        s.store.put_api_key(&k).await?;
        s.journal
            .audit(
                &caller.actor(),
                AuditAction::ApiKeyRevoked,
                &k.id,
                ip.text(),
                json!({}),
            )
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Rotation: a new key with the same name, scope and limits; the old one is revoked.
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 201, description = "the new key, shown only here; the old one is revoked", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn rotate_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_unrestricted()?;
    let mut old = s
        .store
        .api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    if old.revoked_at.is_some() {
        return Err(ApiError::conflict(
            ErrorCode::Revoked,
            "the key is revoked; create a new one",
        ));
    }
    let now = s.clock.now();
    let (full, record) = new_api_key(
        &old.name,
        old.scope,
        old.product_id.clone(),
        old.daily_quota,
        now,
    );
    old.revoked_at = Some(now);
    s.store.put_api_key(&record).await?;
    s.store.put_api_key(&old).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::ApiKeyRotated,
            &old.id,
            ip.text(),
            json!({ "new": record.id }),
        )
        .await?;
    let mut v = key_view(&record);
    v["key"] = json!(full);
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(post, path = "/v1/keys/rotate", tag = "keys", responses((status = 200, description = "`{generation, kid, previous: {kid, valid_until}}`: the new token key signs from now on; the one before is listed in `/v1/keys` as retiring until `valid_until`", body = serde_json::Value), (status = 409, description = "`keys_not_rotatable`", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn rotate_signing_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
) -> ApiResult<Json<Value>> {
    // Every product's tokens change key: only an operator's unrestricted key may do it.
    caller.require_unrestricted()?;
    let before = s.tokens.keys().generation();
    let keys = s.tokens.rotate_keys().await?;
    let ring = keys.ring();
    let new = ring
        .last()
        .ok_or_else(|| ApiError::internal("an empty key ring"))?;
    let previous = ring
        .iter()
        .rev()
        .nth(1)
        .map(|k| json!({ "kid": k.public.kid().to_string(), "valid_until": k.valid_until }));
    let kid = new.public.kid().to_string();
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::SigningKeyRotated,
            &kid,
            ip.text(),
            json!({ "generation": new.generation, "from_generation": before }),
        )
        .await?;
    Ok(Json(json!({
        "generation": new.generation,
        "kid": kid,
        "previous": previous,
    })))
}

#[utoipa::path(post, path = "/v1/keys/rotate-root", tag = "keys", responses((status = 200, description = "`{version, resealed}`: a new version of the root secret derives every session, CSRF, URL and sealing key from now on; `resealed` stored secrets were sealed again under it. Dashboard sessions end.", body = serde_json::Value), (status = 409, description = "`keys_not_rotatable`", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn rotate_root_secret(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    let before = s.tokens.keys().root_version();
    let (version, resealed) = s.tokens.rotate_root().await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::RootSecretRotated,
            &format!("root-secret.{version}"),
            ip.text(),
            json!({ "version": version, "from_version": before, "resealed": resealed }),
        )
        .await?;
    Ok(Json(json!({ "version": version, "resealed": resealed })))
}

#[utoipa::path(get, path = "/v1/api-keys/{id}/usage", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "requests per day", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn api_key_usage(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    if caller.key.id != id {
        caller.require_unrestricted()?;
    }
    let k = s
        .store
        .api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    let days: Vec<Value> = s
        .store
        .usage(&k.id).await?
        .into_iter()
        .map(|(day, n)| json!({ "day": chrono::DateTime::from_timestamp(i64::try_from(day).unwrap_or(0) * 86_400, 0).map(|d| d.date_naive().to_string()), "requests": n }))
        .collect();
    let total: u64 = s.store.usage(&k.id).await?.iter().map(|(_, n)| n).sum();
    Ok(Json(
        json!({ "id": k.id, "daily_quota": k.daily_quota, "total": total, "days": days }),
    ))
}
