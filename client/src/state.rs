//! Local state of an application (feature `std`): the cached token, the cached revocation list
//! and the clock guard's memory, in a per-product directory.
//!
//! Every file is written atomically (a temporary file in the same directory, synced, then
//! renamed over the old one) and carries an HMAC-SHA256 keyed from the machine's fingerprint and
//! the product, so that casual editing — or copying the files to another machine — is detected.
//! A file that is missing, truncated, edited or from another machine reads as *absent*: it can
//! never make a license valid, only cost a refresh. (The key is derivable by anyone who can run
//! code as the user on that machine; the MAC stops tampering by hand, not a determined
//! attacker, who still has to defeat the token's signature.)
//!
//! File format: `"LICETST1"`, a slot byte, the payload length (be32), the payload, and the
//! HMAC (32 bytes) over everything before it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::vec::Vec;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use licet_verifier::clock::ClockState;

const MAGIC: &[u8; 8] = b"LICETST1";
const MAC_LEN: usize = 32;
/// Largest payload read back (a token or revocation list is far smaller).
const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// What a state file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Slot {
    /// The current license token.
    Token,
    /// The newest signed revocation list.
    Revocations,
    /// The clock guard's memory ([`ClockState`]).
    Clock,
    /// Application data the online client keeps (the server URL, the license key, when the
    /// server was last reached).
    Meta,
    /// The public keys tokens are checked with (SPKI PEM), for tools that did not compile
    /// them in.
    Keys,
    /// The device key's 32-byte seed (`crate::device::DeviceKey`). It never leaves the
    /// machine; tokens bind its public half.
    DeviceKey,
    /// The offline activation request waiting for its response.
    Pending,
}

impl Slot {
    fn file(self) -> &'static str {
        match self {
            Slot::Token => "token.bin",
            Slot::Revocations => "revocations.bin",
            Slot::Clock => "clock.bin",
            Slot::Meta => "meta.bin",
            Slot::Keys => "keys.bin",
            Slot::DeviceKey => "device.key",
            Slot::Pending => "pending.bin",
        }
    }

    fn tag(self) -> u8 {
        match self {
            Slot::Token => 1,
            Slot::Revocations => 2,
            Slot::Clock => 3,
            Slot::Meta => 4,
            Slot::Keys => 5,
            Slot::DeviceKey => 6,
            Slot::Pending => 7,
        }
    }
}

/// A product's state directory and the key that authenticates its files.
#[derive(Clone)]
pub struct LocalState {
    dir: PathBuf,
    key: [u8; 32],
}

impl core::fmt::Debug for LocalState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalState")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Drop for LocalState {
    fn drop(&mut self) {
        // Best effort: the key is derivable, but there is no reason to leave it in memory.
        self.key = [0; 32];
    }
}

/// The key of a product's state on a machine: SHA-256 over a label, the product and the
/// machine's fingerprint (its id, or any stable machine secret the application chooses).
pub fn state_key(product: &str, fingerprint: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"licet/state-mac/v1\0");
    h.update((product.len() as u32).to_be_bytes());
    h.update(product.as_bytes());
    h.update(fingerprint.as_bytes());
    h.finalize().into()
}

/// The default base directory for applications' licet state: `$LICET_STATE_DIR`, else the
/// platform's per-user data directory (`$XDG_DATA_HOME` or `~/.local/share` on Linux and BSDs,
/// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows) with `licet` appended.
pub fn default_base_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("LICET_STATE_DIR") {
        return Some(PathBuf::from(d));
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let base = if cfg!(windows) {
        std::env::var_os("APPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        home.map(|h| h.join("Library/Application Support"))
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".local/share")))
    };
    base.map(|b| b.join("licet"))
}

impl LocalState {
    /// The state of `product` under `base` (`base/<product>`, created with mode 0700),
    /// authenticated with [`state_key`] of the product and `fingerprint`.
    pub fn open(base: &Path, product: &str, fingerprint: &str) -> io::Result<LocalState> {
        let safe: std::string::String = product
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if safe.is_empty() || safe.starts_with('.') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the product name cannot name a directory",
            ));
        }
        LocalState::at(base.join(safe), state_key(product, fingerprint))
    }

    /// State in `dir` (created with mode 0700) under `key`.
    pub fn at(dir: PathBuf, key: [u8; 32]) -> io::Result<LocalState> {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&dir)?;
        Ok(LocalState { dir, key })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn mac(&self, data: &[u8]) -> hmac::Hmac<Sha256> {
        let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        m.update(data);
        m
    }

    /// A slot's payload, or `None` if the file is missing, damaged, edited or not this
    /// machine's.
    pub fn load(&self, slot: Slot) -> Option<Vec<u8>> {
        let bytes = fs::read(self.dir.join(slot.file())).ok()?;
        let header = MAGIC.len() + 1 + 4;
        if bytes.len() < header + MAC_LEN || &bytes[..MAGIC.len()] != MAGIC {
            return None;
        }
        if bytes[MAGIC.len()] != slot.tag() {
            return None;
        }
        let len = u32::from_be_bytes(bytes[MAGIC.len() + 1..header].try_into().ok()?) as usize;
        if len > MAX_PAYLOAD || bytes.len() != header + len + MAC_LEN {
            return None;
        }
        let (body, tag) = bytes.split_at(header + len);
        self.mac(body).verify_slice(tag).ok()?;
        Some(body[header..].to_vec())
    }

    /// Writes a slot atomically: a crash leaves the old file or the new one, never a mix.
    pub fn store(&self, slot: Slot, payload: &[u8]) -> io::Result<()> {
        if payload.len() > MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "payload too large",
            ));
        }
        // Zeroized when dropped: a payload may be the device key's seed.
        let mut body = zeroize::Zeroizing::new(Vec::with_capacity(
            MAGIC.len() + 5 + payload.len() + MAC_LEN,
        ));
        body.extend_from_slice(MAGIC);
        body.push(slot.tag());
        body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        body.extend_from_slice(payload);
        let tag = self.mac(&body).finalize().into_bytes();
        body.extend_from_slice(&tag);
        let target = self.dir.join(slot.file());
        let tmp = self
            .dir
            .join(std::format!(".{}.tmp-{}", slot.file(), std::process::id()));
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let result = (|| {
            let mut f = opts.open(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            fs::rename(&tmp, &target)?;
            #[cfg(unix)]
            if let Ok(d) = fs::File::open(&self.dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Removes a slot (a revoked license's token, say).
    pub fn clear(&self, slot: Slot) -> io::Result<()> {
        match fs::remove_file(self.dir.join(slot.file())) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The clock guard's memory (all zero if there is none, or it was tampered with).
    pub fn clock(&self) -> ClockState {
        self.load(Slot::Clock)
            .filter(|b| b.len() == 16)
            .map(|b| ClockState {
                highest_time_seen: i64::from_be_bytes(b[..8].try_into().unwrap_or_default()),
                highest_iat_seen: i64::from_be_bytes(b[8..].try_into().unwrap_or_default()),
            })
            .unwrap_or_default()
    }

    /// The device key kept in this state, if there is one (and it is this machine's file).
    pub fn device_key(&self) -> Option<crate::device::DeviceKey> {
        let seed = zeroize::Zeroizing::new(self.load(Slot::DeviceKey)?);
        let seed: &[u8; 32] = seed.as_slice().try_into().ok()?;
        Some(crate::device::DeviceKey::from_seed(seed))
    }

    /// The device key, made (from the OS's RNG) and stored (0600) if there is none yet.
    pub fn device_key_or_new(&self) -> io::Result<crate::device::DeviceKey> {
        if let Some(k) = self.device_key() {
            return Ok(k);
        }
        let k = crate::device::DeviceKey::generate()?;
        self.store(Slot::DeviceKey, &k.seed()[..])?;
        Ok(k)
    }

    /// Stores the clock guard's memory.
    pub fn store_clock(&self, c: ClockState) -> io::Result<()> {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&c.highest_time_seen.to_be_bytes());
        b[8..].copy_from_slice(&c.highest_iat_seen.to_be_bytes());
        self.store(Slot::Clock, &b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_anything_else() {
        let base = tempfile::tempdir().expect("tmp");
        let s = LocalState::open(base.path(), "acme-pro", "machine-a").expect("open");
        assert_eq!(s.load(Slot::Token), None);
        s.store(Slot::Token, b"token bytes").expect("store");
        assert_eq!(s.load(Slot::Token).as_deref(), Some(&b"token bytes"[..]));
        s.store(Slot::Token, b"newer").expect("store");
        assert_eq!(s.load(Slot::Token).as_deref(), Some(&b"newer"[..]));
        let names: Vec<_> = fs::read_dir(s.dir())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["token.bin"], "no temporary files left");

        let path = s.dir().join("token.bin");
        let good = fs::read(&path).expect("read");
        // Any single flipped bit, a truncation, or an appended byte reads as absent.
        for i in 0..good.len() {
            let mut t = good.clone();
            t[i] ^= 0x01;
            fs::write(&path, &t).expect("write");
            assert_eq!(s.load(Slot::Token), None, "byte {i}");
        }
        fs::write(&path, &good[..good.len() - 1]).expect("write");
        assert_eq!(s.load(Slot::Token), None);
        fs::write(&path, [&good[..], b"x"].concat()).expect("write");
        assert_eq!(s.load(Slot::Token), None);
        fs::write(&path, &good).expect("write");
        // Another machine's (or product's) key does not accept the file.
        let other = LocalState::open(base.path(), "acme-pro", "machine-b").expect("open");
        assert_eq!(other.load(Slot::Token), None);
        // A file moved to another slot is refused.
        fs::copy(&path, s.dir().join("revocations.bin")).expect("copy");
        assert_eq!(s.load(Slot::Revocations), None);
        s.clear(Slot::Token).expect("clear");
        assert_eq!(s.load(Slot::Token), None);
        s.clear(Slot::Token).expect("clearing twice is fine");
    }

    #[test]
    fn clock_memory_persists() {
        let base = tempfile::tempdir().expect("tmp");
        let s = LocalState::open(base.path(), "acme-pro", "m").expect("open");
        assert_eq!(s.clock(), ClockState::default());
        let c = ClockState::default().observe(1_000, Some(900));
        s.store_clock(c).expect("store");
        let again = LocalState::open(base.path(), "acme-pro", "m").expect("open");
        assert_eq!(again.clock(), c);
        for bad in ["../evil", "..", "", ".hidden"] {
            assert!(LocalState::open(base.path(), bad, "m").is_err(), "{bad:?}");
        }
        let odd = LocalState::open(base.path(), "acme/pro x", "m").expect("open");
        assert_eq!(odd.dir(), base.path().join("acme_pro_x"));
    }
}
