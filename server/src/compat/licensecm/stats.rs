//! LicenseCM statistics and notifications. A user's figures cover their own products'
//! licenses; an admin's cover everything.

use axum::extract::State;
use licet_core::audit::AuditAction;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, Fail, Id, Me, Query, iso, ok};
use crate::app::state::AppState;
use licet_core::model::{License, LicenseStatus};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dashboard))
        .routes(routes!(license_stats))
        .routes(routes!(notifications))
        .routes(routes!(unread_count))
        .routes(routes!(mark_read))
        .routes(routes!(mark_all_read))
}

/// Whose figures: an admin may ask for one user's.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Whose {
    /// Admins: only this user's products.
    user_id: Option<String>,
}

/// The products and licenses a user's figures cover (an admin's: all, or one user's).
async fn scope(s: &AppState, me: &Me, whose: &Whose) -> Result<(usize, Vec<License>), Fail> {
    if whose.user_id.is_some() {
        me.require_admin()?;
    }
    let products: Vec<licet_core::model::Product> = match &whose.user_id {
        Some(u) => s.store.products_of_owner(u).await?,
        None => me.products(s).await?,
    };
    let licenses = Me::licenses_of(s, &products).await?;
    Ok((products.len(), licenses))
}

/// Activation times (audit `client.activation` and native `machine.activated`) of `licenses`.
async fn activations(s: &AppState, licenses: &[License]) -> Result<Vec<i64>, Fail> {
    let mut out = Vec::new();
    for l in licenses {
        let (events, _) = s.store.audit_of(&l.id, 0, usize::MAX).await?;
        out.extend(
            events
                .iter()
                .filter(|e| {
                    e.action == AuditAction::ClientActivation.as_str()
                        || e.action == AuditAction::MachineActivated.as_str()
                })
                .map(|e| e.at),
        );
    }
    Ok(out)
}

/// Totals and recent activity.
#[utoipa::path(get, path = "/api/stats/dashboard", tag = "licensecm", params(Whose),
    responses((status = 200, description = "`{success, data: {total_products, total_licenses, active_licenses, total_activations, recent_activity}}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn dashboard(State(s): State<AppState>, me: Me, Query(whose): Query<Whose>) -> Answer {
    let (products, licenses) = scope(&s, &me, &whose).await?;
    let now = s.clock.now();
    let mut recent = Vec::new();
    for l in &licenses {
        let (events, _) = s.store.audit_of(&l.id, 0, 10).await?;
        recent.extend(events.into_iter().map(|e| (e, l.key.clone())));
    }
    recent.sort_by_key(|r| std::cmp::Reverse(r.0.seq));
    recent.truncate(10);
    let recent_activity: Vec<Value> = recent
        .iter()
        .map(|(e, key)| {
            super::compact(json!({
                "action": e.action.strip_prefix("client.").unwrap_or(&e.action),
                "license_id": e.subject,
                "license_key": key,
                "ip_address": e.ip,
                "created_at": iso(e.at),
            }))
        })
        .collect();
    ok(json!({
        "total_products": products,
        "total_licenses": licenses.len(),
        "active_licenses": licenses.iter().filter(|l| l.status_at(now) == LicenseStatus::Active).count(),
        "total_activations": activations(&s, &licenses).await?.len(),
        "recent_activity": recent_activity,
    }))
}

/// Licenses by status and activations today, this week and this month.
#[utoipa::path(get, path = "/api/stats/licenses", tag = "licensecm", params(Whose),
    responses((status = 200, description = "`{success, data: {total_licenses, active_licenses, expired_licenses, suspended_licenses, activations_today, activations_this_week, activations_this_month}}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn license_stats(State(s): State<AppState>, me: Me, Query(whose): Query<Whose>) -> Answer {
    let (_, licenses) = scope(&s, &me, &whose).await?;
    let now = s.clock.now();
    let count = |st: LicenseStatus| licenses.iter().filter(|l| l.status_at(now) == st).count();
    let day = now - now.rem_euclid(86_400);
    let acts = activations(&s, &licenses).await?;
    let since = |t: i64| acts.iter().filter(|&&a| a >= t).count();
    ok(json!({
        "total_licenses": licenses.len(),
        "active_licenses": count(LicenseStatus::Active),
        "expired_licenses": count(LicenseStatus::Expired),
        "suspended_licenses": count(LicenseStatus::Suspended) + count(LicenseStatus::Revoked),
        "activations_today": since(day),
        "activations_this_week": since(now - 7 * 86_400),
        "activations_this_month": since(now - 30 * 86_400),
    }))
}

/// The user's notifications, newest first.
#[utoipa::path(get, path = "/api/notifications", tag = "licensecm",
    responses((status = 200, description = "`{success, data: [{id, type, title, message, is_read, created_at}]}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn notifications(State(s): State<AppState>, me: Me) -> Answer {
    let items: Vec<Value> = s
        .store
        .notifications(&me.0.id)
        .await?
        .iter()
        .take(200)
        .map(|n| {
            json!({
                "id": n.id,
                "type": n.kind,
                "title": n.title,
                "message": n.message,
                "is_read": n.is_read,
                "created_at": iso(n.created_at),
            })
        })
        .collect();
    ok(json!(items))
}

/// How many notifications are unread.
#[utoipa::path(get, path = "/api/notifications/unread-count", tag = "licensecm",
    responses((status = 200, description = "`{success, data: {count}}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn unread_count(State(s): State<AppState>, me: Me) -> Answer {
    let n = s
        .store
        .notifications(&me.0.id)
        .await?
        .iter()
        .filter(|n| !n.is_read)
        .count();
    ok(json!({ "count": n }))
}

/// Marks one notification read.
#[utoipa::path(put, path = "/api/notifications/{id}/read", tag = "licensecm", params(("id" = String, Path, description = "Notification ID")),
    responses((status = 200, description = "`{success, data: notification}`", body = serde_json::Value),
              (status = 404, description = "`NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn mark_read(State(s): State<AppState>, me: Me, Id(id): Id) -> Answer {
    let mut n = s
        .store
        .notification(&me.0.id, &id)
        .await?
        .ok_or_else(|| Fail::not_found("NOT_FOUND", "Notification not found"))?;
    if !n.is_read {
        n.is_read = true;
        s.store.put_notification(&n).await?;
    }
    ok(json!({ "id": n.id, "is_read": true }))
}

/// Marks every notification read.
#[utoipa::path(put, path = "/api/notifications/read-all", tag = "licensecm",
    responses((status = 200, description = "`{success, data: {updated}}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn mark_all_read(State(s): State<AppState>, me: Me) -> Answer {
    let mut updated = 0;
    for mut n in s.store.notifications(&me.0.id).await? {
        if !n.is_read {
            n.is_read = true;
            s.store.put_notification(&n).await?;
            updated += 1;
        }
    }

    ok(json!({ "updated": updated }))
}
