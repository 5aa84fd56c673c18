//! The root secret: 32 random bytes from which the server derives every secret that is not a
//! signing key (dashboard session and CSRF keys, the key that seals stored LicenseCM and
//! webhook secrets, download URL keys, challenges, watermarks), each with a versioned label.
//!
//! It has versions. The newest derives and seals; the older ones only open what they sealed
//! until a rotation has sealed it again. Where the versions live follows the signing keys
//! ([`KeySource`]): files `root-secret.<n>` (0600) in the data directory on sled, the key vault
//! sealed under the master key (`root-secret.<n>`) on PostgreSQL. Writing a version is
//! first-wins, so two instances creating or rotating at once make one version, not two.
//!
//! Version 0 is not stored: it is the first token key's seed, which every secret was derived
//! from before the root had a secret of its own. A server that finds no version makes version 1
//! at start and seals again what version 0 sealed; from then on a leaked signing key opens
//! nothing. `POST /v1/keys/rotate-root` makes the next version.

use std::io::Write;

use anyhow::{Context, Result};
use licet_core::store::Store;

use super::ServerKeys;
use super::ring::KeySource;

/// One version of the root secret. Zeroized on drop, never logged.
#[derive(Clone)]
pub struct Root {
    /// 0 for the first token key's seed, then 1, 2, … for each secret made.
    pub version: u32,
    pub(crate) secret: zeroize::Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Root(v{}, ..)", self.version)
    }
}

impl Root {
    /// Version 0: the first token key's seed.
    pub(crate) fn legacy(seed: [u8; 32]) -> Root {
        Root {
            version: 0,
            secret: zeroize::Zeroizing::new(seed),
        }
    }
}

/// The file (sled) or vault name (PostgreSQL) of version `version`.
pub fn name(version: u32) -> String {
    format!("root-secret.{version}")
}

/// A version kept as a file (hex), if the file exists.
pub fn read_file(path: &std::path::Path) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?,
    );
    let raw =
        crate::ids::unhex(text.trim()).with_context(|| format!("{}: not hex", path.display()))?;
    Ok(Some(zeroize::Zeroizing::new(raw)))
}

/// Version `version` as stored, if it is.
async fn load(source: &KeySource, store: &dyn Store, version: u32) -> Result<Option<Root>> {
    let raw: Option<zeroize::Zeroizing<Vec<u8>>> = match source {
        KeySource::Files(dir) => read_file(&dir.join(name(version)))?,
        KeySource::Sealed(master) => match store.sealed_key(&name(version)).await? {
            Some(sealed) => Some(master.unseal(&name(version), &sealed)?),
            None => None,
        },
    };
    let Some(raw) = raw else {
        return Ok(None);
    };
    let secret: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} is not 32 bytes", name(version)))?;
    Ok(Some(Root {
        version,
        secret: zeroize::Zeroizing::new(secret),
    }))
}

/// Stores a new random version `version` unless one is stored already (first wins).
async fn create(source: &KeySource, store: &dyn Store, version: u32) -> Result<()> {
    let secret = zeroize::Zeroizing::new(crate::ids::random_bytes::<32>());
    match source {
        KeySource::Files(dir) => {
            let path = dir.join(name(version));
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = match opts.open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => {
                    return Err(e).with_context(|| format!("{}: cannot create", path.display()));
                }
            };
            let text = zeroize::Zeroizing::new(crate::ids::hex(&*secret));
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("{}: cannot write", path.display()))?;
        }
        KeySource::Sealed(master) => {
            let sealed = master.seal(&name(version), &*secret)?;
            store.insert_sealed_key(&name(version), &sealed).await?;
        }
    }
    Ok(())
}

/// `keys` with every version of the root stored after its own newest: the same keys if there
/// is none.
pub async fn load_newer(
    keys: std::sync::Arc<ServerKeys>,
    store: &dyn Store,
    source: &KeySource,
) -> Result<std::sync::Arc<ServerKeys>> {
    let mut roots = keys.roots().to_vec();
    let mut next = keys.root_version() + 1;
    while let Some(root) = load(source, store, next).await? {
        roots.push(root);
        next += 1;
    }
    if roots.len() == keys.roots().len() {
        return Ok(keys);
    }
    Ok(std::sync::Arc::new(keys.with_roots(roots)?))
}

/// `keys` with their root versions, version 1 made first if there is none yet (a new server,
/// or one whose secrets were derived from its first token key); whether it was made here.
pub async fn load_or_create(
    keys: std::sync::Arc<ServerKeys>,
    store: &dyn Store,
    source: &KeySource,
) -> Result<(std::sync::Arc<ServerKeys>, bool)> {
    let keys = load_newer(keys, store, source).await?;
    if keys.root_version() > 0 {
        return Ok((keys, false));
    }
    create(source, store, 1).await?;
    Ok((load_newer(keys, store, source).await?, true))
}

/// Makes the next version of the root (building on any another instance made); the keys with
/// it.
pub async fn rotate(
    keys: std::sync::Arc<ServerKeys>,
    store: &dyn Store,
    source: &KeySource,
) -> Result<std::sync::Arc<ServerKeys>> {
    let keys = load_newer(keys, store, source).await?;
    create(source, store, keys.root_version() + 1).await?;
    load_newer(keys, store, source).await
}

/// Seals again, under `keys`'s current root, every stored secret sealed under an older one
/// (LicenseCM products' secrets, webhooks' secrets); how many. One that no version opens is
/// left as it is (it was unreadable before too).
pub async fn reseal(keys: &ServerKeys, store: &dyn Store) -> Result<usize> {
    let mut n = 0;
    for mut p in store.products().await? {
        let Some(old) = p.sealed_secret.as_deref() else {
            continue;
        };
        if keys.sealed_now(old) {
            continue;
        }
        let Some(plain) = keys.unseal(old) else {
            continue;
        };
        p.sealed_secret = Some(keys.seal(&plain));
        store.update_product(&p).await?;
        n += 1;
    }
    for mut w in store.webhooks().await? {
        if keys.sealed_now(&w.sealed_secret) {
            continue;
        }
        let Some(plain) = keys.unseal(&w.sealed_secret) else {
            continue;
        };
        w.sealed_secret = keys.seal(&plain);
        store.put_webhook(&w).await?;
        n += 1;
    }
    Ok(n)
}
