//! Signing in and out.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licet_core::audit::AuditAction;
use serde_json::json;

use super::page::{self, Form};
use super::session::{self, Viewer};
use super::templates;
use super::templates::Notice;
use crate::app::state::AppState;
use crate::http::auth::authenticate_key;
use crate::http::extract::ClientIp;
use licet_core::model::Scope;

/// The sign-in form, with a token bound to a fresh nonce the browser keeps as a cookie.
fn form_page(
    s: &AppState,
    tls: session::Tls,
    status: StatusCode,
    notice: Option<Notice>,
) -> Response {
    let nonce = crate::ids::hex(&crate::ids::random_bytes::<16>());
    let mut r = page::render(
        status,
        &templates::SignIn {
            csrf: session::sign_in_token(s, &nonce),
            notice,
        },
    );
    if let Ok(v) = HeaderValue::from_str(&session::sign_in_cookie(&nonce, tls.0)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /admin/sign-in`.
pub async fn form(State(s): State<AppState>, tls: session::Tls) -> Response {
    form_page(&s, tls, StatusCode::OK, None)
}

fn refuse(s: &AppState, tls: session::Tls, status: StatusCode, text: &str) -> Response {
    form_page(
        s,
        tls,
        status,
        Some(Notice {
            kind: "error",
            text: text.to_owned(),
        }),
    )
}

/// Whether a sign-in was posted by the dashboard's own form in this browser: its token is
/// bound to the browser's sign-in cookie, and a browser that says where the post came from
/// (`Sec-Fetch-Site`) says it came from this site.
fn posted_here(s: &AppState, headers: &HeaderMap, form: &Form) -> bool {
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("same-origin");
    let nonce = session::cookie_named(headers, session::SIGN_IN_COOKIE).unwrap_or("");
    matches!(site, "same-origin" | "none")
        && form
            .get("csrf")
            .is_some_and(|t| session::sign_in_token_ok(s, t, nonce))
}

/// `POST /admin/sign-in`: an admin API key for a session. Rate limited with the other logins
/// (per address, and per key id), and audited whether it succeeds or not.
pub async fn sign_in(
    State(s): State<AppState>,
    ip: ClientIp,
    tls: session::Tls,
    headers: HeaderMap,
    form: Form,
) -> Response {
    if !posted_here(&s, &headers, &form) {
        return refuse(
            &s,
            tls,
            StatusCode::FORBIDDEN,
            "The sign-in form was stale or not this server's (csrf_failed): try again.",
        );
    }
    if form.get("email").is_some() {
        return sign_in_user(&s, ip, tls, &form).await;
    }
    let given = form.get("api_key").unwrap_or("").trim();
    // The key's id part names the account being tried; the secret never reaches a log. The
    // attempts are counted per address, and per key id from that address: an API key's
    // secret is 256 random bits, which no rate of guesses reaches, so counting a key id's
    // attempts from everywhere together would only let anyone who knows the id (it is in
    // audit rows) lock its owner out.
    let key_id = given
        .strip_prefix(crate::app::credentials::KEY_PREFIX)
        .and_then(|r| r.split_once('_'))
        .map_or("unknown", |(id, _)| id);
    let from = ip.text().unwrap_or_default();
    if let Err(e) = s
        .limits
        .check_login(ip.0, &format!("dashboard:{from}:{key_id}"))
    {
        return refuse(
            &s,
            tls,
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many attempts ({}): wait a minute.", e.code()),
        );
    }
    let key = match authenticate_key(&s, given).await {
        Ok(k) => k,
        Err(e) => return page::failure(&e),
    };
    let Some(key) = key.filter(|k| k.scope >= Scope::Admin) else {
        let _ = s
            .journal
            .audit(
                "anonymous",
                AuditAction::DashboardSignInRefused,
                &format!("key_{key_id}"),
                ip.text(),
                json!({ "reason": "not an admin API key of this server" }),
            )
            .await;
        return refuse(
            &s,
            tls,
            StatusCode::UNAUTHORIZED,
            "Not an admin API key of this server (a revoked key, or a read-only one, cannot sign in).",
        );
    };
    let (cookie, claims) = session::issue(&s, session::Principal::Key(key.id.clone()));
    if let Err(e) = s
        .journal
        .audit(
            &key.id,
            AuditAction::DashboardSignedIn,
            &key.id,
            ip.text(),
            json!({ "session_expires_at": claims.exp }),
        )
        .await
    {
        return page::failure(&e);
    }
    signed_in(&cookie, &claims, tls)
}

/// The answer to a sign-in: the session's cookie, and the overview.
fn signed_in(cookie: &str, claims: &session::Claims, tls: session::Tls) -> Response {
    let mut r = page::see_other("/admin");
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(
        Some((cookie, claims.exp - claims.iat)),
        tls.0,
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// A LicenseCM admin's e-mail and password for a session on one product they reach (named by
/// its code, or the only one). Rate limited with LicenseCM's own logins (per address and per
/// e-mail), the password checked against a decoy hash for an unknown address so that both
/// take as long, and audited whether it succeeds or not.
async fn sign_in_user(s: &AppState, ip: ClientIp, tls: session::Tls, form: &Form) -> Response {
    let email = form.get("email").unwrap_or("").trim().to_ascii_lowercase();
    let password = zeroize::Zeroizing::new(form.get("password").unwrap_or("").to_owned());
    if let Err(e) = s.limits.check_login(ip.0, &email) {
        return refuse(
            s,
            tls,
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many attempts ({}): wait a minute.", e.code()),
        );
    }
    let user = match s.store.user_by_email(&email).await {
        Ok(u) => u,
        Err(e) => return page::failure(&e.into()),
    };
    let hash = user.as_ref().map_or_else(
        || crate::http::auth::decoy_password_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let matches = tokio::task::spawn_blocking(move || {
        crate::app::credentials::verify_password(&password, &hash)
    })
    .await
    .unwrap_or(false);
    let refused = |reason: &'static str| async move {
        let _ = s
            .journal
            .audit(
                "anonymous",
                AuditAction::DashboardSignInRefused,
                &format!("email:{email}"),
                ip.text(),
                json!({ "reason": reason }),
            )
            .await;
    };
    let Some(user) =
        user.filter(|u| matches && u.is_active && u.role == licet_core::model::Role::Admin)
    else {
        refused("not an active LicenseCM admin with this password").await;
        return refuse(
            s,
            tls,
            StatusCode::UNAUTHORIZED,
            "Not an active LicenseCM admin with this e-mail and password (a LicenseCM user who is not an admin cannot sign in).",
        );
    };
    let reachable: Vec<licet_core::model::Product> = match s.store.products().await {
        Ok(ps) => ps.into_iter().filter(|p| user.reaches(p)).collect(),
        Err(e) => return page::failure(&e.into()),
    };
    let wanted = form.get("product").map(str::trim);
    let product = match wanted {
        Some(code) => reachable.iter().find(|p| p.code == code || p.id == code),
        None if reachable.len() == 1 => reachable.first(),
        None => None,
    };
    let Some(product) = product else {
        refused("no product chosen that the admin reaches").await;
        let mut codes: Vec<&str> = reachable.iter().map(|p| p.code.as_str()).collect();
        codes.sort_unstable();
        let text = match (wanted, codes.is_empty()) {
            (_, true) => "This LicenseCM admin reaches no product yet.".to_owned(),
            (Some(_), false) => format!(
                "That product is not one this admin reaches: choose one of {}.",
                codes.join(", ")
            ),
            (None, false) => format!(
                "Choose the product to work on: one of {}.",
                codes.join(", ")
            ),
        };
        return refuse(s, tls, StatusCode::UNPROCESSABLE_ENTITY, &text);
    };
    let us = session::UserSession {
        id: user.id.clone(),
        product: product.id.to_string(),
    };
    let (cookie, claims) = session::issue(s, session::Principal::User(us));
    let actor = format!("user:{}", user.id);
    if let Err(e) = s
        .journal
        .audit(
            &actor,
            AuditAction::DashboardSignedIn,
            &actor,
            ip.text(),
            json!({ "session_expires_at": claims.exp, "product_id": product.id }),
        )
        .await
    {
        return page::failure(&e);
    }
    signed_in(&cookie, &claims, tls)
}

/// `POST /admin/sign-out`: ends the session on the server, then in the browser.
pub async fn sign_out(State(s): State<AppState>, ip: ClientIp, v: Viewer, form: Form) -> Response {
    if let Err(r) = v.check(form) {
        return r.into_response();
    }
    if let Err(e) = session::end(&s, &v.session).await {
        return page::failure(&e);
    }
    let _ = s
        .journal
        .audit(
            &v.caller.key.id,
            AuditAction::DashboardSignedOut,
            &v.caller.key.id,
            ip.text(),
            json!({}),
        )
        .await;
    let mut r = page::see_other("/admin/sign-in");
    if let Ok(h) = HeaderValue::from_str(&session::set_cookie(None, v.tls)) {
        r.headers_mut().insert(header::SET_COOKIE, h);
    }
    r
}
