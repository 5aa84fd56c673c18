//! The real `licet-server` binary as a process on a loopback port, and a blocking HTTP client
//! for it (the end-to-end and multi-instance tests).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A `licet-server` process on a loopback port.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub bootstrap_key: Option<String>,
}

impl Server {
    /// Starts the test build of `licet-server` on `data` with `extra` arguments; waits until it listens.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Server::start_with(data, extra, Stdio::null(), "warn")
    }

    /// As [`Server::start`], its log (at `level`) going to `stderr`.
    pub fn start_with(data: &Path, extra: &[&str], stderr: Stdio, level: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_licet-server"))
            .args(["--listen", "127.0.0.1:0", "--cull-interval", "1"])
            .args(extra)
            .arg("--data")
            .arg(data)
            .env("LICET_LOG", level)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("licet-server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut bootstrap_key = None;
        let deadline = Instant::now() + Duration::from_secs(120);
        let base = loop {
            assert!(Instant::now() < deadline, "server did not start");
            let line = lines
                .next()
                .expect("server exited before listening")
                .expect("utf8");
            if let Some(k) = line.split("store it now): ").nth(1) {
                bootstrap_key = Some(k.trim().to_owned());
            }
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.trim().to_owned();
            }
        };
        let base = format!(
            "{}://{base}",
            if extra.contains(&"--tls-cert") {
                "https"
            } else {
                "http"
            }
        );
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base,
            bootstrap_key,
        }
    }

    pub fn kill9(mut self) {
        // `Child::kill` is SIGKILL on Unix: no shutdown handler runs, nothing is flushed.
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().expect("wait").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().expect("kill");
    }
}

impl Drop for Server {
    /// A test that fails leaves no server behind (stopped ones have exited already).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// One request. A GET that fails in transport (a pooled connection closed under it) is tried once
/// more on a fresh connection; a POST never is, since the kill test counts on every answer.
pub fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let first = call_once(agent, method, url, auth, body.clone());
    if first.0 == 0 && method == "GET" {
        return call_once(&self::agent(), method, url, auth, body);
    }
    first
}

pub fn call_once(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(a) = auth {
        req = req.header("authorization", format!("Bearer {a}"));
    }
    let resp = match body {
        Some(b) => agent.run(
            req.header("content-type", "application/json")
                .body(serde_json::to_vec(&b).expect("json"))
                .expect("req"),
        ),
        None => agent.run(req.body(()).expect("req")),
    };
    match resp {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(e) => (0, json!({ "transport": e.to_string() })),
    }
}

/// A product `acme-pro`, a policy of `seats` machines and a license: (product, license).
pub fn setup(agent: &ureq::Agent, base: &str, admin: &str, seats: u32) -> (Value, Value) {
    let (s, p) = call(
        agent,
        "POST",
        &format!("{base}/v1/products"),
        Some(admin),
        Some(json!({ "code": "acme-pro", "name": "Acme Pro" })),
    );
    assert_eq!(s, 201, "{p}");
    let (s, _) = call(
        agent,
        "POST",
        &format!("{base}/v1/policies"),
        Some(admin),
        Some(
            json!({ "product_id": p["id"], "name": "std", "max_machines": seats, "entitlements": ["pro"] }),
        ),
    );
    assert_eq!(s, 201);
    let (s, l) = call(
        agent,
        "POST",
        &format!("{base}/v1/licenses"),
        Some(admin),
        Some(json!({ "product_id": p["id"] })),
    );
    assert_eq!(s, 201, "{l}");
    (p, l)
}

/// A fresh schema of the test database, as a connection string for a server process.
pub fn fresh_database() -> String {
    let name = super::block_on(async { licet_store_postgres::testing::schema().await.0 });
    licet_store_postgres::testing::database_url(&name)
}

/// A master key file of 32 random bytes, mode 0600, at `dir/name`.
pub fn master_key(dir: &Path, name: &str) -> std::path::PathBuf {
    use std::io::Read;
    let path = dir.join(name);
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .expect("random bytes");
    std::fs::write(&path, key).expect("write the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    path
}

/// Uploads `content` as the download `name` (file `file`) of `product_id`; asserts 201.
pub fn upload(
    agent: &ureq::Agent,
    base: &str,
    admin: &str,
    product_id: &str,
    (name, file): (&str, &str),
    content: &[u8],
) {
    let mut up = agent
        .post(format!(
            "{base}/v1/downloads/upload?product_id={product_id}&name={name}&file={file}"
        ))
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/octet-stream")
        .send(content)
        .expect("upload");
    assert_eq!(
        up.status(),
        201,
        "{}",
        up.body_mut().read_to_string().unwrap_or_default()
    );
}

/// The body of a download URL (at most 1 MiB); asserts 200.
pub fn download(agent: &ureq::Agent, url: &str) -> Vec<u8> {
    let mut got = agent.get(url).call().expect("download");
    assert_eq!(got.status(), 200);
    got.body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .expect("body")
}
