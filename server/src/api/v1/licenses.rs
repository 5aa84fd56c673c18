//! Licenses over HTTP: create (one or many), list, read, change, suspend / reinstate / revoke /
//! renew, delete, and their machines. Each route reads its request and answers with what the
//! licenses operation (`crate::app::licenses`) returns.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use licet_api::requests::{BulkRequest, LicenseChange, NewLicense, Renew};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{LicenseBody, LicensePage, LicenseSummaryPage, MachineBody};
use crate::app::caller::Caller;
use crate::app::error::ApiResult;
use crate::app::licenses::{self, Listing};
use crate::app::state::AppState;
use crate::http::extract::{Body, ClientIp, OptionalBody, Q, page_limit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(bulk))
        .routes(routes!(read, update, delete))
        .routes(routes!(suspend))
        .routes(routes!(reinstate))
        .routes(routes!(revoke))
        .routes(routes!(renew))
        .routes(routes!(machines, reset_machines))
}

#[utoipa::path(post, path = "/v1/licenses", tag = "licenses", request_body = NewLicense, responses((status = 201, body = LicenseBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn create(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<NewLicense>,
) -> ApiResult<(StatusCode, Json<LicenseBody>)> {
    let l = licenses::create(&s, &caller, ip, &b).await?;
    Ok((StatusCode::CREATED, Json(l)))
}

#[utoipa::path(post, path = "/v1/licenses/bulk", tag = "licenses", request_body = BulkRequest, responses((status = 201, description = "`{created, items}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn bulk(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<BulkRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let items = licenses::create_many(&s, &caller, ip, &b).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "created": items.len(), "items": items })),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListFilter {
    product_id: Option<String>,
    policy_id: Option<String>,
    status: Option<licet_api::LicenseStatus>,
    /// Search: a license key in full or its last 4 characters, a license id, a customer's
    /// e-mail or a metadata value (at most 200 characters).
    q: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
    /// `true`: each license as a `LicenseSummary` (id, key, product, policy, status, expiry,
    /// creation), what a list shows; the store reads a page of them without the whole
    /// licenses.
    summary: Option<bool>,
}

/// A page of licenses, whole or as summaries. Serialized straight from the typed bodies: a
/// page of licenses built as a JSON value first spent most of its time allocating maps.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
enum Listed {
    Whole(LicensePage),
    Summaries(LicenseSummaryPage),
}

#[utoipa::path(get, path = "/v1/licenses", tag = "licenses", params(ListFilter), responses((status = 200, description = "a page: `{items: [License], next}`, or with `summary=true` `{items: [LicenseSummary], next}`; with `q`, the licenses it finds (a search reads every license of the other filters' choosing, so narrow it by product on large stores)", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Q(f): Q<ListFilter>,
) -> ApiResult<Json<Listed>> {
    let listing = Listing {
        product_id: f.product_id,
        policy_id: f.policy_id,
        status: f.status,
        q: f.q,
        after: f.after,
        limit: page_limit(f.limit),
    };
    Ok(Json(match f.summary == Some(true) {
        true => Listed::Summaries(licenses::list_summaries(&s, &caller, &listing).await?),
        false => Listed::Whole(licenses::list(&s, &caller, &listing).await?),
    }))
}

#[utoipa::path(get, path = "/v1/licenses/{id}", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = LicenseBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<LicenseBody>> {
    Ok(Json(licenses::read(&s, &caller, &id).await?))
}

#[utoipa::path(patch, path = "/v1/licenses/{id}", tag = "licenses", params(("id" = String, Path, description = "the object's id")), request_body = LicenseChange, responses((status = 200, body = LicenseBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn update(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<LicenseChange>,
) -> ApiResult<Json<LicenseBody>> {
    Ok(Json(licenses::change(&s, &caller, ip, &id, b).await?))
}

#[utoipa::path(delete, path = "/v1/licenses/{id}", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    licenses::delete(&s, &caller, ip, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/licenses/{id}/suspend", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = LicenseBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), (status = 409, description = "revoked", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn suspend(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<LicenseBody>> {
    Ok(Json(licenses::suspend(&s, &caller, ip, &id).await?))
}

#[utoipa::path(post, path = "/v1/licenses/{id}/reinstate", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = LicenseBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), (status = 409, description = "revoked", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn reinstate(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<LicenseBody>> {
    Ok(Json(licenses::reinstate(&s, &caller, ip, &id).await?))
}

/// Revocation is final: the license id goes on the revocation list (every token of the license
/// fails offline once a client has the new list), in the same durable step as the status.
/// Revoking a revoked license answers as the first time did, and publishes if no list holds it
/// yet (a retry after a failure publishes).
#[utoipa::path(post, path = "/v1/licenses/{id}/revoke", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "the license and `revocation_sequence`", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn revoke(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (l, sequence) = licenses::revoke(&s, &caller, ip, &id).await?;
    let mut v = serde_json::to_value(l).map_err(crate::app::error::ApiError::internal)?;
    v["revocation_sequence"] = json!(sequence);
    Ok(Json(v))
}

/// Extends the expiry from the later of now and the current expiry.
#[utoipa::path(post, path = "/v1/licenses/{id}/renew", tag = "licenses", params(("id" = String, Path, description = "the object's id")), request_body(content = Option<Renew>, description = "optional `duration` in seconds"), responses((status = 200, body = LicenseBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn renew(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<Renew>,
) -> ApiResult<Json<LicenseBody>> {
    let duration = body.and_then(|b| b.duration);
    Ok(Json(licenses::renew(&s, &caller, ip, &id, duration).await?))
}

#[utoipa::path(get, path = "/v1/licenses/{id}/machines", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "`{items: [Machine]}`", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn machines(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let items: Vec<MachineBody> = licenses::machines(&s, &caller, &id).await?;
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(delete, path = "/v1/licenses/{id}/machines", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "`{released}`: every machine of the license deactivated, each with its audit entry and `license.deactivated` event", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn reset_machines(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let released = licenses::reset_machines(&s, &caller, ip, &id).await?;
    Ok(Json(json!({ "released": released })))
}
