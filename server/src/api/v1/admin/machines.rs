//! Machines, read and freed one at a time.

use super::*;

#[utoipa::path(get, path = "/v1/machines/{id}", tag = "machines", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = crate::api::v1::body::MachineBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn get_machine(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MachineBody>> {
    Ok(Json(crate::app::licenses::machine(&s, &caller, &id).await?))
}

#[utoipa::path(delete, path = "/v1/machines/{id}", tag = "machines", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deactivated"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn delete_machine(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    crate::app::licenses::deactivate_machine(&s, &caller, ip, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
