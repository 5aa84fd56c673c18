//! The physical limit of licet-server's HTTP stack, for the benchmarks: a bare axum server of
//! the same axum, hyper and tokio (this crate's, so the same versions and features), with a
//! `/healthz` answering the JSON licet's does and axum's own 404 for every other path. No
//! middleware, no store, no limits: what licet's fixed cost per request is compared with
//! (`scripts/bench-stack.sh`).
//!
//!   cargo run --release -p licet-server --example axum_baseline -- 127.0.0.1:0
//!
//! It prints `listening on ADDR` once bound, as licet-server does.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::json;

// The allocator licet-server runs with, so that only what licet itself allocates differs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let app = Router::new().route(
        "/healthz",
        get(|| async {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            Json(json!({ "status": "ok", "server_time": now }))
        }),
    );
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
