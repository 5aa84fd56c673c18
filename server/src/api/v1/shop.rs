//! What licenses are sold with: prices of products, customers and their orders, and the
//! domains of a license. WemX's private API creates these; the admin API manages them.

use crate::app::error::ErrorCode;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use licet_api::requests::{NewDomain, NewPrice};
use licet_core::audit::AuditAction;
use licet_core::events::kind;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{self, MachineBody, OrderBody, PriceBody};
use crate::app::access::load_product;
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::domains::{DomainName, domain_machine};
use crate::http::extract::{Body, ClientIp, Q, page_limit};
use licet_core::model::{Customer, Price, PriceKind, Scope};
use licet_core::seats::{SeatClaim, SeatError, SeatRefusal, SeatRule};
use licet_core::store::{Halted, Seat};

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
    caller.require(Scope::Admin)?;
    let product = load_product(&s, &caller, &id).await?;
    let bad = |m: &str| Err(ApiError::bad_request(ErrorCode::InvalidField, m));
    if b.name.trim().is_empty() || b.name.len() > 100 {
        return bad("name: 1–100 characters");
    }
    match (PriceKind::from(b.kind), b.period_days) {
        (PriceKind::Recurring, Some(0)) => return bad("period_days: at least 1"),
        (PriceKind::Recurring, Some(d)) if d > 36_600 => {
            return bad("period_days: at most 36600");
        }
        (PriceKind::Single | PriceKind::Free, Some(_)) => {
            return bad("period_days: only recurring prices have a period");
        }
        _ => {}
    }
    let currency = b.currency.unwrap_or_else(|| "USD".into());
    if currency.len() != 3 || !currency.bytes().all(|c| c.is_ascii_uppercase()) {
        return bad("currency: three upper-case letters (ISO 4217)");
    }
    let id = match b.id {
        Some(0) => return bad("id: at least 1"),
        Some(n) => n,
        None => s.store.next_price_id().await?,
    };
    let p = Price {
        id,
        product_id: product.id,
        name: b.name.trim().to_owned(),
        kind: b.kind.into(),
        period_days: b.period_days,
        amount: b.amount,
        currency,
        created_at: s.clock.now(),
    };
    s.store.insert_price(&p).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::PriceCreated,
            &p.id.to_string(),
            ip.text(),
            json!({ "product_id": p.product_id }),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(PriceBody::from(&p))))
}

#[utoipa::path(get, path = "/v1/products/{id}/prices", tag = "prices", params(("id" = String, Path, description = "the product's id")),
    responses((status = 200, description = "`{items: [Price]}`", body = serde_json::Value), (status = 404, description = "no such product", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list_prices(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let product = load_product(&s, &caller, &id).await?;
    Ok(Json(
        json!({ "items": body::all::<_, PriceBody>(&s.store.prices(Some(&product.id)).await?) }),
    ))
}

#[utoipa::path(delete, path = "/v1/prices/{id}", tag = "prices", params(("id" = u64, Path, description = "the price's id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), (status = 409, description = "orders use it", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn delete_price(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<u64>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Admin)?;
    let p = caller.visible(s.store.price(id).await?, "price", |p| &p.product_id)?;
    s.store.delete_price(p.id).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::PriceDeleted,
            &p.id.to_string(),
            ip.text(),
            json!({}),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- customers and orders

/// A customer as the API shows it: never the password hash.
fn customer_view(c: &Customer) -> Value {
    json!({ "id": c.id, "email": c.email, "created_at": c.created_at })
}

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
    responses((status = 200, description = "a page: `{items: [{id, email, created_at}], next}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list_customers(
    State(s): State<AppState>,
    caller: Caller,
    Q(f): Q<CustomerFilter>,
) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    if let Some(email) = f.email {
        let found = s
            .store
            .customer_by_email(&email.trim().to_ascii_lowercase())
            .await?;
        let items: Vec<Value> = found.iter().map(customer_view).collect();
        return Ok(Json(json!({ "items": items, "next": null })));
    }
    let page = s
        .store
        .customers(f.after.unwrap_or(0), page_limit(f.limit))
        .await?;
    let items: Vec<Value> = page.items.iter().map(customer_view).collect();
    Ok(Json(json!({ "items": items, "next": page.next })))
}

#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", params(("id" = u64, Path, description = "the customer's id")),
    responses((status = 200, description = "`{id, email, created_at, orders: [{…, license_key}]}`", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn get_customer(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    let c = s
        .store
        .customer(id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    let mut v = customer_view(&c);
    let mut orders = Vec::new();
    for o in s.store.orders_of_customer(c.id).await? {
        let mut ov = serde_json::to_value(OrderBody::from(&o)).map_err(ApiError::internal)?;
        ov["license_key"] = json!(s.store.license(&o.license_id).await?.map(|l| l.key));
        orders.push(ov);
    }
    v["orders"] = json!(orders);
    Ok(Json(v))
}

#[utoipa::path(post, path = "/v1/customers/{id}/password", tag = "customers", params(("id" = u64, Path, description = "the customer's id")),
    responses((status = 200, description = "`{id, email, password}`: the new password, shown this once", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn reset_password(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<u64>,
) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    let mut c = s
        .store
        .customer(id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    let (password, hash) = crate::http::auth::new_password().await?;
    c.password_hash = hash;
    s.store.update_customer(&c).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::CustomerPasswordReset,
            &c.id.to_string(),
            ip.text(),
            json!({}),
        )
        .await?;
    Ok(Json(
        json!({ "id": c.id, "email": c.email, "password": password.as_str() }),
    ))
}

#[utoipa::path(get, path = "/v1/orders/{id}", tag = "customers", params(("id" = u64, Path, description = "the order's id")),
    responses((status = 200, body = OrderBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn get_order(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<Value>> {
    let o = caller.visible(s.store.order(id).await?, "order", |o| &o.product_id)?;
    Ok(Json(
        serde_json::to_value(OrderBody::from(&o)).map_err(ApiError::internal)?,
    ))
}

/// A domain added meanwhile by another request: this one is its duplicate.
struct AlreadyThere;

// ----- license domains

#[utoipa::path(post, path = "/v1/licenses/{id}/domains", tag = "licenses", params(("id" = String, Path, description = "the license's id")), request_body = NewDomain,
    responses((status = 201, description = "the domain, as a machine of the license", body = super::body::MachineBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), (status = 409, description = "already registered, or no free slot", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn add_domain(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<NewDomain>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(Scope::ReadWrite)?;
    let l = crate::app::access::load_license(&s, &caller, &id).await?;
    let domain = DomainName::parse(&b.domain).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            "domain: not a host name or IP address",
        )
    })?;
    let policy = s
        .store
        .policy(&l.policy_id)
        .await?
        .ok_or_else(|| ApiError::internal("license without policy"))?;
    let duplicate =
        || ApiError::conflict(ErrorCode::Duplicate, "the license already has this domain");
    if s.store
        .machine(&l.id, &domain.fingerprint())
        .await?
        .is_some()
    {
        return Err(duplicate());
    }
    let claim = SeatClaim {
        license_id: l.id.clone(),
        fingerprint: domain.fingerprint(),
        parts: Vec::new(),
    };
    // The operator adds a domain on purpose: the seat rule counts it, but a license bound to
    // its first machine does not refuse it (the bound is the clients' rule).
    let rule = SeatRule {
        bound_to_first: false,
        ..SeatRule::of(&l, &policy)
    };
    let audience = s
        .journal
        .audience(kind::LicenseActivated, Some(&l.product_id))
        .await?;
    let taken = s
        .seats
        .take_seat(&claim, &rule, &|seat, now| {
            let Seat::New { number } = seat else {
                // Added meanwhile by another request: this one is the duplicate.
                return Err(AlreadyThere);
            };
            let m = domain_machine(
                &l.id,
                &domain,
                b.domain_type.map(Into::into),
                None,
                number,
                now,
            );
            let entry = s.journal.audit_entry(
                &caller.actor(),
                AuditAction::DomainAdded,
                &m.id,
                ip.text(),
                json!({ "license_id": l.id, "domain": domain.name }),
                Some(l.product_id.clone()),
            );
            let told = audience.record((l.clone(), m.clone()), now, vec![entry]);
            Ok((m, told, ()))
        })
        .await;
    let m = match taken {
        Ok((seated, ())) => seated.machine,
        Err(Halted::Declined(AlreadyThere)) => return Err(duplicate()),
        Err(Halted::Failed(SeatError::Refused(SeatRefusal::TooManyMachines { max }))) => {
            return Err(ApiError::conflict(
                ErrorCode::TooManyMachines,
                format!("the license allows {max} domain(s) or machine(s) and all are in use"),
            ));
        }
        Err(Halted::Failed(e)) => return Err(e.into()),
    };
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(MachineBody::from(&m)).map_err(ApiError::internal)?),
    ))
}
