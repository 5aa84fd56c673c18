//! The application state shared by every handler: the store, the clock, the configuration, the
//! request limits and figures, and the application's services (`crate::app`), which own what
//! the routes share: tokens and keys, revocations, the journal and seats.

use std::sync::Arc;

use crate::app::journal::Journal;
use crate::app::revocations::RevocationService;
use crate::app::seats::SeatService;
use crate::app::tokens::TokenService;
use crate::config::Config;
use licet_core::clock::Clock;
use licet_core::store::Store;

/// Everything a handler needs: one `Arc`, so that the clone every extractor, middleware and
/// route takes per request is a single reference count, not one per service (with a dozen,
/// those counts were a measurable share of a request, their cache lines bouncing across cores).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
#[derive(Debug)]
pub struct Shared {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Rate limiters.
    pub limits: Arc<crate::http::limits::Limits>,
    /// Metrics.
    pub metrics: Arc<crate::http::metrics::Metrics>,
    /// The overview's daily counts and summary (see `crate::stats`).
    pub stats: Arc<crate::http::figures::Stats>,
    /// Webhook deliveries in flight (see `events::drain_outbox`).
    pub dispatch: Arc<crate::dispatch::Dispatch>,
    /// Holds every writer back while a backup copies the store (see `crate::backup`).
    pub gate: Arc<crate::backup::Gate>,
    /// The server's keys, the tokens it issues and the signature on its answers.
    pub tokens: Arc<TokenService>,
    /// Audit entries, security events, notifications, and who hears an event.
    pub journal: Arc<Journal>,
    /// The revocation list and what goes on it.
    pub revocations: Arc<RevocationService>,
    /// Seats, for every family.
    pub seats: Arc<SeatService>,
}

impl AppState {
    /// Builds the state and its services.
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<crate::keys::ServerKeys>,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> anyhow::Result<AppState> {
        let config = Arc::new(config);
        let tokens = Arc::new(TokenService::new(
            store.clone(),
            clock.clone(),
            config.clone(),
            keys,
        ));
        let journal = Arc::new(Journal::new(store.clone(), clock.clone()));
        let revocations = Arc::new(RevocationService::new(
            store.clone(),
            clock.clone(),
            config.clone(),
            tokens.clone(),
            journal.clone(),
        ));
        let seats = Arc::new(SeatService::new(
            store.clone(),
            clock.clone(),
            revocations.clone(),
            journal.clone(),
        ));
        Ok(AppState(Arc::new(Shared {
            limits: Arc::new(crate::http::limits::Limits::new(&config)),
            store,
            clock,
            config,
            metrics: Arc::default(),
            stats: Arc::default(),
            dispatch: Arc::default(),
            gate: Arc::default(),
            tokens,
            journal,
            revocations,
            seats,
        })))
    }

    /// Lets the token key rotate, its new generations kept in `source`.
    #[must_use]
    pub fn with_key_source(self, source: crate::keys::ring::KeySource) -> AppState {
        self.tokens.set_key_source(source);
        self
    }

    /// Whether this instance does background `task` this round (the store's leadership: on
    /// PostgreSQL one instance at a time, on sled always). A store that cannot tell is taken as
    /// not leading, and logged.
    pub async fn leads(&self, task: &str) -> bool {
        match self.store.lead(task).await {
            Ok(lead) => lead,
            Err(e) => {
                tracing::warn!(
                    task,
                    code = e.code(),
                    "cannot tell whether this instance leads"
                );
                false
            }
        }
    }
}
