//! Licenses as a caller works with them: create (one or many), list and search, read, change,
//! suspend, reinstate, revoke, renew and delete, and their machines. Each operation judges its
//! caller ([`Caller`]) and writes its change with its record (audit entry and events) in one
//! store operation; each answers with `licet-api` types. The native API's routes and the
//! dashboard's pages both call these.

use std::collections::BTreeMap;

use licet_api::answers::{
    LicenseBody, LicensePage, LicenseSummaryBody, LicenseSummaryPage, MachineBody,
};
use licet_api::requests::{BulkRequest, LicenseChange, NewLicense};
use licet_core::audit::AuditAction;
use licet_core::events::{DomainEvent, Kind, kind};
use licet_core::model::{License, LicenseStatus, Policy, Product, ProductId, Scope};
use licet_core::store::{LicenseFilter, LicenseSearch, LicensesWith, PageRequest, Record};
use serde_json::{Value, json};

use crate::app::access::{load_license as load, load_machine, load_policy, load_product};
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;
use crate::ids::license_key;
use crate::licensing::revoke_now;
use crate::net::ClientIp;

/// Most licenses one bulk request creates.
pub const MAX_BULK: usize = 1000;

/// Which licenses a list shows: its filters, its search and its page.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Of this product only.
    pub product_id: Option<String>,
    /// Of this policy only.
    pub policy_id: Option<String>,
    /// In this status now.
    pub status: Option<licet_api::LicenseStatus>,
    /// A license key in full or its last 4 characters, a license id, a customer's e-mail or a
    /// metadata value (at most 200 characters).
    pub q: Option<String>,
    /// The cursor of the page before.
    pub after: Option<String>,
    /// At most this many (the caller bounds it).
    pub limit: usize,
}

fn check_claims(
    domains: &[String],
    entitlements: &[String],
    metadata: &BTreeMap<String, Value>,
    seats: Option<u32>,
) -> ApiResult<()> {
    let bad = |m: String| Err(ApiError::bad_request(ErrorCode::InvalidField, m));
    if domains.len() > 64 {
        return bad("domains: at most 64".into());
    }
    if let Some(d) = domains
        .iter()
        .find(|d| !licet_verifier::binding::is_valid_domain_pattern(d))
    {
        return bad(format!(
            "domains: {d:?} is not a lower-case domain name or *.wildcard"
        ));
    }
    if entitlements.len() > 64 || entitlements.iter().any(|e| e.is_empty() || e.len() > 255) {
        return bad("entitlements: at most 64, each 1–255 bytes".into());
    }
    if metadata.len() > 32 {
        return bad("metadata: at most 32 entries".into());
    }
    for (k, v) in metadata {
        let ok = k.len() <= 255
            && !k.is_empty()
            && (v.is_boolean() || v.is_i64() || v.as_str().is_some_and(|s| s.len() <= 255));
        if !ok {
            return bad(format!(
                "metadata.{k}: values are text (≤ 255 bytes), integers or booleans"
            ));
        }
    }
    if seats == Some(0) {
        return bad("seats: at least 1".into());
    }
    Ok(())
}

/// Extra products must exist, be visible to the caller, differ from the license's own product
/// and from each other; at most 32.
async fn check_extra_products(
    s: &AppState,
    caller: &Caller,
    own: &str,
    extra: &[String],
) -> ApiResult<()> {
    if extra.len() > 32 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "extra_products: at most 32",
        ));
    }
    for (i, p) in extra.iter().enumerate() {
        if p == own || extra[..i].contains(p) {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                format!("extra_products: {p:?} is listed twice or is the license's own product"),
            ));
        }
        load_product(s, caller, p).await.map_err(|_| {
            ApiError::bad_request(
                ErrorCode::InvalidField,
                format!("extra_products: no product {p:?}"),
            )
        })?;
    }
    Ok(())
}

/// What a new license is made of, its product and policy already found and judged by the
/// family that asks, its fields checked by that family's rules. Every family's licenses are
/// made from these by [`new_license`] and stored by [`insert`] or [`insert_many`].
#[derive(Debug)]
pub struct Terms<'a> {
    /// Its product.
    pub product: &'a Product,
    /// Its policy, of that product.
    pub policy: &'a Policy,
    /// Its key; none: one in the product's format.
    pub key: Option<String>,
    /// Trial, subscription or lifetime.
    pub kind: licet_core::model::Kind,
    /// When it expires; none: never.
    pub expires_at: Option<i64>,
    /// Its seats; none: the policy's.
    pub seats: Option<u32>,
    /// Domains its tokens are bound to.
    pub domains: Vec<String>,
    /// What it entitles to, beside the policy's.
    pub entitlements: Vec<String>,
    /// The vendor's own fields.
    pub metadata: BTreeMap<String, Value>,
    /// The one address it may be used from.
    pub ip: Option<std::net::IpAddr>,
    /// Other products it also licenses.
    pub extra_products: Vec<String>,
    /// Whether it binds to its first machine (`None`: as the policy says).
    pub hwid_locked: Option<bool>,
}

/// The license `t` makes, not yet stored: a new id, number and key (unless given), and a token
/// it would be issued that fits the size budget.
pub async fn new_license(s: &AppState, t: &Terms<'_>) -> ApiResult<License> {
    let now = s.clock.now();
    let l = License {
        id: crate::ids::new_id(),
        key: match &t.key {
            Some(k) => k.clone(),
            None => license_key(&t.product.key_prefix, &t.product.key_format),
        },
        product_name: Some(t.product.name.clone()),
        product_id: t.product.id.clone(),
        policy_id: t.policy.id.clone(),
        status: LicenseStatus::Active,
        kind: t.kind,
        expires_at: t.expires_at,
        seats: t.seats,
        domains: t.domains.clone(),
        entitlements: t.entitlements.clone(),
        metadata: t.metadata.clone(),
        ip: t.ip.map(|ip| crate::net::canonical(ip).to_string()),
        owner_active: true,
        numeric_id: s.store.next_number("license").await?,
        extra_products: t.extra_products.iter().map(Into::into).collect(),
        customer_id: None,
        order_id: None,
        data: None,
        hwid_locked: t.hwid_locked,
        expiry_announced: None,
        created_at: now,
        updated_at: now,
    };
    s.tokens.check_token_fits(t.policy, &l)?;
    Ok(l)
}

/// Stores a new license with its audit entry (by `actor`) and its `license.created`, in one
/// store operation.
pub async fn insert(s: &AppState, actor: &str, ip: ClientIp, l: &License) -> ApiResult<()> {
    let event = DomainEvent::LicenseCreated(l.clone());
    let told = told(s, actor, ip, l, AuditAction::LicenseCreated, &event).await?;
    s.store.insert_license(l, told).await?;
    Ok(())
}

/// What a license's creation or deletion writes with it: its audit entry (by `actor`, naming
/// its product) and the deliveries of `event`.
async fn told(
    s: &AppState,
    actor: &str,
    ip: ClientIp,
    l: &License,
    action: AuditAction,
    event: &DomainEvent,
) -> ApiResult<Record> {
    let entry = s.journal.audit_entry(
        actor,
        action,
        &l.id,
        ip.text(),
        json!({ "product_id": l.product_id }),
        Some(l.product_id.clone()),
    );
    s.journal.tell(event, vec![entry]).await
}

/// Stores new licenses of one product, all or none, with one audit entry (by `actor`) and each
/// its `license.created`.
pub async fn insert_many(
    s: &AppState,
    actor: &str,
    ip: ClientIp,
    product_id: &str,
    ls: &[License],
) -> ApiResult<()> {
    let now = s.clock.now();
    let entry = s.journal.audit_entry(
        actor,
        AuditAction::LicenseBulkCreated,
        product_id,
        ip.text(),
        json!({ "count": ls.len() }),
        Some(ProductId::from(product_id)),
    );
    let audience = s
        .journal
        .audience(kind::LicenseCreated, Some(product_id))
        .await?;
    let told = ls.iter().fold(Record::from(entry), |r, l| {
        r.and(audience.record(l.clone(), now, Vec::new()))
    });
    s.store.insert_licenses(ls, told).await?;
    Ok(())
}

/// The license `b` asks for, checked by the native API's rules, not yet stored.
async fn build(s: &AppState, caller: &Caller, b: &NewLicense) -> ApiResult<License> {
    let product = load_product(s, caller, &b.product_id).await.map_err(|_| {
        ApiError::bad_request(ErrorCode::InvalidField, "product_id: no such product")
    })?;
    let policy_id = b
        .policy_id
        .clone()
        .or(product.default_policy_id.clone().map(Into::into))
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidField,
                "policy_id: required (the product has no default policy)",
            )
        })?;
    let policy = load_policy(s, caller, &policy_id)
        .await
        .map_err(|_| ApiError::bad_request(ErrorCode::InvalidField, "policy_id: no such policy"))?;
    if policy.product_id != product.id {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "policy_id: the policy is of another product",
        ));
    }
    check_claims(&b.domains, &b.entitlements, &b.metadata, b.seats)?;
    check_extra_products(s, caller, &product.id, &b.extra_products).await?;
    if let Some(k) = &b.key
        && (k.len() < 8 || k.len() > 128 || !k.bytes().all(|c| c.is_ascii_graphic()))
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "key: 8–128 printable ASCII characters, no spaces",
        ));
    }
    let now = s.clock.now();
    let expires_at = b.expires_at.or(policy
        .duration
        .map(|d| now.saturating_add(i64::try_from(d).unwrap_or(i64::MAX))));
    new_license(
        s,
        &Terms {
            product: &product,
            policy: &policy,
            key: b.key.clone(),
            kind: b.kind.into(),
            expires_at,
            seats: b.seats,
            domains: b.domains.clone(),
            entitlements: b.entitlements.clone(),
            metadata: b.metadata.clone(),
            ip: b.ip,
            extra_products: b.extra_products.clone(),
            hwid_locked: b.hwid_locked.then_some(true),
        },
    )
    .await
}

/// Creates a license (read-write), announced as `license.created`.
pub async fn create(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    b: &NewLicense,
) -> ApiResult<LicenseBody> {
    caller.require(Scope::ReadWrite)?;
    let l = build(s, caller, b).await?;
    insert(s, &caller.actor(), ip, &l).await?;
    Ok(LicenseBody::owned(l, s.clock.now()))
}

/// Creates `b.count` licenses like `b.license` (read-write), all or none, with one audit
/// entry and each its `license.created`.
pub async fn create_many(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    b: &BulkRequest,
) -> ApiResult<Vec<LicenseBody>> {
    caller.require(Scope::ReadWrite)?;
    if b.count == 0 || b.count > MAX_BULK {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            format!("count: 1–{MAX_BULK}"),
        ));
    }
    if b.license.key.is_some() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "license.key: a bulk request makes its own keys",
        ));
    }
    let mut ls = Vec::new();
    for _ in 0..b.count {
        ls.push(build(s, caller, &b.license).await?);
    }
    insert_many(s, &caller.actor(), ip, &b.license.product_id, &ls).await?;
    let now = s.clock.now();
    Ok(ls.into_iter().map(|l| LicenseBody::owned(l, now)).collect())
}

/// The store's filter for `f` as `caller` may list: `None` when it can find nothing (a
/// product-limited key asking for another product).
async fn filter_of(
    s: &AppState,
    caller: &Caller,
    f: &Listing,
    now: i64,
) -> ApiResult<Option<LicenseFilter>> {
    // A product-limited key lists its own product's licenses only: the limit is the filter,
    // and asking for another product finds nothing.
    let product_id = match (caller.key.product_id.clone(), f.product_id.clone()) {
        (Some(mine), Some(asked)) if mine != asked => return Ok(None),
        (mine, asked) => mine.or(asked.map(Into::into)),
    };
    let search = match f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) if q.len() > 200 => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                "q: at most 200 characters",
            ));
        }
        Some(q) => {
            let customer = match q.contains('@') {
                true => s.store.customer_by_email(q).await?.map(|c| c.id),
                false => None,
            };
            Some(LicenseSearch::new(q, customer))
        }
        None => None,
    };
    Ok(Some(LicenseFilter {
        product_id: product_id.map(Into::into),
        policy_id: f.policy_id.clone(),
        status_at: f.status.map(|st| (st.into(), now)),
        search,
    }))
}

fn page_of(f: &Listing) -> PageRequest {
    PageRequest {
        after: f.after.clone(),
        limit: f.limit,
    }
}

/// A page of the licenses `f` finds that the caller sees, whole.
pub async fn list(s: &AppState, caller: &Caller, f: &Listing) -> ApiResult<LicensePage> {
    let now = s.clock.now();
    let Some(filter) = filter_of(s, caller, f, now).await? else {
        return Ok(LicensePage {
            items: Vec::new(),
            next: None,
        });
    };
    let page = s
        .store
        .licenses(&filter, &page_of(f))
        .await?
        .map(|l| LicenseBody::owned(l, now));
    Ok(LicensePage {
        items: page.items,
        next: page.next,
    })
}

/// A page of the licenses `f` finds that the caller sees, as a list shows them (read without
/// the whole licenses).
pub async fn list_summaries(
    s: &AppState,
    caller: &Caller,
    f: &Listing,
) -> ApiResult<LicenseSummaryPage> {
    let now = s.clock.now();
    let Some(filter) = filter_of(s, caller, f, now).await? else {
        return Ok(LicenseSummaryPage {
            items: Vec::new(),
            next: None,
        });
    };
    let page = s
        .store
        .license_rows(&filter, &page_of(f))
        .await?
        .map(|r| LicenseSummaryBody::of(r, now));
    Ok(LicenseSummaryPage {
        items: page.items,
        next: page.next,
    })
}

/// License `id`, if the caller sees it.
pub async fn read(s: &AppState, caller: &Caller, id: &str) -> ApiResult<LicenseBody> {
    Ok(LicenseBody::owned(
        load(s, caller, id).await?,
        s.clock.now(),
    ))
}

/// Changes license `id` as `b` says (read-write).
pub async fn change(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
    b: LicenseChange,
) -> ApiResult<LicenseBody> {
    caller.require(Scope::ReadWrite)?;
    let mut l = load(s, caller, id).await?;
    if let Some(p) = b.policy_id {
        let policy = load_policy(s, caller, &p).await.map_err(|_| {
            ApiError::bad_request(ErrorCode::InvalidField, "policy_id: no such policy")
        })?;
        if policy.product_id != l.product_id {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                "policy_id: the policy is of another product",
            ));
        }
        l.policy_id = p.into();
    }
    if let Some(k) = b.kind {
        l.kind = k.into();
    }
    if let Some(e) = b.expires_at {
        l.expires_at = e;
    }
    if let Some(x) = b.seats {
        l.seats = x;
    }
    if let Some(d) = b.domains {
        l.domains = d;
    }
    if let Some(e) = b.entitlements {
        l.entitlements = e;
    }
    if let Some(m) = b.metadata {
        l.metadata = m;
    }
    if let Some(ip) = b.ip {
        l.ip = ip.map(|ip| crate::net::canonical(ip).to_string());
    }
    if let Some(a) = b.owner_active {
        l.owner_active = a;
    }
    if let Some(h) = b.hwid_locked {
        l.hwid_locked = Some(h);
    }
    if let Some(extra) = b.extra_products {
        check_extra_products(s, caller, &l.product_id, &extra).await?;
        l.extra_products = extra.into_iter().map(Into::into).collect();
    }
    check_claims(&l.domains, &l.entitlements, &l.metadata, l.seats)?;
    let policy = s
        .store
        .policy(&l.policy_id)
        .await?
        .ok_or_else(|| ApiError::internal("license without policy"))?;
    s.tokens.check_token_fits(&policy, &l)?;
    l.updated_at = s.clock.now();
    let entry = s.journal.audit_entry(
        &caller.actor(),
        AuditAction::LicenseUpdated,
        &l.id,
        ip.text(),
        json!({}),
        Some(l.product_id.clone()),
    );
    s.store
        .change_license(&l.id, &|_| {
            Ok(Some((l.clone(), Record::from(entry.clone()))))
        })
        .await?;
    Ok(LicenseBody::owned(l, s.clock.now()))
}

/// Deletes license `id` (read-write): revoked first, durably, so that its tokens land on the
/// next list and a crash before the delete leaves a revoked license that a retry deletes.
pub async fn delete(s: &AppState, caller: &Caller, ip: ClientIp, id: &str) -> ApiResult<()> {
    caller.require(Scope::ReadWrite)?;
    let l = load(s, caller, id).await?;
    remove(s, &caller.actor(), ip, &l).await
}

/// Deletes a license, its machines and its record, for every family: revoked first, durably
/// (the tokens handed out with its activations land on the next list), then deleted with its
/// audit entry (by `actor`) and its `license.deleted`, in one store operation.
pub async fn remove(s: &AppState, actor: &str, ip: ClientIp, l: &License) -> ApiResult<()> {
    revoke_now(s, actor, ip, l).await?;
    let event = DomainEvent::LicenseDeleted(l.clone());
    let told = told(s, actor, ip, l, AuditAction::LicenseDeleted, &event).await?;
    s.store.delete_license(l, told).await?;
    Ok(())
}

/// A change of a license's status that suspend and reinstate make: the status it sets, its
/// audit action and its event, tied to the event's kind so that they cannot disagree.
trait StatusChange: Kind<Payload = License> {
    const TO: LicenseStatus;
    const ACTION: AuditAction;
}

impl StatusChange for kind::LicenseSuspended {
    const TO: LicenseStatus = LicenseStatus::Suspended;
    const ACTION: AuditAction = AuditAction::LicenseSuspended;
}

impl StatusChange for kind::LicenseReinstated {
    const TO: LicenseStatus = LicenseStatus::Active;
    const ACTION: AuditAction = AuditAction::LicenseReinstated;
}

async fn set_status<K: StatusChange>(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
    change: K,
) -> ApiResult<LicenseBody> {
    caller.require(Scope::ReadWrite)?;
    let l = load(s, caller, id).await?;
    if l.status == LicenseStatus::Revoked {
        return Err(revoked());
    }
    let to = K::TO;
    let audience = s.journal.audience(change, Some(&l.product_id)).await?;
    let now = s.clock.now();
    let entry = s.journal.audit_entry(
        &caller.actor(),
        K::ACTION,
        &l.id,
        ip.text(),
        json!({}),
        Some(l.product_id.clone()),
    );
    // A change of status is announced once.
    let l = change_unless_revoked(s, &l.id, &|current| {
        let mut next = current.clone();
        next.status = to;
        next.updated_at = now;
        let told = match current.status == to {
            true => Record::from(entry.clone()),
            false => audience.record(next.clone(), now, vec![entry.clone()]),
        };
        Ok((next, told))
    })
    .await?;
    Ok(LicenseBody::owned(l, s.clock.now()))
}

/// Suspends license `id` (read-write), announced as `license.suspended` unless it already was.
pub async fn suspend(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
) -> ApiResult<LicenseBody> {
    set_status(s, caller, ip, id, kind::LicenseSuspended).await
}

/// Reinstates license `id` (read-write), announced as `license.reinstated` unless it was
/// active.
pub async fn reinstate(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
) -> ApiResult<LicenseBody> {
    set_status(s, caller, ip, id, kind::LicenseReinstated).await
}

/// `revoked`, as a conflict: revocation is final.
fn revoked() -> ApiError {
    ApiError::conflict(
        ErrorCode::Revoked,
        "the license is revoked; revocation is final",
    )
}

/// Changes license `id` as stored when the change is made, unless it is revoked by then
/// (revocation is final, even when it lands between the read and the change).
async fn change_unless_revoked(
    s: &AppState,
    id: &str,
    change: &(dyn Fn(&License) -> licet_core::store::StoreResult<(License, Record)> + Send + Sync),
) -> ApiResult<License> {
    s.store
        .change_license_with(id, &|current| {
            if current.status == LicenseStatus::Revoked {
                return Err(revoked());
            }
            Ok(Some(change(current)?))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("license"))
}

/// Revokes license `id` for good (read-write): its id goes on the revocation list in the same
/// durable step as the status. Revoking a revoked license answers as the first time did, and
/// publishes if no list holds it yet. The license and the sequence of the list that names it.
pub async fn revoke(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
) -> ApiResult<(LicenseBody, u64)> {
    caller.require(Scope::ReadWrite)?;
    let l = load(s, caller, id).await?;
    let (l, sequence) = revoke_now(s, &caller.actor(), ip, &l).await?;
    Ok((LicenseBody::owned(l, s.clock.now()), sequence))
}

/// Extends license `id`'s expiry (read-write) by `duration` seconds, or its policy's, from the
/// later of now and the expiry as stored when it changes: two renewals extend twice.
pub async fn renew(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
    duration: Option<u64>,
) -> ApiResult<LicenseBody> {
    caller.require(Scope::ReadWrite)?;
    let l = load(s, caller, id).await?;
    if l.status == LicenseStatus::Revoked {
        return Err(revoked());
    }
    let policy = s
        .store
        .policy(&l.policy_id)
        .await?
        .ok_or_else(|| ApiError::internal("license without policy"))?;
    let by = duration.or(policy.duration).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            "duration: required (the policy has no duration)",
        )
    })?;
    let now = s.clock.now();
    let by = i64::try_from(by).unwrap_or(i64::MAX);
    let audience = s
        .journal
        .audience(kind::LicenseRenewed, Some(&l.product_id))
        .await?;
    let l = change_unless_revoked(s, &l.id, &|current| {
        let mut next = current.clone();
        let from = next.expires_at.map_or(now, |e| e.max(now));
        next.expires_at = Some(from.saturating_add(by));
        next.updated_at = now;
        let entry = s.journal.audit_entry(
            &caller.actor(),
            AuditAction::LicenseRenewed,
            &next.id,
            ip.text(),
            json!({ "expires_at": next.expires_at }),
            Some(next.product_id.clone()),
        );
        let told = audience.record(next.clone(), now, vec![entry]);
        Ok((next, told))
    })
    .await?;
    Ok(LicenseBody::owned(l, now))
}

/// License `id`'s machines, if the caller sees it.
pub async fn machines(s: &AppState, caller: &Caller, id: &str) -> ApiResult<Vec<MachineBody>> {
    let l = load(s, caller, id).await?;
    Ok(licet_api::answers::all(&s.store.machines(&l.id).await?))
}

/// Deactivates every machine of license `id` (read-write), machine by machine, each freed as
/// one seat operation with its own entry and event, as a single deactivation is: a webhook
/// hears of every seat, and a machine activated while this runs keeps its seat. How many were
/// freed.
pub async fn reset_machines(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
) -> ApiResult<usize> {
    caller.require(Scope::ReadWrite)?;
    let l = load(s, caller, id).await?;
    // The machines a license may hold are bounded by its seats.
    let mut released = 0usize;
    for m in s.store.machines(&l.id).await? {
        if crate::licensing::deactivate(s, &caller.actor(), &ip, &l, &m, Some("reset")).await? {
            released += 1;
        }
    }
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::LicenseMachinesReset,
            &l.id,
            ip.text(),
            json!({ "released": released }),
        )
        .await?;
    Ok(released)
}

/// Machine `id`, if the caller sees its license.
pub async fn machine(s: &AppState, caller: &Caller, id: &str) -> ApiResult<MachineBody> {
    let (m, _) = load_machine(s, caller, id).await?;
    Ok(MachineBody::from(&m))
}

/// Deactivates machine `id` (read-write): its unexpired tokens revoked first, then its seat
/// freed. Not found when it was deactivated meanwhile.
pub async fn deactivate_machine(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
) -> ApiResult<()> {
    caller.require(Scope::ReadWrite)?;
    let (m, l) = load_machine(s, caller, id).await?;
    match crate::licensing::deactivate(s, &caller.actor(), &ip, &l, &m, None).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("machine")),
    }
}
