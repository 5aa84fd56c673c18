//! The overview's figures as a caller may read them: those who act on licenses (read-write
//! and admin keys, and the dashboard sessions that act as them), of what they may see — a key
//! limited to one product, that product's; an unrestricted key, every product's and the
//! refusals of requests that named no license known, or one product's when it asks. A
//! read-only key reads licenses, not the server's traffic.

use licet_core::model::Scope;

use crate::app::access::load_product;
use crate::app::caller::Caller;
use crate::app::error::ApiResult;
use crate::app::state::AppState;
pub use crate::stats::Overview;
use crate::stats::Whose;

/// The figures of `product_id`'s product, or of all the caller sees.
pub async fn overview(
    s: &AppState,
    caller: &Caller,
    product_id: Option<&str>,
) -> ApiResult<Overview> {
    caller.require(Scope::ReadWrite)?;
    let product = match (product_id, &caller.key.product_id) {
        (Some(asked), _) => Some(load_product(s, caller, asked).await?.id),
        (None, Some(own)) => Some(Into::into(own.clone())),
        (None, None) => None,
    };
    let whose = product.as_deref().map_or(Whose::All, Whose::Product);
    crate::stats::overview(s, whose).await
}

/// The gauges `/metrics` reports from the store: the seats held (every machine holds one but
/// dead floating ones) and the licenses, at `now`.
pub async fn held_seats_and_licenses(s: &AppState, now: i64) -> ApiResult<(usize, usize)> {
    let dead: usize = crate::licensing::dead_floating_machines(s, now, false)
        .await?
        .iter()
        .map(|(_, _, machines)| machines.len())
        .sum();
    Ok((
        s.store.machine_total().await?.saturating_sub(dead),
        s.store.license_count().await?,
    ))
}

/// Whether the store answers (`/healthz`): the stable code of its failure if not.
pub async fn health(s: &AppState) -> Result<(), &'static str> {
    s.store.health().await.map_err(|e| {
        tracing::warn!(code = e.code(), "health check: the store does not answer");
        e.code()
    })
}

/// Commits made to the store since it opened (`/metrics`).
pub fn store_flushes(s: &AppState) -> u64 {
    s.store.flush_count()
}
