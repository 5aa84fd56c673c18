//! The private API: creating licenses and extending them, for a WemX panel with an API key.

use super::*;
use crate::app::licenses;
use licet_core::audit::AuditAction;

/// The caller of the private API (a bearer API key or JWT allowed to write licenses) and the
/// request's input.
pub(super) fn private_request(
    caller: Result<Caller, ApiError>,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Caller, Map<String, Value>), Refusal> {
    let body = body?;
    let c = caller?;
    c.require(Scope::ReadWrite)?;
    Ok((c, input(query, headers, &body)))
}

/// WemX: create a license for a customer (created if unknown) from a package and a price.
#[utoipa::path(post, path = "/api/v1/licenses/private/create", tag = "wemx",
    request_body(content = serde_json::Value, description = "`{email, domain, package_id, price_id}`"),
    responses((status = 200, description = "`{success: true}`", body = serde_json::Value),
              (status = 401, description = "no valid bearer API key", body = serde_json::Value),
              (status = 409, description = "the package has no default policy", body = serde_json::Value),
              (status = 422, description = "Laravel validation (unknown package or price included)", body = serde_json::Value)),
    security(("bearer" = [])))]
pub(super) async fn create(
    State(s): State<AppState>,
    caller: Result<Caller, ApiError>,
    ip: ClientIp,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let (caller, input) = private_request(caller, query.as_deref(), &headers, body)?;
    let mut rules = Rules::new(&input);
    let email = rules.string("email", true, 254);
    if let Some(e) = &email
        && !valid_email(e)
    {
        rules.fail(
            "email",
            "The email field must be a valid email address.".into(),
        );
    }
    let domain = rules.domain("domain");
    let package_id = rules.integer("package_id");
    let price_id = rules.integer("price_id");
    rules.finish()?;
    let (Some(email), Some(domain), Some(package_id), Some(price_id)) =
        (email, domain, package_id, price_id)
    else {
        return Err(ApiError::internal("validated input missing").into());
    };
    let email = email.to_ascii_lowercase();
    let product = s
        .store
        .product_by_number(package_id)
        .await?
        .filter(|p| caller.sees(&p.id) && p.compat.wemx)
        .ok_or_else(|| Refusal::field("package_id", "The selected package id is invalid."))?;
    let price = s
        .store
        .price(price_id)
        .await?
        .filter(|p| p.product_id == product.id)
        .ok_or_else(|| Refusal::field("price_id", "The selected price id is invalid."))?;
    let policy = match &product.default_policy_id {
        Some(id) => s.store.policy(id).await?,
        None => None,
    }
    .ok_or_else(|| {
        Refusal::new(
            StatusCode::CONFLICT,
            "The package has no default policy, so no license can be created for it.",
        )
    })?;

    let now = s.clock.now();
    let customer = match s.store.customer_by_email(&email).await? {
        Some(c) => c,
        None => {
            // The password is random and kept only as a hash; licet sends no mail, so the
            // customer gets a password of their own through an admin reset.
            let (_password, hash) = crate::app::credentials::new_password().await?;
            let fresh = Customer {
                id: s.store.next_number("customer").await?,
                email: email.clone(),
                password_hash: hash,
                created_at: now,
            };
            let (c, created) = s.store.insert_customer_if_new(&fresh).await?;
            if created {
                s.journal
                    .audit(
                        &caller.actor(),
                        AuditAction::CustomerCreated,
                        &c.id.to_string(),
                        ip.text(),
                        json!({ "email": c.email }),
                    )
                    .await?;
            }
            c
        }
    };
    let due_date = match (price.kind, price.period_days) {
        (PriceKind::Recurring, Some(days)) => Some(now.saturating_add(i64::from(days) * 86_400)),
        _ => None,
    };
    let expires_at = match price.kind {
        PriceKind::Recurring => due_date,
        _ => policy
            .duration
            .map(|d| now.saturating_add(i64::try_from(d).unwrap_or(i64::MAX))),
    };
    let order_id = s.store.next_number("order").await?;
    // WemX's terms: the product's default policy, a kind that follows the price, no seats,
    // domains or entitlements of its own; the license belongs to the order's customer.
    let terms = licenses::Terms {
        product: &product,
        policy: &policy,
        key: None,
        kind: match price.kind {
            PriceKind::Recurring => Kind::Subscription,
            _ if expires_at.is_some() => Kind::Subscription,
            _ => Kind::Lifetime,
        },
        expires_at,
        seats: None,
        domains: Vec::new(),
        entitlements: Vec::new(),
        metadata: BTreeMap::new(),
        ip: None,
        extra_products: Vec::new(),
        hwid_locked: None,
    };
    let license = License {
        customer_id: Some(customer.id),
        order_id: Some(order_id),
        ..licenses::new_license(&s, &terms).await?
    };
    let order = Order {
        id: order_id,
        customer_id: customer.id,
        product_id: product.id.clone(),
        price_id: price.id,
        license_id: license.id.clone(),
        due_date,
        created_at: now,
        updated_at: now,
    };
    // The domain is registered now and installed (its IP recorded) on first validation.
    let machine = new_domain(&s, &license.id, &domain, None, None).await?;
    let entry = s.journal.audit_entry(
        &caller.actor(),
        AuditAction::OrderCreated,
        &order.id.to_string(),
        ip.text(),
        json!({ "customer_id": customer.id, "license_id": license.id, "product_id": product.id, "price_id": price.id, "domain": domain.name }),
        Some(product.id.clone()),
    );
    let told = s
        .journal
        .tell(&DomainEvent::LicenseCreated(license.clone()), vec![entry])
        .await?;
    s.store
        .insert_order(&order, &license, &[machine], told)
        .await?;
    Ok(Json(json!({ "success": true })).into_response())
}

/// WemX: move an order's due date (and so its license's expiry) to a date in the future.
#[utoipa::path(post, path = "/api/v1/licenses/private/update-due-date", tag = "wemx",
    request_body(content = serde_json::Value, description = "`{order_id, due_date}`"),
    responses((status = 200, description = "`{success: true}`", body = serde_json::Value),
              (status = 401, description = "no valid bearer API key", body = serde_json::Value),
              (status = 422, description = "Laravel validation (unknown order, past date)", body = serde_json::Value)),
    security(("bearer" = [])))]
pub(super) async fn update_due_date(
    State(s): State<AppState>,
    caller: Result<Caller, ApiError>,
    ip: ClientIp,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let (caller, input) = private_request(caller, query.as_deref(), &headers, body)?;
    let now = s.clock.now();
    let mut rules = Rules::new(&input);
    let order_id = rules.integer("order_id");
    let due = rules.future_date("due_date", true, now);
    rules.finish()?;
    let (Some(order_id), Some(due)) = (order_id, due) else {
        return Err(ApiError::internal("validated input missing").into());
    };
    let invalid = || Refusal::field("order_id", "The selected order id is invalid.");
    let mut o = s
        .store
        .order(order_id)
        .await?
        .filter(|o| caller.sees(&o.product_id))
        .ok_or_else(invalid)?;
    o.due_date = Some(due);
    o.updated_at = now;
    let l = s
        .store
        .update_order(&o, &|current| {
            let mut next = current.clone();
            next.expires_at = Some(due);
            next.updated_at = now;
            Ok(Some((next, Record::none())))
        })
        .await?
        .ok_or_else(invalid)?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::OrderDueDateUpdated,
            &o.id.to_string(),
            ip.text(),
            json!({ "license_id": l.id, "due_date": due }),
        )
        .await?;
    Ok(Json(json!({ "success": true })).into_response())
}

/// A plausible e-mail address: one `@`, a non-empty local part, a host name after it.
pub(super) fn valid_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, host)) => {
            !local.is_empty()
                && local.len() <= 64
                && !local.contains(char::is_whitespace)
                && !host.contains('@')
                && host.contains('.')
                && crate::domains::valid_host(&host.to_ascii_lowercase())
        }
        None => false,
    }
}
