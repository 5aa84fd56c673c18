//! licet-server: online activation that returns bound offline tokens, heartbeats and floating
//! seats, signed revocation lists and key publication, on an embedded sled database.
//!
//! `main.rs` parses the configuration and starts; [`app()`] builds the [`axum::Router`] from an
//! [`AppState`], so tests drive it with `oneshot` and no socket. This file only declares the
//! modules and names, for the binaries and the tests, what they use; the composition root is
//! [`app`](mod@app), and no module of the crate imports through here.

pub mod activation;
pub mod api;
pub mod app;
pub mod backup;
pub mod compat;
pub mod config;
pub mod console;
pub mod dashboard;
pub mod datadir;
pub mod dispatch;
pub mod domains;
pub mod edge;
pub mod events;
pub mod files;
pub mod http;
pub mod ids;
pub mod keys;
pub mod licensing;
pub mod migrate;
pub mod net;
pub mod outbound;
pub mod payload;
pub mod routes;
pub mod rules;
pub mod serve;
pub mod stats;
pub mod tls;

// The HTTP layer's modules under their old names, for the binaries and tests.
pub use app::state;
pub use http::{auth, error, limits, metrics};

pub use config::{Args, Config};
// The domain's records and clock live in licet-core; the embedded store in licet-store-sled.
pub use licet_core::{clock, model};
pub use licet_store_sled::SledStore;

/// The storage traits, and the server's handle on a backend.
pub mod store {
    pub use licet_core::store::*;
}
pub use app::{
    app, bootstrap_admin_key, open, open_postgres, openapi_document, prune_logs, spawn_background,
};
pub use datadir::tighten;
pub use state::AppState;
