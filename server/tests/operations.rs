//! What an operator does around the running server, with the real `licet-server` binary on a
//! loopback port: a lost admin key remade from the console, the pointers at `/`, the access
//! log.

use std::process::{Command, Stdio};

use serde_json::Value;

mod common;
// The harness's in-process store; these tests run the binary, whose flags choose its store.
use common::backends::sled as backend;
use common::binary::{Server, agent, call, fresh_database, master_key};

/// `licet-server api-keys create …` with `args`: (exit status, stdout, stderr).
fn console(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args(["api-keys", "create"])
        .args(args)
        .env("LICET_LOG", "warn")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("licet-server runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The API keys' names, as `admin` lists them.
fn key_names(base: &str, admin: &str) -> Vec<String> {
    let (s, v) = call(
        &agent(),
        "GET",
        &format!("{base}/v1/api-keys"),
        Some(admin),
        None,
    );
    assert_eq!(s, 200, "{v}");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|k| k["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The audit entries of `action`, as `admin` reads them.
fn audited(base: &str, admin: &str, action: &str) -> Vec<Value> {
    let (s, v) = call(
        &agent(),
        "GET",
        &format!("{base}/v1/audit?action={action}"),
        Some(admin),
        None,
    );
    assert_eq!(s, 200, "{v}");
    v["items"].as_array().expect("items").clone()
}

#[test]
fn a_lost_admin_key_is_remade_from_the_console_with_the_server_stopped() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8");
    let server = Server::start(&data, &[]);
    let first = server.bootstrap_key.clone().expect("bootstrap key");

    // While the server holds the sled store, the console refuses and says why.
    let (ok, out, err) = console(&["--data", data_arg, "--scope", "admin"]);
    assert!(!ok, "{out}");
    assert!(err.contains("stop it first"), "{err}");
    assert!(out.is_empty(), "no key is printed: {out}");
    assert_eq!(key_names(&server.base, &first), ["bootstrap admin"]);
    server.stop();

    let (ok, made, err) = console(&[
        "--scope",
        "admin",
        "--name",
        "recovered",
        "--data",
        data_arg,
    ]);
    assert!(ok, "{err}");
    assert!(made.starts_with("lk_"), "{made}");

    // The bootstrap key is not shown again (keys exist); the new one is an admin key.
    let server = Server::start(&data, &[]);
    assert!(server.bootstrap_key.is_none());
    let mut names = key_names(&server.base, &made);
    names.sort();
    assert_eq!(names, ["bootstrap admin", "recovered"]);
    let entries = audited(&server.base, &made, "api_key.created");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor"], "console");
    assert_eq!(entries[0]["detail"]["scope"], "admin");

    // A read-only key made the same way reads but cannot make keys.
    server.stop();
    let (ok, reader, err) = console(&[
        "--data",
        data_arg,
        "--scope",
        "read-only",
        "--name",
        "auditor",
    ]);
    assert!(ok, "{err}");
    let server = Server::start(&data, &[]);
    let (s, _) = call(
        &agent(),
        "GET",
        &format!("{}/v1/products", server.base),
        Some(&reader),
        None,
    );
    assert_eq!(s, 200);
    let (s, v) = call(
        &agent(),
        "GET",
        &format!("{}/v1/api-keys", server.base),
        Some(&reader),
        None,
    );
    assert_eq!(s, 403, "{v}");

    // A directory that holds no store is named, and nothing is made there.
    let empty = dir.path().join("elsewhere");
    let (ok, _, err) = console(&["--data", empty.to_str().expect("utf-8"), "--scope", "admin"]);
    assert!(!ok);
    assert!(err.contains("no store here"), "{err}");
    assert!(!empty.exists());
}

#[test]
fn on_postgres_the_console_makes_a_key_while_the_servers_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = fresh_database();
    let key = master_key(dir.path(), "master.key");
    let key_arg = key.to_str().expect("utf-8");
    let server = Server::start(
        &dir.path().join("unused"),
        &["--database-url", &url, "--master-key-file", key_arg],
    );
    let first = server.bootstrap_key.clone().expect("bootstrap key");
    let (ok, made, err) = console(&[
        "--database-url",
        &url,
        "--master-key-file",
        key_arg,
        "--scope",
        "admin",
        "--name",
        "recovered",
    ]);
    assert!(ok, "{err}");
    let mut names = key_names(&server.base, &made);
    names.sort();
    assert_eq!(names, ["bootstrap admin", "recovered"]);
    assert_eq!(
        audited(&server.base, &first, "api_key.created")[0]["actor"],
        "console"
    );
}

#[test]
fn the_root_points_to_the_dashboard_the_api_document_and_the_docs() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), &[]);
    let (s, v) = call(&agent(), "GET", &format!("{}/", server.base), None, None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["dashboard"], "/admin");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    // Every link it gives answers.
    for link in ["dashboard", "openapi", "health"] {
        let path = v[link].as_str().expect(link);
        let got = agent()
            .get(format!("{}{path}", server.base))
            .call()
            .expect("get");
        assert_eq!(got.status(), 200, "{path}");
    }
    assert!(v["docs"].as_str().expect("docs").starts_with("https://"));
    let mut page = agent()
        .get(format!("{}/", server.base))
        .header("accept", "text/html,application/xhtml+xml")
        .call()
        .expect("page");
    let html = page.body_mut().read_to_string().expect("html");
    assert!(html.contains("href=\"/admin\""), "{html}");
    assert!(html.contains("href=\"/openapi.json\""), "{html}");
    server.stop();

    let server = Server::start(dir.path(), &["--dashboard", "false"]);
    let (_, v) = call(&agent(), "GET", &format!("{}/", server.base), None, None);
    assert_eq!(v["dashboard"], Value::Null, "no dashboard, no link: {v}");
}

#[test]
fn the_access_log_has_a_line_per_request_and_no_license_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("server.log");
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--access-log", "true"],
        Stdio::from(std::fs::File::create(&log).expect("log file")),
        "info",
    );
    let a = agent();
    call(&a, "GET", &format!("{}/healthz", server.base), None, None);
    call(
        &a,
        "GET",
        &format!("{}/no/such/route", server.base),
        None,
        None,
    );
    call(
        &a,
        "GET",
        &format!(
            "{}/api/v1/licenses/public/SECRET-LICENSE-KEY-1234",
            server.base
        ),
        None,
        None,
    );
    server.stop();
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("licet::access"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains("route=\"/healthz\"") && lines[0].contains("status=200"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("route=\"unmatched\"") && lines[1].contains("status=404"),
        "{}",
        lines[1]
    );
    assert!(
        lines
            .iter()
            .all(|l| l.contains("ip=127.0.0.1") && l.contains("request_id="))
    );
    assert!(!text.contains("SECRET-LICENSE-KEY-1234"), "{text}");
    assert!(!text.contains("\u{1b}["), "no colour in a file");

    // Off by default.
    let log = dir.path().join("quiet.log");
    let server = Server::start_with(
        &dir.path().join("data"),
        &[],
        Stdio::from(std::fs::File::create(&log).expect("log file")),
        "info",
    );
    call(&a, "GET", &format!("{}/healthz", server.base), None, None);
    server.stop();
    assert!(
        !std::fs::read_to_string(&log)
            .expect("log")
            .contains("licet::access")
    );
}
