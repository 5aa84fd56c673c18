//! Reading inputs and writing outputs: stdin as `-`, atomic and private writes, broken pipes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Largest input file `licet` reads (revocation lists can be tens of MiB).
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a file, or standard input for `-`.
pub fn read_input(arg: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    if arg == "-" {
        io::stdin()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut buf)
            .context("reading standard input")?;
    } else {
        File::open(arg)
            .with_context(|| format!("{arg}: cannot open"))?
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("{arg}: cannot read"))?;
    }
    if buf.len() as u64 > MAX_INPUT_BYTES {
        bail!("{arg}: larger than {MAX_INPUT_BYTES} bytes");
    }
    Ok(buf)
}

/// A token argument: `-` for stdin, a path to a file, or the token text itself.
pub fn read_token_arg(arg: &str) -> Result<Vec<u8>> {
    if arg == "-" || Path::new(arg).is_file() {
        read_input(arg)
    } else if arg.len() > 16
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(arg.as_bytes().to_vec())
    } else {
        bail!("{arg}: no such file, and not a base64url token")
    }
}

/// Creates a new file with mode 0600 (on Unix) and writes `data`; refuses to overwrite.
pub fn write_private_new(path: &Path, data: &[u8]) -> Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("{}: cannot create (does it exist already?)", path.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// Creates a new file (0644); refuses to overwrite.
pub fn write_public_new(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("{}: cannot create (does it exist already?)", path.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// Replaces `path` atomically: write a temporary file beside it, sync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("{}: cannot write", path.display()))
}

/// Writes to stdout; a closed pipe (`licet … | head`) is not an error.
pub fn print(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to standard output"),
    }
}
