//! `GET /v1/stats`: the overview's figures (see [`crate::app::figures`], which says who may
//! read which).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::app::caller::Caller;
use crate::app::error::ApiResult;
use crate::app::figures::Overview;
use crate::app::state::AppState;
use crate::http::extract::Q;
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
    Ok(Json(
        crate::app::figures::overview(&s, &caller, q.product_id.as_deref()).await?,
    ))
}
