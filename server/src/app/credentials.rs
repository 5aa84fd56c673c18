//! API keys (made, listed, revoked, rotated, their usage) and the rotation of the signing key
//! and the root secret. Only the widest credential (an admin key with no product limit)
//! manages keys, so that no key can mint, rotate or reach a key wider than itself; any key
//! reads its own usage.

use licet_api::answers::{
    ApiKeyBody, ApiKeyUsage, DayUsage, KeyRotated, NewApiKeyBody, RetiringKey, RootRotated,
};
use licet_api::requests::CreateApiKey;
use licet_core::audit::AuditAction;
use licet_core::ids::ProductId;
use licet_core::model::{ApiKey, Scope};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;
use crate::net::ClientIp;

/// Prefix of every licet API key.
pub const KEY_PREFIX: &str = "lk_";

/// A new API key: the full secret (shown once) and the record to store.
pub fn new_api_key(
    name: &str,
    scope: Scope,
    product_id: Option<String>,
    daily_quota: Option<u64>,
    now: i64,
) -> (String, ApiKey) {
    let id = crate::ids::random_id("key_");
    let secret = crate::ids::random_token(32);
    let full = format!("{KEY_PREFIX}{}_{secret}", &id["key_".len()..]);
    let record = ApiKey {
        id,
        name: name.to_owned(),
        hash: hash_key(&full),
        scope,
        product_id: product_id.map(Into::into),
        daily_quota,
        created_at: now,
        revoked_at: None,
    };
    (full, record)
}

/// SHA-256 of the full key, hex. API keys are 160+ bits of randomness, so a fast hash is the
/// right tool (a password hash would only slow every request).
pub fn hash_key(full: &str) -> String {
    Sha256::digest(full.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn stored(s: &AppState, id: &str) -> ApiResult<ApiKey> {
    s.store
        .api_key(id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))
}

/// Makes an API key; the answer holds the full key, shown only here.
pub async fn create(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    b: CreateApiKey,
) -> ApiResult<NewApiKeyBody> {
    caller.require_unrestricted()?;
    if b.name.trim().is_empty() || b.name.len() > 200 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "name: 1–200 characters",
        ));
    }
    if let Some(p) = &b.product_id {
        s.store.product(&ProductId::from(p)).await?.ok_or_else(|| {
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
    Ok(NewApiKeyBody {
        record: ApiKeyBody::from(&record),
        key: full,
    })
}

/// Every API key (never a secret).
pub async fn list(s: &AppState, caller: &Caller) -> ApiResult<Vec<ApiKeyBody>> {
    caller.require_unrestricted()?;
    Ok(s.store
        .api_keys()
        .await?
        .iter()
        .map(ApiKeyBody::from)
        .collect())
}

/// API key `id`.
pub async fn read(s: &AppState, caller: &Caller, id: &str) -> ApiResult<ApiKeyBody> {
    caller.require_unrestricted()?;
    Ok(ApiKeyBody::from(&stored(s, id).await?))
}

/// Revokes API key `id` (again: nothing more happens).
pub async fn revoke(s: &AppState, caller: &Caller, ip: ClientIp, id: &str) -> ApiResult<()> {
    caller.require_unrestricted()?;
    let mut k = stored(s, id).await?;
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
    Ok(())
}

/// Rotates API key `id`: a new key with the same name, scope and limits; the old one is
/// revoked. A revoked key is not rotated.
pub async fn rotate(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
) -> ApiResult<NewApiKeyBody> {
    caller.require_unrestricted()?;
    let mut old = stored(s, id).await?;
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
        old.product_id.clone().map(Into::into),
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
    Ok(NewApiKeyBody {
        record: ApiKeyBody::from(&record),
        key: full,
    })
}

/// API key `id`'s requests by day: any key its own, the widest key every key's.
pub async fn usage(s: &AppState, caller: &Caller, id: &str) -> ApiResult<ApiKeyUsage> {
    if caller.key.id != id {
        caller.require_unrestricted()?;
    }
    let k = stored(s, id).await?;
    let usage = s.store.usage(&k.id).await?;
    let days = usage
        .iter()
        .map(|(day, n)| DayUsage {
            day: chrono::DateTime::from_timestamp(i64::try_from(*day).unwrap_or(0) * 86_400, 0)
                .map(|d| d.date_naive().to_string()),
            requests: *n,
        })
        .collect();
    Ok(ApiKeyUsage {
        id: k.id,
        daily_quota: k.daily_quota,
        total: usage.iter().map(|(_, n)| n).sum(),
        days,
    })
}

/// Rotates the token signing key: every product's tokens change key, so only an operator's
/// unrestricted key may.
pub async fn rotate_signing_key(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
) -> ApiResult<KeyRotated> {
    caller.require_unrestricted()?;
    let before = s.tokens.keys().generation();
    let keys = s.tokens.rotate_keys().await?;
    let ring = keys.ring();
    let new = ring
        .last()
        .ok_or_else(|| ApiError::internal("an empty key ring"))?;
    let previous = ring.iter().rev().nth(1).map(|k| RetiringKey {
        kid: k.public.kid().to_string(),
        valid_until: k.valid_until,
    });
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
    Ok(KeyRotated {
        generation: new.generation,
        kid,
        previous,
    })
}

/// Rotates the root secret (an unrestricted admin key): a new version derives every session,
/// CSRF, URL and sealing key from now on, and stored secrets are sealed again under it.
pub async fn rotate_root_secret(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
) -> ApiResult<RootRotated> {
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
    Ok(RootRotated { version, resealed })
}

/// A new random password (100 bits, shown once, never stored) and its argon2id hash as a PHC
/// string. Hashing takes tens of milliseconds of CPU, so it runs off the async workers.
pub async fn new_password() -> ApiResult<(zeroize::Zeroizing<String>, String)> {
    let password = zeroize::Zeroizing::new(crate::ids::random_token(20));
    let hash = hash_password(password.clone()).await?;
    Ok((password, hash))
}

/// The argon2id hash (default parameters: 19 MiB, 2 passes) of `password`, as a PHC string.
pub async fn hash_password(password: zeroize::Zeroizing<String>) -> ApiResult<String> {
    use argon2::password_hash::PasswordHasher;
    tokio::task::spawn_blocking(move || {
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Whether `password` matches the PHC string `hash` (constant-time comparison inside argon2).
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    argon2::password_hash::phc::PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}
