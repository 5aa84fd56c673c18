//! Products and policies as a caller works with them: read only those of the products its key
//! reaches (products without their sealed secrets), and made, changed and deleted with an
//! audit entry each.

use licet_api::answers::{PolicyBody, ProductBody};
use licet_api::requests::{CreatePolicy, CreateProduct, PolicyChange, UpdateProduct};
use licet_core::audit::AuditAction;
use licet_core::ids::PolicyId;
use licet_core::model::{Families, Policy, Product, Scope};
use licet_core::store::{LicenseFilter, PageRequest};
use serde_json::json;

use crate::app::access::{load_policy, load_product};
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;
use crate::ids::format_is_strong;
use crate::net::ClientIp;

/// The products the caller sees.
pub async fn products(s: &AppState, caller: &Caller) -> ApiResult<Vec<ProductBody>> {
    Ok(s.store
        .products()
        .await?
        .iter()
        .filter(|p| caller.sees(&p.id))
        .map(ProductBody::from)
        .collect())
}

/// Product `id`, if the caller sees it.
pub async fn product(s: &AppState, caller: &Caller, id: &str) -> ApiResult<ProductBody> {
    Ok(ProductBody::from(&load_product(s, caller, id).await?))
}

/// The policies the caller sees, of one product or of all.
pub async fn policies(
    s: &AppState,
    caller: &Caller,
    product_id: Option<&str>,
) -> ApiResult<Vec<PolicyBody>> {
    Ok(s.store
        .policies(product_id)
        .await?
        .iter()
        .filter(|p| caller.sees(&p.product_id))
        .map(PolicyBody::from)
        .collect())
}

/// Policy `id`, if the caller sees its product.
pub async fn policy(s: &AppState, caller: &Caller, id: &str) -> ApiResult<PolicyBody> {
    Ok(PolicyBody::from(&load_policy(s, caller, id).await?))
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
            ErrorCode::InvalidField,
            "key_format: `X` for a random character, `h` for a random hex digit, `-` separators; at least 80 random bits (16 `X` or 20 `h`), at most 64 characters",
        ));
    }
    if prefix.len() > 16
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "key_prefix: upper-case letters, digits and `-`, at most 16",
        ));
    }
    Ok(())
}

fn check_policy(p: &Policy) -> ApiResult<()> {
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

/// Creates a product (an admin key with no product limit: a key limited to one product
/// cannot make a second one it would then be locked out of, nor squat a code or name another
/// family resolves).
pub async fn create_product(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    b: CreateProduct,
) -> ApiResult<ProductBody> {
    // A key limited to one product cannot make a second one it would then be locked out of,
    // nor squat a code or name another family resolves.
    caller.require_unrestricted()?;
    if !valid_code(&b.code) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "code: 1–64 characters of a-z, 0-9, `-`, `_`, `.`",
        ));
    }
    if b.name.trim().is_empty() || b.name.len() > 200 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "name: 1–200 characters",
        ));
    }
    if b.token_lifetime < 60 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "token_lifetime: at least 60 seconds",
        ));
    }
    check_key_format(&b.key_prefix, &b.key_format)?;
    let numeric_id = match b.numeric_id {
        Some(0) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                "numeric_id: at least 1",
            ));
        }
        Some(n) => n,
        None => s.store.next_product_number().await?,
    };
    let p = Product {
        id: crate::ids::new_id(),
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
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::ProductCreated,
            &p.id,
            ip.text(),
            json!({ "code": p.code }),
        )
        .await?;
    Ok(ProductBody::from(&p))
}

/// Changes product `id` (read-write; the families it answers through and a name a family
/// resolves it by need an unrestricted admin key).
pub async fn update_product(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
    b: UpdateProduct,
) -> ApiResult<ProductBody> {
    caller.require(Scope::ReadWrite)?;
    let mut p = load_product(s, caller, id).await?;
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
                ErrorCode::InvalidField,
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
                ErrorCode::InvalidField,
                "token_lifetime: at least 60 seconds",
            ));
        }
        p.token_lifetime = t;
    }
    if let Some(pol) = b.default_policy_id {
        let policy = s
            .store
            .policy(&PolicyId::from(&pol))
            .await?
            .ok_or_else(|| {
                ApiError::bad_request(ErrorCode::InvalidField, "default_policy_id: no such policy")
            })?;
        if policy.product_id != p.id {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                "default_policy_id: the policy is of another product",
            ));
        }
        p.default_policy_id = Some(pol.into());
    }
    if let Some(c) = &b.compat {
        p.compat = c.apply(p.compat);
    }
    s.store.update_product(&p).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::ProductUpdated,
            &p.id,
            ip.text(),
            json!({ "name": p.name, "compat": p.compat }),
        )
        .await?;
    Ok(ProductBody::from(&p))
}

/// Deletes product `id` (admin), refused while licenses of it remain.
pub async fn delete_product(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
) -> ApiResult<()> {
    caller.require(Scope::Admin)?;
    let p = load_product(s, caller, id).await?;
    s.store.delete_product(&p).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::ProductDeleted,
            &p.id,
            ip.text(),
            json!({ "code": p.code }),
        )
        .await?;
    Ok(())
}

/// Adds a policy to a product (read-write); the product's default when asked or when it has
/// none.
pub async fn create_policy(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    b: CreatePolicy,
) -> ApiResult<PolicyBody> {
    caller.require(Scope::ReadWrite)?;
    let mut product = load_product(s, caller, &b.product_id).await.map_err(|_| {
        ApiError::bad_request(ErrorCode::InvalidField, "product_id: no such product")
    })?;
    let p = Policy {
        id: crate::ids::new_id(),
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
    Ok(PolicyBody::from(&p))
}

/// Changes policy `id` (read-write): changed entitlements must still fit every license of it
/// in a token.
pub async fn update_policy(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: &str,
    b: PolicyChange,
) -> ApiResult<PolicyBody> {
    caller.require(Scope::ReadWrite)?;
    let mut p = load_policy(s, caller, id).await?;
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
            product_id: Some(p.product_id.to_string()),
            policy_id: Some(p.id.to_string()),
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
    Ok(PolicyBody::from(&p))
}

/// Deletes policy `id` (read-write), refused while licenses use it.
pub async fn delete_policy(s: &AppState, caller: &Caller, ip: ClientIp, id: &str) -> ApiResult<()> {
    caller.require(Scope::ReadWrite)?;
    let p = load_policy(s, caller, id).await?;
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
    Ok(())
}
