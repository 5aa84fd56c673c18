//! The audit log.

use super::*;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditFilter {
    pub(super) action: Option<String>,
    pub(super) subject: Option<String>,
    pub(super) actor: Option<String>,
    /// About this license: its own entries and its machines'.
    pub(super) license: Option<String>,
    pub(super) since: Option<i64>,
    pub(super) until: Option<i64>,
    /// `oldest` first (the default) or `newest`; `after` is the `next` of a page in the same
    /// order.
    pub(super) order: Option<Order>,
    pub(super) after: Option<u64>,
    pub(super) limit: Option<usize>,
}

/// Which end of the log a page starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum Order {
    Oldest,
    Newest,
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditFilter), responses((status = 200, description = "a page of events: `{items, next}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub(super) async fn audit(
    State(s): State<AppState>,
    caller: Caller,
    Q(f): Q<AuditFilter>,
) -> ApiResult<Json<Value>> {
    let filter = licet_core::store::AuditFilter {
        action: f.action,
        subject: f.subject,
        actor: f.actor,
        license: f.license,
        since: f.since,
        until: f.until,
        newest_first: f.order == Some(Order::Newest),
        ..licet_core::store::AuditFilter::default()
    };
    let page = licet_core::store::PageRequest {
        after: f.after.map(|a| a.to_string()),
        limit: page_limit(f.limit),
    };
    let page = crate::app::audit::entries(&s, &caller, filter, page).await?;
    Ok(Json(
        serde_json::to_value(page).map_err(ApiError::internal)?,
    ))
}
