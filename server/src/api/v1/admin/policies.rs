//! Policies: the terms a license is issued under.

use super::*;
use licet_api::requests::PolicyChange;

#[utoipa::path(post, path = "/v1/policies", tag = "policies", request_body = CreatePolicy, responses((status = 201, body = PolicyBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn create_policy(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<CreatePolicy>,
) -> ApiResult<(StatusCode, Json<PolicyBody>)> {
    let p = crate::app::catalog::create_policy(&s, &caller, ip, b).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PolicyFilter {
    pub(super) product_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/policies", tag = "policies", params(PolicyFilter), responses((status = 200, description = "`{items: [Policy]}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn list_policies(
    State(s): State<AppState>,
    caller: Caller,
    Q(f): Q<PolicyFilter>,
) -> ApiResult<Json<Value>> {
    let items = crate::app::catalog::policies(&s, &caller, f.product_id.as_deref()).await?;
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = PolicyBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn get_policy(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PolicyBody>> {
    Ok(Json(crate::app::catalog::policy(&s, &caller, &id).await?))
}

#[utoipa::path(patch, path = "/v1/policies/{id}", tag = "policies", params(("id" = String, Path, description = "the object's id")), request_body = PolicyChange, responses((status = 200, body = PolicyBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn update_policy(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<PolicyChange>,
) -> ApiResult<Json<PolicyBody>> {
    Ok(Json(
        crate::app::catalog::update_policy(&s, &caller, ip, &id, b).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/policies/{id}", tag = "policies", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 409, description = "in use", body = crate::http::error::ErrorBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn delete_policy(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    crate::app::catalog::delete_policy(&s, &caller, ip, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
