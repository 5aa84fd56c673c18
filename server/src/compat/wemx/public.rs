//! The public check: validation and the domain list, each license's domains as seats.

use super::*;
use crate::app::seats::Made;
use licet_core::audit::AuditAction;

/// The license, the packages it was found valid for, and what the domain check found.
pub(super) struct Checked {
    pub(super) license: License,
    pub(super) policy: Policy,
    /// The requested packages the license covers, in the order they were requested.
    pub(super) products: Vec<Product>,
    /// The domain's machine as it should be stored, and whether it changed.
    pub(super) domain: Machine,
    pub(super) domain_changed: bool,
}

/// Everything the public routes check before answering: the key, its status, the packages,
/// and the domain (first install records the IP; an unknown domain takes a free slot). What it
/// found is written through the store's seat operation, which judges the domain again:
/// [`write_domain`]. Each check is counted for the overview: a validation, and a refusal by
/// its code.
pub(super) async fn check(
    s: &AppState,
    key: &str,
    packages: &str,
    domain: &DomainName,
    ip: ClientIp,
) -> Result<Checked, Refusal> {
    let checked = judge(s, key, packages, domain, ip).await;
    match &checked {
        Ok(c) => crate::stats::validated(s, &c.license.product_id, None),
        Err(Refusal {
            counted: Some((product_id, code)),
            ..
        }) => crate::stats::validated(s, product_id, Some(code)),
        Err(_) => {}
    }
    checked
}

pub(super) async fn judge(
    s: &AppState,
    key: &str,
    packages: &str,
    domain: &DomainName,
    ip: ClientIp,
) -> Result<Checked, Refusal> {
    let refuse = |m: &str| Refusal::new(StatusCode::FORBIDDEN, m);
    // The rules every family shares (`crate::rules::admit`), on the license's own product; a
    // blocked caller learns nothing about the license. The packages are then matched among
    // the own and extra products enabled for WemX.
    let ip_text = ip.text();
    let environment = domain.fingerprint();
    let ask = rules::Admit {
        probe: rules::Probe {
            key,
            ip: ip_text.as_deref(),
            hwid: Some(&environment),
            ..rules::Probe::default()
        },
        asked: rules::Asked::Own,
        family: rules::Family::WemX,
    };
    let rules::Admitted {
        license: l,
        product: own,
        policy,
    } = match rules::admit(s, &ask).await? {
        Ok(admitted) => admitted,
        Err(denied) => {
            let refusal = match &denied.denial {
                rules::Denial::Blacklisted(_) => refuse("Access denied."),
                rules::Denial::Refused(rules::Refusal::Suspended) => {
                    refuse("This license is suspended.")
                }
                rules::Denial::Refused(rules::Refusal::Revoked) => {
                    refuse("This license has been revoked.")
                }
                rules::Denial::Refused(rules::Refusal::Expired) => {
                    refuse("This license has expired.")
                }
                // A switched-off product, or one WemX does not serve, covers no package.
                rules::Denial::Refused(rules::Refusal::ProductInactive)
                | rules::Denial::FamilyDisabled => {
                    refuse("This license is not valid for the requested package.")
                }
                rules::Denial::Refused(_) => refuse("This license is not active."),
                _ => Refusal::new(StatusCode::NOT_FOUND, "License not found."),
            };
            return Err(refusal.counted(denied.product_id(), denied.denial.code()));
        }
    };
    // `packages` resolves only among products enabled for WemX, whose names are unique among
    // them: another product cannot answer for a name it copied.
    let mut covered = vec![own];
    for p in &l.extra_products {
        if let Some(p) = s
            .store
            .product(p)
            .await?
            .filter(|p| p.compat.wemx && rules::product(p, &ask.probe).is_ok())
        {
            covered.push(p);
        }
    }
    let mut products = Vec::new();
    for wanted in packages
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .take(MAX_PACKAGES)
    {
        if let Some(p) = covered.iter().find(|p| p.name.eq_ignore_ascii_case(wanted))
            && !products.iter().any(|q: &Product| q.id == p.id)
        {
            products.push(p.clone());
        }
    }
    if products.is_empty() {
        return Err(
            refuse("This license is not valid for the requested package.")
                .counted(&l.product_id, "package_not_covered"),
        );
    }
    let now = s.clock.now();
    let (machine, changed) = match s.store.machine(&l.id, &domain.fingerprint()).await? {
        Some(mut m) => match (&m.ip, ip.text()) {
            (Some(known), Some(caller)) if *known != caller => {
                return Err(refuse(OTHER_ADDRESS).counted(&l.product_id, "other_address"));
            }
            (None, Some(caller)) => {
                m.ip = Some(caller);
                m.last_seen = now;
                m.last_heartbeat = now;
                (m, true)
            }
            // Last use is kept to the minute: a known install is a read, not a write.
            _ if now - m.last_seen >= 60 => {
                m.last_seen = now;
                m.last_heartbeat = now;
                (m, true)
            }
            _ => (m, false),
        },
        None => {
            // A new domain needs a seat under the one seat rule; it is taken, atomically, when
            // the domain is written (`validate`).
            licet_core::seats::check(
                &*s.store,
                &domain_claim(&l, domain),
                &SeatRule::of(&l, &policy),
                now,
            )
            .await
            .map_err(|e| {
                let code = seat_code(&e);
                let r = domain_refusal(e);
                match code {
                    Some(code) => r.counted(&l.product_id, code),
                    None => r,
                }
            })?;
            // Numbered by the seat operation that stores it.
            (domain_machine(&l.id, domain, None, ip.text(), 0, now), true)
        }
    };
    Ok(Checked {
        license: l,
        policy,
        products,
        domain: machine,
        domain_changed: changed,
    })
}

/// Writes a domain `check` found new or changed through the store's seat operation: a new
/// domain takes a seat under the one seat rule, and a known one is judged again as stored now
/// (an address recorded meanwhile by another caller refuses this one).
pub(super) async fn write_domain(
    s: &AppState,
    l: &License,
    policy: &Policy,
    machine: &Machine,
    ip: ClientIp,
) -> Result<(), Refusal> {
    let caller = ip.text();
    let taken = s
        .seats
        .activate(
            l,
            &SeatClaim {
                license_id: l.id.clone(),
                fingerprint: machine.fingerprint.clone(),
                parts: Vec::new(),
            },
            &SeatRule::of(l, policy),
            &|seat, now| match seat {
                Seat::Known(f) => {
                    let stored = &f.machine;
                    match (&stored.ip, &caller) {
                        (Some(known), Some(c)) if known != c => Err(OtherAddress),
                        _ => {
                            let mut m = stored.clone();
                            m.ip = m.ip.or_else(|| caller.clone());
                            m.last_seen = now;
                            m.last_heartbeat = now;
                            Ok(Made::new(m, Vec::new(), ()))
                        }
                    }
                }
                Seat::New { number } => Ok(Made::new(
                    Machine {
                        numeric_id: number,
                        ..machine.clone()
                    },
                    Vec::new(),
                    (),
                )),
            },
        )
        .await;
    match taken {
        Ok(_) => Ok(()),
        Err(Halted::Declined(OtherAddress)) => {
            Err(Refusal::new(StatusCode::FORBIDDEN, OTHER_ADDRESS))
        }
        Err(Halted::Failed(e)) => Err(domain_refusal(e)),
    }
}

/// A known domain called from another address than the one recorded.
struct OtherAddress;

/// WemX's refusal of a known domain called from another address.
pub(super) const OTHER_ADDRESS: &str =
    "This license is already installed on this domain from a different IP address.";

/// The seat claim of a domain.
pub(super) fn domain_claim(l: &License, domain: &DomainName) -> SeatClaim {
    SeatClaim {
        license_id: l.id.clone(),
        fingerprint: domain.fingerprint(),
        parts: Vec::new(),
    }
}

/// WemX's answer to a seat refusal for a domain.
/// The stable code of a seat refused (`None`: a fault, not a refusal).
pub(super) fn seat_code(e: &SeatError) -> Option<&'static str> {
    match e {
        SeatError::Refused(r) => Some(
            ApiError::from(SeatError::Refused(r.clone()))
                .code()
                .as_str(),
        ),
        _ => None,
    }
}

pub(super) fn domain_refusal(e: SeatError) -> Refusal {
    let refuse = |m: &str| Refusal::new(StatusCode::FORBIDDEN, m);
    match e {
        SeatError::Refused(SeatRefusal::TooManyMachines { max }) => refuse(&format!(
            "This domain is not authorised for this license (it allows {max} domain{}).",
            if max == 1 { "" } else { "s" }
        )),
        SeatError::Refused(_) => {
            refuse("This license is bound to the domain it was first installed on.")
        }
        SeatError::Store(e) => e.into(),
        e => ApiError::from(e).into(),
    }
}

/// The license as WemX shows it.
pub(super) async fn license_view(
    s: &AppState,
    l: &License,
    policy: &Policy,
) -> Result<Value, Refusal> {
    let last_installed = s
        .store
        .machines(&l.id)
        .await?
        .iter()
        .filter(|m| m.fingerprint.starts_with(DOMAIN_PREFIX))
        .map(|m| m.last_seen)
        .max();
    Ok(json!({
        "id": l.numeric_id,
        "order_id": l.order_id,
        "key": l.key,
        "max_domains": SeatRule::of(l, policy).max,
        "last_installed_at": last_installed.map_or(Value::Null, laravel_time),
        "created_at": laravel_time(l.created_at),
        "updated_at": laravel_time(last_installed.map_or(l.updated_at, |t| t.max(l.updated_at))),
    }))
}

/// WemX: validate a license for a domain and packages.
#[utoipa::path(post, path = "/api/v1/licenses/public/validate", tag = "wemx",
    request_body(content = serde_json::Value, description = "`{license, domain, packages}` (packages comma-separated), optional `data` (array), `transaction_id` (each accepted once), `due_date` (future; recurring licenses). JSON, form or query."),
    responses((status = 200, description = "`{success: true, message, package, type, license{id, order_id, key, max_domains, last_installed_at, created_at, updated_at}}`", body = serde_json::Value),
              (status = 403, description = "`{success: false, message}`: suspended, revoked, expired, wrong package, domain not authorised, other IP", body = serde_json::Value),
              (status = 404, description = "`{success: false, message: \"License not found.\"}`", body = serde_json::Value),
              (status = 409, description = "the transaction id was used before", body = serde_json::Value),
              (status = 422, description = "Laravel validation: `{success: false, message, errors}`", body = serde_json::Value)))]
pub(super) async fn validate(
    State(s): State<AppState>,
    ip: ClientIp,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let body = body?;
    let input = input(query.as_deref(), &headers, &body);
    let now = s.clock.now();
    let mut rules = Rules::new(&input);
    let key = rules.string("license", true, 255);
    let domain = rules.domain("domain");
    let packages = rules.string("packages", true, 1000);
    let data = rules.data("data");
    let transaction = rules.string("transaction_id", false, 255);
    let due = rules.future_date("due_date", false, now);
    rules.finish()?;
    let (Some(key), Some(domain), Some(packages)) = (key, domain, packages) else {
        return Err(ApiError::internal("validated input missing").into());
    };
    s.limits.check_license(&key)?;
    let checked = check(&s, &key, &packages, &domain, ip).await?;
    let Checked {
        license: mut l,
        policy,
        products,
        domain: machine,
        domain_changed,
    } = checked;

    // The optional changes, judged before anything is written.
    let mut order = None;
    if let Some(due) = due {
        let o = match l.order_id {
            Some(id) => s.store.order(id).await?,
            None => None,
        };
        let recurring = match &o {
            Some(o) => s
                .store
                .price(o.price_id)
                .await?
                .is_some_and(|p| p.kind == PriceKind::Recurring),
            None => false,
        };
        let Some(mut o) = o.filter(|_| recurring) else {
            return Err(Refusal::field(
                "due_date",
                "The due date can only be set on a license with a recurring price.",
            ));
        };
        if o.due_date.is_some_and(|current| due > current) {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "The due date can only be extended through the private API.",
            ));
        }
        if o.due_date != Some(due) {
            o.due_date = Some(due);
            o.updated_at = now;
            l.expires_at = Some(due);
            order = Some(o);
        }
    }
    let data_changed = data.is_some() && data != l.data;

    let mut changes = Vec::new();
    if domain_changed {
        write_domain(&s, &l, &policy, &machine, ip).await?;
        changes.push("domain");
    }
    // Spent only once the domain holds its seat: a refused validation leaves the id unspent.
    if let Some(t) = &transaction
        && !s.store.claim_transaction(t, &l.id).await?
    {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "This transaction id has already been used.",
        ));
    }
    // The license is changed as stored now, not as read above: no concurrent change is lost.
    let due = order.as_ref().and_then(|o| o.due_date);
    let change = |current: &License| {
        let mut next = current.clone();
        if due.is_some() {
            next.expires_at = due;
        }
        if data_changed {
            next.data.clone_from(&data);
        }
        next.updated_at = now;
        Ok(Some((next, Record::none())))
    };
    if let Some(o) = &order {
        if let Some(stored) = s.store.update_order(o, &change).await? {
            l = stored;
        }
        changes.push("due_date");
    } else if data_changed && let Some(stored) = s.store.change_license(&l.id, &change).await? {
        l = stored;
    }
    if data_changed {
        changes.push("data");
    }
    if transaction.is_some() {
        changes.push("transaction_id");
    }
    if !changes.is_empty() {
        s.journal.audit(
            &format!("license:{}", l.id),
            AuditAction::WemxValidated,
            &l.id,
            ip.text(),
            json!({ "domain": domain.name, "changed": changes, "transaction_id": transaction, "due_date": order.as_ref().and_then(|o| o.due_date) }),
        ).await?;
    }
    let package = products.first().map(|p| p.name.clone()).unwrap_or_default();
    Ok(Json(json!({
        "success": true,
        "message": "License verified successfully.",
        "package": package,
        "type": machine.domain_type.unwrap_or(licet_core::model::DomainType::Production).as_str(),
        "license": license_view(&s, &l, &policy).await?,
    }))
    .into_response())
}

/// WemX: the domains a license is authorised for.
#[utoipa::path(get, path = "/api/v1/licenses/public/{license}/domains", tag = "wemx",
    params(("license" = String, Path, description = "the license key")),
    responses((status = 200, description = "`{success: true, domains: [{id, license_id, type, protocol, domain, last_used_at, created_at, updated_at}]}`", body = serde_json::Value),
              (status = 404, description = "`{success: false, message: \"License not found.\"}`", body = serde_json::Value)))]
pub(super) async fn domains(
    State(s): State<AppState>,
    key: Result<Path<String>, PathRejection>,
) -> Answer {
    let key = key.map(|Path(k)| k).unwrap_or_default();
    if key.is_empty() || key.len() > 255 {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "License not found."));
    }
    s.limits.check_license(&key)?;
    let l = s
        .store
        .license_by_key(&key)
        .await?
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "License not found."))?;
    let mut ms: Vec<Machine> = s
        .store
        .machines(&l.id)
        .await?
        .into_iter()
        .filter(|m| m.fingerprint.starts_with(DOMAIN_PREFIX))
        .collect();
    ms.sort_by_key(|m| m.numeric_id);
    let domains: Vec<Value> = ms
        .iter()
        .map(|m| {
            let name = &m.fingerprint[DOMAIN_PREFIX.len()..];
            json!({
                "id": m.numeric_id,
                "license_id": l.numeric_id,
                "type": m.domain_type.unwrap_or_else(|| licet_core::model::DomainType::guess(name)).as_str(),
                "protocol": m.protocol.as_deref().unwrap_or("https://"),
                "domain": name,
                "last_used_at": laravel_time(m.last_seen),
                "created_at": laravel_time(m.first_seen),
                "updated_at": laravel_time(m.last_seen),
            })
        })
        .collect();
    Ok(Json(json!({ "success": true, "domains": domains })).into_response())
}
