//! What licenses are sold with (the operations are `app::shop`'s): prices of products,
//! customers and their orders, and the domains of a license. WemX's private API creates
//! these; the admin API manages them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use licet_api::answers::{
    CustomerOrders, CustomerPage, MachineBody, NewPasswordBody, OrderBody, PriceBody, PriceList,
};
use licet_api::requests::{NewDomain, NewPrice};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::caller::Caller;
use crate::app::error::ApiResult;
use crate::app::shop::{self, CustomerQuery};
use crate::app::state::AppState;
use crate::http::extract::{Body, ClientIp, Q, page_limit};

/// The admin routes of prices, customers, orders and license domains.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_price, list_prices))
        .routes(routes!(delete_price))
        .routes(routes!(list_customers))
        .routes(routes!(get_customer))
        .routes(routes!(reset_password))
        .routes(routes!(get_order))
        .routes(routes!(add_domain))
}

// ----- prices

#[utoipa::path(post, path = "/v1/products/{id}/prices", tag = "prices", params(("id" = String, Path, description = "the product's id")), request_body = NewPrice,
    responses((status = 201, body = PriceBody), (status = 404, description = "no such product", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn create_price(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<NewPrice>,
) -> ApiResult<(StatusCode, Json<PriceBody>)> {
    let price = shop::create_price(&s, &caller, ip, &id, b).await?;
    Ok((StatusCode::CREATED, Json(price)))
}

#[utoipa::path(get, path = "/v1/products/{id}/prices", tag = "prices", params(("id" = String, Path, description = "the product's id")),
    responses((status = 200, body = PriceList), (status = 404, description = "no such product", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list_prices(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PriceList>> {
    Ok(Json(shop::prices(&s, &caller, &id).await?))
}

#[utoipa::path(delete, path = "/v1/prices/{id}", tag = "prices", params(("id" = u64, Path, description = "the price's id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), (status = 409, description = "orders use it", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn delete_price(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<u64>,
) -> ApiResult<StatusCode> {
    shop::delete_price(&s, &caller, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- customers and orders

/// Customers span products, so only keys not limited to one product see them.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CustomerFilter {
    /// Only the customer with this e-mail address.
    email: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(CustomerFilter),
    responses((status = 200, body = CustomerPage), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list_customers(
    State(s): State<AppState>,
    caller: Caller,
    Q(f): Q<CustomerFilter>,
) -> ApiResult<Json<CustomerPage>> {
    let q = CustomerQuery {
        email: f.email,
        after: f.after,
        limit: page_limit(f.limit),
    };
    Ok(Json(shop::customers(&s, &caller, q).await?))
}

#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", params(("id" = u64, Path, description = "the customer's id")),
    responses((status = 200, body = CustomerOrders), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn get_customer(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<CustomerOrders>> {
    Ok(Json(shop::customer(&s, &caller, id).await?))
}

#[utoipa::path(post, path = "/v1/customers/{id}/password", tag = "customers", params(("id" = u64, Path, description = "the customer's id")),
    responses((status = 200, description = "the new password, shown this once", body = NewPasswordBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn reset_password(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<u64>,
) -> ApiResult<Json<NewPasswordBody>> {
    Ok(Json(shop::reset_password(&s, &caller, ip, id).await?))
}

#[utoipa::path(get, path = "/v1/orders/{id}", tag = "customers", params(("id" = u64, Path, description = "the order's id")),
    responses((status = 200, body = OrderBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn get_order(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<OrderBody>> {
    Ok(Json(shop::order(&s, &caller, id).await?))
}

// ----- license domains

#[utoipa::path(post, path = "/v1/licenses/{id}/domains", tag = "licenses", params(("id" = String, Path, description = "the license's id")), request_body = NewDomain,
    responses((status = 201, description = "the domain, as a machine of the license", body = MachineBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), (status = 409, description = "already registered, or no free slot", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn add_domain(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<NewDomain>,
) -> ApiResult<(StatusCode, Json<MachineBody>)> {
    let m = shop::add_domain(&s, &caller, ip, &id, b).await?;
    Ok((StatusCode::CREATED, Json(m)))
}
