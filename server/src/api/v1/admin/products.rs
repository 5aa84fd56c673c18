//! Products: create, list, read, change, delete.

use super::*;
use crate::app::error::ErrorCode;
use licet_core::audit::AuditAction;

#[utoipa::path(post, path = "/v1/products", tag = "products", request_body = CreateProduct, responses((status = 201, description = "created", body = ProductBody), (status = 409, description = "duplicate code", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn create_product(
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
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::ProductCreated,
            &p.id,
            ip.text(),
            json!({ "code": p.code }),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(shown(p))))
}

#[utoipa::path(get, path = "/v1/products", tag = "products", responses((status = 200, description = "`{items: [Product]}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn list_products(
    State(s): State<AppState>,
    caller: Caller,
    reply: Reply,
) -> ApiResult<Answer<Value>> {
    let items = crate::app::catalog::products(&s, &caller).await?;
    Ok(reply.with(json!({ "items": items })))
}

/// A product as the API shows it: without its sealed LicenseCM secret.
pub(super) fn shown(p: Product) -> ProductBody {
    ProductBody::from(&p)
}

#[utoipa::path(get, path = "/v1/products/{id}", tag = "products", params(("id" = String, Path, description = "the object's id")), responses((status = 200, body = ProductBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn get_product(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ProductBody>> {
    Ok(Json(crate::app::catalog::product(&s, &caller, &id).await?))
}

#[utoipa::path(patch, path = "/v1/products/{id}", tag = "products", params(("id" = String, Path, description = "the object's id")), request_body = UpdateProduct, responses((status = 200, body = ProductBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn update_product(
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
        let policy = s.store.policy(&pol).await?.ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidField, "default_policy_id: no such policy")
        })?;
        if policy.product_id != p.id {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                "default_policy_id: the policy is of another product",
            ));
        }
        p.default_policy_id = Some(pol);
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
    Ok(Json(shown(p)))
}

#[utoipa::path(delete, path = "/v1/products/{id}", tag = "products", params(("id" = String, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 409, description = "licenses remain", body = crate::http::error::ErrorBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn delete_product(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Admin)?;
    let p = load_product(&s, &caller, &id).await?;
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
    Ok(StatusCode::NO_CONTENT)
}
