//! The admin dashboard in a real browser: headless Chromium driven over WebDriver
//! (fantoccini), against the server on a loopback port.
//!
//! The WebDriver is `LICET_TEST_WEBDRIVER_URL` (`.ci/run` starts chromedriver), or, without
//! it, a chromedriver this test starts from `PATH`. Without either the tests fail: they are
//! never skipped. Each test saves a screenshot under `target/tmp/screenshots/`.

use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::common::{TestApp, serve};

/// A WebDriver to talk to, and the chromedriver behind it if this test started one.
struct Driver {
    url: String,
    child: Option<std::process::Child>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn driver() -> Driver {
    if let Ok(url) = std::env::var("LICET_TEST_WEBDRIVER_URL") {
        return Driver { url, child: None };
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect(
            "the dashboard tests need chromedriver (Debian: chromium and chromium-driver) or \
             LICET_TEST_WEBDRIVER_URL",
        );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver {
        url,
        child: Some(child),
    }
}

/// A headless Chromium at 1280×800.
async fn browser(d: &Driver) -> Client {
    let binary =
        std::env::var("LICET_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": binary,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,800"],
        },
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&d.url)
        .await
        .expect("a WebDriver session")
}

/// Saves a screenshot of the page as `<backend>-<name>.png`.
async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let backend = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .and_then(|s| s.split('-').next().map(str::to_owned))
        .unwrap_or_else(|| "test".into());
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    std::fs::write(dir.join(format!("{backend}-{name}.png")), png).expect("write screenshot");
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn fill(c: &Client, css: &str, value: &str) {
    let e = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    e.clear().await.expect("clear");
    e.send_keys(value).await.expect("type");
}

/// Clicks, and when the click loads another page (a link, a form), waits until it has.
async fn click(c: &Client, css: &str) {
    let before = c.find(Locator::Css("html")).await.expect("a page");
    let target = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    let navigates = target
        .find(Locator::XPath(
            "ancestor-or-self::*[self::a[@href] or self::form or self::button[@type='submit']]",
        ))
        .await
        .is_ok();
    target
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
    if !navigates {
        return;
    }
    // The old document's root goes stale once the new page replaces it.
    for _ in 0..200 {
        if before.tag_name().await.is_err() {
            let ready = c.execute("return document.readyState", vec![]).await.ok();
            if ready.as_ref().and_then(Value::as_str) == Some("complete") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("clicking {css} did not load a page");
}

/// Toggles a checkbox (a click that loads no page).
async fn toggle(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn sign_in(c: &Client, base: &str, key: &str) {
    c.goto(&format!("{base}/admin")).await.expect("goto");
    assert!(
        c.current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/admin/sign-in"),
        "a visitor is sent to sign in"
    );
    fill(c, "#api_key", key).await;
    click(c, "#sign-in").await;
}

/// The session cookie the browser holds, as a `Cookie` header value.
async fn session_cookie(c: &Client) -> String {
    let cookie = c
        .get_named_cookie("licet_admin")
        .await
        .expect("the session cookie");
    format!("licet_admin={}", cookie.value())
}

/// The CSRF token of the page the browser shows.
async fn csrf_of_page(c: &Client) -> String {
    c.find(Locator::Css("input[name=csrf]"))
        .await
        .expect("a form with a CSRF token")
        .attr("value")
        .await
        .expect("attr")
        .expect("value")
}

/// A form post outside the browser: (status, location, body).
fn post_form(url: &str, cookie: &str, body: &str) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut r = agent
        .post(url)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .send(body)
        .expect("transport");
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (
        r.status().as_u16(),
        location,
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

async fn license_status(app: &TestApp, id: &str) -> String {
    let (_, l) = app.admin("GET", &format!("/v1/licenses/{id}"), None).await;
    l["status"].as_str().unwrap_or("").to_owned()
}

/// A license of a new product, its page open in a signed-in browser, and the session's
/// cookie and CSRF token as a script outside the browser would replay them.
struct Scene {
    app: TestApp,
    id: String,
    base: String,
    d: Driver,
    c: Client,
    cookie: String,
    csrf: String,
}

async fn on_a_license_page(code: &str) -> Scene {
    let app = TestApp::new().await;
    let (p, _) = app.product(code, json!({})).await;
    let l = app.license(&p, json!({})).await;
    let id = l["id"].as_str().expect("id").to_owned();
    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;
    sign_in(&c, &base, &app.admin).await;
    c.goto(&format!("{base}/admin/licenses/{id}"))
        .await
        .expect("goto");
    let cookie = session_cookie(&c).await;
    let csrf = csrf_of_page(&c).await;
    Scene {
        app,
        id,
        base,
        d,
        c,
        cookie,
        csrf,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_walk_from_sign_in_to_a_revocation() {
    let app = TestApp::new().await;
    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;

    sign_in(&c, &base, &app.admin).await;
    assert_eq!(text_of(&c, "h1").await, "Overview");
    assert!(text_of(&c, "header .who").await.contains("bootstrap admin"));

    // A product, a policy and a license, through the forms.
    c.goto(&format!("{base}/admin/products"))
        .await
        .expect("goto");
    fill(&c, "#prod-code", "walk-pro").await;
    fill(&c, "#prod-name", "Walk Pro").await;
    click(&c, "#create-product").await;
    assert!(text_of(&c, "#notice").await.contains("walk-pro created"));
    click(&c, "section details summary").await;
    let pid = app.admin("GET", "/v1/products", None).await.1["items"][0]["id"]
        .as_str()
        .expect("product id")
        .to_owned();
    fill(&c, &format!("#pol-name-{pid}"), "standard").await;
    fill(&c, &format!("#pol-max-{pid}"), "2").await;
    click(&c, "#create-policy-walk-pro").await;
    assert!(
        text_of(&c, "#notice")
            .await
            .contains("Policy standard added"),
        "{}",
        text_of(&c, "main").await
    );
    screenshot(&c, "products").await;
    c.goto(&format!("{base}/admin/licenses"))
        .await
        .expect("goto");
    click(&c, "details.card summary").await;
    click(&c, "#create-license").await;
    assert_eq!(text_of(&c, "#notice").await, "License created.");
    let key = text_of(&c, "#license-key").await;
    let license_id =
        c.current_url().await.expect("url").path()["/admin/licenses/".len()..].to_owned();

    // A machine activates through the API.
    let (s, v, _) = app.activate(&key, "walk-machine-0001").await;
    assert_eq!(s.as_u16(), 201, "{v}");

    // Found by the last four characters of its key, in lower case as read out on the phone.
    c.goto(&format!("{base}/admin/licenses"))
        .await
        .expect("goto");
    fill(&c, "#q", &key[key.len() - 4..].to_lowercase()).await;
    click(&c, "#search").await;
    let rows = c
        .find_all(Locator::Css("#licenses tbody a"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1, "one license ends so");
    assert_eq!(rows[0].text().await.expect("text"), key);
    screenshot(&c, "licenses").await;
    click(&c, "#licenses tbody a").await;
    let machines = text_of(&c, "#machines").await;
    assert!(machines.contains("walk-machine-0001"), "{machines}");
    assert!(machines.contains("alive"), "{machines}");
    assert!(text_of(&c, "#timeline").await.contains("machine.activated"));
    screenshot(&c, "license").await;

    // Revoked, after a confirmation.
    let before = app.admin("GET", "/v1/revocations", None).await.1["sequence"]
        .as_u64()
        .expect("sequence");
    click(&c, "#action-revoke").await;
    assert_eq!(text_of(&c, "h1").await, "Revoke this license?");
    assert_eq!(
        license_status(&app, &license_id).await,
        "active",
        "nothing happens before the confirmation"
    );
    click(&c, "#confirm").await;
    assert!(text_of(&c, "#notice").await.starts_with("Revoked"));
    assert_eq!(text_of(&c, "#license-status").await, "revoked");
    assert!(text_of(&c, "#timeline").await.contains("license.revoked"));

    // The revocation list page shows the new sequence, and /v1/revocations holds the license.
    c.goto(&format!("{base}/admin/revocations"))
        .await
        .expect("goto");
    let shown: u64 = text_of(&c, "#revocation-sequence")
        .await
        .parse()
        .expect("a number");
    assert!(shown > before, "the list moved on: {before} → {shown}");
    screenshot(&c, "revocations").await;
    let (status, list, _) = app
        .call("GET", "/v1/revocations?format=json", None, None)
        .await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(list["sequence"].as_u64(), Some(shown));
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(list["list"].as_str().expect("list"))
        .expect("base64url");
    let keys = app
        .state
        .tokens
        .keys()
        .verifying_keys(app.state.clock.now());
    let verified =
        licet_verifier::RevocationList::verify(&bytes, &keys[..], None).expect("a signed list");
    assert!(verified.contains_license(&license_id));

    // The audit log names the key that acted.
    let (_, audit) = app
        .admin("GET", "/v1/audit?action=license.revoked", None)
        .await;
    let admin_id = key_id_of(&app.admin);
    assert_eq!(audit["items"][0]["actor"], admin_id);
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_csrf_token_is_refused() {
    let Scene {
        app,
        id,
        base,
        d,
        c,
        cookie,
        csrf,
    } = on_a_license_page("csrf-pro").await;
    let id = id.as_str();
    let url = format!("{base}/admin/licenses/{id}/suspend");
    for body in [String::new(), "csrf=forged".to_owned()] {
        let (status, _, page) = post_form(&url, &cookie, &body);
        assert_eq!(status, 403, "{body:?}");
        assert!(page.contains("csrf_failed"), "{page}");
        assert_eq!(license_status(&app, id).await, "active");
    }
    // Another session's token is not this one's.
    let other = {
        let c2 = browser(&d).await;
        sign_in(&c2, &base, &app.admin).await;
        let t = csrf_of_page(&c2).await;
        c2.close().await.expect("close");
        t
    };
    assert_ne!(other, csrf);
    let (status, _, _) = post_form(&url, &cookie, &format!("csrf={}", other));
    assert_eq!(status, 403);
    // With the token, the same post acts.
    let (status, location, _) = post_form(&url, &cookie, &format!("csrf={csrf}"));
    assert_eq!(status, 303);
    assert!(location.contains("done="), "{location}");
    assert_eq!(license_status(&app, id).await, "suspended");
    c.goto(&format!("{base}/admin/licenses/{id}"))
        .await
        .expect("goto");
    screenshot(&c, "csrf").await;
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_limited_key_cannot_open_another_product_s_license() {
    let app = TestApp::new().await;
    let (mine, _) = app.product("mine-pro", json!({})).await;
    let (theirs, _) = app.product("theirs-pro", json!({})).await;
    let my_license = app.license(&mine, json!({})).await;
    let their_license = app.license(&theirs, json!({})).await;
    let (s, k) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "mine support", "scope": "admin", "product_id": mine["id"] })),
        )
        .await;
    assert_eq!(s.as_u16(), 201, "{k}");
    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;
    sign_in(&c, &base, k["key"].as_str().expect("key")).await;
    assert!(
        text_of(&c, "#limited")
            .await
            .contains(mine["id"].as_str().expect("id")),
        "the dashboard shows that the key is limited"
    );
    // Its own product's license opens; the other's, by URL, is not found.
    c.goto(&format!(
        "{base}/admin/licenses/{}",
        my_license["id"].as_str().expect("id")
    ))
    .await
    .expect("goto");
    assert_eq!(
        text_of(&c, "#license-key").await,
        my_license["key"].as_str().expect("key")
    );
    c.goto(&format!(
        "{base}/admin/licenses/{}",
        their_license["id"].as_str().expect("id")
    ))
    .await
    .expect("goto");
    // Waits for the failure page's heading: once, on a busy machine, the source read right
    // after this navigation came back empty.
    let heading = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("main h1"))
        .await
        .expect("the failure page")
        .text()
        .await
        .expect("text");
    assert!(heading.starts_with("404"), "{heading}");
    let page = c.source().await.expect("source");
    assert!(!page.contains(their_license["key"].as_str().expect("key")));
    screenshot(&c, "limited").await;
    // Nor is it listed, even when searched for by its key.
    c.goto(&format!(
        "{base}/admin/licenses?q={}",
        their_license["key"].as_str().expect("key")
    ))
    .await
    .expect("goto");
    assert!(
        text_of(&c, "#licenses")
            .await
            .contains("No license matches")
    );
    // Nor can it act on it.
    let cookie = session_cookie(&c).await;
    c.goto(&format!("{base}/admin/licenses"))
        .await
        .expect("goto");
    let csrf = csrf_of_page(&c).await;
    let (status, location, _) = post_form(
        &format!(
            "{base}/admin/licenses/{}/suspend",
            their_license["id"].as_str().expect("id")
        ),
        &cookie,
        &format!("csrf={csrf}"),
    );
    assert_eq!(status, 303);
    assert!(location.contains("refused="), "{location}");
    assert_eq!(
        license_status(&app, their_license["id"].as_str().expect("id")).await,
        "active"
    );
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_session_cannot_act() {
    let Scene {
        app,
        id,
        base,
        d: _driver,
        c,
        cookie,
        csrf,
    } = on_a_license_page("out-pro").await;
    let id = id.as_str();
    click(&c, "#sign-out").await;
    assert!(
        c.current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/admin/sign-in")
    );
    screenshot(&c, "signed-out").await;
    // The old cookie and token, replayed: sent to sign in, and nothing changes.
    let (status, location, _) = post_form(
        &format!("{base}/admin/licenses/{id}/suspend"),
        &cookie,
        &format!("csrf={csrf}"),
    );
    assert_eq!((status, location.as_str()), (303, "/admin/sign-in"));
    assert_eq!(license_status(&app, id).await, "active");
    let (_, audit) = app.admin("GET", "/v1/audit?action=dashboard.", None).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["dashboard.signed_in", "dashboard.signed_out"]);
    // A wrong key is refused, audited, and gets no cookie.
    fill(&c, "#api_key", "lk_nothere_0000").await;
    click(&c, "#sign-in").await;
    assert!(
        text_of(&c, "#notice")
            .await
            .contains("Not an admin API key")
    );
    assert!(c.get_named_cookie("licet_admin").await.is_err());
    c.close().await.expect("close");
}

/// `GET url` with a bearer key: the status.
fn get_with_key(url: &str, key: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .get(url)
        .header("authorization", &format!("Bearer {key}"))
        .call()
        .expect("transport");
    (
        r.status().as_u16(),
        r.body_mut().read_json().unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_shown_once_rotated_and_revoked_and_the_audit_log_finds_it() {
    let app = TestApp::new().await;
    let (mine, _) = app.product("desk-pro", json!({})).await;
    app.product("other-pro", json!({})).await;
    let pid = mine["id"].as_str().expect("id");
    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;
    sign_in(&c, &base, &app.admin).await;
    c.goto(&format!("{base}/admin/api-keys"))
        .await
        .expect("goto");
    fill(&c, "#key-name", "support desk").await;
    c.find(Locator::Css("#key-scope"))
        .await
        .expect("scope")
        .select_by_value("admin")
        .await
        .expect("select");
    c.find(Locator::Css("#key-product"))
        .await
        .expect("product")
        .select_by_value(pid)
        .await
        .expect("select");
    click(&c, "#create-key").await;
    let secret = text_of(&c, "#new-secret").await;
    assert!(secret.starts_with("lk_"), "{secret}");
    assert!(
        !c.current_url()
            .await
            .expect("url")
            .as_str()
            .contains(&secret),
        "a secret never goes in a URL"
    );
    screenshot(&c, "api-keys").await;
    // It works, within its product, and the page counts its use.
    let (status, list) = get_with_key(&format!("{base}/v1/products"), &secret);
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    c.goto(&format!("{base}/admin/api-keys"))
        .await
        .expect("goto");
    assert!(
        c.find(Locator::Css("#new-secret")).await.is_err(),
        "shown once"
    );
    let key_id = key_id_of(&secret);
    let row = text_of(&c, "#api-keys").await;
    assert!(row.contains(&key_id) && row.contains(pid), "{row}");

    // Rotated: a new secret, the old one refused.
    click(
        &c,
        &format!("form[action='/admin/api-keys/{key_id}/rotate'] button"),
    )
    .await;
    assert_eq!(text_of(&c, "h1").await, "Rotate this API key?");
    click(&c, "#confirm").await;
    let rotated = text_of(&c, "#new-secret").await;
    assert_ne!(rotated, secret);
    assert_eq!(get_with_key(&format!("{base}/v1/products"), &secret).0, 401);
    assert_eq!(
        get_with_key(&format!("{base}/v1/products"), &rotated).0,
        200
    );

    // Revoked: refused too.
    let new_id = key_id_of(&rotated);
    click(
        &c,
        &format!("form[action='/admin/api-keys/{new_id}/revoke'] button"),
    )
    .await;
    click(&c, "#confirm").await;
    assert_eq!(text_of(&c, "#notice").await, "Key revoked.");
    assert_eq!(
        get_with_key(&format!("{base}/v1/products"), &rotated).0,
        401
    );

    // The audit log, filtered by an action prefix and the actor, shows the three steps.
    c.goto(&format!("{base}/admin/audit")).await.expect("goto");
    fill(&c, "#action", "api_key.").await;
    fill(&c, "#actor", &key_id_of(&app.admin)).await;
    click(&c, "#filter").await;
    let log = text_of(&c, "#audit").await;
    for action in ["api_key.created", "api_key.rotated", "api_key.revoked"] {
        assert!(log.contains(action), "{action} in {log}");
    }
    assert!(!log.contains("dashboard.signed_in"), "the prefix filters");
    screenshot(&c, "audit").await;
    fill(&c, "#actor", "key_nobody").await;
    click(&c, "#filter").await;
    assert!(text_of(&c, "#audit").await.contains("No entry matches"));
    c.close().await.expect("close");
}

/// The id of a full API key.
/// Every scope the key form offers makes a key of that scope (the form once offered a value
/// the API does not take, so that choosing it was refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scope_the_key_form_offers_makes_a_key_of_that_scope() {
    let app = TestApp::new().await;
    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;
    sign_in(&c, &base, &app.admin).await;
    c.goto(&format!("{base}/admin/api-keys"))
        .await
        .expect("goto");
    let mut offered = Vec::new();
    for o in c
        .find_all(Locator::Css("#key-scope option"))
        .await
        .expect("options")
    {
        offered.push(o.attr("value").await.expect("value").expect("a value"));
    }
    assert_eq!(offered.len(), 3, "{offered:?}");
    for scope in offered {
        c.goto(&format!("{base}/admin/api-keys"))
            .await
            .expect("goto");
        fill(&c, "#key-name", &format!("{scope} key")).await;
        c.find(Locator::Css("#key-scope"))
            .await
            .expect("scope")
            .select_by_value(&scope)
            .await
            .expect("select");
        click(&c, "#create-key").await;
        let secret = text_of(&c, "#new-secret").await;
        let stored = app
            .state
            .store
            .api_key(&key_id_of(&secret))
            .await
            .expect("store")
            .expect("the key");
        assert_eq!(
            serde_json::to_value(stored.scope).expect("json"),
            json!(scope),
            "the key has the scope chosen"
        );
    }
    c.close().await.expect("close");
}

fn key_id_of(full: &str) -> String {
    format!(
        "key_{}",
        full.trim_start_matches("lk_")
            .split('_')
            .next()
            .expect("id")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_desk_answers_a_request_file_and_takes_a_receipt() {
    use licet_verifier::offline::{LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE};
    use licet_verifier::text::{decode_armor, encode_armor};
    let app = TestApp::new().await;
    let (p, _) = app.product("air", json!({ "max_machines": 1 })).await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let dirs = tempfile::tempdir().expect("tmp");
    let machine = super::offline::client(&app, dirs.path(), super::offline::machine("desk"));
    let request = machine.offline_request(key, None).expect("request");
    let file = dirs.path().join("request.txt");
    std::fs::write(&file, encode_armor(&request, LABEL_REQUEST)).expect("write");
    let seats = || async {
        app.admin(
            "GET",
            &format!("/v1/licenses/{}/machines", l["id"].as_str().expect("id")),
            None,
        )
        .await
        .1["items"]
            .as_array()
            .map_or(0, Vec::len)
    };

    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;
    sign_in(&c, &base, &app.admin).await;
    c.goto(&format!("{base}/admin/offline"))
        .await
        .expect("goto");
    c.find(Locator::Css("#request-file"))
        .await
        .expect("file input")
        .send_keys(file.to_str().expect("utf-8"))
        .await
        .expect("choose the file");
    click(&c, "#answer-request").await;
    assert_eq!(text_of(&c, "#answer-h").await, "Activated");
    assert_eq!(seats().await, 1);
    let armored = c
        .find(Locator::Css("#response-text"))
        .await
        .expect("response")
        .prop("value")
        .await
        .expect("value")
        .expect("text");
    let href = c
        .find(Locator::Css("#download-response"))
        .await
        .expect("link")
        .attr("href")
        .await
        .expect("attr")
        .expect("href");
    assert!(href.starts_with("data:text/plain"), "{href}");
    screenshot(&c, "offline").await;
    let mut buf = vec![0u8; armored.len()];
    let response = decode_armor(&armored, LABEL_RESPONSE, &mut buf).expect("an armored response");
    machine.offline_install(response).expect("installs");
    assert!(machine.status().is_licensed());

    // The receipt comes back as pasted text: the seat is freed, the token revoked.
    let receipt = encode_armor(
        &machine.offline_deactivate().expect("receipt"),
        LABEL_RECEIPT,
    );
    fill(&c, "#receipt-text", &receipt).await;
    click(&c, "#take-receipt").await;
    assert_eq!(text_of(&c, "#back-h").await, "Seat freed");
    assert_eq!(seats().await, 0);
    // The same receipt again: refused with its code.
    fill(&c, "#receipt-text", &receipt).await;
    click(&c, "#take-receipt").await;
    assert!(text_of(&c, "#notice").await.contains("receipt_replayed"));
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_added_tested_and_a_failed_delivery_resent() {
    let app = super::webhooks::app().await;
    // The receiver fails the first delivery, then takes everything.
    let r = crate::common::receiver(vec![503]);
    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;
    sign_in(&c, &base, &app.admin).await;
    c.goto(&format!("{base}/admin/webhooks"))
        .await
        .expect("goto");
    fill(&c, "#hook-url", &r.url).await;
    click(&c, "#create-hook").await;
    assert!(text_of(&c, "#new-secret").await.starts_with("whsec_"));
    let (_, hooks) = app.admin("GET", "/v1/webhooks", None).await;
    let id = hooks["items"][0]["id"].as_str().expect("id").to_owned();

    click(&c, &format!("#test-{id}")).await;
    assert_eq!(text_of(&c, "#notice").await, "Test delivery sent: pending.");
    let table = text_of(&c, &format!("#deliveries-{id}")).await;
    assert!(
        table.contains("webhook.test") && table.contains("HTTP 503"),
        "{table}"
    );
    screenshot(&c, "webhooks").await;

    click(&c, &format!("#deliveries-{id} .resend")).await;
    assert_eq!(text_of(&c, "#notice").await, "Sent again: delivered.");
    let got = crate::common::deliveries(&r);
    assert_eq!(got.len(), 2, "the first attempt and the resend");
    assert_eq!(got[0].1, got[1].1, "the same body again");
    let (_, audit) = app
        .admin("GET", "/v1/audit?action=webhook.resent", None)
        .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1));
    c.close().await.expect("close");
}

/// The `data-value`s of a chart's bars, oldest day first.
async fn bars_of(c: &Client, chart: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for b in c
        .find_all(Locator::Css(&format!("#{chart} rect.bar")))
        .await
        .expect("bars")
    {
        let v = b
            .attr("data-value")
            .await
            .expect("attr")
            .unwrap_or_default();
        out.push(v.parse().expect("a count"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_charts_what_was_counted_and_lists_what_expires() {
    let app = TestApp::new().await;
    let (p, _) = app.product("chartco", json!({ "max_machines": 1 })).await;
    let now = crate::common::T0;
    let soon = app
        .license(&p, json!({ "expires_at": now + 2 * 86_400 }))
        .await;
    let key = soon["key"].as_str().expect("key");
    // Yesterday a validation; today an activation, two validations and two refusals (a
    // second machine, and a key nobody issued).
    app.call(
        "POST",
        "/v1/client/validate",
        None,
        Some(json!({ "key": key })),
    )
    .await;
    app.clock.advance(86_400);
    let (s, v, _) = app.activate(key, "m-1").await;
    assert_eq!(s.as_u16(), 201, "{v}");
    let (s, v, _) = app.activate(key, "m-2").await;
    assert_eq!(v["error"]["code"], json!("too_many_machines"), "{s} {v}");
    for k in [key, "NOBODY-S-KEY"] {
        app.call(
            "POST",
            "/v1/client/validate",
            None,
            Some(json!({ "key": k })),
        )
        .await;
    }
    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;
    sign_in(&c, &base, &app.admin).await;
    assert_eq!(text_of(&c, "h1").await, "Overview");
    assert_eq!(text_of(&c, "#count-products").await, "1");
    assert_eq!(text_of(&c, "#count-active").await, "1");
    assert_eq!(text_of(&c, "#count-seats").await, "1");
    let validations = bars_of(&c, "chart-validations").await;
    assert_eq!(validations.len(), 30);
    assert_eq!(
        validations[28..],
        [1, 2],
        "yesterday's and today's: {validations:?}"
    );
    assert_eq!(validations.iter().sum::<u64>(), 3, "{validations:?}");
    assert_eq!(
        bars_of(&c, "chart-activations").await.iter().sum::<u64>(),
        1
    );
    let refusals = bars_of(&c, "chart-refusals").await;
    assert_eq!(refusals.last(), Some(&2), "{refusals:?}");
    let table = text_of(&c, "#refusals").await;
    assert!(table.contains("too_many_machines"), "{table}");
    assert!(table.contains("not_found"), "{table}");
    let expiring = text_of(&c, "#expiring").await;
    assert!(expiring.contains(key), "{expiring}");
    assert!(expiring.contains("in 1 d"), "a relative hint: {expiring}");
    // The charts' tooltips name the day and the count.
    let title = c
        .find(Locator::Css(
            "#chart-validations rect.bar:last-of-type title",
        ))
        .await
        .expect("a tooltip")
        .html(true)
        .await
        .expect("text");
    assert!(title.ends_with(": 2"), "{title}");
    screenshot(&c, "overview").await;
    // The license's page is one click away.
    click(&c, "#expiring a").await;
    assert!(
        c.current_url()
            .await
            .expect("url")
            .path()
            .ends_with(soon["id"].as_str().expect("id"))
    );
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_license_s_timeline_shows_its_newest_hundred_entries() {
    let s = on_a_license_page("timeline").await;
    // 1 creation + 120 changes: the page shows the last 100, the newest at the top.
    for i in 0..60 {
        for action in ["suspend", "reinstate"] {
            let (st, v) = s
                .app
                .admin("POST", &format!("/v1/licenses/{}/{action}", s.id), None)
                .await;
            assert_eq!(st.as_u16(), 200, "{i} {action}: {v}");
        }
    }
    let (st, v) = s
        .app
        .admin("POST", &format!("/v1/licenses/{}/suspend", s.id), None)
        .await;
    assert_eq!(st.as_u16(), 200, "{v}");
    s.c.goto(&format!("{}/admin/licenses/{}", s.base, s.id))
        .await
        .expect("goto");
    let entries =
        s.c.find_all(Locator::Css("#timeline > li"))
            .await
            .expect("entries");
    assert_eq!(entries.len(), 100);
    let first = entries[0].text().await.expect("text");
    assert!(first.contains("license.suspended"), "{first}");
    let last = entries[99].text().await.expect("text");
    assert!(
        !last.contains("license.created"),
        "the oldest entry is beyond the newest hundred: {last}"
    );
    let _ = &s.d;
    s.c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_all_machines_asks_first_then_frees_every_seat() {
    let s = on_a_license_page("resetco").await;
    let (_, l) = s
        .app
        .admin("GET", &format!("/v1/licenses/{}", s.id), None)
        .await;
    let key = l["key"].as_str().expect("key");
    // The license's policy allows one machine.
    let (st, v, _) = s.app.activate(key, "desk-1").await;
    assert_eq!(st.as_u16(), 201, "{v}");
    s.c.goto(&format!("{}/admin/licenses/{}", s.base, s.id))
        .await
        .expect("goto");
    assert!(text_of(&s.c, "#machines-h").await.contains("(1)"));
    click(&s.c, "#action-reset-machines").await;
    assert!(text_of(&s.c, "h1").await.contains("every machine"));
    let (_, left) = s
        .app
        .admin("GET", &format!("/v1/licenses/{}/machines", s.id), None)
        .await;
    assert_eq!(
        left["items"].as_array().map(Vec::len),
        Some(1),
        "nothing before the confirmation"
    );
    click(&s.c, "#confirm").await;
    assert!(
        text_of(&s.c, ".notice")
            .await
            .contains("Every machine deactivated")
    );
    assert!(text_of(&s.c, "#machines-h").await.contains("(0)"));
    let (_, left) = s
        .app
        .admin("GET", &format!("/v1/licenses/{}/machines", s.id), None)
        .await;
    assert_eq!(left["items"], json!([]));
    let (_, audit) = s
        .app
        .admin("GET", "/v1/audit?action=license.machines_reset", None)
        .await;
    assert_eq!(
        audit["items"][0]["actor"],
        json!(key_id_of(&s.app.admin)),
        "{audit}"
    );
    screenshot(&s.c, "license-reset").await;
    let _ = &s.d;
    s.c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_and_policies_are_edited_through_their_forms() {
    let app = TestApp::new().await;
    let (p, pol) = app
        .product(
            "editco",
            json!({ "max_machines": 1, "duration": 86_400, "offline_lease": 3_600 }),
        )
        .await;
    let (pid, polid) = (
        p["id"].as_str().expect("id").to_owned(),
        pol["id"].as_str().expect("id").to_owned(),
    );
    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;
    sign_in(&c, &base, &app.admin).await;
    c.goto(&format!("{base}/admin/products"))
        .await
        .expect("goto");
    click(&c, "#edit-product-editco").await;
    assert!(text_of(&c, "h1").await.contains("editco"));
    // A key format too weak is refused by the API, shown, and changes nothing.
    fill(&c, "#key_format", "XXXX").await;
    fill(&c, "#name", "Edited Co").await;
    click(&c, "#save-product").await;
    assert!(text_of(&c, ".notice").await.contains("invalid_field"));
    let (_, stored) = app.admin("GET", &format!("/v1/products/{pid}"), None).await;
    assert_eq!(stored["name"], json!("editco"), "nothing saved: {stored}");
    // Now a valid change: the name, the families.
    fill(&c, "#key_format", "XXXXXXXX-XXXXXXXX-XXXXXXXX").await;
    fill(&c, "#name", "Edited Co").await;
    toggle(&c, "#family-wemx").await;
    toggle(&c, "#family-licensecm").await;
    click(&c, "#save-product").await;
    assert!(text_of(&c, ".notice").await.contains("saved"));
    let (_, stored) = app.admin("GET", &format!("/v1/products/{pid}"), None).await;
    assert_eq!(stored["name"], json!("Edited Co"));
    assert_eq!(stored["key_format"], json!("XXXXXXXX-XXXXXXXX-XXXXXXXX"));
    assert_eq!(stored["compat"]["wemx"], json!(false), "{stored}");
    assert_eq!(stored["compat"]["licensecm"], json!(true), "{stored}");
    assert_eq!(stored["compat"]["faxstore"], json!(true), "{stored}");
    assert_eq!(stored["default_policy_id"], json!(polid));

    // The policy: seats, entitlements, the duration and the lease unset, borrowing on.
    click(&c, &format!("#edit-policy-{polid}")).await;
    assert_eq!(
        c.find(Locator::Css("#offline_lease"))
            .await
            .expect("field")
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("3600"),
        "the form shows what is stored"
    );
    fill(&c, "#max_machines", "5").await;
    fill(&c, "#entitlements", "pro, export").await;
    fill(&c, "#duration", "").await;
    fill(&c, "#offline_lease", "").await;
    fill(&c, "#max_borrow", "7200").await;
    toggle(&c, "#floating").await;
    screenshot(&c, "policy-edit").await;
    click(&c, "#save-policy").await;
    assert!(text_of(&c, ".notice").await.contains("saved"));
    let (_, stored) = app
        .admin("GET", &format!("/v1/policies/{polid}"), None)
        .await;
    assert_eq!(stored["max_machines"], json!(5), "{stored}");
    assert_eq!(stored["entitlements"], json!(["pro", "export"]));
    assert_eq!(stored["duration"], Value::Null, "{stored}");
    assert_eq!(stored["offline_lease"], Value::Null, "{stored}");
    assert_eq!(stored["max_borrow"], json!(7200));
    assert_eq!(stored["floating"], json!(true));
    // Both changes are audited with the dashboard's key as the actor.
    let (_, audit) = app
        .admin("GET", "/v1/audit?action=policy.updated", None)
        .await;
    assert_eq!(
        audit["items"][0]["actor"],
        json!(key_id_of(&app.admin)),
        "{audit}"
    );
    c.close().await.expect("close");
}

/// A page fetched outside the browser with the session's cookie: (status, headers, body).
fn get_with_cookie(url: &str, cookie: &str) -> (u16, Option<String>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut r = agent
        .get(url)
        .header("cookie", cookie)
        .call()
        .expect("transport");
    let disposition = r
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        r.status().as_u16(),
        disposition,
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_machine_s_license_file_can_be_downloaded_again() {
    use licet_verifier::offline::{LABEL_REQUEST, LABEL_RESPONSE};
    use licet_verifier::text::{decode_armor, encode_armor};
    let app = TestApp::new().await;
    let (p, _) = app.product("air", json!({ "max_machines": 2 })).await;
    let l = app.license(&p, json!({})).await;
    let (key, lid) = (
        l["key"].as_str().expect("key"),
        l["id"].as_str().expect("id"),
    );
    let dirs = tempfile::tempdir().expect("tmp");
    let machine = super::offline::client(&app, dirs.path(), super::offline::machine("lost"));
    let request = machine.offline_request(key, None).expect("request");
    let (s, answered) = app
        .admin(
            "POST",
            "/v1/offline/activations",
            Some(json!({ "request": encode_armor(&request, LABEL_REQUEST) })),
        )
        .await;
    assert_eq!(s.as_u16(), 201, "{answered}");
    let offline_id = answered["machine_id"].as_str().expect("id").to_owned();
    let (s, v, _) = app.activate(key, "online-1").await;
    assert_eq!(s.as_u16(), 201, "{v}");
    let (_, machines) = app
        .admin("GET", &format!("/v1/licenses/{lid}/machines"), None)
        .await;
    let online_id = machines["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["fingerprint"] == json!("online-1"))
        .and_then(|m| m["id"].as_str())
        .expect("the online machine")
        .to_owned();

    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;
    sign_in(&c, &base, &app.admin).await;
    c.goto(&format!("{base}/admin/licenses/{lid}"))
        .await
        .expect("goto");
    let links = c
        .find_all(Locator::Css("a[id^=license-file-]"))
        .await
        .expect("links");
    assert_eq!(links.len(), 1, "only the offline machine has a file");
    let href = links[0].attr("href").await.expect("attr").expect("href");
    assert!(
        href.ends_with(&format!("/{offline_id}/license-file")),
        "{href}"
    );
    let cookie = session_cookie(&c).await;
    let (status, disposition, body) = get_with_cookie(&format!("{base}{href}"), &cookie);
    assert_eq!(status, 200, "{body}");
    assert!(
        disposition
            .as_deref()
            .is_some_and(|d| d.starts_with("attachment;")),
        "{disposition:?}"
    );
    assert_eq!(
        body,
        answered["response"].as_str().expect("response"),
        "the same response"
    );
    // The customer who lost the file installs the one downloaded.
    let mut buf = vec![0u8; body.len()];
    let response = decode_armor(&body, LABEL_RESPONSE, &mut buf).expect("an armored response");
    machine.offline_install(response).expect("installs");
    assert!(machine.status().is_licensed());
    screenshot(&c, "license-offline-file").await;

    // A machine activated online has no file; another product's key sees no machine; a
    // suspended license's file is not handed out.
    let (s, v) = app
        .admin("GET", &format!("/v1/offline/activations/{online_id}"), None)
        .await;
    assert_eq!(
        (s.as_u16(), &v["error"]["code"]),
        (404, &json!("no_offline_response")),
        "{v}"
    );
    let (other, _) = app.product("other", json!({})).await;
    let (_, k) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "other", "scope": "read_write", "product_id": other["id"] })),
        )
        .await;
    let (s, _, _) = app
        .call(
            "GET",
            &format!("/v1/offline/activations/{offline_id}"),
            k["key"].as_str(),
            None,
        )
        .await;
    assert_eq!(s.as_u16(), 404);
    let (s, _) = app
        .admin("POST", &format!("/v1/licenses/{lid}/suspend"), None)
        .await;
    assert_eq!(s.as_u16(), 200);
    let (status, disposition, body) = get_with_cookie(&format!("{base}{href}"), &cookie);
    assert_eq!(status, 403, "{body}");
    assert!(disposition.is_none());
    assert!(body.contains("suspended"), "{body}");
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signing_key_is_rotated_after_a_confirmation_by_an_unrestricted_key_only() {
    let app = TestApp::new().await;
    let (p, _) = app.product("rotco", json!({})).await;
    let (_, before) = app.admin("GET", "/v1/keys", None).await;
    let kids = |v: &Value| -> Vec<String> {
        v["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter(|k| k["alg"] == json!("EdDSA"))
            .filter_map(|k| k["kid"].as_str().map(str::to_owned))
            .collect()
    };
    let old = kids(&before);
    let base = serve(app.state.clone());
    let d = driver();

    // A key limited to a product sees no button, and a post made by hand is refused.
    let (_, k) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "limited admin", "scope": "admin", "product_id": p["id"] })),
        )
        .await;
    let c = browser(&d).await;
    sign_in(&c, &base, k["key"].as_str().expect("key")).await;
    c.goto(&format!("{base}/admin/revocations"))
        .await
        .expect("goto");
    assert!(c.find(Locator::Css("#rotate-keys")).await.is_err());
    let (status, location, _) = post_form(
        &format!("{base}/admin/keys/rotate"),
        &session_cookie(&c).await,
        &format!("csrf={}&confirm=yes", csrf_of_page(&c).await),
    );
    assert_eq!(status, 303);
    assert!(location.contains("refused="), "{location}");
    let (_, same) = app.admin("GET", "/v1/keys", None).await;
    assert_eq!(kids(&same), old, "nothing rotated");
    c.close().await.expect("close");

    let c = browser(&d).await;
    sign_in(&c, &base, &app.admin).await;
    c.goto(&format!("{base}/admin/revocations"))
        .await
        .expect("goto");
    click(&c, "#rotate-keys").await;
    assert!(text_of(&c, "h1").await.contains("Rotate"));
    let (_, unchanged) = app.admin("GET", "/v1/keys", None).await;
    assert_eq!(kids(&unchanged), old, "nothing before the confirmation");
    click(&c, "#confirm").await;
    assert!(text_of(&c, "#notice").await.contains("Rotated"));
    let (_, after) = app.admin("GET", "/v1/keys", None).await;
    let now = kids(&after);
    assert_eq!(now.len(), old.len() + 1, "{after}");
    let table = text_of(&c, "#keys").await;
    for kid in &now {
        assert!(table.contains(kid.as_str()), "{table}");
    }
    assert!(table.contains("retiring"), "{table}");
    screenshot(&c, "keys-rotated").await;
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_width_window() {
    let s = on_a_license_page("phoneco").await;
    let (_, l) = s
        .app
        .admin("GET", &format!("/v1/licenses/{}", s.id), None)
        .await;
    let (st, v, _) = s
        .app
        .activate(
            l["key"].as_str().expect("key"),
            "a-rather-long-fingerprint-of-a-phone-width-test-machine-0123456789",
        )
        .await;
    assert_eq!(st.as_u16(), 201, "{v}");
    s.c.set_window_size(390, 844).await.expect("resize");
    let (_, pol) = s.app.admin("GET", "/v1/policies", None).await;
    let policy = pol["items"][0]["id"].as_str().expect("policy").to_owned();
    let (_, prods) = s.app.admin("GET", "/v1/products", None).await;
    let product = prods["items"][0]["id"]
        .as_str()
        .expect("product")
        .to_owned();
    for path in [
        "/admin".to_owned(),
        "/admin/licenses".to_owned(),
        format!("/admin/licenses/{}", s.id),
        "/admin/products".to_owned(),
        format!("/admin/products/{product}"),
        format!("/admin/policies/{policy}"),
        "/admin/offline".to_owned(),
        "/admin/audit".to_owned(),
        "/admin/api-keys".to_owned(),
        "/admin/webhooks".to_owned(),
        "/admin/revocations".to_owned(),
    ] {
        s.c.goto(&format!("{}{path}", s.base)).await.expect("goto");
        let widths = s
            .c
            .execute(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
                vec![],
            )
            .await
            .expect("script");
        let (scroll, client) = (
            widths[0].as_u64().expect("scroll width"),
            widths[1].as_u64().expect("client width"),
        );
        if scroll > client {
            // Name the widest elements, to say what to fix.
            let wide = s
                .c
                .execute(
                    "const w = document.documentElement.clientWidth; \
                     return [...document.querySelectorAll('body *')] \
                       .filter(e => e.getBoundingClientRect().right > w + 1) \
                       .slice(0, 40) \
                       .map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' + getComputedStyle(e).overflowX + ' ' + getComputedStyle(e).display);",
                    vec![],
                )
                .await
                .expect("script");
            panic!("{path} scrolls sideways at phone width: {scroll} > {client}: {wide}");
        }
        if path.starts_with("/admin/licenses/") {
            screenshot(&s.c, "license-phone").await;
        }
    }
    let _ = &s.d;
    s.c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licenses_are_filtered_by_policy() {
    let app = TestApp::new().await;
    let (p, basic) = app.product("tiers", json!({ "name": "basic" })).await;
    let (s, pro) = app
        .admin(
            "POST",
            "/v1/policies",
            Some(json!({ "product_id": p["id"], "name": "pro", "max_machines": 3 })),
        )
        .await;
    assert_eq!(s.as_u16(), 201, "{pro}");
    let on_basic = app.license(&p, json!({ "policy_id": basic["id"] })).await;
    let on_pro = app.license(&p, json!({ "policy_id": pro["id"] })).await;
    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;
    sign_in(&c, &base, &app.admin).await;
    c.goto(&format!("{base}/admin/licenses"))
        .await
        .expect("goto");
    let all = text_of(&c, "#licenses").await;
    for l in [&on_basic, &on_pro] {
        assert!(all.contains(l["key"].as_str().expect("key")), "{all}");
    }
    c.find(Locator::Css("#policy"))
        .await
        .expect("the policy filter")
        .select_by_value(pro["id"].as_str().expect("id"))
        .await
        .expect("choose");
    click(&c, "#search").await;
    let only = text_of(&c, "#licenses").await;
    assert!(
        only.contains(on_pro["key"].as_str().expect("key")),
        "{only}"
    );
    assert!(
        !only.contains(on_basic["key"].as_str().expect("key")),
        "{only}"
    );
    assert!(text_of(&c, "#policy").await.contains("tiers · pro"));
    c.close().await.expect("close");
}

/// Signs in on the LicenseCM admin's form; the notice, if the page shows one.
async fn sign_in_as_user(c: &Client, base: &str, email: &str, password: &str, product: &str) {
    c.goto(&format!("{base}/admin/sign-in"))
        .await
        .expect("goto");
    fill(c, "#email", email).await;
    fill(c, "#password", password).await;
    fill(c, "#product", product).await;
    click(c, "#sign-in-user").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licensecm_admin_signs_in_to_one_product_it_reaches() {
    let app = TestApp::new().await;
    let (alpha, _) = app.product("alpha", json!({})).await;
    let (beta, _) = app.product("beta", json!({})).await;
    let (gamma, _) = app.product("gamma", json!({})).await;
    let mine = app.license(&alpha, json!({})).await;
    let theirs = app.license(&gamma, json!({})).await;
    let (s, admin) = app
        .admin(
            "POST",
            "/v1/licensecm/admins",
            Some(
                json!({ "email": "support@example.com", "password": "correct horse",
                         "products": [alpha["id"], beta["id"]] }),
            ),
        )
        .await;
    assert_eq!(s.as_u16(), 201, "{admin}");
    let user_id = admin["id"].as_str().expect("id").to_owned();
    let base = serve(app.state.clone());
    let d = driver();
    let c = browser(&d).await;

    // A wrong password, a product it does not reach, and no choice among two: no session.
    for (password, product, says) in [
        ("wrong horse", "alpha", "Not an active LicenseCM admin"),
        ("correct horse", "gamma", "not one this admin reaches"),
        ("correct horse", "", "Choose the product"),
    ] {
        sign_in_as_user(&c, &base, "support@example.com", password, product).await;
        let notice = text_of(&c, "#notice").await;
        assert!(notice.contains(says), "{password}/{product}: {notice}");
        assert!(
            c.get_named_cookie("licet_admin").await.is_err(),
            "no session"
        );
    }
    assert!(text_of(&c, "#notice").await.contains("alpha, beta"));

    sign_in_as_user(&c, &base, "Support@Example.com", "correct horse", "alpha").await;
    assert_eq!(text_of(&c, "h1").await, "Overview");
    assert!(
        text_of(&c, "header .who")
            .await
            .contains("support@example.com")
    );
    assert!(
        text_of(&c, "#limited")
            .await
            .contains(alpha["id"].as_str().expect("id"))
    );
    // Its product's license opens and acts, audited as the user; another product's does not.
    c.goto(&format!(
        "{base}/admin/licenses/{}",
        mine["id"].as_str().expect("id")
    ))
    .await
    .expect("goto");
    click(&c, "#action-suspend").await;
    assert!(text_of(&c, "#notice").await.contains("Suspended"));
    assert_eq!(
        license_status(&app, mine["id"].as_str().expect("id")).await,
        "suspended"
    );
    let (_, audit) = app
        .admin("GET", "/v1/audit?action=license.suspended", None)
        .await;
    assert_eq!(
        audit["items"][0]["actor"],
        json!(format!("user:{user_id}")),
        "{audit}"
    );
    c.goto(&format!(
        "{base}/admin/licenses/{}",
        theirs["id"].as_str().expect("id")
    ))
    .await
    .expect("goto");
    assert!(text_of(&c, "body").await.contains("not_found"));
    // Read-write, not admin: the API keys are an operator's.
    c.goto(&format!("{base}/admin/api-keys"))
        .await
        .expect("goto");
    assert!(text_of(&c, "body").await.contains("forbidden"));
    screenshot(&c, "licensecm-admin").await;

    // Disabled by the operator: the session ends at the next request.
    let (s, v) = app
        .admin(
            "PATCH",
            &format!("/v1/licensecm/admins/{user_id}"),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    c.goto(&format!("{base}/admin/licenses"))
        .await
        .expect("goto");
    assert!(
        c.current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/admin/sign-in")
    );
    c.close().await.expect("close");
}
