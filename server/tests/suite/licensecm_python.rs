//! An independent LicenseCM client in Python (stdlib plus the pinned `cryptography` package,
//! `tests/licensecm_client/`) against the real server on a loopback port: plaintext and
//! encrypted requests in all three IV styles, RSA signatures checked as the SDKs check them,
//! activate → heartbeat ×3 → validate → challenge → deactivate, and every refusal.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::{http, serve};
use licet_server::clock::SystemClock;
use licet_server::{AppState, Config};
use serde_json::{Value, json};

/// A virtual environment under `target/` with the pinned packages (made once).
fn python_env() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("licensecm-venv");
    let python = venv.join("bin/python");
    let requirements =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/licensecm_client/requirements.txt");
    let stamp = venv.join("installed-requirements.txt");
    let wanted = std::fs::read(&requirements).expect("requirements.txt");
    if std::fs::read(&stamp).ok().as_deref() == Some(&wanted[..]) {
        return python;
    }
    let status = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .status()
        .expect("python3 must be installed (it is on the CI machine)");
    assert!(status.success(), "python3 -m venv failed");
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .status()
        .expect("pip runs");
    assert!(
        status.success(),
        "pip install of the pinned packages failed"
    );
    std::fs::write(&stamp, &wanted).expect("stamp");
    python
}

fn call(url: &str, method: &str, path: &str, token: Option<&str>, body: Value) -> Value {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut h = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        h.push(("authorization", a.as_str()));
    }
    let (s, t) = http(method, &format!("{url}{path}"), &h, Some(&body.to_string()));
    let v: Value = serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}: {t}"));
    assert!((200..300).contains(&s), "{method} {path}: {s} {v}");
    v["data"].clone()
}

#[test]
fn python_client_speaks_the_client_api() {
    let python = python_env();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let state = AppState::new(
        runtime.block_on(crate::backend::store()),
        common::keys(),
        Arc::new(SystemClock),
        Config {
            rate_limit_ip: 0,
            rate_limit_license: 0,
            licensecm_rate_api: 0,
            licensecm_rate_validation: 0,
            login_rate_limit: 0,
            trusted_proxy_header: Some("x-forwarded-for".into()),
            ..Config::default()
        },
    )
    .expect("state");
    let operator = runtime
        .block_on(licet_server::bootstrap_admin_key(&state))
        .expect("bootstrap")
        .expect("first key");
    let url = serve(state);
    // The vendor administers LicenseCM: an admin made by the operator, then signed in.
    call(
        &url,
        "POST",
        "/v1/licensecm/admins",
        Some(&operator),
        json!({ "email": "vendor@example.com", "password": "secret123" }),
    );
    let user = call(
        &url,
        "POST",
        "/api/auth/login",
        None,
        json!({ "email": "vendor@example.com", "password": "secret123" }),
    );
    let token = user["token"].as_str().expect("token").to_owned();
    let t = Some(token.as_str());
    let product = call(
        &url,
        "POST",
        "/api/products",
        t,
        json!({ "name": "Python App" }),
    );
    let pid = product["id"].as_str().expect("id");
    let license = |extra: Value| {
        let mut b = json!({ "product_id": pid, "type": "subscription" });
        for (k, v) in extra.as_object().expect("obj") {
            b[k] = v.clone();
        }
        call(&url, "POST", "/api/licenses", t, b)
    };
    let main = license(json!({ "max_uses": 5, "hwid_locked": false }));
    let single = license(json!({ "max_uses": 1, "hwid_locked": true }));
    let unlocked = license(json!({ "max_uses": 1, "hwid_locked": false }));
    let expired = license(json!({ "expires_at": "2020-01-01T00:00:00Z" }));
    let suspended = license(json!({}));
    call(
        &url,
        "PUT",
        &format!("/api/licenses/{}", suspended["id"].as_str().expect("id")),
        t,
        json!({ "status": "suspended" }),
    );
    call(
        &url,
        "POST",
        "/api/security/block-ip",
        t,
        json!({ "ip": "203.0.113.99", "reason": "test" }),
    );
    call(
        &url,
        "POST",
        "/api/security/block-hwid",
        t,
        json!({ "hwid": "blocked-hw", "reason": "test" }),
    );

    let dir = tempfile::tempdir().expect("tmp");
    let setup = dir.path().join("setup.json");
    let key = |l: &Value| l["license_key"].clone();
    std::fs::write(
        &setup,
        json!({
            "url": url,
            "product_id": pid,
            "secret": product["secret_key"],
            "blocked_ip": "203.0.113.99",
            "blocked_hwid": "blocked-hw",
            "keys": { "main": key(&main), "single": key(&single), "unlocked": key(&unlocked), "expired": key(&expired), "suspended": key(&suspended) },
        })
        .to_string(),
    )
    .expect("setup");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/licensecm_client/client.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&setup)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passed: usize = stdout
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a summary line");
    println!("{}", stdout.lines().last().unwrap_or(""));
    assert!(passed >= 45, "{stdout}");
}
