//! The dashboard's sign-in and notices against a page elsewhere: a sign-in posted by another
//! site or with another browser's form is refused (login CSRF); wrong secrets for a key id from
//! one address do not lock that key out everywhere; and a notice in a link's query is shown
//! only when this server wrote it for this session.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use licet_server::Config;
use licet_server::dashboard::session::{Principal, flash_tag, issue};

use crate::common::TestApp;

/// A browser's view of the sign-in form: its token and the nonce cookie it was served with.
struct Form {
    csrf: String,
    nonce: String,
}

async fn get_form(app: &TestApp) -> Form {
    let req = Request::builder()
        .uri("/admin/sign-in")
        .body(Body::empty())
        .expect("request");
    let (s, body, headers) = app.send(req).await;
    assert_eq!(s, StatusCode::OK);
    let html = body.as_str().expect("html");
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let csrf = html[at..].split('"').next().expect("value").to_owned();
    let nonce = set_cookie(&headers, "licet_sign_in").expect("the form's cookie");
    Form { csrf, nonce }
}

fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let v = c.strip_prefix(name)?.strip_prefix('=')?;
            Some(v.split(';').next()?.to_owned())
        })
}

/// Posts a sign-in from `from` with `api_key`, the form's token, and the cookie and
/// `Sec-Fetch-Site` given.
async fn post(
    app: &TestApp,
    from: &str,
    api_key: &str,
    csrf: &str,
    nonce: Option<&str>,
    site: Option<&str>,
) -> (StatusCode, HeaderMap) {
    let body = format!("csrf={}&api_key={}", urlencode(csrf), urlencode(api_key));
    let mut req = Request::builder()
        .method("POST")
        .uri("/admin/sign-in")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(n) = nonce {
        req = req.header("cookie", format!("licet_sign_in={n}"));
    }
    if let Some(s) = site {
        req = req.header("sec-fetch-site", s);
    }
    let mut req = req.body(Body::from(body)).expect("request");
    let peer: SocketAddr = format!("{from}:40000").parse().expect("address");
    req.extensions_mut().insert(ConnectInfo(peer));
    let (s, _, headers) = app.send(req).await;
    (s, headers)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_sign_in_is_taken_only_from_this_browser_s_own_form() {
    let app = TestApp::new().await;
    let admin = app.admin.clone();
    let mine = get_form(&app).await;
    let theirs = get_form(&app).await;
    let signed_in = |h: &HeaderMap| set_cookie(h, "licet_admin").is_some_and(|v| !v.is_empty());
    // A page elsewhere posts its own form's token: no cookie (SameSite), or the attacker's.
    for (why, nonce, site) in [
        ("no cookie", None, None),
        ("another browser's form", Some(theirs.nonce.as_str()), None),
        (
            "posted by another site",
            Some(mine.nonce.as_str()),
            Some("cross-site"),
        ),
    ] {
        let (s, h) = post(&app, "10.0.0.1", &admin, &mine.csrf, nonce, site).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{why}");
        assert!(!signed_in(&h), "{why}");
    }
    let (s, h) = post(
        &app,
        "10.0.0.1",
        &admin,
        &mine.csrf,
        Some(&mine.nonce),
        Some("same-origin"),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(signed_in(&h), "its own form signs in");
}

#[tokio::test]
async fn wrong_secrets_from_one_address_do_not_lock_a_key_out_elsewhere() {
    let app = TestApp::with_config(Config {
        login_rate_limit: 10,
        ..Config::default()
    })
    .await;
    let admin = app.admin.clone();
    // The key's id is public (audit rows, page headers); its secret is not.
    let prefix = licet_server::app::credentials::KEY_PREFIX;
    let rest = admin.strip_prefix(prefix).expect("the key prefix");
    let (id_part, _) = rest.split_once('_').expect("<id>_<secret>");
    let wrong = format!("{prefix}{id_part}_{}", "x".repeat(43));
    let mut limited = false;
    for _ in 0..15 {
        let f = get_form(&app).await;
        let (s, _) = post(&app, "203.0.113.9", &wrong, &f.csrf, Some(&f.nonce), None).await;
        limited |= s == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "the guessing address is slowed down");
    let f = get_form(&app).await;
    let (s, h) = post(&app, "198.51.100.7", &admin, &f.csrf, Some(&f.nonce), None).await;
    assert_eq!(
        s,
        StatusCode::SEE_OTHER,
        "the key's owner signs in from elsewhere"
    );
    assert!(set_cookie(&h, "licet_admin").is_some());
}

#[tokio::test]
async fn a_notice_in_a_link_is_shown_only_when_this_server_wrote_it_for_this_session() {
    let app = TestApp::new().await;
    let keys = app.state.store.api_keys().await.expect("keys");
    let id = keys.first().expect("key").id.clone();
    let (cookie, claims) = issue(&app.state, Principal::Key(id.clone()));
    let (_, other) = issue(&app.state, Principal::Key(id));
    let page = |query: String| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let req = Request::builder()
                .uri(format!("/admin/products?{query}"))
                .header("cookie", format!("licet_admin={cookie}"))
                .body(Body::empty())
                .expect("request");
            let (s, body, _) = app.send(req).await;
            assert_eq!(s, StatusCode::OK);
            body.as_str().expect("html").to_owned()
        }
    };
    let text = "Call 555-0100 to renew your license";
    let q = urlencode(text);
    let forged = page(format!("refused={q}")).await;
    assert!(!forged.contains("555-0100"), "a link's own words");
    let forged = page(format!("done={q}&n=AAAA")).await;
    assert!(!forged.contains("555-0100"), "a made-up tag");
    let elsewhere = flash_tag(&app.state, &other.sid, &format!("done:{text}"));
    let forged = page(format!("done={q}&n={}", urlencode(&elsewhere))).await;
    assert!(!forged.contains("555-0100"), "another session's tag");
    let tag = flash_tag(&app.state, &claims.sid, &format!("done:{text}"));
    let genuine = page(format!("done={q}&n={}", urlencode(&tag))).await;
    assert!(
        genuine.contains("555-0100"),
        "this server's notice for this session"
    );
}
