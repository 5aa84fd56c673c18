//! LicenseCM licenses: licet licenses seen through LicenseCM's fields. `max_uses` is the
//! license's seats, `current_uses` its machines, `hwid` its first machine's fingerprint,
//! `hwid_locked` binds it to that machine; the activity logs are its audit events.

use axum::extract::State;
use axum::http::StatusCode;
use licet_core::audit::AuditAction;
use licet_core::events::DomainEvent;
use licet_core::store::Record;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shared::end_sessions;
use super::shared::status_name;
use super::{Answer, Fail, Id, In, Me, Paging, Query, iso, ok, ok_with, parse_time};
use crate::app::licenses::{self, Terms};
use crate::app::state::AppState;
use crate::http::extract::ClientIp;
use crate::payload::kind_name;
pub use crate::payload::license as event_data;
use licet_core::model::{Kind, License, LicenseStatus, Product};
use licet_core::seats::SeatRule;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(bulk))
        .routes(routes!(get, update, delete))
        .routes(routes!(reset_hwid))
        .routes(routes!(logs))
}

/// Most licenses one bulk request creates.
const MAX_BULK: usize = 100;
/// Largest `metadata`, as JSON bytes.
const MAX_METADATA: usize = 8192;

fn parse_kind(t: &str) -> Result<Kind, Fail> {
    match t {
        "trial" => Ok(Kind::Trial),
        "subscription" => Ok(Kind::Subscription),
        "lifetime" => Ok(Kind::Lifetime),
        _ => Err(Fail::invalid("type: trial, subscription or lifetime")),
    }
}

/// Whether a license binds to its first machine: only when the license says so, the rule
/// every family applies ([`crate::rules::new_machine`]).
pub fn hwid_locked(_s: &AppState, l: &License) -> bool {
    l.hwid_locked == Some(true)
}

/// `max_uses`: the license's seats, else its policy's machines.
pub async fn max_uses(s: &AppState, l: &License) -> u64 {
    match s.store.policy(&l.policy_id).await.ok().flatten() {
        Some(p) => SeatRule::of(l, &p).max,
        None => u64::from(l.seats.unwrap_or(1)),
    }
}

/// A license as LicenseCM shows it.
pub async fn view(s: &AppState, l: &License) -> Result<Value, Fail> {
    let mut machines = s.store.machines(&l.id).await?;
    machines.sort_by_key(|m| m.first_seen);
    let now = s.clock.now();
    Ok(super::compact(json!({
        "id": l.id,
        "license_key": l.key,
        "product_id": l.product_id,
        "type": kind_name(l.kind),
        "status": status_name(l, now),
        "hwid": machines.first().map(|m| m.fingerprint.clone()),
        "hwid_locked": hwid_locked(s, l),
        "max_uses": max_uses(s, l).await,
        "current_uses": machines.len(),
        "expires_at": l.expires_at.map(iso),
        "metadata": l.metadata,
        "created_at": iso(l.created_at),
        "updated_at": iso(l.updated_at),
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Filter {
    product_id: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    page: Option<usize>,
    limit: Option<usize>,
}

/// Licenses of the user's products, filtered and paged.
#[utoipa::path(get, path = "/api/licenses", tag = "licensecm", params(Filter),
    responses((status = 200, description = "`{success, data: {licenses: [...], pagination: {page, limit, total, pages}}}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn list(State(s): State<AppState>, me: Me, Query(f): Query<Filter>) -> Answer {
    if let Some(st) = &f.status
        && !matches!(st.as_str(), "active" | "expired" | "suspended" | "revoked")
    {
        return Err(Fail::invalid("status: active, expired or suspended"));
    }
    let kind = f.kind.as_deref().map(parse_kind).transpose()?;
    let products: Vec<Product> = me
        .products(&s)
        .await?
        .into_iter()
        .filter(|p| f.product_id.as_deref().is_none_or(|id| p.id == id))
        .collect();
    let now = s.clock.now();
    let mut items: Vec<License> = Me::licenses_of(&s, &products)
        .await?
        .into_iter()
        .filter(|l| {
            f.product_id.as_deref().is_none_or(|p| l.product_id == p)
                && f.status
                    .as_deref()
                    .is_none_or(|st| status_name(l, now) == st)
                && kind.is_none_or(|k| l.kind == k)
        })
        .collect();
    items.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    let paging = Paging {
        page: f.page,
        limit: f.limit,
    };
    let (page, pagination) = paging.apply(items);
    let mut licenses = Vec::new();
    for l in page.iter() {
        licenses.push(view(&s, l).await?);
    }
    ok(json!({ "licenses": licenses, "pagination": pagination }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct NewLicense {
    product_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    max_uses: Option<u32>,
    hwid_locked: Option<bool>,
    expires_at: Option<String>,
    metadata: Option<serde_json::Map<String, Value>>,
    /// Bulk only: how many (at most 100).
    count: Option<usize>,
}

fn check_metadata(m: &serde_json::Map<String, Value>) -> Result<(), Fail> {
    if serde_json::to_vec(m).map_or(usize::MAX, |b| b.len()) > MAX_METADATA {
        return Err(Fail::invalid(format!(
            "metadata: at most {MAX_METADATA} bytes of JSON"
        )));
    }
    Ok(())
}

fn check_max_uses(n: u32) -> Result<(), Fail> {
    if n == 0 || n > 100_000 {
        return Err(Fail::invalid("max_uses: 1 to 100000"));
    }
    Ok(())
}

/// Builds (does not store) a license from a LicenseCM request.
async fn build(s: &AppState, me: &Me, b: &NewLicense) -> Result<License, Fail> {
    let product_id = b
        .product_id
        .as_deref()
        .ok_or_else(|| Fail::invalid("product_id is required"))?;
    let product = me.product(s, product_id).await?;
    let policy_id = product
        .default_policy_id
        .clone()
        .ok_or_else(|| Fail::invalid("the product has no default policy"))?;
    let kind = parse_kind(b.kind.as_deref().unwrap_or("subscription"))?;
    let max = b.max_uses.unwrap_or(1);
    check_max_uses(max)?;
    let expires_at = match &b.expires_at {
        Some(t) => Some(parse_time(t).ok_or_else(|| {
            Fail::invalid("expires_at: an ISO 8601 date-time (2025-12-31T23:59:59Z)")
        })?),
        None => None,
    };
    let metadata = b.metadata.clone().unwrap_or_default();
    check_metadata(&metadata)?;
    let policy =
        s.store.policy(&policy_id).await?.ok_or_else(|| {
            crate::app::error::ApiError::internal("a default policy that is gone")
        })?;
    // LicenseCM's terms: the product's default policy, its own seats (`max_uses`), bound to
    // the first machine unless asked otherwise, no domains or entitlements of its own.
    let terms = Terms {
        product: &product,
        policy: &policy,
        key: None,
        kind,
        expires_at,
        seats: Some(max),
        domains: Vec::new(),
        entitlements: Vec::new(),
        metadata: metadata.into_iter().collect(),
        ip: None,
        extra_products: Vec::new(),
        hwid_locked: Some(b.hwid_locked.unwrap_or(true)),
    };
    Ok(licenses::new_license(s, &terms).await?)
}

/// Creates a license (key `XXXX-XXXX-XXXX-XXXX`).
#[utoipa::path(post, path = "/api/licenses", tag = "licensecm", request_body = NewLicense,
    responses((status = 201, description = "`{success, data: license}`", body = serde_json::Value),
              (status = 400, description = "invalid field", body = serde_json::Value),
              (status = 404, description = "`PRODUCT_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn create(State(s): State<AppState>, me: Me, ip: ClientIp, In(b): In<NewLicense>) -> Answer {
    let l = build(&s, &me, &b).await?;
    licenses::insert(&s, &me.actor(), ip, &l).await?;
    ok_with(StatusCode::CREATED, view(&s, &l).await?)
}

/// Creates `count` (≤ 100) licenses alike, all or none.
#[utoipa::path(post, path = "/api/licenses/bulk", tag = "licensecm", request_body = NewLicense,
    responses((status = 201, description = "`{success, data: {created, licenses}}`", body = serde_json::Value),
              (status = 400, description = "invalid field or count", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn bulk(State(s): State<AppState>, me: Me, ip: ClientIp, In(b): In<NewLicense>) -> Answer {
    let count = b.count.unwrap_or(0);
    if count == 0 || count > MAX_BULK {
        return Err(Fail::invalid(format!("count: 1 to {MAX_BULK}")));
    }
    let mut ls = Vec::new();
    for _ in 0..count {
        ls.push(build(&s, &me, &b).await?);
    }
    // One product: every license is of the product the request names.
    let product_id = ls.first().map(|l| l.product_id.clone()).unwrap_or_default();
    licenses::insert_many(&s, &me.actor(), ip, &product_id, &ls).await?;
    let mut licenses = Vec::new();
    for l in ls.iter() {
        licenses.push(view(&s, l).await?);
    }
    ok_with(
        StatusCode::CREATED,
        json!({ "created": ls.len(), "licenses": licenses }),
    )
}

/// One license.
#[utoipa::path(get, path = "/api/licenses/{id}", tag = "licensecm", params(("id" = String, Path, description = "License ID")),
    responses((status = 200, description = "`{success, data: {id, license_key, product_id, type, status, hwid, hwid_locked, max_uses, current_uses, expires_at, metadata, created_at}}`", body = serde_json::Value),
              (status = 404, description = "`LICENSE_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn get(State(s): State<AppState>, me: Me, Id(id): Id) -> Answer {
    let (l, _) = me.license(&s, &id).await?;
    ok(view(&s, &l).await?)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct LicenseChange {
    status: Option<String>,
    max_uses: Option<u32>,
    hwid_locked: Option<bool>,
    /// An ISO 8601 date-time, or null for no expiry.
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    expires_at: Option<Option<String>>,
    metadata: Option<serde_json::Map<String, Value>>,
}

/// Changes a license: `status` (active, suspended; expired sets the expiry to now),
/// `max_uses`, `hwid_locked`, `expires_at`, `metadata`.
#[utoipa::path(put, path = "/api/licenses/{id}", tag = "licensecm", params(("id" = String, Path, description = "License ID")), request_body = LicenseChange,
    responses((status = 200, description = "`{success, data: license}`", body = serde_json::Value),
              (status = 404, description = "`LICENSE_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn update(
    State(s): State<AppState>,
    me: Me,
    ip: ClientIp,
    Id(id): Id,
    In(b): In<LicenseChange>,
) -> Answer {
    let (mut l, _) = me.license(&s, &id).await?;
    let now = s.clock.now();
    let before = l.status;
    if let Some(m) = b.max_uses {
        check_max_uses(m)?;
        l.seats = Some(m);
    }
    if let Some(h) = b.hwid_locked {
        l.hwid_locked = Some(h);
    }
    if let Some(e) = b.expires_at {
        l.expires_at = match e {
            Some(t) => Some(
                parse_time(&t).ok_or_else(|| Fail::invalid("expires_at: an ISO 8601 date-time"))?,
            ),
            None => None,
        };
    }
    if let Some(m) = b.metadata {
        check_metadata(&m)?;
        l.metadata = m.into_iter().collect();
    }
    if let Some(st) = b.status.as_deref() {
        if l.status == LicenseStatus::Revoked {
            return Err(Fail::new(
                StatusCode::CONFLICT,
                "LICENSE_REVOKED",
                "The license is revoked; revocation is final",
            ));
        }
        match st {
            "active" => l.status = LicenseStatus::Active,
            "suspended" => l.status = LicenseStatus::Suspended,
            "expired" => {
                l.status = LicenseStatus::Active;
                l.expires_at = Some(now);
            }
            _ => return Err(Fail::invalid("status: active, suspended or expired")),
        }
    }
    l.updated_at = now;
    let entry = s.journal.audit_entry(
        &me.actor(),
        AuditAction::LicenseUpdated,
        &l.id,
        ip.text(),
        json!({}),
        Some(l.product_id.clone()),
    );
    let suspended = before != LicenseStatus::Suspended && l.status == LicenseStatus::Suspended;
    let told = match suspended {
        true => {
            s.journal
                .tell(&DomainEvent::LicenseSuspended(l.clone()), vec![entry])
                .await?
        }
        false => Record::from(entry),
    };
    // The fields this request names, over the license as it was read: the whole record is
    // this request's, and its events are written with it.
    s.store
        .change_license(&l.id, &|_| Ok(Some((l.clone(), told.clone()))))
        .await?;
    if suspended {
        end_sessions(&s, &l.id, None, "license suspended").await?;
    }
    ok(view(&s, &l).await?)
}

/// Deletes a license, its machines and sessions.
#[utoipa::path(delete, path = "/api/licenses/{id}", tag = "licensecm", params(("id" = String, Path, description = "License ID")),
    responses((status = 200, description = "`{success, data: {}}`", body = serde_json::Value),
              (status = 404, description = "`LICENSE_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn delete(State(s): State<AppState>, me: Me, ip: ClientIp, Id(id): Id) -> Answer {
    let (l, _) = me.license(&s, &id).await?;
    // Its LicenseCM sessions end with it; the license is deleted as every family deletes one
    // (revoked first, durably).
    end_sessions(&s, &l.id, None, "license deleted").await?;
    licenses::remove(&s, &me.actor(), ip, &l).await?;
    ok(json!({}))
}

/// Clears the hardware id: every machine of the license is released and its sessions end, so
/// the license can be activated on a new device.
#[utoipa::path(post, path = "/api/licenses/{id}/reset-hwid", tag = "licensecm", params(("id" = String, Path, description = "License ID")),
    responses((status = 200, description = "`{success, data: license}`", body = serde_json::Value),
              (status = 404, description = "`LICENSE_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn reset_hwid(State(s): State<AppState>, me: Me, ip: ClientIp, Id(id): Id) -> Answer {
    let (l, _) = me.license(&s, &id).await?;
    // Each seat is freed as every seat is, its tokens revoked first; the audit entry names how
    // many were released, written after, as the sessions are ended after.
    let actor = me.actor();
    let mut machines = Vec::new();
    for m in s.store.machines(&l.id).await? {
        let how = crate::licensing::Freeing {
            why: Some("hwid_reset"),
            ..crate::licensing::Freeing::deactivated(&actor, ip.text())
        };
        let claim = crate::licensing::claim_of(&l, &m);
        if let Some(freed) =
            crate::licensing::free_seat(&s, &l, &claim, &how, &|f, _| Ok(f.id == m.id)).await?
        {
            machines.push(freed);
        }
    }
    end_sessions(&s, &l.id, None, "hwid reset").await?;
    s.journal
        .audit(
            &me.actor(),
            AuditAction::LicenseHwidReset,
            &l.id,
            ip.text(),
            json!({ "released": machines.len() }),
        )
        .await?;
    ok(view(&s, &l).await?)
}

/// A license's activity (its audit events), newest first.
#[utoipa::path(get, path = "/api/licenses/{id}/logs", tag = "licensecm", params(("id" = String, Path, description = "License ID"), Paging),
    responses((status = 200, description = "`{success, data: {logs: [{id, action, ip_address, hwid, user_agent, created_at}], pagination}}`", body = serde_json::Value),
              (status = 404, description = "`LICENSE_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn logs(State(s): State<AppState>, me: Me, Id(id): Id, Query(p): Query<Paging>) -> Answer {
    let (l, _) = me.license(&s, &id).await?;
    let (skip, limit) = p.window();
    let (events, total) = s.store.audit_of(&l.id, skip, limit).await?;
    let logs: Vec<Value> = events
        .iter()
        .map(|e| {
            super::compact(json!({
                "id": e.seq.to_string(),
                "action": e.action.strip_prefix("client.").unwrap_or(&e.action),
                "ip_address": e.ip,
                "hwid": e.detail.get("hwid"),
                "user_agent": e.detail.get("user_agent"),
                "created_at": iso(e.at),
            }))
        })
        .collect();
    ok(json!({ "logs": logs, "pagination": p.meta(total) }))
}
