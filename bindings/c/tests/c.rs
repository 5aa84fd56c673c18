//! The C ABI from C and C++: the programs in `tests/c/`, compiled by the system's compilers
//! against `liblicet.a` and `liblicet.so` as this test run built them, each run under valgrind
//! memcheck (any error or leak fails), the online ones against a real licet-server on a
//! loopback port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use licet_issuer::{KeySpec, SigningKey};
use licet_server::SledStore;
use licet_server::clock::SystemClock;
use licet_server::keys::ServerKeys;
use licet_server::{AppState, Config};
use serde_json::{Value, json};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn vectors() -> PathBuf {
    crate_dir().join("../../test-vectors/vectors")
}

/// Where cargo puts `liblicet.a` and `liblicet.so` for this run (the test binary is in `deps/`
/// below it), after building them: a test build makes only the crate's rlib. The build selects
/// what the workspace's test build selects (`--workspace --tests`), so that features resolve as
/// they did for it and nothing but this crate's library is compiled again.
fn lib_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test binary");
            let dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target profile directory")
                .to_path_buf();
            let profile = match dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => "dev".to_owned(),
                Some(other) => other.to_owned(),
            };
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = Command::new(cargo);
            // What cargo sets for this test process only: build scripts that watch these (ring
            // watches CARGO_MANIFEST_DIR) would see a change, and rebuild half the workspace
            // here and again in the next top-level build.
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy();
                if k == "OUT_DIR"
                    || k.starts_with("CARGO_PKG_")
                    || k.starts_with("CARGO_BIN_")
                    || k.starts_with("NEXTEST")
                    || matches!(
                        &*k,
                        "CARGO_MANIFEST_DIR"
                            | "CARGO_MANIFEST_PATH"
                            | "CARGO_CRATE_NAME"
                            | "CARGO_PRIMARY_PACKAGE"
                            | "CARGO_TARGET_TMPDIR"
                    )
                {
                    cmd.env_remove(&*k);
                }
            }
            let o = cmd
                .args([
                    "build",
                    "--workspace",
                    "--lib",
                    "--tests",
                    "--locked",
                    "--profile",
                ])
                .arg(&profile)
                .current_dir(crate_dir())
                .output()
                .expect("cargo runs");
            assert!(
                o.status.success(),
                "building liblicet failed:\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
            for lib in ["liblicet.a", "liblicet.so"] {
                assert!(dir.join(lib).exists(), "no {lib} in {}", dir.display());
            }
            dir
        })
        .clone()
}

enum Link {
    Static,
    Shared,
}

/// Compiles `source` (C11 or C++17 by its extension, every warning an error) into `out`.
fn compile(source: &str, link: Link, extra: &[&str], out: &Path) -> PathBuf {
    let src = crate_dir().join("tests/c").join(source);
    let cpp = source.ends_with(".cpp");
    let exe = out.join(source.split('.').next().expect("name"));
    let lib = lib_dir();
    let mut cmd = Command::new(if cpp { "g++" } else { "gcc" });
    cmd.arg(if cpp { "-std=c++17" } else { "-std=c11" })
        .args(["-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(crate_dir().join("include"))
        .arg(&src)
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Static => {
            cmd.arg(lib.join("liblicet.a"));
        }
        Link::Shared => {
            cmd.arg("-L")
                .arg(&lib)
                .arg("-llicet")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
    }
    cmd.args(extra).args(["-lpthread", "-ldl", "-lm"]);
    let o = cmd
        .output()
        .expect("a C compiler (gcc, g++) must be installed");
    assert!(
        o.status.success(),
        "{source} does not compile:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    exe
}

/// Runs `exe` under valgrind memcheck: any memory error or leak is a failure (exit 99).
fn valgrind(exe: &Path, args: &[&str]) -> Output {
    let o = Command::new("valgrind")
        .args([
            "-q",
            "--error-exitcode=99",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible",
        ])
        .arg(format!(
            "--suppressions={}",
            crate_dir().join("tests/valgrind.supp").display()
        ))
        .arg(exe)
        .args(args)
        .output()
        .expect("valgrind must be installed (Debian: valgrind)");
    assert_ne!(
        o.status.code(),
        Some(99),
        "{} {args:?}: valgrind found errors or leaks:\n{}",
        exe.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn case_count() -> usize {
    ["expected.json", "offline.json"]
        .iter()
        .map(|f| {
            let v: Value =
                serde_json::from_slice(&std::fs::read(vectors().join(f)).expect("vectors"))
                    .expect("json");
            v["cases"].as_array().expect("cases").len()
        })
        .sum()
}

#[test]
fn every_golden_case_passes_in_c() {
    let tmp = tempfile::tempdir().expect("tmp");
    let exe = compile("vectors.c", Link::Static, &["-lcjson"], tmp.path());
    let o = valgrind(&exe, &[vectors().to_str().expect("utf-8")]);
    let out = stdout(&o);
    let n = case_count();
    assert!(n >= 69, "the vector set shrank to {n}");
    assert_eq!(
        out.lines().last(),
        Some(format!("{n} passed, 0 failed").as_str()),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success());
}

#[test]
fn the_c_contract_holds() {
    let tmp = tempfile::tempdir().expect("tmp");
    let exe = compile("contract.c", Link::Static, &[], tmp.path());
    let o = valgrind(&exe, &[vectors().to_str().expect("utf-8")]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains(", 0 failed"), "{out}");
}

#[test]
fn a_cpp_program_includes_the_header_and_links_the_shared_library() {
    let tmp = tempfile::tempdir().expect("tmp");
    let exe = compile("smoke.cpp", Link::Shared, &[], tmp.path());
    let o = valgrind(&exe, &[vectors().to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(stdout(&o), "licensed: LIC-0001, 3 entitlements\n");
}

/// A licet-server on a free loopback port over a sled store in `dir`: its URL, an admin key,
/// and the token key's public PEM as an application pins it.
fn start_server(dir: &Path) -> (String, String, PathBuf) {
    let keys = ServerKeys::new(
        SigningKey::generate(KeySpec::Ed25519).expect("ed25519"),
        SigningKey::generate(KeySpec::RsaPkcs1(2048)).expect("rsa"),
    )
    .expect("keys");
    let store = SledStore::open(&dir.join("db")).expect("store");
    let state = AppState::new(
        Arc::new(store),
        Arc::new(keys),
        Arc::new(SystemClock),
        Config {
            data: dir.to_path_buf(),
            ..Config::default()
        },
    )
    .expect("state")
    .with_key_source(licet_server::keys::ring::KeySource::Files(
        dir.to_path_buf(),
    ));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(state.tokens.take_up_root())
        .expect("root secret");
    let pem = dir.join("vendor.pem");
    std::fs::write(&pem, state.tokens.keys().token.public_key().to_spki_pem()).expect("pem");
    let admin = rt
        .block_on(licet_server::bootstrap_admin_key(&state))
        .expect("bootstrap")
        .expect("key");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let timeouts = licet_server::serve::Timeouts::of(&state.config);
            licet_server::serve::serve(
                listener,
                licet_server::app(state),
                timeouts,
                None,
                std::future::pending(),
            )
            .await
            .expect("serve");
        });
    });
    (format!("http://{addr}"), admin, pem)
}

/// The vendor's side, through the admin API.
struct Admin {
    url: String,
    key: String,
}

impl Admin {
    fn post(&self, path: &str, body: Value) -> Value {
        let mut resp = ureq::post(&format!("{}{path}", self.url))
            .header("authorization", &format!("Bearer {}", self.key))
            .config()
            .http_status_as_error(false)
            .build()
            .send_json(body)
            .expect("the server answers");
        let status = resp.status().as_u16();
        let v: Value = resp.body_mut().read_json().expect("json");
        assert!((200..300).contains(&status), "{path}: {status} {v}");
        v
    }

    /// How many machines hold a seat of `license`.
    fn machines(&self, license: &str) -> usize {
        let v: Value = ureq::get(&format!("{}/v1/licenses/{license}/machines", self.url))
            .header("authorization", &format!("Bearer {}", self.key))
            .call()
            .expect("machines")
            .body_mut()
            .read_json()
            .expect("json");
        v["items"].as_array().expect("items").len()
    }

    /// A product with one policy and a license of it: the license's id and key.
    fn license(&self, code: &str, policy: Value) -> (String, String) {
        let p = self.post("/v1/products", json!({ "code": code, "name": code }));
        let mut policy = policy;
        policy["product_id"] = p["id"].clone();
        policy["name"] = json!("std");
        let pol = self.post("/v1/policies", policy);
        let l = self.post(
            "/v1/licenses",
            json!({ "product_id": p["id"], "policy_id": pol["id"] }),
        );
        (
            l["id"].as_str().expect("id").to_owned(),
            l["key"].as_str().expect("key").to_owned(),
        )
    }
}

/// The `online` program for one product and state directory.
struct App {
    exe: PathBuf,
    args: Vec<String>,
}

impl App {
    fn run(&self, cmd: &[&str]) -> String {
        let mut args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        args.extend_from_slice(cmd);
        let o = valgrind(&self.exe, &args);
        let out = stdout(&o);
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "{cmd:?}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out.trim_end().to_owned()
    }
}

#[test]
fn the_online_client_from_c_against_a_real_server() {
    let tmp = tempfile::tempdir().expect("tmp");
    let exe = compile("online.c", Link::Shared, &[], tmp.path());
    let (url, key, pem) = start_server(tmp.path());
    let admin = Admin { url, key };
    let (license, license_key) = admin.license("acme-c", json!({ "max_machines": 1 }));
    let app = App {
        exe,
        args: vec![
            admin.url.clone(),
            "acme-c".into(),
            pem.to_str().expect("utf-8").into(),
            tmp.path().join("state").to_str().expect("utf-8").into(),
        ],
    };
    let fp = app.run(&["fingerprint"]);
    let hex = fp.strip_prefix("fingerprint=").expect(&fp);
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{fp}"
    );

    assert_eq!(app.run(&["status"]), "state=NEEDS_ACTIVATION licensed=0");
    let refused = app.run(&["activate", "NOT-A-KEY"]);
    assert!(
        refused.starts_with("error 1 license_not_found:"),
        "{refused}"
    );
    assert_eq!(app.run(&["status"]), "state=NEEDS_ACTIVATION licensed=0");

    assert_eq!(
        app.run(&["activate", &license_key]),
        "state=VALID licensed=1"
    );
    assert_eq!(app.run(&["status"]), "state=VALID licensed=1");
    assert_eq!(app.run(&["ensure"]), "state=VALID licensed=1");
    assert_eq!(
        app.run(&["verify-stored"]),
        format!("license={license} product=acme-c")
    );
    assert_eq!(app.run(&["heartbeat"]), "state=VALID licensed=1");
    assert_eq!(app.run(&["check-in"]), "state=VALID licensed=1");

    // One seat is held, by this machine.
    assert_eq!(admin.machines(&license), 1);

    // Revoked on the server: the next check-in says so at once and forgets the token.
    admin.post(&format!("/v1/licenses/{license}/revoke"), json!({}));
    assert_eq!(app.run(&["check-in"]), "state=REVOKED licensed=0");
    assert_eq!(app.run(&["status"]), "state=NEEDS_ACTIVATION licensed=0");

    // Another license: activate, then give the seat back.
    let (other, other_key) = admin.license("acme-c2", json!({ "max_machines": 1 }));
    let app2 = App {
        exe: app.exe.clone(),
        args: vec![
            admin.url.clone(),
            "acme-c2".into(),
            pem.to_str().expect("utf-8").into(),
            tmp.path().join("state").to_str().expect("utf-8").into(),
        ],
    };
    assert_eq!(
        app2.run(&["activate", &other_key]),
        "state=VALID licensed=1"
    );
    assert_eq!(app2.run(&["deactivate"]), "deactivated");
    assert_eq!(app2.run(&["status"]), "state=NEEDS_ACTIVATION licensed=0");
    assert_eq!(admin.machines(&other), 0);

    // No server at the address: unreachable, and the stored state is untouched.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let app3 = App {
        exe: app.exe.clone(),
        args: vec![
            dead,
            "acme-c2".into(),
            pem.to_str().expect("utf-8").into(),
            tmp.path().join("state3").to_str().expect("utf-8").into(),
        ],
    };
    let out = app3.run(&["activate", &other_key]);
    assert!(out.starts_with("error 3 unreachable:"), "{out}");
}

#[test]
fn the_air_gapped_walk_from_c() {
    let tmp = tempfile::tempdir().expect("tmp");
    let exe = compile("online.c", Link::Shared, &[], tmp.path());
    let (url, key, pem) = start_server(tmp.path());
    let admin = Admin { url, key };
    let (license, license_key) = admin.license(
        "air-c",
        json!({ "offline_lease": 3600, "require_device_key": true }),
    );
    let app = App {
        exe,
        args: vec![
            // The machine has no network: an address nothing answers at.
            "http://127.0.0.1:9".into(),
            "air-c".into(),
            pem.to_str().expect("utf-8").into(),
            tmp.path().join("state").to_str().expect("utf-8").into(),
        ],
    };
    let file = |n: &str| tmp.path().join(n).to_str().expect("utf-8").to_owned();
    assert!(
        app.run(&["request", &license_key, &file("request.txt")])
            .starts_with("wrote ")
    );
    let request = std::fs::read_to_string(file("request.txt")).expect("request");
    assert!(
        request.starts_with("-----BEGIN LICET ACTIVATION REQUEST-----"),
        "{request}"
    );
    assert_eq!(app.run(&["status"]), "state=NEEDS_ACTIVATION licensed=0");

    // The vendor answers it at the desk.
    let answered = admin.post("/v1/offline/activations", json!({ "request": request }));
    std::fs::write(
        file("response.txt"),
        answered["response"].as_str().expect("response"),
    )
    .expect("write");
    // A tampered response is refused and nothing is installed.
    let mut tampered = std::fs::read(file("response.txt")).expect("read");
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(file("tampered.txt"), tampered).expect("write");
    let out = app.run(&["install", &file("tampered.txt")]);
    assert!(out.starts_with("error "), "{out}");
    assert_eq!(app.run(&["status"]), "state=NEEDS_ACTIVATION licensed=0");

    assert_eq!(
        app.run(&["install", &file("response.txt")]),
        "state=VALID licensed=1"
    );
    assert_eq!(
        app.run(&["verify-stored"]),
        format!("license={license} product=air-c")
    );

    // Given back without a network: the receipt frees the seat at the desk.
    assert!(
        app.run(&["receipt", &file("receipt.txt")])
            .starts_with("wrote ")
    );
    assert_eq!(app.run(&["status"]), "state=NEEDS_ACTIVATION licensed=0");
    let receipt = std::fs::read_to_string(file("receipt.txt")).expect("receipt");
    admin.post("/v1/offline/deactivations", json!({ "receipt": receipt }));
    assert_eq!(admin.machines(&license), 0);
}

#[test]
fn the_makefile_example_checks_a_license() {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = Command::new("make")
        .arg("-f")
        .arg(crate_dir().join("examples/Makefile"))
        .arg(format!("LIB={}", lib_dir().display()))
        .arg(format!("OUT={}", tmp.path().display()))
        .output()
        .expect("make must be installed (Debian: build-essential)");
    assert!(
        o.status.success(),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    // A license issued now, bound to a machine, as the vendor's CLI would make it.
    let key = SigningKey::generate(KeySpec::Ed25519).expect("key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let token = licet_issuer::TokenBuilder::new("acme-pro", "LIC-MAKE", now - 60)
        .expires_at(now + 3600)
        .hwid("fp-make")
        .sign(&key)
        .expect("sign");
    let pem = tmp.path().join("vendor.pem");
    std::fs::write(&pem, key.public_key().to_spki_pem()).expect("pem");
    let file = tmp.path().join("license.txt");
    std::fs::write(
        &file,
        licet_verifier::text::encode_armor(&token, licet_verifier::text::LABEL_LICENSE),
    )
    .expect("license");
    let exe = tmp.path().join("check_license");
    let (pem, file) = (pem.to_str().expect("utf-8"), file.to_str().expect("utf-8"));
    let o = valgrind(&exe, &[pem, file, "acme-pro", "fp-make"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(
        stdout(&o),
        format!("licensed: LIC-MAKE, until {}\n", now + 3600)
    );
    let o = valgrind(&exe, &[pem, file, "acme-pro", "fp-other"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("not licensed: hwid_mismatch"),
        "{}",
        stdout(&o)
    );
}
