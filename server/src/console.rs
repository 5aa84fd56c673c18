//! Commands run on the server's own machine against its store, without the API: what an
//! operator needs when the API cannot help (every admin key lost).
//!
//! Whoever can run these can read the data directory or holds the database's password, and so
//! could read or change everything anyway; the audit log still records what was done, as
//! `console`, so that a key made this way is never unexplained.

use std::sync::Arc;

use anyhow::{Context, Result};
use licet_core::model::{AuditEvent, Scope};

use crate::config::{ApiKeysCommand, ConsoleScope, CreateKeyArgs};
use licet_core::store::Store;

/// The audit log's actor for what was done from the console.
pub const ACTOR: &str = "console";

/// Runs `licet-server api-keys …`; what to print on stdout.
pub async fn api_keys(config: &crate::config::Config, command: &ApiKeysCommand) -> Result<String> {
    match command {
        ApiKeysCommand::Create(a) => {
            let (store, sled) = open(config).await?;
            let made = create(store.as_ref(), a).await;
            if let Some(sled) = sled {
                sled.close()?;
            }
            made
        }
    }
}

async fn create(store: &dyn Store, a: &CreateKeyArgs) -> Result<String> {
    let name = a.name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.len() <= 200,
        "--name: 1 to 200 characters"
    );
    let scope = match a.scope {
        ConsoleScope::Admin => Scope::Admin,
        ConsoleScope::ReadWrite => Scope::ReadWrite,
        ConsoleScope::ReadOnly => Scope::ReadOnly,
    };
    let now = licet_core::clock::Clock::now(&licet_core::clock::SystemClock);
    let (full, record) = crate::app::credentials::new_api_key(name, scope, None, None, now);
    store
        .put_api_key(&record)
        .await
        .map_err(|e| anyhow::anyhow!("storing the key: {}", e.code()))?;
    store
        .append_audit(AuditEvent {
            seq: 0,
            at: now,
            actor: ACTOR.into(),
            action: licet_core::audit::AuditAction::ApiKeyCreated.as_str().into(),
            subject: record.id.clone(),
            ip: None,
            detail: serde_json::json!({ "scope": record.scope, "name": record.name, "via": "licet-server api-keys create" }),
            product_id: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("writing the audit log: {}", e.code()))?;
    store
        .settle()
        .await
        .map_err(|e| anyhow::anyhow!("flushing the store: {}", e.code()))?;
    Ok(full)
}

/// The configured store: PostgreSQL, or the sled database of `--data`, which only one process
/// may open (so the server must be stopped).
async fn open(
    config: &crate::config::Config,
) -> Result<(Arc<dyn Store>, Option<licet_store_sled::SledStore>)> {
    match &config.database_url {
        Some(url) => {
            let store = licet_store_postgres::PgStore::connect(
                &url.0,
                &licet_store_postgres::Options::default(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the PostgreSQL database: {e}"))?;
            Ok((Arc::new(store), None))
        }
        None => {
            let db = config.data.join("db");
            anyhow::ensure!(
                db.is_dir(),
                "{}: no store here (give the data directory of the server with --data)",
                config.data.display()
            );
            let store = licet_store_sled::SledStore::open(&db).with_context(|| {
                format!(
                    "{}: cannot open the store (a licet-server running on it holds it: stop it \
                     first, or make the key through the API)",
                    config.data.display()
                )
            })?;
            Ok((Arc::new(store.clone()), Some(store)))
        }
    }
}
