//! The application layer's services (`tokens`, `journal`, `revocations`, `seats`), which own
//! what the routes of every family share and know nothing of HTTP routing; and the composition
//! root that builds a server from them: the router with its middleware, the background tasks,
//! and the opening of the store and keys a server runs on. `main.rs` and the tests start here.

pub mod access;
pub mod audit;
pub mod caller;
pub mod catalog;
pub mod client;
pub mod credentials;
pub mod downloads;
pub mod error;
pub mod figures;
pub mod journal;
pub mod licenses;
pub mod offline;
pub mod revocations;
pub mod seats;
pub mod shop;
pub mod state;
pub mod tokens;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;

use licet_store_sled::SledStore;

use crate::app::error::ApiError;
use crate::app::state::AppState;
use crate::config::Config;
use crate::datadir::{create_private_dir, tighten};
use crate::http;
use crate::{dashboard, events, keys, licensing, routes, stats};
use licet_core::model::Scope;

/// The router with every route and the middleware: request ids, tracing, a body limit, JSON
/// errors for unknown routes and for panics.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let (router, api) = routes::router(&state.config).split_for_parts();
    let api = Arc::new(openapi(api));
    // The dashboard's pages call the application layer's operations, as the API's routes do;
    // they are not part of the OpenAPI document.
    let router = if state.config.dashboard {
        router.merge(dashboard::router())
    } else {
        router
    };
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { axum::Json(api.as_ref().clone()) }),
        )
        .route_layer(http::metrics::Track::new(
            state.metrics.clone(),
            state.config.access_log,
        ))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("handler panicked").into_response()
        }))
        // The request id, tracing, the access log, the limits, the backup gate, the request
        // timeout, LicenseCM's shape for every failure under its paths (the per-IP 429 and
        // panics included) and the signing of client refusals: one layer (see `edge`).
        .layer(crate::edge::EdgeLayer(state.clone()))
        .with_state(state)
}

/// Completes the document the routes produced: title, version, the bearer scheme.
fn openapi(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    api.info = utoipa::openapi::InfoBuilder::new()
        .title("licet-server")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Online activation, heartbeats and floating seats, revocation lists and key publication for licet tokens. \
             Errors are `{\"error\": {\"code\", \"message\"}}`; see docs/server.md.",
        ))
        .build();
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("an API key `lk_…` or a JWT minted from one"))
                .build(),
        ),
    );
    api
}

/// The OpenAPI document of a server with this configuration.
pub fn openapi_document(config: &Config) -> utoipa::openapi::OpenApi {
    openapi(routes::router(config).split_for_parts().1)
}

/// Creates the bootstrap admin API key if the store has none; returns the key to print once.
pub async fn bootstrap_admin_key(state: &AppState) -> anyhow::Result<Option<String>> {
    if state.store.has_api_keys().await? {
        return Ok(None);
    }
    let (full, record) = crate::app::credentials::new_api_key(
        "bootstrap admin",
        Scope::Admin,
        None,
        None,
        state.clock.now(),
    );
    state
        .store
        .put_api_key(&record)
        .await
        .map_err(|e| anyhow::anyhow!("storing the bootstrap key: {}", e.code()))?;
    Ok(Some(full))
}

/// Background work: culls dead floating machines every `cull_interval` seconds, announces
/// expired licenses, sends the webhook outbox (every 2 seconds) and adds the daily counts to
/// the store (every 10).
pub fn spawn_background(state: AppState) -> tokio::task::JoinHandle<()> {
    if state.config.compat_licensecm {
        events::run_outbox(state.clone(), Duration::from_secs(2));
    }
    stats::run(state.clone());
    // Every instance takes up a token key another one rotated to.
    let refresh = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(keys::ring::REFRESH);
        loop {
            tick.tick().await;
            if let Err(e) = refresh.tokens.refresh_keys().await {
                tracing::warn!(
                    code = e.code().as_str(),
                    "looking for a rotated token key failed"
                );
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(state.config.cull_interval));
        loop {
            tick.tick().await;
            state.limits.shrink();
            // The rest changes the shared store: on PostgreSQL one instance does it at a time,
            // so that no license.expired is announced twice.
            if !state.leads("maintenance").await {
                continue;
            }
            let _pass = state.gate.enter().await;
            match prune_logs(&state).await {
                Ok((0, 0)) => {}
                Ok((audit, security)) => {
                    tracing::info!(audit, security, "pruned the oldest log entries");
                }
                Err(e) => tracing::warn!(code = e.code().as_str(), "pruning the logs failed"),
            }
            // Download grants are kept a day past their expiry (for the audit trail), then dropped.
            if let Err(e) = state.store.prune_grants(state.clock.now() - 86_400).await {
                tracing::warn!(code = e.code(), "pruning download grants failed");
            }
            // Uploads into the store that broke off a day ago will not be finished.
            if let Err(e) = state.store.prune_uploads(state.clock.now() - 86_400).await {
                tracing::warn!(code = e.code(), "pruning broken uploads failed");
            }
            let old = licet_core::tally::day_of(state.clock.now()) - stats::DAYS_KEPT;
            if let Err(e) = state.store.prune_counts(old).await {
                tracing::warn!(code = e.code(), "pruning old daily counts failed");
            }
            match events::sweep_expired(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "announced expired licenses"),
                Err(e) => tracing::warn!(code = e.code().as_str(), "expiry sweep failed"),
            }
            match licensing::cull_dead_machines(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(culled = n, "released seats of dead machines"),
                Err(e) => tracing::warn!(code = e.code().as_str(), "culling failed"),
            }
        }
    })
}

/// Entries the logs drop in one background pass, at most: a pass stays short, and a backlog
/// (a lowered retention) drains over a few passes.
const PRUNE_BUDGET: usize = 10_000;

/// Drops audit and security log entries past `--log-retention-days` or beyond
/// `--log-max-entries` (the logs had no bound); returns how many of each.
pub async fn prune_logs(state: &AppState) -> error::ApiResult<(usize, usize)> {
    let days = i64::try_from(state.config.log_retention_days).unwrap_or(i64::MAX / 86_400);
    let before = state
        .clock
        .now()
        .saturating_sub(days.saturating_mul(86_400));
    Ok(state
        .store
        .prune_logs(before, state.config.log_max_entries, PRUNE_BUDGET)
        .await?)
}

/// Opens the data directory: the store and the keys (created on first start).
///
/// The directory holds license keys (`db/`) and signing keys, so it is the server's alone:
/// created 0700, its files 0600, and an existing directory that others can read is tightened
/// at start, with a log line saying what changed.
pub fn open(config: &Config) -> anyhow::Result<(SledStore, Arc<keys::ServerKeys>, bool)> {
    let existed = config.data.exists();
    create_private_dir(&config.data)?;
    let before = tighten(&config.data)?;
    let store = SledStore::open_with_cache(&config.data.join("db"), config.cache_mb * 1024 * 1024)?;
    let (keys, created) = keys::ServerKeys::load_or_create(&config.data)?;
    // What sled has just created, it created with the process umask.
    let after = tighten(&config.data)?;
    if existed && before > 0 {
        tracing::warn!(
            dir = %config.data.display(),
            tightened = before,
            "the data directory was readable by others; made it 0700 and its files 0600"
        );
    }
    tracing::debug!(tightened = after, "new store files made private");
    Ok((store, Arc::new(keys), created))
}

/// Opens the PostgreSQL store of `--database-url` (migrating it first) and its signing keys,
/// sealed in the database under `--master-key-file`'s key (created by the first instance),
/// every generation of the token key included, and where new generations go.
/// `--data` is not used for the store or the keys.
pub async fn open_postgres(
    config: &Config,
) -> anyhow::Result<(
    licet_store_postgres::PgStore,
    Arc<keys::ServerKeys>,
    keys::ring::KeySource,
    bool,
)> {
    let url = config
        .database_url
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no --database-url"))?;
    let master_file = config
        .master_key_file
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("PostgreSQL needs --master-key-file"))?;
    let master = keys::MasterKey::read(master_file)?;
    let options = licet_store_postgres::Options {
        pool_size: config.db_pool_size,
        wait: std::time::Duration::from_secs(config.db_wait),
    };
    // The URL is not in the message: it may hold a password.
    let store = licet_store_postgres::PgStore::connect(&url.0, &options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the PostgreSQL database: {e}"))?;
    let (keys, created) = keys::ServerKeys::load_or_create_in(&store, &master).await?;
    let source = keys::ring::KeySource::Sealed(Arc::new(master));
    let keys = keys::ring::load_newer(Arc::new(keys), &store, &source).await?;
    Ok((store, keys, source, created))
}
