//! Products: create, list, read, change, delete.

use super::*;

#[utoipa::path(post, path = "/v1/products", tag = "products", request_body = CreateProduct, responses((status = 201, description = "created", body = ProductBody), (status = 409, description = "duplicate code", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn create_product(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<CreateProduct>,
) -> ApiResult<(StatusCode, Json<ProductBody>)> {
    let p = crate::app::catalog::create_product(&s, &caller, ip, b).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[utoipa::path(get, path = "/v1/products", tag = "products", responses((status = 200, description = "`{items: [Product]}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn list_products(
    State(s): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    let items = crate::app::catalog::products(&s, &caller).await?;
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/products/{id}", tag = "products", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = ProductBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn get_product(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ProductBody>> {
    Ok(Json(crate::app::catalog::product(&s, &caller, &id).await?))
}

#[utoipa::path(patch, path = "/v1/products/{id}", tag = "products", params(("id" = String, Path, description = "the object's id")), request_body = UpdateProduct, responses((status = 200, body = ProductBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn update_product(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<UpdateProduct>,
) -> ApiResult<Json<ProductBody>> {
    Ok(Json(
        crate::app::catalog::update_product(&s, &caller, ip, &id, b).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/products/{id}", tag = "products", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 409, description = "licenses remain", body = crate::http::error::ErrorBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn delete_product(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    crate::app::catalog::delete_product(&s, &caller, ip, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
