//! API keys (made, listed, revoked, rotated, their usage) and the rotation of the signing key
//! and root secret, over HTTP: each route answers with what `crate::app::keys` returns.

use super::*;
use crate::app::credentials as keys;
use licet_api::answers::{ApiKeyBody, ApiKeyUsage, KeyRotated, NewApiKeyBody, RootRotated};

#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = CreateApiKey, responses((status = 201, description = "the key record with the full `key`, shown only here", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn create_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<NewApiKeyBody>)> {
    let k = keys::create(&s, &caller, ip, b).await?;
    Ok((StatusCode::CREATED, Json(k)))
}

#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", responses((status = 200, description = "`{items: [key]}` (never the secret)", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn list_api_keys(
    State(s): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    let items = keys::list(&s, &caller).await?;
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn get_api_key(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKeyBody>> {
    Ok(Json(keys::read(&s, &caller, &id).await?))
}

#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "revoked"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn revoke_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    keys::revoke(&s, &caller, ip, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotation: a new key with the same name, scope and limits; the old one is revoked.
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 201, description = "the new key, shown only here; the old one is revoked", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn rotate_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<NewApiKeyBody>)> {
    let k = keys::rotate(&s, &caller, ip, &id).await?;
    Ok((StatusCode::CREATED, Json(k)))
}

#[utoipa::path(post, path = "/v1/keys/rotate", tag = "keys", responses((status = 200, description = "`{generation, kid, previous: {kid, valid_until}}`: the new token key signs from now on; the one before is listed in `/v1/keys` as retiring until `valid_until`", body = serde_json::Value), (status = 409, description = "`keys_not_rotatable`", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn rotate_signing_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
) -> ApiResult<Json<KeyRotated>> {
    Ok(Json(keys::rotate_signing_key(&s, &caller, ip).await?))
}

#[utoipa::path(post, path = "/v1/keys/rotate-root", tag = "keys", responses((status = 200, description = "`{version, resealed}`: a new version of the root secret derives every session, CSRF, URL and sealing key from now on; `resealed` stored secrets were sealed again under it. Dashboard sessions end.", body = serde_json::Value), (status = 409, description = "`keys_not_rotatable`", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn rotate_root_secret(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
) -> ApiResult<Json<RootRotated>> {
    Ok(Json(keys::rotate_root_secret(&s, &caller, ip).await?))
}

#[utoipa::path(get, path = "/v1/api-keys/{id}/usage", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "requests per day", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn api_key_usage(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKeyUsage>> {
    Ok(Json(keys::usage(&s, &caller, &id).await?))
}
