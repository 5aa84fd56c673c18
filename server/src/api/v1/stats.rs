//! `GET /v1/stats`: the overview's figures (see [`crate::stats`]). Any admin key may read
//! them, of what it may see: a key limited to one product, that product's; an unrestricted
//! key, every product's and the refusals of requests that named no license known, or one
//! product's when it asks.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::app::access::load_product;
use crate::app::caller::Caller;
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::extract::Q;
use crate::stats::{Overview, Whose};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stats))
}

/// Which product's figures.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    /// Only this product's (a key limited to one product sees only its own anyway).
    product_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, description = "`{as_of, summary_at, products, licenses: {status: n}, seats, by_product: [{product_id, code, name, licenses, seats}], days: [{day, activations, validations, refusals}], refusals: [{code, count}], expiring: [{id, key, product_id, policy_id, expires_at}], expiring_more}`: daily counts for the last 30 UTC days, licenses and seats as summed up at most a minute ago, active licenses expiring within 14 days", body = serde_json::Value),
        crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn stats(
    State(s): State<AppState>,
    caller: Caller,
    Q(q): Q<StatsQuery>,
) -> ApiResult<Json<Overview>> {
    // The figures of those who act on licenses (read-write and admin keys, and the dashboard
    // sessions that act as them); a read-only key reads licenses, not the server's traffic.
    caller.require(licet_core::model::Scope::ReadWrite)?;
    let product = match (&q.product_id, &caller.key.product_id) {
        (Some(asked), _) => Some(load_product(&s, &caller, asked).await?.id),
        (None, Some(own)) => Some(own.clone()),
        (None, None) => None,
    };
    let whose = product.as_deref().map_or(Whose::All, Whose::Product);
    Ok(Json(crate::stats::overview(&s, whose).await?))
}
