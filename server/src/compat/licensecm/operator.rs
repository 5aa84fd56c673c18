//! The operator's hold on LicenseCM, under `/v1` with an unrestricted admin API key: making
//! LicenseCM admins and granting them operator products.
//!
//! A LicenseCM admin used to be whoever registered first, and administered every product on
//! the server. Now a server never makes a stranger its admin: the operator makes them here
//! (or with `licet server licensecm-admins`), and a LicenseCM admin reaches a product made
//! through `/v1` only when it is granted here.

use crate::app::error::ErrorCode;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use licet_api::requests::{AdminChange, NewAdmin};
use licet_core::audit::AuditAction;
use licet_core::ids::ProductId;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::http::extract::{Body, ClientIp};
use licet_core::model::{Role, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_admin, list_admins))
        .routes(routes!(update_admin))
}

/// A LicenseCM user as the operator sees them: with their grants, never the hash.
fn view(u: &User) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "display_name": u.display_name,
        "role": u.role,
        "is_active": u.is_active,
        "granted_products": u.granted_products,
        "created_at": u.created_at,
    })
}

/// Checks that every granted id is an operator product (one with no LicenseCM owner): a
/// LicenseCM user's products are reached by ownership, not grants.
async fn check_grants(s: &AppState, products: &[String]) -> ApiResult<Vec<String>> {
    if products.len() > 1000 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "products: at most 1000",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(products.len());
    for id in products {
        match s.store.product(&ProductId::from(id)).await? {
            Some(p) if p.owner_id.is_none() => {
                if !out.iter().any(|o| *o == p.id) {
                    out.push(p.id.into());
                }
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidField,
                    format!("products: {id} belongs to a LicenseCM user; admins reach it already"),
                ));
            }
            None => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidField,
                    format!("products: no such product {id}"),
                ));
            }
        }
    }
    Ok(out)
}

/// Makes a LicenseCM admin, or promotes an existing user.
#[utoipa::path(post, path = "/v1/licensecm/admins", tag = "licensecm-operator", request_body = NewAdmin,
    responses((status = 201, description = "the admin; `password` only when the server made one (shown this once)", body = serde_json::Value),
              (status = 200, description = "an existing user promoted", body = serde_json::Value),
              crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn create_admin(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Body(b): Body<NewAdmin>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_unrestricted()?;
    let email = b.email.trim().to_ascii_lowercase();
    if !super::shared::valid_email(&email) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "email: a valid e-mail address",
        ));
    }
    let granted = check_grants(&s, &b.products).await?;
    if let Some(mut u) = s.store.user_by_email(&email).await? {
        if b.password.is_some() {
            return Err(ApiError::conflict(
                ErrorCode::Duplicate,
                "a user with this e-mail exists; promote them without a password",
            ));
        }
        u.role = Role::Admin;
        u.granted_products = granted.into_iter().map(Into::into).collect();
        s.store.update_user(&u).await?;
        s.journal
            .audit(
                &caller.actor(),
                AuditAction::UserPromoted,
                &u.id,
                ip.text(),
                json!({ "granted_products": u.granted_products }),
            )
            .await?;
        return Ok((StatusCode::OK, Json(view(&u))));
    }
    let (password, shown) = match b.password {
        Some(p) => {
            if !super::shared::password_ok(&p) {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidField,
                    "password: 8 to 128 characters",
                ));
            }
            (zeroize::Zeroizing::new(p), false)
        }
        None => (zeroize::Zeroizing::new(crate::ids::random_token(20)), true),
    };
    let display_name = super::shared::display_name(&email, b.display_name).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            "display_name: at most 100 characters",
        )
    })?;
    let hash = crate::app::credentials::hash_password(password.clone()).await?;
    let u = s
        .store
        .insert_user(&User {
            id: crate::ids::uuid(),
            email,
            display_name,
            password_hash: hash,
            role: Role::Admin,
            is_active: true,
            created_at: s.clock.now(),
            granted_products: granted.into_iter().map(Into::into).collect(),
        })
        .await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::UserAdminCreated,
            &u.id,
            ip.text(),
            json!({ "granted_products": u.granted_products }),
        )
        .await?;
    let mut v = view(&u);
    if shown {
        v["password"] = json!(password.as_str());
    }
    Ok((StatusCode::CREATED, Json(v)))
}

/// The LicenseCM admins.
#[utoipa::path(get, path = "/v1/licensecm/admins", tag = "licensecm-operator",
    responses((status = 200, description = "`{items: [admin]}`", body = serde_json::Value), crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn list_admins(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    let mut admins: Vec<User> = s
        .store
        .users()
        .await?
        .into_iter()
        .filter(|u| u.role == Role::Admin)
        .collect();
    admins.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.email.cmp(&b.email)));
    Ok(Json(
        json!({ "items": admins.iter().map(view).collect::<Vec<_>>() }),
    ))
}

/// Changes a LicenseCM user's grants, role or switch.
#[utoipa::path(patch, path = "/v1/licensecm/admins/{id}", tag = "licensecm-operator", params(("id" = String, Path, description = "the user's id")), request_body = AdminChange,
    responses((status = 200, body = serde_json::Value), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn update_admin(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Body(b): Body<AdminChange>,
) -> ApiResult<Json<Value>> {
    caller.require_unrestricted()?;
    let mut u = s
        .store
        .user(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("LicenseCM user"))?;
    if let Some(p) = &b.products {
        u.granted_products = check_grants(&s, p)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
    }
    if let Some(r) = b.role {
        u.role = r.into();
    }
    if u.role == Role::User {
        u.granted_products.clear();
    }
    if let Some(a) = b.is_active {
        u.is_active = a;
    }
    s.store.update_user(&u).await?;
    s.journal.audit(
        &caller.actor(),
        AuditAction::UserUpdated,
        &u.id,
        ip.text(),
        json!({ "role": u.role, "is_active": u.is_active, "granted_products": u.granted_products }),
    )
    .await?;
    Ok(Json(view(&u)))
}
