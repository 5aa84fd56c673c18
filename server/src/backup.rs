//! `licet-server backup` and `restore`: a consistent copy of a sled data directory, taken while
//! the server keeps answering, and brought back into a new directory.
//!
//! A backup is the data directory as a tar archive (the store copied into a new sled database,
//! the signing keys, the root secret and the download files), encrypted with age under a
//! passphrase, so that the signing keys in it are never written in the clear; `age -d` opens
//! it too. A running server makes the copy itself, on request over a Unix socket in its data
//! directory ([`SOCKET`], mode 0600: whoever may use it may read the directory anyway): sled
//! lets only one process open a store. While the store is copied, [`Gate`] holds every request
//! and background task that may write, so the copy is one moment of the store; requests wait,
//! they are not refused.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use tokio::sync::Notify;

use crate::config::{BackupArgs, RestoreArgs};

/// The control socket in the data directory.
pub const SOCKET: &str = "control.sock";
/// What a backup archive holds besides the data directory's files.
const MANIFEST: &str = "licet-backup.json";
/// The manifest's format.
const FORMAT: u64 = 1;
/// Snapshots in progress are made in the data directory under this prefix (the server may
/// write nowhere else), then packed and removed.
const SNAPSHOT_PREFIX: &str = "backup-";

/// Holds writers back while a snapshot is taken. Entering costs two atomic operations when no
/// snapshot is running.
#[derive(Debug, Default)]
pub struct Gate {
    inside: AtomicUsize,
    closed: AtomicBool,
    changed: Notify,
    /// One snapshot at a time.
    one: tokio::sync::Mutex<()>,
}

/// A writer inside the gate; leaving is dropping it.
#[derive(Debug)]
pub struct Pass<'a>(&'a Gate);

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if self.0.inside.fetch_sub(1, Ordering::SeqCst) == 1 && self.0.closed.load(Ordering::SeqCst)
        {
            self.0.changed.notify_waiters();
        }
    }
}

impl Gate {
    /// Waits while a snapshot is being taken, then lets the caller in.
    pub async fn enter(&self) -> Pass<'_> {
        loop {
            if self.closed.load(Ordering::SeqCst) {
                // Registered before the second look, so that a reopening in between is heard.
                let reopened = self.changed.notified();
                if self.closed.load(Ordering::SeqCst) {
                    reopened.await;
                }
                continue;
            }
            self.inside.fetch_add(1, Ordering::SeqCst);
            if !self.closed.load(Ordering::SeqCst) {
                return Pass(self);
            }
            // Closed meanwhile: step out again (waking the closer if this was the last).
            drop(Pass(self));
        }
    }

    /// Runs `f` with no writer inside: closes the gate, waits for those inside to leave, runs
    /// `f` on a blocking thread, and reopens.
    pub async fn closed<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let _one = self.one.lock().await;
        self.closed.store(true, Ordering::SeqCst);
        loop {
            let left = self.changed.notified();
            if self.inside.load(Ordering::SeqCst) == 0 {
                break;
            }
            left.await;
        }
        let out = tokio::task::spawn_blocking(f).await;
        self.closed.store(false, Ordering::SeqCst);
        self.changed.notify_waiters();
        out.context("the snapshot stopped")
    }
}

/// Copies the data directory `data` into the new directory `to`: the store (`db/`) with nothing
/// writing, the key files and root secrets beside it, and the download files.
pub fn snapshot(store: &licet_store_sled::SledStore, data: &Path, to: &Path) -> Result<u64> {
    let entries = store.copy_to(&to.join("db")).context("copying the store")?;
    for entry in std::fs::read_dir(data)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        let kind = entry.file_type()?;
        if name_str == "db" || name_str == SOCKET || name_str.starts_with(SNAPSHOT_PREFIX) {
            continue;
        }
        if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name))?;
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name))?;
        }
    }
    let manifest = serde_json::json!({
        "format": FORMAT,
        "server_version": env!("CARGO_PKG_VERSION"),
        "made_at": chrono::Utc::now().to_rfc3339(),
        "store_entries": entries,
    });
    std::fs::write(to.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
    Ok(entries)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    crate::datadir::create_private_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// A new, private snapshot directory in `data`.
fn snapshot_dir(data: &Path) -> Result<PathBuf> {
    let dir = data.join(format!("{SNAPSHOT_PREFIX}{}", crate::ids::random_token(12)));
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(&dir)
        .with_context(|| format!("{}: cannot make a snapshot directory", dir.display()))?;
    Ok(dir)
}

/// Serves the control socket of a running server on sled: each connection asks for one
/// snapshot (`snapshot`) and is answered `ok <directory name>` or `error <reason>`.
#[cfg(unix)]
pub fn serve_control(
    gate: std::sync::Arc<Gate>,
    store: licet_store_sled::SledStore,
    data: PathBuf,
) -> Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let path = data.join(SOCKET);
    // Left by a server that did not stop cleanly: this one holds the store, so no other
    // server can be listening on it.
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .with_context(|| format!("{}: cannot make the control socket", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (gate, store, data) = (gate.clone(), store.clone(), data.clone());
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                let mut read = tokio::io::BufReader::new(read.take(64));
                if read.read_line(&mut line).await.is_err() {
                    return;
                }
                let answer = if line.trim() == "snapshot" {
                    let began = std::time::Instant::now();
                    match snapshot_here(&gate, store, &data).await {
                        Ok((dir, n)) => {
                            let ms = began.elapsed().as_millis();
                            tracing::info!(entries = n, ms, "backup: store copied");
                            format!("ok {dir} {n} {ms}\n")
                        }
                        Err(e) => {
                            tracing::warn!("backup: {e:#}");
                            format!("error {e:#}\n")
                                .replace('\n', " ")
                                .trim_end()
                                .to_owned()
                                + "\n"
                        }
                    }
                } else {
                    "error unknown request\n".to_owned()
                };
                let _ = write.write_all(answer.as_bytes()).await;
            });
        }
    }))
}

/// A snapshot taken by the server that holds the store: (its directory's name, entries).
async fn snapshot_here(
    gate: &Gate,
    store: licet_store_sled::SledStore,
    data: &Path,
) -> Result<(String, u64)> {
    let dir = snapshot_dir(data)?;
    let (to, from) = (dir.clone(), data.to_path_buf());
    let made = gate
        .closed(move || snapshot(&store, &from, &to))
        .await
        .and_then(|r| r);
    match made {
        Ok(n) => Ok((
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            n,
        )),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// The passphrase: the first line of `--passphrase-file`, or `LICET_BACKUP_PASSPHRASE`.
fn passphrase(file: Option<&Path>) -> Result<age::secrecy::SecretString> {
    let text = match file {
        Some(f) => std::fs::read_to_string(f)
            .with_context(|| format!("{}: cannot read the passphrase", f.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        None => std::env::var("LICET_BACKUP_PASSPHRASE").map_err(|_| {
            anyhow::anyhow!(
                "a backup is encrypted: give --passphrase-file FILE or set LICET_BACKUP_PASSPHRASE"
            )
        })?,
    };
    if text.chars().count() < 12 {
        bail!("the passphrase must have at least 12 characters");
    }
    Ok(age::secrecy::SecretString::from(text))
}

/// `licet-server backup`: asks the running server for a snapshot (or, with none running, takes
/// it itself), packs and encrypts it into `--to`; a one-line summary.
pub fn backup(data: &Path, a: &BackupArgs) -> Result<String> {
    let secret = passphrase(a.passphrase_file.as_deref())?;
    anyhow::ensure!(
        !a.to.exists(),
        "{}: already exists (a backup never replaces a file)",
        a.to.display()
    );
    anyhow::ensure!(
        data.join("db").is_dir(),
        "{}: no store here (give the server's data directory with --data)",
        data.display()
    );
    // A backup inside the directory it copies would be in the next one, and the next.
    let parent = match a.to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let (Ok(p), Ok(d)) = (parent.canonicalize(), data.canonicalize()) {
        anyhow::ensure!(
            !p.starts_with(&d),
            "{}: inside the data directory; write backups elsewhere",
            a.to.display()
        );
    }
    let snap = match ask_server(data)? {
        Some(s) => s,
        None => snapshot_stopped(data)?,
    };
    let packed = pack(&snap.dir, &a.to, secret);
    let _ = std::fs::remove_dir_all(&snap.dir);
    let bytes = packed?;
    let by = match snap.held_ms {
        Some(ms) => format!("the running server held writes for {ms} ms"),
        None => "no server was running".to_owned(),
    };
    Ok(format!(
        "backed up {} to {}: {} store entries, {bytes} bytes, encrypted ({by})",
        data.display(),
        a.to.display(),
        snap.entries
    ))
}

/// A snapshot made, waiting to be packed.
struct Snapshot {
    dir: PathBuf,
    entries: u64,
    /// How long the running server held writers back, if it made the snapshot.
    held_ms: Option<u64>,
}

/// The snapshot the server made, or `None` when no server answers on the socket.
#[cfg(unix)]
fn ask_server(data: &Path) -> Result<Option<Snapshot>> {
    let path = data.join(SOCKET);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(e).with_context(|| format!("{}: cannot reach the server", path.display()));
        }
    };
    stream.write_all(b"snapshot\n")?;
    let mut line = String::new();
    BufReader::new(stream.take(64 * 1024)).read_line(&mut line)?;
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["ok", name, entries, ms] if !name.contains('/') && name.starts_with(SNAPSHOT_PREFIX) => {
            Ok(Some(Snapshot {
                dir: data.join(name),
                entries: entries.parse().unwrap_or(0),
                held_ms: ms.parse().ok(),
            }))
        }
        ["error", ..] => bail!(
            "the server could not take a snapshot: {}",
            line.trim_end().trim_start_matches("error ")
        ),
        _ => bail!("the server gave no snapshot (it answered {line:?})"),
    }
}

#[cfg(not(unix))]
fn ask_server(_data: &Path) -> Result<Option<Snapshot>> {
    Ok(None)
}

/// With no server running: opens the store and copies it.
fn snapshot_stopped(data: &Path) -> Result<Snapshot> {
    let store = licet_store_sled::SledStore::open(&data.join("db")).with_context(|| {
        format!(
            "{}: cannot open the store, and no server answered on {SOCKET}",
            data.display()
        )
    })?;
    let dir = snapshot_dir(data)?;
    let made = snapshot(&store, data, &dir);
    drop(store);
    match made {
        Ok(entries) => Ok(Snapshot {
            dir,
            entries,
            held_ms: None,
        }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// Packs `dir` as tar, encrypted under `secret`, into `to` (written beside it, then renamed, so
/// that `to` is whole or absent); its size.
fn pack(dir: &Path, to: &Path, secret: age::secrecy::SecretString) -> Result<u64> {
    let partial = to.with_extension("partial");
    let file = private_file(&partial)?;
    let written = (|| -> Result<()> {
        let encrypted = age::Encryptor::with_user_passphrase(secret)
            .wrap_output(std::io::BufWriter::new(file))?;
        let mut tar = tar::Builder::new(encrypted);
        tar.mode(tar::HeaderMode::Complete);
        tar.append_dir_all(".", dir)?;
        let encrypted = tar.into_inner()?;
        let mut out = encrypted.finish()?;
        out.flush()?;
        out.get_ref().sync_all()?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e).with_context(|| format!("{}: writing the backup", to.display()));
    }
    std::fs::rename(&partial, to)?;
    Ok(std::fs::metadata(to)?.len())
}

fn private_file(path: &Path) -> Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .with_context(|| format!("{}: cannot create", path.display()))
}

/// `licet-server restore`: decrypts and unpacks `--from` into the new directory `--data`, and
/// checks that it opens; a one-line summary.
pub fn restore(a: &RestoreArgs) -> Result<String> {
    let data = &a.data;
    if data.exists() && std::fs::read_dir(data)?.next().is_some() {
        bail!(
            "{}: not empty (a restore goes into a new or empty directory)",
            data.display()
        );
    }
    let secret = passphrase(a.passphrase_file.as_deref())?;
    let file = std::fs::File::open(&a.from)
        .with_context(|| format!("{}: cannot open", a.from.display()))?;
    let decryptor = age::Decryptor::new_buffered(BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("{}: not a licet backup: {e}", a.from.display()))?;
    let identity = age::scrypt::Identity::new(secret);
    let plain = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot decrypt (a wrong passphrase?): {e}",
                a.from.display()
            )
        })?;
    // Unpacked beside the target first: a broken archive leaves nothing at `--data`.
    let parent = match data.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let work = parent.join(format!(
        ".{}.restoring-{}",
        data.file_name()
            .map_or("data".into(), |n| n.to_string_lossy()),
        crate::ids::random_token(8)
    ));
    crate::datadir::create_private_dir(&work)?;
    let checked = (|| -> Result<u64> {
        tar::Archive::new(plain)
            .unpack(&work)
            .context("unpacking the backup")?;
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(work.join(MANIFEST)).context("the backup has no manifest")?,
        )?;
        anyhow::ensure!(
            manifest["format"].as_u64() == Some(FORMAT),
            "backup format {} is not one this server reads",
            manifest["format"]
        );
        std::fs::remove_file(work.join(MANIFEST))?;
        anyhow::ensure!(
            work.join(crate::keys::TOKEN_KEY_FILE).is_file(),
            "the backup has no token signing key"
        );
        crate::datadir::tighten(&work)?;
        let store =
            licet_store_sled::SledStore::open(&work.join("db")).context("the restored store")?;
        store.close()?;
        Ok(manifest["store_entries"].as_u64().unwrap_or(0))
    })();
    let entries = match checked {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            return Err(e);
        }
    };
    if data.exists() {
        std::fs::remove_dir(data)?;
    }
    std::fs::rename(&work, data).with_context(|| {
        format!(
            "{}: cannot move the restored directory here",
            data.display()
        )
    })?;
    Ok(format!(
        "restored {} into {} ({entries} store entries); start licet-server with --data {}",
        a.from.display(),
        data.display(),
        data.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gate_waits_for_writers_inside_and_holds_new_ones_back() {
        let gate = Arc::new(Gate::default());
        let inside = gate.enter().await;
        let started = Arc::new(AtomicBool::new(false));
        let copied = Arc::new(AtomicBool::new(false));
        let copy = {
            let (gate, started, copied) = (gate.clone(), started.clone(), copied.clone());
            tokio::spawn(async move {
                gate.closed(move || {
                    started.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(200));
                    copied.store(true, Ordering::SeqCst);
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !started.load(Ordering::SeqCst),
            "a writer inside holds the copy back"
        );
        // A writer arriving now waits for the copy to end.
        let late = {
            let (gate, copied) = (gate.clone(), copied.clone());
            tokio::spawn(async move {
                let _pass = gate.enter().await;
                copied.load(Ordering::SeqCst)
            })
        };
        drop(inside);
        copy.await.expect("join").expect("copy");
        assert!(
            late.await.expect("join"),
            "the late writer entered after the copy"
        );
        // Open again: entering does not wait.
        tokio::time::timeout(Duration::from_secs(1), gate.enter())
            .await
            .expect("open");
    }
}
