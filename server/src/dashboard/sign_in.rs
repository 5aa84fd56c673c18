//! Signing in and out.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::page::{self, Form};
use super::session::{self, Viewer};
use super::templates;
use super::templates::Notice;
use crate::http::auth::authenticate_key;
use crate::http::extract::ClientIp;
use crate::http::state::AppState;
use crate::model::Scope;

fn form_page(s: &AppState, status: StatusCode, notice: Option<Notice>) -> Response {
    page::render(
        status,
        &templates::SignIn {
            csrf: session::sign_in_token(s),
            notice,
        },
    )
}

/// `GET /admin/sign-in`.
pub async fn form(State(s): State<AppState>) -> Response {
    form_page(&s, StatusCode::OK, None)
}

fn refuse(s: &AppState, status: StatusCode, text: &str) -> Response {
    form_page(
        s,
        status,
        Some(Notice {
            kind: "error",
            text: text.to_owned(),
        }),
    )
}

/// `POST /admin/sign-in`: an admin API key for a session. Rate limited with the other logins
/// (per address, and per key id), and audited whether it succeeds or not.
pub async fn sign_in(
    State(s): State<AppState>,
    ip: ClientIp,
    tls: session::Tls,
    form: Form,
) -> Response {
    if !form
        .get("csrf")
        .is_some_and(|t| session::sign_in_token_ok(&s, t))
    {
        return refuse(
            &s,
            StatusCode::FORBIDDEN,
            "The sign-in form was stale or not this server's (csrf_failed): try again.",
        );
    }
    let given = form.get("api_key").unwrap_or("").trim();
    // The key's id part names the account being tried; the secret never reaches a log.
    let key_id = given
        .strip_prefix(crate::http::auth::KEY_PREFIX)
        .and_then(|r| r.split_once('_'))
        .map_or("unknown", |(id, _)| id);
    if let Err(e) = s.limits.check_login(ip.0, &format!("dashboard:{key_id}")) {
        return refuse(
            &s,
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
            .audit(
                "anonymous",
                "dashboard.sign_in_refused",
                &format!("key_{key_id}"),
                ip.text(),
                json!({ "reason": "not an admin API key of this server" }),
            )
            .await;
        return refuse(
            &s,
            StatusCode::UNAUTHORIZED,
            "Not an admin API key of this server (a revoked key, or a read-only one, cannot sign in).",
        );
    };
    let (cookie, claims) = session::issue(&s, &key.id);
    if let Err(e) = s
        .audit(
            &key.id,
            "dashboard.signed_in",
            &key.id,
            ip.text(),
            json!({ "session_expires_at": claims.exp }),
        )
        .await
    {
        return page::failure(&e);
    }
    let mut r = page::see_other("/admin");
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(
        Some((&cookie, claims.exp - claims.iat)),
        tls.0,
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
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
        .audit(
            &v.caller.key.id,
            "dashboard.signed_out",
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
