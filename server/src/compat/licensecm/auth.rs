//! LicenseCM users: register, login, token refresh and "me". Passwords are argon2id hashes;
//! tokens are EdDSA JWTs (the server's token key) with audience `licensecm`, so they are never
//! mistaken for the JWTs minted from API keys.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use licet_core::audit::AuditAction;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shared::{display_name, password_ok, user_view, valid_email};
use super::{Answer, Fail, In, Me, ok, ok_with};
use crate::app::state::AppState;
use crate::http::extract::ClientIp;
use licet_core::model::{Role, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(me))
}

/// The audience of LicenseCM user tokens.
const AUDIENCE: &str = "licensecm";

/// Claims of a LicenseCM user token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserClaims {
    /// The user id.
    pub sub: String,
    /// The role when the token was minted (the stored role is what counts).
    pub role: Role,
    /// Always `licensecm`.
    pub aud: String,
    /// The server's issuer name.
    pub iss: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
}

/// Mints a token for `u`.
pub fn mint(s: &AppState, u: &User) -> Result<String, Fail> {
    let now = s.clock.now();
    let claims = UserClaims {
        sub: u.id.clone(),
        role: u.role,
        aud: AUDIENCE.into(),
        iss: s.config.issuer.clone(),
        iat: now,
        exp: now + i64::try_from(s.config.user_jwt_ttl).unwrap_or(86_400),
    };
    let keys = s.tokens.keys();
    jsonwebtoken::encode(&keys.jwt().header(), &claims, keys.jwt().encoding())
        .map_err(|e| crate::app::error::ApiError::internal(e).into())
}

/// The claims of a valid, unexpired user token (expiry by the server's clock).
pub fn verify_token(s: &AppState, token: &str) -> Option<UserClaims> {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_issuer(&[&s.config.issuer]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud", "iat"]);
    v.validate_exp = false;
    v.leeway = 0;
    let keys = s.tokens.keys();
    let (decoding, retired_at) = keys.jwt().decoding(token, s.clock.now())?;
    let data = jsonwebtoken::decode::<UserClaims>(token, decoding, &v).ok()?;
    let (iat, exp) = (data.claims.iat, data.claims.exp);
    crate::keys::JwtKeys::admits(iat, exp, retired_at, s.clock.now(), s.config.user_jwt_ttl)
        .then_some(data.claims)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct Register {
    email: Option<String>,
    password: Option<String>,
    display_name: Option<String>,
}

/// Registers a plain user and signs them in (only with `--licensecm-registration`; admins are
/// made by the operator).
#[utoipa::path(post, path = "/api/auth/register", tag = "licensecm", request_body = Register,
    responses((status = 201, description = "`{success, data: {token, user}}`", body = serde_json::Value),
              (status = 400, description = "invalid e-mail or password", body = serde_json::Value),
              (status = 403, description = "registration is closed", body = serde_json::Value),
              (status = 409, description = "the e-mail is registered", body = serde_json::Value)))]
async fn register(State(s): State<AppState>, ip: ClientIp, In(b): In<Register>) -> Answer {
    if !s.config.licensecm_registration {
        return Err(Fail::forbidden("Registration is closed"));
    }
    let email = b.email.unwrap_or_default().trim().to_ascii_lowercase();
    if !valid_email(&email) {
        return Err(Fail::invalid("A valid email is required"));
    }
    let password = zeroize::Zeroizing::new(b.password.unwrap_or_default());
    if !password_ok(&password) {
        return Err(Fail::invalid("Password must be 8 to 128 characters"));
    }
    let display_name = display_name(&email, b.display_name)
        .ok_or_else(|| Fail::invalid("display_name: at most 100 characters"))?;
    if s.store.user_by_email(&email).await?.is_some() {
        return Err(Fail::new(
            StatusCode::CONFLICT,
            "USER_EXISTS",
            "Email already registered",
        ));
    }
    let hash = crate::app::credentials::hash_password(password).await?;
    let user = s
        .store
        .insert_user(&User {
            id: crate::ids::uuid(),
            email,
            display_name,
            password_hash: hash,
            role: Role::User,
            is_active: true,
            created_at: s.clock.now(),
            granted_products: Vec::new(),
        })
        .await
        .map_err(|e| {
            if e.code() == "duplicate" {
                Fail::new(
                    StatusCode::CONFLICT,
                    "USER_EXISTS",
                    "Email already registered",
                )
            } else {
                e.into()
            }
        })?;
    s.journal
        .audit(
            &format!("user:{}", user.id),
            AuditAction::UserRegistered,
            &user.id,
            ip.text(),
            json!({ "role": user.role }),
        )
        .await?;
    let token = mint(&s, &user)?;
    ok_with(
        StatusCode::CREATED,
        json!({ "token": token, "user": user_view(&user) }),
    )
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct Login {
    email: Option<String>,
    password: Option<String>,
}

/// Signs a user in.
#[utoipa::path(post, path = "/api/auth/login", tag = "licensecm", request_body = Login,
    responses((status = 200, description = "`{success, data: {token, user}}`", body = serde_json::Value),
              (status = 401, description = "`INVALID_CREDENTIALS`", body = serde_json::Value),
              (status = 403, description = "`ACCOUNT_DISABLED`", body = serde_json::Value),
              (status = 429, description = "too many attempts from this address or for this e-mail", body = serde_json::Value)))]
async fn login(State(s): State<AppState>, ip: ClientIp, In(b): In<Login>) -> Answer {
    let email = b.email.unwrap_or_default().trim().to_ascii_lowercase();
    let password = b.password.unwrap_or_default();
    if email.is_empty() || password.is_empty() {
        return Err(Fail::invalid("Email and password are required"));
    }
    s.limits.check_login(ip.0, &email)?;
    let user = s.store.user_by_email(&email).await?;
    let hash = user.as_ref().map_or_else(
        || crate::http::auth::decoy_password_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let password = zeroize::Zeroizing::new(password);
    let matches = tokio::task::spawn_blocking(move || {
        crate::app::credentials::verify_password(&password, &hash)
    })
    .await
    .unwrap_or(false);
    let Some(user) = user.filter(|_| matches) else {
        s.journal
            .security_event(
                "brute_force",
                licet_core::model::Severity::Low,
                None,
                ip.text(),
                None,
                true,
                json!({ "email": email, "reason": "invalid credentials" }),
            )
            .await?;
        return Err(Fail::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_CREDENTIALS",
            "Invalid email or password",
        ));
    };
    if !user.is_active {
        return Err(Fail::new(
            StatusCode::FORBIDDEN,
            "ACCOUNT_DISABLED",
            "This account is disabled",
        ));
    }
    let token = mint(&s, &user)?;
    ok(json!({ "token": token, "user": user_view(&user) }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct Refresh {
    token: Option<String>,
}

/// Exchanges a valid token (the bearer, or `token` in the body) for a fresh one.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "licensecm", request_body = Refresh,
    responses((status = 200, description = "`{success, data: {token}}`", body = serde_json::Value),
              (status = 401, description = "no valid token", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn refresh(State(s): State<AppState>, headers: HeaderMap, In(b): In<Refresh>) -> Answer {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let token = bearer.or(b.token).unwrap_or_default();
    let unauthorized = || {
        Fail::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Invalid or expired token",
        )
    };
    let claims = verify_token(&s, &token).ok_or_else(unauthorized)?;
    let user = s
        .store
        .user(&claims.sub)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(unauthorized)?;
    ok(json!({ "token": mint(&s, &user)? }))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/auth/me", tag = "licensecm",
    responses((status = 200, description = "`{success, data: {id, email, display_name, role, created_at}}`", body = serde_json::Value),
              (status = 401, description = "no valid token", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn me(me: Me) -> Answer {
    ok(user_view(&me.0))
}
