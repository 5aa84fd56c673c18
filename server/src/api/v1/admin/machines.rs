//! Machines, read and freed one at a time.

use super::*;

#[utoipa::path(get, path = "/v1/machines/{id}", tag = "machines", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = crate::api::v1::body::MachineBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn get_machine(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (m, _) = load_machine(&s, &caller, &id).await?;
    Ok(Json(
        serde_json::to_value(MachineBody::from(&m)).map_err(ApiError::internal)?,
    ))
}

#[utoipa::path(delete, path = "/v1/machines/{id}", tag = "machines", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deactivated"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn delete_machine(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::ReadWrite)?;
    let (m, l) = load_machine(&s, &caller, &id).await?;
    let removed = crate::licensing::deactivate(&s, &caller.actor(), &ip, &l, &m, None).await?;
    if !removed {
        // Deactivated meanwhile.
        return Err(ApiError::not_found("machine"));
    }
    Ok(StatusCode::NO_CONTENT)
}
