//! Admin resources: products, policies, machines, API keys, minted JWTs and the audit log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use licet_api::requests::{CreateApiKey, CreatePolicy, CreateProduct, UpdateProduct};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::{load_machine, load_policy, load_product};
use super::body::{MachineBody, PolicyBody, ProductBody};
use crate::http::auth::{Caller, mint, new_api_key};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Answer, Body, ClientIp, OptionalBody, Q, Reply, page_limit};
use crate::http::state::AppState;
use crate::ids::{format_is_strong, random_id};
use crate::model::{Families, Policy, Product, Scope};
use crate::store::{LicenseFilter, PageRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_product, list_products))
        .routes(routes!(get_product, update_product, delete_product))
        .routes(routes!(create_policy, list_policies))
        .routes(routes!(get_policy, update_policy, delete_policy))
        .routes(routes!(get_machine, delete_machine))
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(get_api_key, revoke_api_key))
        .routes(routes!(rotate_api_key))
        .routes(routes!(rotate_signing_key))
        .routes(routes!(rotate_root_secret))
        .routes(routes!(api_key_usage))
        .routes(routes!(mint_token))
        .routes(routes!(audit))
}

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

fn check_key_format(prefix: &str, format: &str) -> ApiResult<()> {
    if format.len() > 64
        || !format_is_strong(format)
        || !format.chars().all(|c| matches!(c, 'X' | 'h' | '-'))
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            "key_format: `X` for a random character, `h` for a random hex digit, `-` separators; at least 80 random bits (16 `X` or 20 `h`), at most 64 characters",
        ));
    }
    if prefix.len() > 16
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            "key_prefix: upper-case letters, digits and `-`, at most 16",
        ));
    }
    Ok(())
}

// ----- products

#[utoipa::path(post, path = "/v1/products", tag = "products", request_body = CreateProduct, responses((status = 201, description = "created", body = ProductBody), (status = 409, description = "duplicate code", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn create_product(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<CreateProduct>,
) -> ApiResult<(StatusCode, Json<ProductBody>)> {
    // A key limited to one product cannot make a second one it would then be locked out of,
    // nor squat a code or name another family resolves.
    caller.require_unrestricted()?;
    if !valid_code(&b.code) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "code: 1–64 characters of a-z, 0-9, `-`, `_`, `.`",
        ));
    }
    if b.name.trim().is_empty() || b.name.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_field",
            "name: 1–200 characters",
        ));
    }
    if b.token_lifetime < 60 {
        return Err(ApiError::bad_request(
            "invalid_field",
            "token_lifetime: at least 60 seconds",
        ));
    }
    check_key_format(&b.key_prefix, &b.key_format)?;
    let numeric_id = match b.numeric_id {
        Some(0) => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "numeric_id: at least 1",
            ));
        }
        Some(n) => n,
        None => s.store.next_product_number().await?,
    };
    let p = Product {
        id: random_id("prd_"),
        numeric_id,
        code: b.code,
        name: b.name,
        key_format: b.key_format,
        key_prefix: b.key_prefix,
        default_policy_id: None,
        token_lifetime: b.token_lifetime,
        description: String::new(),
        is_active: true,
        owner_id: None,
        sealed_secret: None,
        block_vm: false,
        block_debug: false,
        created_at: s.clock.now(),
        compat: b
            .compat
            .unwrap_or_default()
            .apply(Families::operator_default()),
    };
    s.store.insert_product(&p).await?;
    s.audit(
        &caller.actor(),
        "product.created",
        &p.id,
        ip.text(),
        json!({ "code": p.code }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(shown(p))))
}

#[utoipa::path(get, path = "/v1/products", tag = "products", responses((status = 200, description = "`{items: [Product]}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list_products(
    State(s): State<AppState>,
    caller: Caller,
    reply: Reply,
) -> ApiResult<Answer<Value>> {
    let items: Vec<ProductBody> = s
        .store
        .products()
        .await?
        .into_iter()
        .filter(|p| caller.sees(&p.id))
        .map(shown)
        .collect();
    Ok(reply.with(json!({ "items": items })))
}

/// A product as the API shows it: without its sealed LicenseCM secret.
fn shown(p: Product) -> ProductBody {
    ProductBody::from(&p)
}

#[utoipa::path(get, path = "/v1/products/{id}", tag = "products", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = ProductBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn get_product(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ProductBody>> {
    Ok(Json(shown(load_product(&s, &caller, &id).await?)))
}

#[utoipa::path(patch, path = "/v1/products/{id}", tag = "products", params(("id" = String, Path, description = "the object's id")), request_body = UpdateProduct, responses((status = 200, body = ProductBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn update_product(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<UpdateProduct>,
) -> ApiResult<Json<ProductBody>> {
    caller.require(Scope::ReadWrite)?;
    let mut p = load_product(&s, &caller, &id).await?;
    // Which families answer for a product, and the name a family resolves it by, are the
    // operator's: a key limited to the product may not switch a family on (nor off), nor
    // take a name another product of the operator's would then be refused.
    if b.compat
        .as_ref()
        .is_some_and(|c| c.apply(p.compat) != p.compat)
    {
        caller.require_unrestricted()?;
    }
    let renamed = b.name.as_ref().is_some_and(|n| *n != p.name);
    if renamed && p.compat.by_name() {
        caller.require_unrestricted()?;
    }
    if let Some(n) = b.name {
        if n.trim().is_empty() || n.len() > 200 {
            return Err(ApiError::bad_request(
                "invalid_field",
                "name: 1–200 characters",
            ));
        }
        p.name = n;
    }
    if b.key_format.is_some() || b.key_prefix.is_some() {
        let format = b.key_format.unwrap_or(p.key_format.clone());
        let prefix = b.key_prefix.unwrap_or(p.key_prefix.clone());
        check_key_format(&prefix, &format)?;
        p.key_format = format;
        p.key_prefix = prefix;
    }
    if let Some(t) = b.token_lifetime {
        if t < 60 {
            return Err(ApiError::bad_request(
                "invalid_field",
                "token_lifetime: at least 60 seconds",
            ));
        }
        p.token_lifetime = t;
    }
    if let Some(pol) = b.default_policy_id {
        let policy = s.store.policy(&pol).await?.ok_or_else(|| {
            ApiError::bad_request("invalid_field", "default_policy_id: no such policy")
        })?;
        if policy.product_id != p.id {
            return Err(ApiError::bad_request(
                "invalid_field",
                "default_policy_id: the policy is of another product",
            ));
        }
        p.default_policy_id = Some(pol);
    }
    if let Some(c) = &b.compat {
        p.compat = c.apply(p.compat);
    }
    s.store.update_product(&p).await?;
    s.audit(
        &caller.actor(),
        "product.updated",
        &p.id,
        ip.text(),
        json!({ "name": p.name, "compat": p.compat }),
    )
    .await?;
    Ok(Json(shown(p)))
}

#[utoipa::path(delete, path = "/v1/products/{id}", tag = "products", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 409, description = "licenses remain", body = crate::http::error::ErrorBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn delete_product(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Admin)?;
    let p = load_product(&s, &caller, &id).await?;
    s.store.delete_product(&p).await?;
    s.audit(
        &caller.actor(),
        "product.deleted",
        &p.id,
        ip.text(),
        json!({ "code": p.code }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- policies

fn check_policy(p: &Policy) -> ApiResult<()> {
    let bad = |m: &str| Err(ApiError::bad_request("invalid_field", m.to_owned()));
    if p.name.trim().is_empty() || p.name.len() > 200 {
        return bad("name: 1–200 characters");
    }
    if p.max_machines == 0 || p.max_machines > 100_000 {
        return bad("max_machines: 1–100000");
    }
    // A day bounds how long a floating seat goes without news before it is culled; a year
    // bounds the check-in times (they are added to the clock).
    const DAY: u64 = 86_400;
    const YEAR: u64 = 365 * DAY;
    if !(10..=DAY).contains(&p.heartbeat_interval) {
        return bad("heartbeat_interval: 10 seconds to 1 day");
    }
    if p.heartbeat_ttl < p.heartbeat_interval || p.heartbeat_ttl > 7 * DAY {
        return bad("heartbeat_ttl: at least heartbeat_interval, at most 7 days");
    }
    if p.offline_grace > YEAR || p.refresh_after > YEAR {
        return bad("offline_grace and refresh_after: at most 1 year");
    }
    if p.entitlements.len() > 64 || p.entitlements.iter().any(|e| e.is_empty() || e.len() > 255) {
        return bad("entitlements: at most 64, each 1–255 bytes");
    }
    // Ten years bounds every lease and borrow: a seat must come back some day.
    const DECADE: u64 = 10 * 365 * 86_400;
    if p.offline_lease.is_some_and(|l| !(60..=DECADE).contains(&l)) {
        return bad("offline_lease: 60 seconds to 10 years");
    }
    if !(60..=DECADE).contains(&p.offline_window) {
        return bad("offline_window: 60 seconds to 10 years");
    }
    if p.max_borrow > DECADE {
        return bad("max_borrow: at most 10 years");
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/policies", tag = "policies", request_body = CreatePolicy, responses((status = 201, body = PolicyBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn create_policy(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<CreatePolicy>,
) -> ApiResult<(StatusCode, Json<PolicyBody>)> {
    caller.require(Scope::ReadWrite)?;
    let mut product = load_product(&s, &caller, &b.product_id)
        .await
        .map_err(|_| ApiError::bad_request("invalid_field", "product_id: no such product"))?;
    let p = Policy {
        id: random_id("pol_"),
        product_id: product.id.clone(),
        name: b.name,
        floating: b.floating,
        max_machines: b.max_machines,
        duration: b.duration,
        heartbeat_interval: b.heartbeat_interval,
        heartbeat_ttl: b
            .heartbeat_ttl
            .unwrap_or(b.heartbeat_interval.saturating_mul(3)),
        offline_grace: b.offline_grace,
        refresh_after: b.refresh_after,
        entitlements: b.entitlements,
        hwid_locked: b.hwid_locked,
        created_at: s.clock.now(),
        require_device_key: b.require_device_key,
        offline_lease: b.offline_lease,
        offline_window: b.offline_window,
        max_borrow: b.max_borrow,
    };
    check_policy(&p)?;
    s.check_lists_fit(&p.entitlements, &[], &[])?;
    s.store.put_policy(&p).await?;
    if b.default || product.default_policy_id.is_none() {
        product.default_policy_id = Some(p.id.clone());
        s.store.update_product(&product).await?;
    }
    s.audit(
        &caller.actor(),
        "policy.created",
        &p.id,
        ip.text(),
        json!({ "product_id": p.product_id }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(PolicyBody::from(&p))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PolicyFilter {
    product_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/policies", tag = "policies", params(PolicyFilter), responses((status = 200, description = "`{items: [Policy]}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list_policies(
    State(s): State<AppState>,
    caller: Caller,
    reply: Reply,
    Q(f): Q<PolicyFilter>,
) -> ApiResult<Answer<Value>> {
    let items: Vec<PolicyBody> = s
        .store
        .policies(f.product_id.as_deref())
        .await?
        .iter()
        .filter(|p| caller.sees(&p.product_id))
        .map(PolicyBody::from)
        .collect();
    Ok(reply.with(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = PolicyBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn get_policy(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PolicyBody>> {
    Ok(Json(PolicyBody::from(
        &load_policy(&s, &caller, &id).await?,
    )))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdatePolicy {
    name: Option<String>,
    floating: Option<bool>,
    max_machines: Option<u32>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    duration: Option<Option<u64>>,
    heartbeat_interval: Option<u64>,
    heartbeat_ttl: Option<u64>,
    offline_grace: Option<u64>,
    refresh_after: Option<u64>,
    entitlements: Option<Vec<String>>,
    hwid_locked: Option<bool>,
    require_device_key: Option<bool>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    offline_lease: Option<Option<u64>>,
    offline_window: Option<u64>,
    max_borrow: Option<u64>,
}

#[utoipa::path(patch, path = "/v1/policies/{id}", tag = "policies", params(("id" = String, Path, description = "the object's id")), request_body = UpdatePolicy, responses((status = 200, body = PolicyBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn update_policy(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<UpdatePolicy>,
) -> ApiResult<Json<PolicyBody>> {
    caller.require(Scope::ReadWrite)?;
    let mut p = load_policy(&s, &caller, &id).await?;
    let entitlements_change = b.entitlements.is_some();
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = b.$f { p.$f = v; } )* };
    }
    set!(
        name,
        floating,
        max_machines,
        duration,
        heartbeat_interval,
        heartbeat_ttl,
        offline_grace,
        refresh_after,
        entitlements,
        hwid_locked,
        require_device_key,
        offline_lease,
        offline_window,
        max_borrow
    );
    check_policy(&p)?;
    if entitlements_change {
        // Every license of the policy must still get tokens: one pass over the product's
        // licenses, on this rare admin path, rather than a failure at the next activation.
        s.check_lists_fit(&p.entitlements, &[], &[])?;
        let mut misfit = None;
        let filter = LicenseFilter {
            product_id: Some(p.product_id.clone()),
            policy_id: Some(p.id.clone()),
            ..LicenseFilter::default()
        };
        let mut page = PageRequest {
            after: None,
            limit: 1000,
        };
        'pages: loop {
            let licenses = s.store.licenses(&filter, &page).await?;
            for l in &licenses.items {
                if let Err(e) = s.check_token_fits(&p, l) {
                    misfit = Some((l.id.clone(), e));
                    break 'pages;
                }
            }
            match licenses.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        if let Some((license, e)) = misfit {
            return Err(ApiError::bad_request(
                "invalid_field",
                format!("entitlements: license {license}: {}", e.message()),
            ));
        }
    }
    s.store.put_policy(&p).await?;
    if p.floating {
        // Machines activated while the policy was node-locked are culled from now on too.
        s.store.recheck_floating().await?;
    }
    s.audit(
        &caller.actor(),
        "policy.updated",
        &p.id,
        ip.text(),
        json!({}),
    )
    .await?;
    Ok(Json(PolicyBody::from(&p)))
}

#[utoipa::path(delete, path = "/v1/policies/{id}", tag = "policies", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 409, description = "in use", body = crate::http::error::ErrorBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn delete_policy(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::ReadWrite)?;
    let p = load_policy(&s, &caller, &id).await?;
    s.store.delete_policy(&p.id).await?;
    if let Some(mut product) = s.store.product(&p.product_id).await?
        && product.default_policy_id.as_deref() == Some(&p.id)
    {
        product.default_policy_id = None;
        s.store.update_product(&product).await?;
    }
    s.audit(
        &caller.actor(),
        "policy.deleted",
        &p.id,
        ip.text(),
        json!({}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- machines

#[utoipa::path(get, path = "/v1/machines/{id}", tag = "machines", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = super::body::MachineBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn get_machine(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (m, _) = load_machine(&s, &caller, &id).await?;
    Ok(Json(
        serde_json::to_value(MachineBody::from(&m)).map_err(ApiError::internal)?,
    ))
}

#[utoipa::path(delete, path = "/v1/machines/{id}", tag = "machines", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deactivated"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn delete_machine(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::ReadWrite)?;
    let (m, l) = load_machine(&s, &caller, &id).await?;
    let removed = crate::licensing::deactivate(&s, &caller.actor(), &ip, &l, &m, None).await?;
    if !removed {
        // Deactivated meanwhile.
        return Err(ApiError::not_found("machine"));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ----- API keys

fn key_view(k: &crate::model::ApiKey) -> Value {
    json!({
        "id": k.id, "name": k.name, "scope": k.scope, "product_id": k.product_id,
        "daily_quota": k.daily_quota, "created_at": k.created_at, "revoked_at": k.revoked_at,
    })
}

#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = CreateApiKey, responses((status = 201, description = "the key record with the full `key`, shown only here", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn create_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_unrestricted()?;
    if b.name.trim().is_empty() || b.name.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_field",
            "name: 1–200 characters",
        ));
    }
    if let Some(p) = &b.product_id {
        s.store
            .product(p)
            .await?
            .ok_or_else(|| ApiError::bad_request("invalid_field", "product_id: no such product"))?;
    }
    let (full, record) = new_api_key(
        &b.name,
        b.scope.into(),
        b.product_id,
        b.daily_quota,
        s.clock.now(),
    );
    s.store.put_api_key(&record).await?;
    s.audit(
        &caller.actor(),
        "api_key.created",
        &record.id,
        ip.text(),
        json!({ "scope": record.scope }),
    )
    .await?;
    let mut v = key_view(&record);
    v["key"] = json!(full);
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", responses((status = 200, description = "`{items: [key]}` (never the secret)", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn list_api_keys(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    let items: Vec<Value> = s.store.api_keys().await?.iter().map(key_view).collect();
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn get_api_key(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    let k = s
        .store
        .api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    Ok(Json(key_view(&k)))
}

#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "revoked"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn revoke_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_unrestricted()?;
    let mut k = s
        .store
        .api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    if k.revoked_at.is_none() {
        k.revoked_at = Some(s.clock.now());
        s.store.put_api_key(&k).await?;
        s.audit(
            &caller.actor(),
            "api_key.revoked",
            &k.id,
            ip.text(),
            json!({}),
        )
        .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Rotation: a new key with the same name, scope and limits; the old one is revoked.
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 201, description = "the new key, shown only here; the old one is revoked", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn rotate_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_unrestricted()?;
    let mut old = s
        .store
        .api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    if old.revoked_at.is_some() {
        return Err(ApiError::conflict(
            "revoked",
            "the key is revoked; create a new one",
        ));
    }
    let now = s.clock.now();
    let (full, record) = new_api_key(
        &old.name,
        old.scope,
        old.product_id.clone(),
        old.daily_quota,
        now,
    );
    old.revoked_at = Some(now);
    s.store.put_api_key(&record).await?;
    s.store.put_api_key(&old).await?;
    s.audit(
        &caller.actor(),
        "api_key.rotated",
        &old.id,
        ip.text(),
        json!({ "new": record.id }),
    )
    .await?;
    let mut v = key_view(&record);
    v["key"] = json!(full);
    Ok((StatusCode::CREATED, Json(v)))
}

#[utoipa::path(post, path = "/v1/keys/rotate", tag = "keys", responses((status = 200, description = "`{generation, kid, previous: {kid, valid_until}}`: the new token key signs from now on; the one before is listed in `/v1/keys` as retiring until `valid_until`", body = serde_json::Value), (status = 409, description = "`keys_not_rotatable`", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn rotate_signing_key(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
) -> ApiResult<Json<Value>> {
    // Every product's tokens change key: only an operator's unrestricted key may do it.
    caller.require_unrestricted()?;
    let before = s.keys().generation();
    let keys = s.rotate_keys().await?;
    let ring = keys.ring();
    let new = ring
        .last()
        .ok_or_else(|| ApiError::internal("an empty key ring"))?;
    let previous = ring
        .iter()
        .rev()
        .nth(1)
        .map(|k| json!({ "kid": k.public.kid().to_string(), "valid_until": k.valid_until }));
    let kid = new.public.kid().to_string();
    s.audit(
        &caller.actor(),
        "signing_key.rotated",
        &kid,
        ip.text(),
        json!({ "generation": new.generation, "from_generation": before }),
    )
    .await?;
    Ok(Json(json!({
        "generation": new.generation,
        "kid": kid,
        "previous": previous,
    })))
}

#[utoipa::path(post, path = "/v1/keys/rotate-root", tag = "keys", responses((status = 200, description = "`{version, resealed}`: a new version of the root secret derives every session, CSRF, URL and sealing key from now on; `resealed` stored secrets were sealed again under it. Dashboard sessions end.", body = serde_json::Value), (status = 409, description = "`keys_not_rotatable`", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn rotate_root_secret(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    let before = s.keys().root_version();
    let (version, resealed) = s.rotate_root().await?;
    s.audit(
        &caller.actor(),
        "root_secret.rotated",
        &format!("root-secret.{version}"),
        ip.text(),
        json!({ "version": version, "from_version": before, "resealed": resealed }),
    )
    .await?;
    Ok(Json(json!({ "version": version, "resealed": resealed })))
}

#[utoipa::path(get, path = "/v1/api-keys/{id}/usage", tag = "api-keys", params(("id" = String, Path, description = "the object's id")), responses((status = 200, description = "requests per day", body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn api_key_usage(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    if caller.key.id != id {
        caller.require_unrestricted()?;
    }
    let k = s
        .store
        .api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    let days: Vec<Value> = s
        .store
        .usage(&k.id).await?
        .into_iter()
        .map(|(day, n)| json!({ "day": chrono::DateTime::from_timestamp(i64::try_from(day).unwrap_or(0) * 86_400, 0).map(|d| d.date_naive().to_string()), "requests": n }))
        .collect();
    let total: u64 = s.store.usage(&k.id).await?.iter().map(|(_, n)| n).sum();
    Ok(Json(
        json!({ "id": k.id, "daily_quota": k.daily_quota, "total": total, "days": days }),
    ))
}

// ----- JWTs

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    ttl: Option<u64>,
}

#[utoipa::path(post, path = "/v1/auth/token", tag = "auth", request_body(content = Option<MintRequest>, description = "optional `ttl` in seconds"), responses((status = 200, description = "`{token, token_type, expires_at}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn mint_token(
    State(s): State<AppState>,
    caller: Caller,
    OptionalBody(body): OptionalBody<MintRequest>,
) -> ApiResult<Json<Value>> {
    if caller.via_jwt {
        return Err(ApiError::forbidden(
            "JWTs are minted from API keys, not from other JWTs",
        ));
    }
    let ttl = body.and_then(|b| b.ttl).unwrap_or(s.config.jwt_ttl);
    if ttl == 0 || ttl > crate::http::auth::MAX_JWT_TTL.max(s.config.jwt_ttl) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "ttl: 1–86400 seconds",
        ));
    }
    let (token, exp) = mint(&s, &caller.key, ttl)?;
    Ok(Json(
        json!({ "token": token, "token_type": "Bearer", "expires_at": exp }),
    ))
}

// ----- audit

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditFilter {
    action: Option<String>,
    subject: Option<String>,
    actor: Option<String>,
    /// About this license: its own entries and its machines'.
    license: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    /// `oldest` first (the default) or `newest`; `after` is the `next` of a page in the same
    /// order.
    order: Option<Order>,
    after: Option<u64>,
    limit: Option<usize>,
}

/// Which end of the log a page starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Order {
    Oldest,
    Newest,
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditFilter), responses((status = 200, description = "a page of events: `{items, next}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
async fn audit(
    State(s): State<AppState>,
    caller: Caller,
    Q(f): Q<AuditFilter>,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Admin)?;
    // A product-limited key reads its own product's entries only.
    let filter = crate::store::AuditFilter {
        product_id: caller.key.product_id.clone(),
        action: f.action,
        subject: f.subject,
        actor: f.actor,
        license: f.license,
        since: f.since,
        until: f.until,
        newest_first: f.order == Some(Order::Newest),
    };
    let page = PageRequest {
        after: f.after.map(|a| a.to_string()),
        limit: page_limit(f.limit),
    };
    let page = s.store.audit(&filter, &page).await?;
    let page = crate::store::Page {
        items: super::body::all::<_, super::body::AuditEntryBody>(&page.items),
        next: page.next,
    };
    Ok(Json(
        serde_json::to_value(page).map_err(ApiError::internal)?,
    ))
}
