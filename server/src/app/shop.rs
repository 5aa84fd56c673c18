//! What licenses are sold with: prices of products, customers and their orders, and the
//! domains of a license. WemX's private API creates these; the admin API manages them.
//! Customers span products, so only a caller not limited to products sees them.

use licet_api::answers::{
    CustomerBody, CustomerOrder, CustomerOrders, CustomerPage, MachineBody, NewPasswordBody,
    OrderBody, PriceBody, PriceList,
};
use licet_api::requests::{NewDomain, NewPrice};
use licet_core::audit::AuditAction;
use licet_core::model::{Price, PriceKind, Scope};
use licet_core::seats::{SeatClaim, SeatError, SeatRefusal, SeatRule};
use licet_core::store::{Halted, Seat};
use serde_json::json;

use crate::app::access::{load_license, load_product};
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::seats::Made;
use crate::app::state::AppState;
use crate::domains::{DomainName, domain_machine};
use crate::net::ClientIp;

// ----- prices

/// Adds a price to a product the caller sees (admin scope).
pub async fn create_price(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    product_id: &str,
    b: NewPrice,
) -> ApiResult<PriceBody> {
    caller.require(Scope::Admin)?;
    let product = load_product(s, caller, product_id).await?;
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
    Ok(PriceBody::from(&p))
}

/// The prices of a product the caller sees.
pub async fn prices(s: &AppState, caller: &Caller, product_id: &str) -> ApiResult<PriceList> {
    let product = load_product(s, caller, product_id).await?;
    let items = s.store.prices(Some(&product.id)).await?;
    Ok(PriceList {
        items: items.iter().map(PriceBody::from).collect(),
    })
}

/// Deletes a price of a product the caller sees (admin scope); refused while orders use it.
pub async fn delete_price(s: &AppState, caller: &Caller, ip: ClientIp, id: u64) -> ApiResult<()> {
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
    Ok(())
}

// ----- customers and orders

/// Which customers to list: the one with an e-mail address, or a page of all.
#[derive(Debug, Clone, Default)]
pub struct CustomerQuery {
    /// Only the customer with this e-mail address.
    pub email: Option<String>,
    /// The cursor: customers after this number.
    pub after: Option<u64>,
    /// The page's size (within the API's bounds).
    pub limit: usize,
}

/// Customers, for a caller not limited to products.
pub async fn customers(s: &AppState, caller: &Caller, q: CustomerQuery) -> ApiResult<CustomerPage> {
    caller.require_unrestricted()?;
    if let Some(email) = q.email {
        let found = s
            .store
            .customer_by_email(&email.trim().to_ascii_lowercase())
            .await?;
        return Ok(CustomerPage {
            items: found.iter().map(CustomerBody::from).collect(),
            next: None,
        });
    }
    let page = s.store.customers(q.after.unwrap_or(0), q.limit).await?;
    Ok(CustomerPage {
        items: page.items.iter().map(CustomerBody::from).collect(),
        next: page.next,
    })
}

/// A customer with its orders, each with its license's key.
pub async fn customer(s: &AppState, caller: &Caller, id: u64) -> ApiResult<CustomerOrders> {
    caller.require_unrestricted()?;
    let c = s
        .store
        .customer(id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    let mut orders = Vec::new();
    for o in s.store.orders_of_customer(c.id).await? {
        orders.push(CustomerOrder {
            license_key: s.store.license(&o.license_id).await?.map(|l| l.key),
            order: OrderBody::from(&o),
        });
    }
    Ok(CustomerOrders {
        customer: CustomerBody::from(&c),
        orders,
    })
}

/// Gives a customer a new random password, shown this once; only its hash is stored.
pub async fn reset_password(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: u64,
) -> ApiResult<NewPasswordBody> {
    caller.require_unrestricted()?;
    let mut c = s
        .store
        .customer(id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    let (password, hash) = crate::app::credentials::new_password().await?;
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
    Ok(NewPasswordBody {
        id: c.id,
        email: c.email,
        password: password.as_str().to_owned(),
    })
}

/// An order of a product the caller sees.
pub async fn order(s: &AppState, caller: &Caller, id: u64) -> ApiResult<OrderBody> {
    let o = caller.visible(s.store.order(id).await?, "order", |o| &o.product_id)?;
    Ok(OrderBody::from(&o))
}

// ----- license domains

/// A domain added meanwhile by another request: this one is its duplicate.
struct AlreadyThere;

/// Registers a domain on a license as one of its machines, taking a seat under the seat rule.
pub async fn add_domain(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    license_id: &str,
    b: NewDomain,
) -> ApiResult<MachineBody> {
    caller.require(Scope::ReadWrite)?;
    let l = load_license(s, caller, license_id).await?;
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
    let taken = s
        .seats
        .activate(&l, &claim, &rule, &|seat, now| {
            let Seat::New { number } = seat else {
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
            Ok(Made::new(m, vec![entry], ()))
        })
        .await;
    match taken {
        Ok((seated, ())) => Ok(MachineBody::from(&seated.machine)),
        Err(Halted::Declined(AlreadyThere)) => Err(duplicate()),
        Err(Halted::Failed(SeatError::Refused(SeatRefusal::TooManyMachines { max }))) => {
            Err(ApiError::conflict(
                ErrorCode::TooManyMachines,
                format!("the license allows {max} domain(s) or machine(s) and all are in use"),
            ))
        }
        Err(Halted::Failed(e)) => Err(e.into()),
    }
}
