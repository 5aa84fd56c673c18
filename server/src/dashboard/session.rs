//! Dashboard sessions: an admin API key, or a LicenseCM admin's e-mail and password, exchanged
//! for a signed cookie.
//!
//! The cookie holds a random session id, the API key's id and the session's times, signed
//! with HMAC-SHA256 under a key derived from the server's root secret, so that every instance
//! on one database reads it and nothing is stored per session. Signing out spends the session
//! id in the store's one-time ids (the same table every instance reads), which ends the session
//! on the server, not only in the browser. Each request also reloads the API key: a revoked
//! key ends its sessions at once.
//!
//! Every form carries a CSRF token bound to the session (an HMAC of its id), compared in
//! constant time; the sign-in form, before there is a session, carries one bound to its own
//! issue time.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use licet_core::ids::ProductId;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::page::{CsrfFailed, Form};
use super::templates::Chrome;
use crate::app::caller::Caller;
use crate::app::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "licet_admin";
/// The derivation label of the session key.
const KEY_LABEL: &[u8] = b"licet/dashboard/session/v1";
/// How long a sign-in form stays usable, seconds.
const SIGN_IN_FORM_TTL: i64 = 3600;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What the cookie says, once its signature has been checked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The session id (hex of 16 random bytes).
    pub sid: String,
    /// The API key signed in with (empty for a LicenseCM admin's session).
    pub key: String,
    /// A LicenseCM admin's session: the user, and the one product it acts on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserSession>,
    /// When the session began.
    pub iat: i64,
    /// When it ends.
    pub exp: i64,
}

fn mac(s: &AppState, parts: &[&[u8]]) -> Hmac<Sha256> {
    let key = s.tokens.keys().derive(KEY_LABEL);
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_slice()).expect("any key size");
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m
}

/// Whose session a LicenseCM admin's is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserSession {
    /// The user's id.
    pub id: String,
    /// The product chosen at sign-in, one the user reaches.
    pub product: String,
}

/// Who signs in.
#[derive(Debug, Clone)]
pub enum Principal {
    /// An admin API key, by id.
    Key(String),
    /// A LicenseCM admin, acting on one product.
    User(UserSession),
}

/// The cookie value of a new session for `who`.
pub fn issue(s: &AppState, who: Principal) -> (String, Claims) {
    let now = s.clock.now();
    let (key, user) = match who {
        Principal::Key(k) => (k, None),
        Principal::User(u) => (String::new(), Some(u)),
    };
    let claims = Claims {
        sid: crate::ids::hex(&crate::ids::random_bytes::<16>()),
        key,
        user,
        iat: now,
        exp: now.saturating_add(i64::try_from(s.config.dashboard_session_ttl).unwrap_or(i64::MAX)),
    };
    let body = B64.encode(serde_json::to_vec(&claims).expect("claims are JSON"));
    let tag = B64.encode(
        mac(s, &[b"cookie", body.as_bytes()])
            .finalize()
            .into_bytes(),
    );
    (format!("{body}.{tag}"), claims)
}

/// The claims of a cookie value whose signature is this server's and whose time has not run
/// out; `None` for anything else.
fn read(s: &AppState, value: &str) -> Option<Claims> {
    let (body, tag) = value.split_once('.')?;
    let tag = B64.decode(tag).ok()?;
    // `verify_slice` compares in constant time.
    mac(s, &[b"cookie", body.as_bytes()])
        .verify_slice(&tag)
        .ok()?;
    let claims: Claims = serde_json::from_slice(&B64.decode(body).ok()?).ok()?;
    (claims.exp > s.clock.now()).then_some(claims)
}

/// The CSRF token of a session.
pub fn csrf_of(s: &AppState, sid: &str) -> String {
    B64.encode(mac(s, &[b"csrf", sid.as_bytes()]).finalize().into_bytes())
}

/// The tag of a notice a redirect carries to session `sid`'s next page: only a notice this
/// server wrote for this session is shown, so a link elsewhere cannot put its own words on a
/// page of the dashboard.
pub fn flash_tag(s: &AppState, sid: &str, text: &str) -> String {
    B64.encode(
        mac(s, &[b"flash", sid.as_bytes(), text.as_bytes()])
            .finalize()
            .into_bytes(),
    )
}

/// Whether `tag` is [`flash_tag`]'s for `sid` and `text` (constant-time comparison).
pub fn flash_tag_ok(s: &AppState, sid: &str, text: &str, tag: &str) -> bool {
    let Ok(tag) = B64.decode(tag) else {
        return false;
    };
    mac(s, &[b"flash", sid.as_bytes(), text.as_bytes()])
        .verify_slice(&tag)
        .is_ok()
}

/// The cookie that binds a sign-in form to the browser it was served to.
pub const SIGN_IN_COOKIE: &str = "licet_sign_in";

/// A CSRF token for the sign-in form, bound to the browser's `nonce` (the sign-in cookie): its
/// issue time and a MAC of it and the nonce. A page elsewhere cannot post a sign-in with a
/// token of its own (login CSRF): the browser's cookie is SameSite=Strict, so a cross-site post
/// carries none, and a token served to another browser names another nonce.
pub fn sign_in_token(s: &AppState, nonce: &str) -> String {
    let at = s.clock.now().to_string();
    let tag = B64.encode(
        mac(s, &[b"sign-in", at.as_bytes(), nonce.as_bytes()])
            .finalize()
            .into_bytes(),
    );
    format!("{at}.{tag}")
}

/// Whether `token` is a sign-in form token of this server for the browser's `nonce`, issued
/// within the last hour.
pub fn sign_in_token_ok(s: &AppState, token: &str, nonce: &str) -> bool {
    let Some((at, tag)) = token.split_once('.') else {
        return false;
    };
    let Ok(tag) = B64.decode(tag) else {
        return false;
    };
    let fresh = at
        .parse::<i64>()
        .is_ok_and(|t| (0..=SIGN_IN_FORM_TTL).contains(&(s.clock.now() - t)));
    !nonce.is_empty()
        && fresh
        && mac(s, &[b"sign-in", at.as_bytes(), nonce.as_bytes()])
            .verify_slice(&tag)
            .is_ok()
}

/// The `Set-Cookie` value of a sign-in form's nonce.
pub fn sign_in_cookie(nonce: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SIGN_IN_COOKIE}={nonce}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={SIGN_IN_FORM_TTL}{secure}"
    )
}

/// The value of cookie `name` of a request, if it sent one.
pub fn cookie_named<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

/// Whether the request came over TLS: `--public-url` says https, or a trusted proxy says so.
pub fn over_tls(s: &AppState, parts: &Parts) -> bool {
    if s.config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
    {
        return true;
    }
    let peer_trusted = parts
        .extensions
        .get::<axum::extract::connect_info::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| {
            let ip = crate::net::canonical(c.0.ip());
            s.config.trusted_proxies.iter().any(|n| n.contains(&ip))
        });
    peer_trusted
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value of a session (or, with `None`, of its removal).
pub fn set_cookie(value: Option<(&str, i64)>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some((v, max_age)) => format!(
            "{COOKIE}={v}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        ),
        None => format!("{COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

fn cookie_value(parts: &Parts) -> Option<&str> {
    cookie_named(&parts.headers, COOKIE)
}

/// The signed-in user of a dashboard request: the API key's caller, the session and its CSRF
/// token. A request without a live session is sent to the sign-in page.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The credential every action is taken with.
    pub caller: Caller,
    /// The session.
    pub session: Claims,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
    /// Whether the request came over TLS (for the cookie's `Secure`).
    pub tls: bool,
}

impl Viewer {
    /// Whether a posted CSRF token is this session's (constant-time comparison).
    pub fn csrf_ok(&self, given: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(given.as_bytes().ct_eq(self.csrf.as_bytes()))
    }

    /// `form`, if it carries this session's CSRF token.
    pub fn check(&self, form: Form) -> Result<Form, CsrfFailed> {
        match form.get("csrf") {
            Some(t) if self.csrf_ok(t) => Ok(form),
            _ => Err(CsrfFailed),
        }
    }

    /// The layout of this viewer's pages, in `section`.
    pub fn chrome(&self, section: &'static str) -> Chrome {
        Chrome {
            who: self.caller.key.name.clone(),
            key_id: self.caller.key.id.clone(),
            limited_to: self.caller.key.product_id.clone().map(Into::into),
            csrf: self.csrf.clone(),
            section,
        }
    }
}

/// Why a request has no viewer: it is sent to sign in.
#[derive(Debug)]
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to("/admin/sign-in").into_response()
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let tls = over_tls(s, parts);
        let Some(claims) = cookie_value(parts).and_then(|v| read(s, v)) else {
            return Err(SignInFirst.into_response());
        };
        let sid = crate::ids::unhex(&claims.sid).unwrap_or_default();
        match s.store.challenge_spent(&sid, claims.exp).await {
            Ok(false) => {}
            Ok(true) => return Err(SignInFirst.into_response()),
            Err(e) => return Err(super::page::failure(&crate::app::error::ApiError::from(e))),
        }
        let fault =
            |e: licet_core::StoreError| super::page::failure(&crate::app::error::ApiError::from(e));
        let key = match &claims.user {
            None => match s.store.api_key(&claims.key).await {
                Ok(Some(k)) if k.revoked_at.is_none() => k,
                Ok(_) => return Err(SignInFirst.into_response()),
                Err(e) => return Err(fault(e)),
            },
            // Reloaded on every request, as a key is: a user disabled, no longer an admin, or
            // no longer reaching the product ends the session at once.
            Some(us) => match user_key(s, us).await {
                Ok(Some(k)) => k,
                Ok(None) => return Err(SignInFirst.into_response()),
                Err(e) => return Err(fault(e)),
            },
        };
        let caller = Caller {
            key,
            via_jwt: false,
        };
        // A page is one request of its key, however many API calls it makes.
        if let Err(e) = crate::http::auth::count_usage(s, &caller).await {
            return Err(super::page::failure(&e));
        }
        Ok(Viewer {
            csrf: csrf_of(s, &claims.sid),
            caller,
            session: claims,
            tls,
        })
    }
}

/// The credential a LicenseCM admin's session acts with: a key of the user's own, read-write
/// and limited to the product chosen at sign-in (`None` if the user may no longer sign in or
/// reach it). Read-write, not admin: API keys, webhooks, the audit log and the signing keys are
/// an operator's, which LicenseCM's role never was. Its id, `user:<id>`, is the actor
/// LicenseCM's own API audits the user as.
pub async fn user_key(
    s: &AppState,
    us: &UserSession,
) -> Result<Option<licet_core::model::ApiKey>, licet_core::StoreError> {
    let Some(u) = s.store.user(&us.id).await? else {
        return Ok(None);
    };
    if !u.is_active || u.role != licet_core::model::Role::Admin {
        return Ok(None);
    }
    match s.store.product(&ProductId::from(&us.product)).await? {
        Some(p) if u.reaches(&p) => {}
        _ => return Ok(None),
    }
    Ok(Some(licet_core::model::ApiKey {
        id: format!("user:{}", u.id),
        name: format!("{} (LicenseCM admin)", u.email),
        hash: String::new(),
        scope: licet_core::model::Scope::ReadWrite,
        product_id: Some(us.product.clone().into()),
        daily_quota: None,
        created_at: u.created_at,
        revoked_at: None,
    }))
}

/// Ends a session on the server: its id is spent until the session would have ended.
pub async fn end(s: &AppState, claims: &Claims) -> crate::app::error::ApiResult<()> {
    let sid = crate::ids::unhex(&claims.sid).unwrap_or_default();
    s.store
        .spend_challenge(&sid, claims.exp, s.clock.now())
        .await?;
    Ok(())
}

/// Whether the request came over TLS ([`over_tls`]), as an extractor.
#[derive(Debug, Clone, Copy)]
pub struct Tls(pub bool);

impl FromRequestParts<AppState> for Tls {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Tls(over_tls(s, parts)))
    }
}
