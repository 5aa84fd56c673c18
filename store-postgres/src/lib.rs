//! licet-store-postgres: licet-core's storage traits on PostgreSQL, so that several
//! licet-server instances can share one database.
//!
//! Records are stored as JSONB in the shape of licet-core's model, one table per kind, beside
//! the columns the store looks them up by, orders them by and keeps unique (see
//! `migrations/`). Every rule the traits promise is kept by the database, not by a lock in the
//! process:
//!
//! - uniqueness by `UNIQUE` constraints, whose violations become [`StoreError::Conflict`];
//! - a license's seats, and every change of one license, by locking the license's row
//!   (`SELECT … FOR UPDATE`) in the transaction that reads and writes them, so that two
//!   instances taking the last seat at once are serialised by PostgreSQL;
//! - once-only ids (`transaction_id`, download grants, challenges, envelopes) by an insert that
//!   only one transaction can make, or a conditional update;
//! - the revocation sequence by the one row of `revocations`, locked while it is advanced.
//!
//! Each trait operation is one transaction, committed before it returns: durable when it
//! returns, as the traits require.
//!
//! Products and policies are the exception to reading everything from the database: each
//! store keeps those it has read, and forgets them when any instance changes one, told by
//! `NOTIFY` (`cache`), at most [`CATALOG_STALE_AT_MOST`] late.
//!
//! The driver is tokio-postgres with deadpool-postgres for the pool (runtime queries, prepared
//! once per connection and cached); migrations are refinery's, embedded in the binary and run at
//! start under an advisory lock, so that instances starting together apply them once.

use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use licet_core::store::{Constraint, StoreError, StoreResult};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{NoTls, Row};

mod cache;
mod catalog;
mod counts;
mod files;
mod licenses;
mod logs;
mod onetime;
mod outbox;
mod revocations;
mod seats;
mod shop;
mod users;

#[cfg(feature = "testing")]
pub mod testing;

/// The connection settings [`PgStore::open`] takes (tokio-postgres's, re-exported so that a
/// caller needs no driver dependency of its own).
pub use tokio_postgres::Config;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The advisory lock held while migrations run ("licet" in ASCII).
const MIGRATION_LOCK: i64 = 0x006c_6963_6574;

/// How the store connects.
#[derive(Debug, Clone)]
pub struct Options {
    /// Connections in the pool at most.
    pub pool_size: usize,
    /// How long an operation waits for a connection (or for one to be made) before it fails:
    /// the bound on a request's wait when the database is gone.
    pub wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_size: 16,
            wait: Duration::from_secs(5),
        }
    }
}

/// The database: a pool of connections.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// The last health probe: when, and whether the database answered.
    probe: std::sync::Arc<std::sync::Mutex<Option<(std::time::Instant, bool)>>>,
    /// How to open a connection outside the pool (leadership sessions).
    config: tokio_postgres::Config,
    /// A session of its own per background task, holding the task's advisory lock while this
    /// process leads it; the lock ends with the session, so a leader that dies gives way.
    leaders: std::sync::Arc<
        tokio::sync::Mutex<std::collections::HashMap<String, tokio_postgres::Client>>,
    >,
    /// Products and policies this instance has read, forgotten when any instance changes one
    /// (`cache`).
    catalog: std::sync::Arc<cache::CatalogCache>,
}

/// How long, at worst, after a product or a policy is changed through one instance, another
/// instance may still answer with the old one: when its listening session dies silently
/// just after its last answer. While the session is up, a change is seen as soon as its
/// notification arrives.
pub const CATALOG_STALE_AT_MOST: Duration = cache::LEASE;

/// The first key of the leadership locks (the second is the task's name, hashed).
const LEAD_LOCKS: i32 = 0x6c69_6365;

/// How long a health probe's answer is reused: `/healthz` costs no round trip per request.
const PROBE_FOR: Duration = Duration::from_secs(1);

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore")
            .field("size", &status.size)
            .field("max_size", &status.max_size)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host/db`, or the key-value form), applies
    /// the migrations the database lacks and opens the pool. The password is never logged: a
    /// failure says what failed, not the URL.
    pub async fn connect(url: &str, options: &Options) -> StoreResult<PgStore> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::backend(format!("the database URL is not valid: {e}")))?;
        PgStore::open(config, options).await
    }

    /// [`PgStore::connect`] with a parsed configuration.
    pub async fn open(config: tokio_postgres::Config, options: &Options) -> StoreResult<PgStore> {
        migrate(&config).await?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                // A connection the database dropped (a restart) is found closed and replaced,
                // so the pool recovers by itself.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .wait_timeout(Some(options.wait))
            .create_timeout(Some(options.wait))
            .recycle_timeout(Some(options.wait))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(StoreError::backend)?;
        Ok(PgStore {
            pool,
            probe: std::sync::Arc::default(),
            catalog: cache::start(config.clone()),
            config,
            leaders: std::sync::Arc::default(),
        })
    }

    /// A connection from the pool.
    pub(crate) async fn conn(&self) -> StoreResult<deadpool_postgres::Object> {
        // Every way of not getting a connection (a timeout, a refused or failed connect) is
        // the database being away: the request is answered 503 and may be retried.
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => pg(e),
            e => StoreError::Unavailable(format!("no database connection: {e}")),
        })
    }

    /// Whether this instance answers products and policies from its cache: its session
    /// listening for their changes is up and has answered within
    /// [`CATALOG_STALE_AT_MOST`].
    pub fn catalog_cached(&self) -> bool {
        self.catalog.ticket().is_some()
    }

    /// Whether the database answers, from a probe at most [`PROBE_FOR`] old.
    pub(crate) async fn health(&self) -> StoreResult<()> {
        let recent = self
            .probe
            .lock()
            .ok()
            .and_then(|p| *p)
            .filter(|(at, _)| at.elapsed() < PROBE_FOR);
        let up = match recent {
            Some((_, up)) => up,
            None => {
                let up = match self.conn().await {
                    Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
                    Err(_) => false,
                };
                if let Ok(mut p) = self.probe.lock() {
                    *p = Some((std::time::Instant::now(), up));
                }
                up
            }
        };
        if up {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "the database does not answer".into(),
            ))
        }
    }

    /// Whether this process leads `task`: it holds the task's advisory lock, on a session kept
    /// for the task (reconnected when the database dropped it). `pg_try_advisory_lock` never
    /// waits, and is re-entrant for the session that holds it.
    pub(crate) async fn lead(&self, task: &str) -> StoreResult<bool> {
        let mut held = self.leaders.lock().await;
        if held.get(task).is_none_or(tokio_postgres::Client::is_closed) {
            let (client, connection) = self.config.connect(NoTls).await.map_err(pg)?;
            tokio::spawn(connection);
            held.insert(task.to_owned(), client);
        }
        let Some(client) = held.get(task) else {
            return Ok(false);
        };
        let row = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&LEAD_LOCKS, &task],
            )
            .await;
        match row {
            Ok(r) => r.try_get(0).map_err(pg),
            Err(e) => {
                held.remove(task);
                Err(pg(e))
            }
        }
    }
}

/// Applies the migrations the database lacks, on a connection of its own, holding an advisory
/// lock: a second instance starting at the same time waits, then finds nothing to do.
/// Where a configuration connects (`host:port`, or the socket directory), for an error that
/// must say which server refused. Never the password.
pub fn target(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match h {
                tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(dir) => {
                    format!("{}/.s.PGSQL.{port}", dir.display())
                }
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn migrate(config: &tokio_postgres::Config) -> StoreResult<()> {
    let (mut client, connection) = config.connect(NoTls).await.map_err(|e| {
        StoreError::Unavailable(format!(
            "no connection to PostgreSQL at {}: {e}",
            target(config)
        ))
    })?;
    let driver = tokio::spawn(connection);
    let run = async {
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg)?;
        let report = embedded::migrations::runner()
            .run_async(&mut client)
            .await
            .map_err(|e| StoreError::backend(format!("migration failed: {e}")));
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg)?;
        report.map(|_| ())
    };
    let done = run.await;
    drop(client);
    // The connection ends with the client; its task only has to finish.
    let _ = driver.await;
    done
}

/// The store's error for a driver's error: a unique violation is the conflict of the rule
/// its constraint keeps; a lost connection or a database shutting down or starting up is
/// [`StoreError::Unavailable`]; anything else is the backend's.
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION
            && let Some((constraint, detail)) = db.constraint().and_then(constraint_of)
        {
            return StoreError::conflict(constraint, detail);
        }
        // Class 08 (connection exception) and 57 (operator intervention: admin shutdown,
        // crash shutdown, cannot connect now).
        let code = db.code().code();
        if code.starts_with("08") || code.starts_with("57") {
            return StoreError::Unavailable(e.to_string());
        }
        // The driver's own text is only "db error": the log needs the database's message.
        return StoreError::backend(format!(
            "{} {}: {}{}",
            db.severity(),
            code,
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        ));
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        return StoreError::Unavailable(e.to_string());
    }
    StoreError::backend(e)
}

/// The rule a named constraint keeps, and what to tell people when it is broken.
fn constraint_of(name: &str) -> Option<(Constraint, &'static str)> {
    Some(match name {
        "product_code" => (Constraint::ProductCode, "a product with this code exists"),
        "product_number" => (
            Constraint::ProductNumber,
            "a product with this numeric id exists",
        ),
        "product_name" => (
            Constraint::ProductName,
            "a product answering by name (WemX, the Verify API) already has this name",
        ),
        "license_key" => (Constraint::LicenseKey, "a license with this key exists"),
        "prices_pkey" => (Constraint::PriceId, "a price with this id exists"),
        "download_name" => (
            Constraint::DownloadName,
            "the product already has a download of this name",
        ),
        "user_email" => (Constraint::UserEmail, "a user with this e-mail exists"),
        "download_file" => (
            Constraint::DownloadFile,
            "the product already has a file at this path",
        ),
        _ => return None,
    })
}

/// A record as a JSONB parameter.
pub(crate) fn json<T: Serialize>(v: &T) -> Json<&T> {
    Json(v)
}

/// Column `i` of a row, a JSONB record.
pub(crate) fn record<T: DeserializeOwned>(row: &Row, i: usize) -> StoreResult<T> {
    let Json(v): Json<T> = row
        .try_get(i)
        .map_err(|e| StoreError::backend(format!("corrupt record: {e}")))?;
    Ok(v)
}

/// Column `i` of a row.
pub(crate) fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
) -> StoreResult<T> {
    row.try_get(i).map_err(pg)
}

/// A number as PostgreSQL's `bigint`.
pub(crate) fn big(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(|_| StoreError::backend(format!("{n} does not fit a bigint")))
}

/// A `bigint` as a number (negative ones are never written).
pub(crate) fn unbig(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Runs a statement, prepared once per connection.
pub(crate) async fn exec<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<u64> {
    let st = c.prepare_cached(sql).await.map_err(pg)?;
    c.execute(&st, params).await.map_err(pg)
}

/// Runs a query, prepared once per connection.
pub(crate) async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<Row>> {
    let st = c.prepare_cached(sql).await.map_err(pg)?;
    c.query(&st, params).await.map_err(pg)
}

/// Runs a query of at most one row.
pub(crate) async fn row<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Option<Row>> {
    let st = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_opt(&st, params).await.map_err(pg)
}

/// Column 0 of the one row a query always answers: a count, a sequence's next value, what an
/// upsert returns.
pub(crate) async fn scalar<C: GenericClient, T: for<'a> tokio_postgres::types::FromSql<'a>>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<T> {
    let r = row(c, sql, params)
        .await?
        .ok_or_else(|| StoreError::backend("the query answered no row"))?;
    col(&r, 0)
}

/// A count as a size.
pub(crate) fn size(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// The record in column 0 of the one row a query finds, if any.
pub(crate) async fn one<C: GenericClient, T: DeserializeOwned>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Option<T>> {
    row(c, sql, params)
        .await?
        .map(|r| record(&r, 0))
        .transpose()
}

/// The records in column 0 of every row a query finds.
pub(crate) async fn all<C: GenericClient, T: DeserializeOwned>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<T>> {
    rows(c, sql, params)
        .await?
        .iter()
        .map(|r| record(r, 0))
        .collect()
}
