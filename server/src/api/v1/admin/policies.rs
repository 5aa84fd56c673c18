//! Policies: the terms a license is issued under.

use super::*;
use crate::app::error::ErrorCode;
use licet_core::audit::AuditAction;

pub(super) fn check_policy(p: &Policy) -> ApiResult<()> {
    let bad = |m: &str| Err(ApiError::bad_request(ErrorCode::InvalidField, m.to_owned()));
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
pub(super) async fn create_policy(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<CreatePolicy>,
) -> ApiResult<(StatusCode, Json<PolicyBody>)> {
    caller.require(Scope::ReadWrite)?;
    let mut product = load_product(&s, &caller, &b.product_id)
        .await
        .map_err(|_| {
            ApiError::bad_request(ErrorCode::InvalidField, "product_id: no such product")
        })?;
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
    s.tokens.check_lists_fit(&p.entitlements, &[], &[])?;
    s.store.put_policy(&p).await?;
    if b.default || product.default_policy_id.is_none() {
        product.default_policy_id = Some(p.id.clone());
        s.store.update_product(&product).await?;
    }
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::PolicyCreated,
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
pub(super) struct PolicyFilter {
    pub(super) product_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/policies", tag = "policies", params(PolicyFilter), responses((status = 200, description = "`{items: [Policy]}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn list_policies(
    State(s): State<AppState>,
    caller: Caller,
    reply: Reply,
    Q(f): Q<PolicyFilter>,
) -> ApiResult<Answer<Value>> {
    let items = crate::app::catalog::policies(&s, &caller, f.product_id.as_deref()).await?;
    Ok(reply.with(json!({ "items": items })))
}

#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = PolicyBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn get_policy(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PolicyBody>> {
    Ok(Json(crate::app::catalog::policy(&s, &caller, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdatePolicy {
    pub(super) name: Option<String>,
    pub(super) floating: Option<bool>,
    pub(super) max_machines: Option<u32>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    pub(super) duration: Option<Option<u64>>,
    pub(super) heartbeat_interval: Option<u64>,
    pub(super) heartbeat_ttl: Option<u64>,
    pub(super) offline_grace: Option<u64>,
    pub(super) refresh_after: Option<u64>,
    pub(super) entitlements: Option<Vec<String>>,
    pub(super) hwid_locked: Option<bool>,
    pub(super) require_device_key: Option<bool>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    pub(super) offline_lease: Option<Option<u64>>,
    pub(super) offline_window: Option<u64>,
    pub(super) max_borrow: Option<u64>,
}

#[utoipa::path(patch, path = "/v1/policies/{id}", tag = "policies", params(("id" = String, Path, description = "the object's id")), request_body = UpdatePolicy, responses((status = 200, body = PolicyBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn update_policy(
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
        s.tokens.check_lists_fit(&p.entitlements, &[], &[])?;
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
                if let Err(e) = s.tokens.check_token_fits(&p, l) {
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
                ErrorCode::InvalidField,
                format!("entitlements: license {license}: {}", e.message()),
            ));
        }
    }
    s.store.put_policy(&p).await?;
    if p.floating {
        // Machines activated while the policy was node-locked are culled from now on too.
        s.store.recheck_floating().await?;
    }
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::PolicyUpdated,
            &p.id,
            ip.text(),
            json!({}),
        )
        .await?;
    Ok(Json(PolicyBody::from(&p)))
}

#[utoipa::path(delete, path = "/v1/policies/{id}", tag = "policies", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 409, description = "in use", body = crate::http::error::ErrorBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn delete_policy(
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
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::PolicyDeleted,
            &p.id,
            ip.text(),
            json!({}),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
