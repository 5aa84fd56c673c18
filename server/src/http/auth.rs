//! Authentication as License-API describes it: long-lived API keys sent as `Authorization:
//! Bearer`, stored only as hashes, scoped and revocable; and short-lived JWTs minted from an API
//! key, verified here (signature, expiry, issuer, and that the key they came from still stands).

use crate::app::error::ErrorCode;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::app::caller::Caller;
use crate::app::credentials::{KEY_PREFIX, hash_key};
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use licet_core::model::ApiKey;

/// The caller of a route that also answers anonymous requests (a license key speaking for
/// itself): `None` without credentials, the caller with them.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let credentials = parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION);
        match credentials {
            true => Ok(MaybeCaller(Some(
                Caller::from_request_parts(parts, state).await?,
            ))),
            false => Ok(MaybeCaller(None)),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer header"))?
            .to_str()
            .map_err(|_| {
                ApiError::unauthorized(
                    "the Authorization header holds characters other than visible ASCII",
                )
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .ok_or_else(|| ApiError::unauthorized("Authorization must use the Bearer scheme"))?;
        let caller = if token.starts_with(KEY_PREFIX) {
            Caller {
                key: api_key(state, token).await?,
                via_jwt: false,
            }
        } else if token.matches('.').count() == 2 {
            Caller {
                key: jwt(state, token).await?,
                via_jwt: true,
            }
        } else {
            return Err(ApiError::unauthorized("not an API key or JWT"));
        };
        count_usage(state, &caller).await?;
        Ok(caller)
    }
}

/// Usage monitoring and the optional daily quota, for every request a key makes (through the
/// dashboard too).
/// Counts one request of `caller`'s key for today, refusing it past the key's daily quota.
pub async fn count_usage(state: &AppState, caller: &Caller) -> ApiResult<()> {
    let now = state.clock.now();
    let day = u64::try_from(now.div_euclid(86_400)).unwrap_or(0);
    let used = state.store.count_usage(&caller.key.id, day).await?;
    if let Some(quota) = caller.key.daily_quota
        && used > quota
    {
        let retry = 86_400 - u64::try_from(now.rem_euclid(86_400)).unwrap_or(0);
        return Err(ApiError::too_many_requests(ErrorCode::QuotaExceeded, retry));
    }
    Ok(())
}

/// The record of a full API key given at sign-in, checked as a request's would be: `None`
/// for an unknown, wrong or revoked key.
pub async fn authenticate_key(state: &AppState, full: &str) -> ApiResult<Option<ApiKey>> {
    if !full.starts_with(KEY_PREFIX) {
        return Ok(None);
    }
    match api_key(state, full).await {
        Ok(k) => Ok(Some(k)),
        Err(e) if e.code() == ErrorCode::Unauthorized => Ok(None),
        Err(e) => Err(e),
    }
}

async fn api_key(state: &AppState, full: &str) -> ApiResult<ApiKey> {
    let rest = &full[KEY_PREFIX.len()..];
    let (id, _) = rest
        .split_once('_')
        .ok_or_else(|| ApiError::unauthorized("malformed API key"))?;
    let record = state
        .store
        .api_key(&format!("key_{id}"))
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown API key"))?;
    let given = hash_key(full);
    if !bool::from(given.as_bytes().ct_eq(record.hash.as_bytes())) {
        return Err(ApiError::unauthorized("unknown API key"));
    }
    if record.revoked_at.is_some() {
        return Err(ApiError::unauthorized("this API key was revoked"));
    }
    Ok(record)
}

async fn jwt(state: &AppState, token: &str) -> ApiResult<ApiKey> {
    let claims = state.tokens.verify_jwt(token)?;
    let key = state
        .store
        .api_key(&claims.sub)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the JWT's API key no longer exists"))?;
    if key.revoked_at.is_some() {
        return Err(ApiError::unauthorized("the JWT's API key was revoked"));
    }
    Ok(key)
}

/// A PHC hash of a password nobody has, verified when the e-mail is unknown so that a wrong
/// address takes as long as a wrong password.
pub fn decoy_password_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        use argon2::password_hash::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(crate::ids::random_token(20).as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}
