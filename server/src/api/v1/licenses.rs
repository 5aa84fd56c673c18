//! Licenses: create (one or many), list, read, change, suspend / reinstate / revoke / renew,
//! delete, their machines, and License-API's `GET /v1/licenses/validate`.

use crate::app::error::ErrorCode;
use licet_api::requests::{BulkRequest, NewLicense, Renew};
use licet_core::audit::AuditAction;
use licet_core::events::{DomainEvent, Kind, kind};
use licet_core::store::{LicensesWith, Page, Record};
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::{load_license as load, load_policy, load_product};
use super::body::{LicenseBody, LicensePage, LicenseSummaryBody, LicenseSummaryPage, MachineBody};
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::http::extract::{Body, ClientIp, OptionalBody, Q, Reply, page_limit};
use crate::ids::{license_key, random_id};
use crate::licensing::revoke_now;
use licet_core::model::{License, LicenseRow, LicenseStatus, Scope};
use licet_core::store::{LicenseFilter, LicenseSearch, PageRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(bulk))
        .routes(routes!(read, update, delete))
        .routes(routes!(suspend))
        .routes(routes!(reinstate))
        .routes(routes!(revoke))
        .routes(routes!(renew))
        .routes(routes!(machines, reset_machines))
}

/// A license as the API shows it: the status is as of now (`expired` when past its expiry).
pub fn view(l: &License, now: i64) -> Value {
    serde_json::to_value(LicenseBody::of(l, now)).unwrap_or(Value::Null)
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

async fn build(s: &AppState, caller: &Caller, b: &NewLicense) -> ApiResult<License> {
    let product = load_product(s, caller, &b.product_id).await.map_err(|_| {
        ApiError::bad_request(ErrorCode::InvalidField, "product_id: no such product")
    })?;
    let policy_id = b
        .policy_id
        .clone()
        .or(product.default_policy_id.clone())
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
    let l = License {
        id: random_id("lic_"),
        key: match &b.key {
            Some(k) => k.clone(),
            None => license_key(&product.key_prefix, &product.key_format),
        },
        product_name: Some(product.name.clone()),
        product_id: product.id,
        policy_id,
        status: LicenseStatus::Active,
        kind: b.kind.into(),
        expires_at,
        seats: b.seats,
        domains: b.domains.clone(),
        entitlements: b.entitlements.clone(),
        metadata: b.metadata.clone(),
        ip: b.ip.map(|ip| crate::net::canonical(ip).to_string()),
        owner_active: true,
        numeric_id: s.store.next_number("license").await?,
        extra_products: b.extra_products.clone(),
        customer_id: None,
        order_id: None,
        data: None,
        hwid_locked: b.hwid_locked.then_some(true),
        expiry_announced: None,
        created_at: now,
        updated_at: now,
    };
    s.tokens.check_token_fits(&policy, &l)?;
    Ok(l)
}

#[utoipa::path(post, path = "/v1/licenses", tag = "licenses", request_body = NewLicense, responses((status = 201, body = LicenseBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn create(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<NewLicense>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(Scope::ReadWrite)?;
    let l = build(&s, &caller, &b).await?;
    let entry = s.journal.audit_entry(
        &caller.actor(),
        AuditAction::LicenseCreated,
        &l.id,
        ip.text(),
        json!({ "product_id": l.product_id }),
        Some(l.product_id.clone()),
    );
    let told = s
        .journal
        .tell(&DomainEvent::LicenseCreated(l.clone()), vec![entry])
        .await?;
    s.store.insert_license(&l, told).await?;
    Ok((StatusCode::CREATED, Json(view(&l, s.clock.now()))))
}

/// Most licenses one bulk request creates.
const MAX_BULK: usize = 1000;

#[utoipa::path(post, path = "/v1/licenses/bulk", tag = "licenses", request_body = BulkRequest, responses((status = 201, description = "`{created, items}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn bulk(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<BulkRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
        ls.push(build(&s, &caller, &b.license).await?);
    }
    let now = s.clock.now();
    let entry = s.journal.audit_entry(
        &caller.actor(),
        AuditAction::LicenseBulkCreated,
        &b.license.product_id,
        ip.text(),
        json!({ "count": ls.len() }),
        Some(b.license.product_id.clone()),
    );
    let audience = s
        .journal
        .audience(kind::LicenseCreated, Some(&b.license.product_id))
        .await?;
    let told = ls.iter().fold(Record::from(entry), |r, l| {
        r.and(audience.record(l.clone(), now, Vec::new()))
    });
    s.store.insert_licenses(&ls, told).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "created": ls.len(), "items": ls.iter().map(|l| view(l, now)).collect::<Vec<_>>() }),
        ),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListFilter {
    product_id: Option<String>,
    policy_id: Option<String>,
    status: Option<licet_api::LicenseStatus>,
    /// Search: a license key in full or its last 4 characters, a license id, a customer's
    /// e-mail or a metadata value (at most 200 characters).
    q: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
    /// `true`: each license as a `LicenseSummary` (id, key, product, policy, status, expiry,
    /// creation), what a list shows; the store reads a page of them without the whole
    /// licenses.
    summary: Option<bool>,
}

#[utoipa::path(get, path = "/v1/licenses", tag = "licenses", params(ListFilter), responses((status = 200, description = "a page: `{items: [License], next}`, or with `summary=true` `{items: [LicenseSummary], next}`; with `q`, the licenses it finds (a search reads every license of the other filters' choosing, so narrow it by product on large stores)", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list(
    State(s): State<AppState>,
    caller: Caller,
    reply: Reply,
    Q(f): Q<ListFilter>,
) -> ApiResult<Response> {
    let now = s.clock.now();
    let summary = f.summary == Some(true);
    // A product-limited key lists its own product's licenses only: the limit is the filter,
    // and asking for another product finds nothing.
    let product_id = match (caller.key.product_id.clone(), f.product_id) {
        (Some(mine), Some(asked)) if mine != asked => {
            return Ok(match summary {
                true => summaries(reply, Page::empty(), now),
                false => licenses(reply, Page::empty(), now),
            });
        }
        (mine, asked) => mine.or(asked),
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
    let filter = LicenseFilter {
        product_id,
        policy_id: f.policy_id,
        status_at: f.status.map(|st| (st.into(), now)),
        search,
    };
    let page = PageRequest {
        after: f.after,
        limit: page_limit(f.limit),
    };
    Ok(match summary {
        true => summaries(reply, s.store.license_rows(&filter, &page).await?, now),
        false => licenses(reply, s.store.licenses(&filter, &page).await?, now),
    })
}

/// A page of licenses answered whole. Serialized straight from the typed bodies: a page of
/// licenses built as a JSON value first spent most of its time allocating maps.
fn licenses(reply: Reply, page: Page<License>, now: i64) -> Response {
    let page = page.map(|l| LicenseBody::owned(l, now));
    reply
        .with(LicensePage {
            items: page.items,
            next: page.next,
        })
        .into_response()
}

/// A page of licenses answered as summaries (`summary=true`).
fn summaries(reply: Reply, page: Page<LicenseRow>, now: i64) -> Response {
    let page = page.map(|r| LicenseSummaryBody::of(r, now));
    reply
        .with(LicenseSummaryPage {
            items: page.items,
            next: page.next,
        })
        .into_response()
}

#[utoipa::path(get, path = "/v1/licenses/{id}", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = LicenseBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(view(&load(&s, &caller, &id).await?, s.clock.now())))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Update {
    kind: Option<licet_api::Kind>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    expires_at: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    seats: Option<Option<u32>>,
    domains: Option<Vec<String>>,
    entitlements: Option<Vec<String>>,
    metadata: Option<BTreeMap<String, Value>>,
    policy_id: Option<String>,
    /// Further products the license also covers (WemX packages), by id.
    extra_products: Option<Vec<String>>,
    /// Set (or, with `null`, clear) the one IP address the license may be used from.
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>, format = "ip")]
    ip: Option<Option<std::net::IpAddr>>,
    /// The owner's own on/off switch.
    owner_active: Option<bool>,
    /// Bind the license to the machine it was first activated on (no other machine takes a
    /// seat, through any family).
    hwid_locked: Option<bool>,
}

#[utoipa::path(patch, path = "/v1/licenses/{id}", tag = "licenses", params(("id" = String, Path, description = "the object's id")), request_body = Update, responses((status = 200, body = LicenseBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn update(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<Update>,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::ReadWrite)?;
    let mut l = load(&s, &caller, &id).await?;
    if let Some(p) = b.policy_id {
        let policy = load_policy(&s, &caller, &p).await.map_err(|_| {
            ApiError::bad_request(ErrorCode::InvalidField, "policy_id: no such policy")
        })?;
        if policy.product_id != l.product_id {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                "policy_id: the policy is of another product",
            ));
        }
        l.policy_id = p;
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
        check_extra_products(&s, &caller, &l.product_id, &extra).await?;
        l.extra_products = extra;
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
    Ok(Json(view(&l, s.clock.now())))
}

#[utoipa::path(delete, path = "/v1/licenses/{id}", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::ReadWrite)?;
    let l = load(&s, &caller, &id).await?;
    // Deleting revokes first, durably: the license's tokens land on the next list, and a crash
    // before the delete leaves a revoked license that a retry deletes.
    revoke_now(&s, &caller.actor(), ip, &l).await?;
    let entry = s.journal.audit_entry(
        &caller.actor(),
        AuditAction::LicenseDeleted,
        &l.id,
        ip.text(),
        json!({ "product_id": l.product_id }),
        Some(l.product_id.clone()),
    );
    let told = s
        .journal
        .tell(&DomainEvent::LicenseDeleted(l.clone()), vec![entry])
        .await?;
    s.store.delete_license(&l, told).await?;
    Ok(StatusCode::NO_CONTENT)
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
) -> ApiResult<License> {
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
    change_unless_revoked(s, &l.id, &|current| {
        let mut next = current.clone();
        next.status = to;
        next.updated_at = now;
        let told = match current.status == to {
            true => Record::from(entry.clone()),
            false => audience.record(next.clone(), now, vec![entry.clone()]),
        };
        Ok((next, told))
    })
    .await
}

/// 409 `revoked`: revocation is final.
fn revoked() -> ApiError {
    ApiError::conflict(
        ErrorCode::Revoked,
        "the license is revoked; revocation is final",
    )
}

/// Changes license `id` as stored when the change is made, unless it is revoked by then
/// (revocation is final, 409 `revoked`, even when it lands between the read and the change).
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

/// Suspend and reinstate: the status change, durably, then the license as shown.
async fn change_status<K: StatusChange>(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
    change: K,
) -> ApiResult<Json<Value>> {
    let l = set_status(s, caller, ip, id, change).await?;
    Ok(Json(view(&l, s.clock.now())))
}

#[utoipa::path(post, path = "/v1/licenses/{id}/suspend", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = LicenseBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), (status = 409, description = "revoked", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn suspend(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    change_status(&s, &caller, ip, &id, kind::LicenseSuspended).await
}

#[utoipa::path(post, path = "/v1/licenses/{id}/reinstate", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = LicenseBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), (status = 409, description = "revoked", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn reinstate(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    change_status(&s, &caller, ip, &id, kind::LicenseReinstated).await
}

/// Revocation is final: the license id goes on the revocation list (every token of the license
/// fails offline once a client has the new list), in the same durable step as the status.
/// Revoking a revoked license answers as the first time did, and publishes if no list holds it
/// yet (a retry after a failure publishes).
#[utoipa::path(post, path = "/v1/licenses/{id}/revoke", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "the license and `revocation_sequence`", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn revoke(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::ReadWrite)?;
    let l = load(&s, &caller, &id).await?;
    let (l, sequence) = revoke_now(&s, &caller.actor(), ip, &l).await?;
    let mut v = view(&l, s.clock.now());
    v["revocation_sequence"] = json!(sequence);
    Ok(Json(v))
}

/// Extends the expiry from the later of now and the current expiry.
#[utoipa::path(post, path = "/v1/licenses/{id}/renew", tag = "licenses", params(("id" = String, Path, description = "the object's id")), request_body(content = Option<Renew>, description = "optional `duration` in seconds"), responses((status = 200, body = LicenseBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn renew(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<Renew>,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::ReadWrite)?;
    let l = load(&s, &caller, &id).await?;
    if l.status == LicenseStatus::Revoked {
        return Err(revoked());
    }
    let policy = s
        .store
        .policy(&l.policy_id)
        .await?
        .ok_or_else(|| ApiError::internal("license without policy"))?;
    let by = body
        .and_then(|b| b.duration)
        .or(policy.duration)
        .ok_or_else(|| {
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
    // Extended from the expiry as stored when it changes: two renewals extend twice.
    let l = change_unless_revoked(&s, &l.id, &|current| {
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
    Ok(Json(view(&l, now)))
}

#[utoipa::path(get, path = "/v1/licenses/{id}/machines", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "`{items: [Machine]}`", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn machines(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let l = load(&s, &caller, &id).await?;
    let items: Vec<MachineBody> = super::body::all(&s.store.machines(&l.id).await?);
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(delete, path = "/v1/licenses/{id}/machines", tag = "licenses", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "`{released}`: every machine of the license deactivated, each with its audit entry and `license.deactivated` event", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn reset_machines(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::ReadWrite)?;
    let l = load(&s, &caller, &id).await?;
    // Machine by machine, each freed as one seat operation with its own entry and event, as
    // a single deactivation is: a webhook hears of every seat, and a machine activated while
    // this runs keeps its seat. The machines a license may hold are bounded by its seats.
    let mut released = 0usize;
    for m in s.store.machines(&l.id).await? {
        if crate::licensing::deactivate(&s, &caller.actor(), &ip, &l, &m, Some("reset")).await? {
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
    Ok(Json(json!({ "released": released })))
}
