//! `licet-server migrate`: moves a sled data directory to a PostgreSQL database, with the
//! server stopped. Everything the store holds is copied through the store traits
//! ([`licet_core::transfer`]); what lives beside it in the directory is moved here: the
//! signing keys (every generation of the token key, and the RSA key) are sealed into the
//! database under the master key, and the download files are copied into it.
//!
//! The target must be empty: a copy that broke off leaves a partial database, which this
//! refuses to add to; drop it (or its schema) and run again. The source is only read.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use licet_core::store::{KeyVault, Store};

pub use crate::config::MigrateArgs;
use crate::keys::{MasterKey, RSA_KEY_FILE, RSA_KEY_NAME, TOKEN_KEY_FILE, TOKEN_KEY_NAME};

/// Moves the data directory; prints what it moved. The summary, for the caller to print.
pub async fn run(a: &MigrateArgs) -> Result<String> {
    let master = MasterKey::read(&a.master_key_file)?;
    let data = &a.from_data;
    for f in [TOKEN_KEY_FILE, RSA_KEY_FILE] {
        if !data.join(f).is_file() {
            bail!(
                "{}: no {f}: not the data directory of a licet-server",
                data.display()
            );
        }
    }
    let from = licet_store_sled::SledStore::open(&data.join("db")).with_context(|| {
        format!(
            "{}: cannot open the store (is a licet-server still running on it? stop it first)",
            data.display()
        )
    })?;
    let to = licet_store_postgres::PgStore::connect(
        &a.to_database_url,
        &licet_store_postgres::Options::default(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot open the PostgreSQL database: {e}"))?;
    if !licet_core::transfer::is_empty(&to).await? || to.sealed_key(TOKEN_KEY_NAME).await?.is_some()
    {
        bail!(
            "the database already holds a licet store: migrate moves a data directory into a \
             new, empty database only"
        );
    }

    // The keys first: a database with the store but not its keys would start a server with
    // new ones, whose tokens no verifier knows.
    let sealed = seal_keys(&from, &to, data, &master).await?;
    let copied = licet_core::transfer::copy(&from, &to, &mut |kind, n| {
        tracing::debug!(kind, n, "copied");
    })
    .await
    .map_err(|e| anyhow::anyhow!("copying the store: {e}"))?;
    let files = copy_files(&from, &to, data).await?;
    from.close()?;
    Ok(format!(
        "moved {} to PostgreSQL: {copied}; signing keys: {sealed}; download files: {files}",
        data.display()
    ))
}

/// Seals the directory's signing keys into the database as licet-server on PostgreSQL keeps
/// them; how many.
async fn seal_keys(
    from: &dyn Store,
    to: &dyn Store,
    data: &Path,
    master: &MasterKey,
) -> Result<usize> {
    let mut keys = vec![
        (TOKEN_KEY_NAME.to_owned(), data.join(TOKEN_KEY_FILE)),
        (RSA_KEY_NAME.to_owned(), data.join(RSA_KEY_FILE)),
    ];
    // Every generation of the token key the ring names.
    let ring = crate::keys::ring::load_newer(
        Arc::new(crate::keys::ServerKeys::load_or_create(data)?.0),
        from,
        &crate::keys::ring::KeySource::Files(data.to_path_buf()),
    )
    .await?;
    for k in ring.ring().iter().filter(|k| k.generation > 0) {
        keys.push((
            crate::keys::ring::key_name(k.generation),
            data.join(crate::keys::ring::key_file(k.generation)),
        ));
    }
    for (name, path) in &keys {
        let pem = zeroize::Zeroizing::new(
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?,
        );
        let sealed = master.seal(name, &pem)?;
        to.insert_sealed_key(name, &sealed).await?;
    }
    // Every version of the root secret, so that sessions, sealed secrets and URLs carry over.
    let mut roots = 0;
    for version in 1.. {
        let name = crate::keys::root::name(version);
        let Some(raw) = crate::keys::root::read_file(&data.join(&name))? else {
            break;
        };
        to.insert_sealed_key(&name, &master.seal(&name, &raw)?)
            .await?;
        roots += 1;
    }
    // The first keys' times, as the sled server published them (its files' times).
    for (name, path) in &keys[..2] {
        if let Some(at) = crate::keys::modified(path) {
            crate::keys::record_created(to, name, at).await?;
        }
    }
    Ok(keys.len() + roots)
}

/// Copies every download's file into the database; how many.
async fn copy_files(from: &dyn Store, to: &dyn Store, data: &Path) -> Result<usize> {
    let mut n = 0;
    for d in from.downloads(None).await? {
        if to.has_file(&d.product_id, &d.file).await? {
            continue;
        }
        let path = crate::files::path_in(data, &d);
        let now = chrono::Utc::now().timestamp();
        match crate::files::Upload::copy_file(to, now, &path, &d.product_id, &d.file).await? {
            Some(_) => n += 1,
            None => tracing::warn!(
                download = d.id,
                file = %path.display(),
                "the file of a download is missing; its record is moved without it"
            ),
        }
    }
    Ok(n)
}
