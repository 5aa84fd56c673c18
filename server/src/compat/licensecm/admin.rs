//! LicenseCM user management (admins only): list users, change a user's role or switch them
//! off.

use axum::extract::State;
use licet_core::audit::AuditAction;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shared::user_view;
use super::{Answer, Fail, Id, In, Me, Paging, Query, ok};
use crate::app::state::AppState;
use crate::http::extract::ClientIp;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get, update))
}

/// Every user, oldest first.
#[utoipa::path(get, path = "/api/admin/users", tag = "licensecm", params(Paging),
    responses((status = 200, description = "`{success, data: {users: [...], pagination}}`", body = serde_json::Value),
              (status = 403, description = "not an admin", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn list(State(s): State<AppState>, me: Me, Query(p): Query<Paging>) -> Answer {
    me.require_admin()?;
    let mut users = s.store.users().await?;
    users.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.email.cmp(&b.email)));
    let (page, pagination) = p.apply(users);
    ok(json!({ "users": page.iter().map(user_view).collect::<Vec<_>>(), "pagination": pagination }))
}

/// One user.
#[utoipa::path(get, path = "/api/admin/users/{id}", tag = "licensecm", params(("id" = String, Path, description = "User ID")),
    responses((status = 200, description = "`{success, data: user}`", body = serde_json::Value),
              (status = 404, description = "`USER_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn get(State(s): State<AppState>, me: Me, Id(id): Id) -> Answer {
    me.require_admin()?;
    let u = s
        .store
        .user(&id)
        .await?
        .ok_or_else(|| Fail::not_found("USER_NOT_FOUND", "User not found"))?;
    ok(user_view(&u))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct UserChange {
    role: Option<licet_api::Role>,
    is_active: Option<bool>,
}

/// Changes a user's `role` (`user`, `admin`) or `is_active`. An admin cannot demote or switch
/// off themselves, so the server always keeps one admin who can undo a mistake.
#[utoipa::path(put, path = "/api/admin/users/{id}", tag = "licensecm", params(("id" = String, Path, description = "User ID")), request_body = UserChange,
    responses((status = 200, description = "`{success, data: user}`", body = serde_json::Value),
              (status = 400, description = "an admin changing their own role or switch", body = serde_json::Value),
              (status = 404, description = "`USER_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn update(
    State(s): State<AppState>,
    me: Me,
    ip: ClientIp,
    Id(id): Id,
    In(b): In<UserChange>,
) -> Answer {
    me.require_admin()?;
    let mut u = s
        .store
        .user(&id)
        .await?
        .ok_or_else(|| Fail::not_found("USER_NOT_FOUND", "User not found"))?;
    if u.id == me.0.id && (b.role == Some(licet_api::Role::User) || b.is_active == Some(false)) {
        return Err(Fail::invalid(
            "An admin cannot demote or deactivate themselves",
        ));
    }
    if let Some(r) = b.role {
        u.role = r.into();
    }
    if let Some(a) = b.is_active {
        u.is_active = a;
    }
    s.store.update_user(&u).await?;
    s.journal
        .audit(
            &me.actor(),
            AuditAction::UserUpdated,
            &u.id,
            ip.text(),
            json!({ "role": u.role, "is_active": u.is_active }),
        )
        .await?;
    ok(user_view(&u))
}
