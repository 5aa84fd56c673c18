//! LicenseCM products: licet products owned by a user, each with a default policy and a
//! `secret_key` (sealed at rest) that clients use for the request envelope.

use axum::extract::State;
use axum::http::StatusCode;
use licet_core::audit::AuditAction;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shared::secret;
use super::{Answer, Fail, Id, In, Me, iso, ok, ok_with};
use crate::app::state::AppState;
use crate::http::extract::ClientIp;
use licet_core::model::{Policy, Product};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(regenerate_secret))
}

/// A new `secret_key`: `sk_live_` and 40 random characters. Clients use its first 32 bytes as
/// the AES-256 key, so it is long and ASCII.
pub fn new_secret() -> String {
    format!(
        "sk_live_{}",
        crate::ids::random_token(40).to_ascii_lowercase()
    )
}

/// A product as LicenseCM shows it to its owner.
pub fn view(s: &AppState, p: &Product) -> Value {
    super::compact(json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "secret_key": secret(s, p).map(|k| k.to_string()),
        "is_active": p.is_active,
        "block_vm": p.block_vm,
        "block_debug": p.block_debug,
        "owner_id": p.owner_id,
        "created_at": iso(p.created_at),
    }))
}

/// Products the user may see (an admin: all).
#[utoipa::path(get, path = "/api/products", tag = "licensecm",
    responses((status = 200, description = "`{success, data: [{id, name, description, secret_key, is_active, created_at}]}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn list(State(s): State<AppState>, me: Me) -> Answer {
    let mut items: Vec<Product> = me.products(&s).await?;
    items.sort_by_key(|p| (p.created_at, p.numeric_id));
    ok(json!(items.iter().map(|p| view(&s, p)).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct NewProduct {
    name: Option<String>,
    description: Option<String>,
}

fn check_name(name: &str) -> Result<(), Fail> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(Fail::invalid("name: 1 to 200 characters"));
    }
    Ok(())
}

fn check_description(d: &str) -> Result<(), Fail> {
    if d.chars().count() > 2000 {
        return Err(Fail::invalid("description: at most 2000 characters"));
    }
    Ok(())
}

/// Creates a product (and its default policy: one machine, heartbeats every 5 minutes).
#[utoipa::path(post, path = "/api/products", tag = "licensecm", request_body = NewProduct,
    responses((status = 201, description = "`{success, data: {id, name, secret_key, …}}`", body = serde_json::Value),
              (status = 400, description = "invalid name", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn create(State(s): State<AppState>, me: Me, ip: ClientIp, In(b): In<NewProduct>) -> Answer {
    let name = b.name.unwrap_or_default().trim().to_owned();
    check_name(&name)?;
    let description = b.description.unwrap_or_default();
    check_description(&description)?;
    let now = s.clock.now();
    let mut p = Product {
        id: crate::ids::new_id(),
        numeric_id: s.store.next_product_number().await?,
        code: format!("lcm-{}", crate::ids::random_token(12).to_ascii_lowercase()),
        name,
        key_format: "XXXX-XXXX-XXXX-XXXX".into(),
        key_prefix: String::new(),
        default_policy_id: None,
        token_lifetime: 30 * 86_400,
        description,
        is_active: true,
        owner_id: Some(me.0.id.clone()),
        sealed_secret: Some(s.tokens.keys().seal(&new_secret())),
        block_vm: false,
        block_debug: false,
        created_at: now,
        // A LicenseCM user's product answers through LicenseCM only: enabling another family
        // (where it would be reachable by name or number) takes an operator's key.
        compat: licet_core::model::Families::licensecm_only(),
    };
    let policy = Policy {
        id: crate::ids::new_id(),
        product_id: p.id.clone(),
        name: "licensecm".into(),
        floating: false,
        max_machines: 1,
        duration: None,
        heartbeat_interval: 300,
        heartbeat_ttl: 900,
        offline_grace: 7 * 86_400,
        refresh_after: 86_400,
        entitlements: Vec::new(),
        hwid_locked: true,
        created_at: now,
        require_device_key: false,
        offline_lease: None,
        offline_window: licet_core::model::DEFAULT_OFFLINE_WINDOW,
        max_borrow: 0,
    };
    p.default_policy_id = Some(policy.id.clone());
    s.store.insert_product(&p).await?;
    s.store.put_policy(&policy).await?;
    s.journal
        .audit(
            &me.actor(),
            AuditAction::ProductCreated,
            &p.id,
            ip.text(),
            json!({ "name": p.name }),
        )
        .await?;
    ok_with(StatusCode::CREATED, view(&s, &p))
}

/// One product.
#[utoipa::path(get, path = "/api/products/{id}", tag = "licensecm", params(("id" = String, Path, description = "Product ID")),
    responses((status = 200, description = "`{success, data: product}`", body = serde_json::Value),
              (status = 404, description = "`PRODUCT_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn get(State(s): State<AppState>, me: Me, Id(id): Id) -> Answer {
    ok(view(&s, &me.product(&s, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct ProductChange {
    name: Option<String>,
    description: Option<String>,
    is_active: Option<bool>,
    /// Refuse clients that report a virtual machine (licet extension).
    block_vm: Option<bool>,
    /// Refuse clients that report a debugger (licet extension).
    block_debug: Option<bool>,
}

/// Changes a product's name, description or switches.
#[utoipa::path(put, path = "/api/products/{id}", tag = "licensecm", params(("id" = String, Path, description = "Product ID")), request_body = ProductChange,
    responses((status = 200, description = "`{success, data: product}`", body = serde_json::Value),
              (status = 404, description = "`PRODUCT_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn update(
    State(s): State<AppState>,
    me: Me,
    ip: ClientIp,
    Id(id): Id,
    In(b): In<ProductChange>,
) -> Answer {
    let mut p = me.product(&s, &id).await?;
    if let Some(n) = b.name {
        check_name(&n)?;
        p.name = n.trim().to_owned();
    }
    if let Some(d) = b.description {
        check_description(&d)?;
        p.description = d;
    }
    if let Some(a) = b.is_active {
        p.is_active = a;
    }
    if let Some(v) = b.block_vm {
        p.block_vm = v;
    }
    if let Some(v) = b.block_debug {
        p.block_debug = v;
    }
    s.store.update_product(&p).await?;
    s.journal
        .audit(
            &me.actor(),
            AuditAction::ProductUpdated,
            &p.id,
            ip.text(),
            json!({}),
        )
        .await?;
    ok(view(&s, &p))
}

/// Deletes a product that has no licenses.
#[utoipa::path(delete, path = "/api/products/{id}", tag = "licensecm", params(("id" = String, Path, description = "Product ID")),
    responses((status = 200, description = "`{success, data: {}}`", body = serde_json::Value),
              (status = 404, description = "`PRODUCT_NOT_FOUND`", body = serde_json::Value),
              (status = 409, description = "the product still has licenses", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn delete(State(s): State<AppState>, me: Me, ip: ClientIp, Id(id): Id) -> Answer {
    let p = me.product(&s, &id).await?;
    s.store.delete_product(&p).await.map_err(|e| {
        if e.code() == "in_use" {
            Fail::new(
                StatusCode::CONFLICT,
                "PRODUCT_IN_USE",
                "Delete the product's licenses first",
            )
        } else {
            e.into()
        }
    })?;
    for pol in s.store.policies(Some(&p.id)).await? {
        s.store.delete_policy(&pol.id).await?;
    }
    s.journal
        .audit(
            &me.actor(),
            AuditAction::ProductDeleted,
            &p.id,
            ip.text(),
            json!({}),
        )
        .await?;
    ok(json!({}))
}

/// Replaces the product's secret key (clients need the new one).
#[utoipa::path(post, path = "/api/products/{id}/regenerate-secret", tag = "licensecm", params(("id" = String, Path, description = "Product ID")),
    responses((status = 200, description = "`{success, data: {secret_key}}`", body = serde_json::Value),
              (status = 404, description = "`PRODUCT_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn regenerate_secret(State(s): State<AppState>, me: Me, ip: ClientIp, Id(id): Id) -> Answer {
    let mut p = me.product(&s, &id).await?;
    let secret = new_secret();
    p.sealed_secret = Some(s.tokens.keys().seal(&secret));
    s.store.update_product(&p).await?;
    s.journal
        .audit(
            &me.actor(),
            AuditAction::ProductSecretRegenerated,
            &p.id,
            ip.text(),
            json!({}),
        )
        .await?;
    ok(json!({ "secret_key": secret }))
}
