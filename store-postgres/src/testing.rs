//! A real PostgreSQL for tests, and a fresh, empty schema per store.
//!
//! The database is `LICET_TEST_DATABASE_URL` when it is set (`.ci/run` starts a PostgreSQL 15
//! of its own and sets it). Otherwise the first test of a process starts one from the machine's
//! PostgreSQL binaries (`pg_config --bindir`, or `/usr/lib/postgresql/*/bin`) in a temporary
//! directory, listening on a Unix socket only, run as the `postgres` user when the tests run as
//! root (PostgreSQL refuses to run as root); it stops when the test process ends. There is no
//! silent skip: without either, the tests fail and say why.
//!
//! Each [`schema`] is a new schema of that database, named at random, with the migrations
//! applied to it, so tests running at once never see each other's data.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

/// The test database's configuration (the URL's, or the started server's).
pub fn database() -> tokio_postgres::Config {
    static BASE: OnceLock<Result<tokio_postgres::Config, String>> = OnceLock::new();
    match BASE.get_or_init(base) {
        Ok(c) => c.clone(),
        Err(e) => panic!("no PostgreSQL for the tests: {e}"),
    }
}

/// The test database as a URL-style connection string, for a server process under test.
pub fn database_url(schema: &str) -> String {
    let c = database();
    let host = match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        None => "localhost".into(),
    };
    let mut s = format!(
        "host={host} port={} user={} dbname={} options='-c search_path={schema}'",
        c.get_ports().first().copied().unwrap_or(5432),
        c.get_user().unwrap_or("postgres"),
        c.get_dbname().unwrap_or("postgres"),
    );
    if let Some(p) = c.get_password() {
        s.push_str(&format!(" password='{}'", String::from_utf8_lossy(p)));
    }
    s
}

fn base() -> Result<tokio_postgres::Config, String> {
    if let Ok(url) = std::env::var("LICET_TEST_DATABASE_URL") {
        return url
            .parse()
            .map_err(|e| format!("LICET_TEST_DATABASE_URL is not valid: {e}"));
    }
    start_server()
}

/// A fresh schema of the test database: its name, and a configuration whose connections use it.
pub async fn schema() -> (String, tokio_postgres::Config) {
    let base = database();
    let name = format!("t_{:016x}", random());
    let (client, conn) = base
        .connect(NoTls)
        .await
        .expect("connect to the test database");
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE SCHEMA {name}"))
        .await
        .expect("create a schema");
    drop(client);
    let _ = task.await;
    let mut c = base;
    c.options(format!("-c search_path={name}"));
    (name, c)
}

/// A number for names, different in every call and process.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

fn bindir() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no PostgreSQL binaries (pg_config, /usr/lib/postgresql): {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| "no initdb under /usr/lib/postgresql".into())
}

fn is_root() -> bool {
    // Asked once: every start and every pg_ctl call needs it.
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    })
}

/// A command run as the `postgres` user when the tests run as root.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A new cluster in a temporary directory owned by the server's user: (binaries, directory);
/// the data is in `directory/data` and the socket will be in `directory`.
fn init_cluster() -> Result<(PathBuf, PathBuf), String> {
    let bin = bindir()?;
    // Kept for the life of the process (the server's directory must outlive every test).
    let dir = tempfile::Builder::new()
        .prefix("licet-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let data = dir.join("data");
    if is_root() {
        let ok = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err("cannot give the temporary directory to the postgres user".into());
        }
    }
    let init = as_owner(&bin.join("initdb"))
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "-D",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !init.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        ));
    }
    Ok((bin, dir))
}

fn start_server() -> Result<tokio_postgres::Config, String> {
    let (bin, dir) = init_cluster()?;
    let data = dir.join("data");
    // The server stops when this process ends: a watcher beside it waits for the process to
    // go, then asks it to shut down fast.
    let script = format!(
        "\"{postgres}\" -D \"{data}\" -k \"{dir}\" -c listen_addresses= -c max_connections=200 \
         > \"{dir}/log\" 2>&1 & pg=$!; \
         while [ -d /proc/{parent} ] && kill -0 $pg 2>/dev/null; do sleep 1; done; \
         kill -INT $pg 2>/dev/null; wait $pg; rm -rf \"{data}\"",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
        parent = std::process::id(),
    );
    let mut sh = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", &script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    };
    sh.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start postgres: {e}"))?;
    let socket = dir.join(".s.PGSQL.5432");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !socket.exists() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            return Err(format!("postgres did not start in 60 s: {log}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut c = tokio_postgres::Config::new();
    c.host_path(&dir)
        .port(5432)
        .user("postgres")
        .dbname("postgres");
    // The socket appears before the server accepts connections; wait until it does.
    let ready = bin.join("pg_isready");
    while !Command::new(&ready)
        .arg("-h")
        .arg(&dir)
        .args(["-p", "5432", "-q"])
        .status()
        .is_ok_and(|s| s.success())
    {
        if Instant::now() > deadline {
            return Err("postgres did not accept connections in 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(c)
}

/// A PostgreSQL of one test's own, which the test may stop and start again (the database going
/// away under a running server). Stopped and removed when dropped.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
}

impl Cluster {
    /// A new, running cluster on a Unix socket of its own.
    pub fn start() -> Cluster {
        let (bin, dir) = init_cluster().unwrap_or_else(|e| panic!("no PostgreSQL: {e}"));
        let c = Cluster { bin, dir };
        c.resume();
        c
    }

    /// The connection string of its `postgres` database.
    pub fn url(&self) -> String {
        format!(
            "host={} port=5432 user=postgres dbname=postgres",
            self.dir.display()
        )
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops it at once, as a crash or a failover would (`immediate`: sessions are cut, nothing
    /// waits).
    pub fn stop(&self) {
        assert!(
            self.pg_ctl(&["-m", "immediate", "-w", "stop"]),
            "pg_ctl stop"
        );
    }

    /// Starts it again (and waits until it accepts connections).
    pub fn resume(&self) {
        let opts = format!(
            "-k {} -c listen_addresses= -c max_connections=100",
            self.dir.display()
        );
        let log = self.dir.join("log");
        let log = log.to_str().unwrap_or("log");
        assert!(
            self.pg_ctl(&["-l", log, "-w", "-o", &opts, "start"]),
            "pg_ctl start: {}",
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.pg_ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
