//! JWTs minted for an API key's holder.

use super::*;
use crate::app::error::ErrorCode;

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MintRequest {
    pub(super) ttl: Option<u64>,
}

#[utoipa::path(post, path = "/v1/auth/token", tag = "auth", request_body(content = Option<MintRequest>, description = "optional `ttl` in seconds"), responses((status = 200, description = "`{token, token_type, expires_at}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn mint_token(
    State(s): State<AppState>,
    caller: Caller,
    OptionalBody(body): OptionalBody<MintRequest>,
) -> ApiResult<Json<Value>> {
    if caller.via_jwt {
        return Err(ApiError::forbidden(
            "JWTs are minted from API keys, not from other JWTs",
        ));
    }
    let ttl = body.and_then(|b| b.ttl).unwrap_or(s.config.jwt_ttl);
    if ttl == 0 || ttl > crate::app::tokens::MAX_JWT_TTL.max(s.config.jwt_ttl) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "ttl: 1–86400 seconds",
        ));
    }
    let (token, exp) = s.tokens.mint_jwt(&caller.key, ttl)?;
    Ok(Json(
        json!({ "token": token, "token_type": "Bearer", "expires_at": exp }),
    ))
}
