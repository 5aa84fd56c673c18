//! LicenseCM's security tooling (admins only): the blacklist, security events and their
//! overview, client sessions, and quick blocks of an IP or a HWID.

use licet_core::audit::AuditAction;
use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, Fail, Id, In, Me, Paging, Query, iso, ok, ok_with, parse_time};
use crate::app::state::AppState;
use crate::http::extract::ClientIp;
pub use crate::payload::security_event as event_view;
use licet_core::model::{BlacklistEntry, BlacklistType, SecurityEvent, Session, Severity};
use licet_core::store::SecurityEventFilter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_blacklist, add_blacklist))
        .routes(routes!(delete_blacklist))
        .routes(routes!(events))
        .routes(routes!(overview))
        .routes(routes!(sessions))
        .routes(routes!(terminate_session))
        .routes(routes!(revoke_license_sessions))
        .routes(routes!(block_ip))
        .routes(routes!(block_hwid))
}

/// The security event types LicenseCM defines.
pub const EVENT_TYPES: &[&str] = &[
    "license_validation",
    "license_activation",
    "license_deactivation",
    "hwid_mismatch",
    "hwid_spoof_attempt",
    "ip_mismatch",
    "geo_anomaly",
    "debug_detected",
    "vm_detected",
    "tamper_detected",
    "replay_attack",
    "brute_force",
    "blacklist_hit",
    "session_hijack",
    "rate_limit_exceeded",
];

fn entry_view(e: &BlacklistEntry) -> Value {
    super::compact(json!({
        "id": e.id,
        "type": e.kind,
        "value": e.value,
        "reason": e.reason,
        "severity": e.severity,
        "is_active": e.is_active,
        "expires_at": e.expires_at.map(iso),
        "created_by": e.created_by,
        "created_at": iso(e.created_at),
    }))
}

fn session_view(s: &Session, now: i64) -> Value {
    super::compact(json!({
        "id": s.id,
        "license_id": s.license_id,
        "hwid": s.hwid,
        "ip_address": s.ip,
        "is_active": s.ended_at.is_none() && s.expires_at > now,
        "created_at": iso(s.created_at),
        "last_heartbeat": iso(s.last_heartbeat),
        "expires_at": iso(s.expires_at),
        "ended_at": s.ended_at.map(iso),
        "end_reason": s.end_reason,
    }))
}

/// What of the security tooling's data an admin reaches: the products it may see
/// ([`Me::owns`]) and their licenses. Security events and client sessions of other products
/// (the operator's, unless granted) do not exist for it.
struct Reach {
    products: std::collections::HashSet<String>,
    licenses: std::collections::HashSet<String>,
}

impl Reach {
    /// The products `me` reaches, and their licenses only when `sessions` are to be judged
    /// (a license walk that a list of events does not need).
    async fn of(s: &AppState, me: &Me, sessions: bool) -> Result<Reach, Fail> {
        let products = me.products(s).await?;
        let licenses = match sessions {
            true => Me::licenses_of(s, &products).await?,
            false => Vec::new(),
        };
        Ok(Reach {
            products: products.into_iter().map(|p| p.id.into_string()).collect(),
            licenses: licenses.into_iter().map(|l| l.id.into_string()).collect(),
        })
    }

    /// An event about a product it reaches; or one that names no product and carries no
    /// license key (an address or a hardware id the blacklist stopped before any license was
    /// read), since a key in it may be another product's.
    fn sees_event(&self, e: &SecurityEvent) -> bool {
        match &e.product_id {
            Some(p) => self.products.contains(p.as_str()),
            None => e.license_id.is_none() && e.details.get("license_key").is_none(),
        }
    }

    fn sees_session(&self, x: &Session) -> bool {
        self.licenses.contains(x.license_id.as_str())
    }
}

fn parse_severity(v: &str) -> Result<Severity, Fail> {
    serde_json::from_value(json!(v))
        .map_err(|_| Fail::invalid("severity: info, low, medium, high or critical"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct BlacklistFilter {
    #[serde(rename = "type")]
    kind: Option<String>,
    severity: Option<String>,
    is_active: Option<bool>,
    page: Option<usize>,
    limit: Option<usize>,
}

/// The blacklist, newest first.
#[utoipa::path(get, path = "/api/security/blacklist", tag = "licensecm-security", params(BlacklistFilter),
    responses((status = 200, description = "`{success, data: {blacklist: [...], pagination}}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn list_blacklist(
    State(s): State<AppState>,
    me: Me,
    Query(f): Query<BlacklistFilter>,
) -> Answer {
    me.require_admin()?;
    let kind: Option<BlacklistType> = f
        .kind
        .as_deref()
        .map(|k| serde_json::from_value(json!(k)))
        .transpose()
        .map_err(|_| Fail::invalid("type: ip, hwid, license or fingerprint"))?;
    let severity = f.severity.as_deref().map(parse_severity).transpose()?;
    let mut items: Vec<BlacklistEntry> = s
        .store
        .blacklist()
        .await?
        .into_iter()
        .filter(|e| {
            kind.is_none_or(|k| e.kind == k)
                && severity.is_none_or(|v| e.severity == v)
                && f.is_active.is_none_or(|a| e.is_active == a)
        })
        .collect();
    items.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    let (page, pagination) = Paging {
        page: f.page,
        limit: f.limit,
    }
    .apply(items);
    ok(
        json!({ "blacklist": page.iter().map(entry_view).collect::<Vec<_>>(), "pagination": pagination }),
    )
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct NewEntry {
    #[serde(rename = "type")]
    kind: Option<String>,
    value: Option<String>,
    reason: Option<String>,
    severity: Option<String>,
    expires_at: Option<String>,
}

/// What a new blacklist entry says.
struct Draft {
    kind: BlacklistType,
    value: String,
    reason: String,
    severity: Severity,
    expires_at: Option<i64>,
}

/// Stores a blacklist entry after checking its fields.
async fn add_entry(s: &AppState, me: &Me, ip: ClientIp, d: Draft) -> Result<BlacklistEntry, Fail> {
    let Draft {
        kind,
        value,
        reason,
        severity,
        expires_at,
    } = d;
    if value.trim().is_empty() || value.len() > 512 {
        return Err(Fail::invalid("value: 1 to 512 characters"));
    }
    // Addresses are stored in the one form requests are compared in.
    let value = if kind == BlacklistType::Ip {
        crate::net::parse_canonical(&value)
            .ok_or_else(|| Fail::invalid("value: not an IP address"))?
            .to_string()
    } else {
        value
    };
    if reason.chars().count() > 500 {
        return Err(Fail::invalid("reason: at most 500 characters"));
    }
    // A license key is blocked only where the admin reaches its license: another product's
    // key (or one of no license) answers as if there were none, so the blacklist neither
    // blocks a licensee of a product the admin was not given nor tells which keys exist.
    if kind == BlacklistType::License {
        let found = s.store.license_by_key(value.trim()).await?;
        let reached = match &found {
            Some(l) => me.license(s, &l.id).await.is_ok(),
            None => false,
        };
        if !reached {
            return Err(Fail::not_found("LICENSE_NOT_FOUND", "License not found"));
        }
    }
    let e = BlacklistEntry {
        id: crate::ids::uuid(),
        kind,
        value: value.trim().to_owned(),
        reason,
        severity,
        is_active: true,
        expires_at,
        created_by: Some(me.0.id.clone()),
        created_at: s.clock.now(),
    };
    s.store.put_blacklist(&e).await?;
    s.journal
        .audit(
            &me.actor(),
            AuditAction::BlacklistAdded,
            &e.id,
            ip.text(),
            json!({ "type": e.kind, "value": e.value }),
        )
        .await?;
    Ok(e)
}

/// Adds a blacklist entry.
#[utoipa::path(post, path = "/api/security/blacklist", tag = "licensecm-security", request_body = NewEntry,
    responses((status = 201, description = "`{success, data: entry}`", body = serde_json::Value),
              (status = 400, description = "invalid field", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn add_blacklist(
    State(s): State<AppState>,
    me: Me,
    ip: ClientIp,
    In(b): In<NewEntry>,
) -> Answer {
    me.require_admin()?;
    let kind: BlacklistType = serde_json::from_value(json!(b.kind))
        .map_err(|_| Fail::invalid("type: ip, hwid, license or fingerprint"))?;
    let severity = match b.severity.as_deref() {
        Some(v) => parse_severity(v)?,
        None => Severity::Medium,
    };
    let expires_at = match b.expires_at.as_deref() {
        Some(t) => {
            Some(parse_time(t).ok_or_else(|| Fail::invalid("expires_at: an ISO 8601 date-time"))?)
        }
        None => None,
    };
    let e = add_entry(
        &s,
        &me,
        ip,
        Draft {
            kind,
            value: b.value.unwrap_or_default(),
            reason: b.reason.unwrap_or_default(),
            severity,
            expires_at,
        },
    )
    .await?;
    ok_with(StatusCode::CREATED, entry_view(&e))
}

/// Removes a blacklist entry.
#[utoipa::path(delete, path = "/api/security/blacklist/{id}", tag = "licensecm-security", params(("id" = String, Path, description = "Entry ID")),
    responses((status = 200, description = "`{success, data: {}}`", body = serde_json::Value),
              (status = 404, description = "`NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn delete_blacklist(State(s): State<AppState>, me: Me, ip: ClientIp, Id(id): Id) -> Answer {
    me.require_admin()?;
    if !s.store.delete_blacklist(&id).await? {
        return Err(Fail::not_found("NOT_FOUND", "Blacklist entry not found"));
    }
    s.journal
        .audit(
            &me.actor(),
            AuditAction::BlacklistRemoved,
            &id,
            ip.text(),
            json!({}),
        )
        .await?;
    ok(json!({}))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EventFilter {
    event_type: Option<String>,
    severity: Option<String>,
    license_id: Option<String>,
    ip_address: Option<String>,
    hwid: Option<String>,
    is_blocked: Option<bool>,
    start_date: Option<String>,
    end_date: Option<String>,
    page: Option<usize>,
    limit: Option<usize>,
}

/// Security events, newest first.
#[utoipa::path(get, path = "/api/security/events", tag = "licensecm-security", params(EventFilter),
    responses((status = 200, description = "`{success, data: {events: [...], pagination}}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn events(State(s): State<AppState>, me: Me, Query(f): Query<EventFilter>) -> Answer {
    me.require_admin()?;
    if let Some(t) = &f.event_type
        && !EVENT_TYPES.contains(&t.as_str())
    {
        return Err(Fail::invalid(format!(
            "event_type: one of {}",
            EVENT_TYPES.join(", ")
        )));
    }
    let severity = f.severity.as_deref().map(parse_severity).transpose()?;
    let time = |v: &Option<String>, name: &str| -> Result<Option<i64>, Fail> {
        v.as_deref()
            .map(|t| {
                parse_time(t).ok_or_else(|| Fail::invalid(format!("{name}: an ISO 8601 date")))
            })
            .transpose()
    };
    let start = time(&f.start_date, "start_date")?;
    let end = time(&f.end_date, "end_date")?;
    let filter = SecurityEventFilter {
        event_type: f.event_type.clone(),
        severity,
        license_id: f.license_id.clone(),
        ip_address: f.ip_address.clone(),
        hwid: f.hwid.clone(),
        is_blocked: f.is_blocked,
        since: start,
        until: end,
    };
    let reach = Reach::of(&s, &me, false).await?;
    let items: Vec<SecurityEvent> = s
        .store
        .security_events(&filter)
        .await?
        .into_iter()
        .filter(|e| reach.sees_event(e))
        .collect();
    let (page, pagination) = Paging {
        page: f.page,
        limit: f.limit,
    }
    .apply(items);
    ok(
        json!({ "events": page.iter().map(event_view).collect::<Vec<_>>(), "pagination": pagination }),
    )
}

/// Today's figures, events by type and severity, and a 7-day trend.
#[utoipa::path(get, path = "/api/security/overview", tag = "licensecm-security",
    responses((status = 200, description = "`{success, data: {overview: {today_events, critical_events, blocked_attempts, active_blacklist, active_sessions}, events_by_type, events_by_severity, daily_trend}}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn overview(State(s): State<AppState>, me: Me) -> Answer {
    me.require_admin()?;
    let now = s.clock.now();
    let today = now - now.rem_euclid(86_400);
    let week = today - 6 * 86_400;
    let reach = Reach::of(&s, &me, true).await?;
    let recent: Vec<SecurityEvent> = s
        .store
        .security_events(&SecurityEventFilter {
            since: Some(week),
            ..SecurityEventFilter::default()
        })
        .await?
        .into_iter()
        .filter(|e| reach.sees_event(e))
        .collect();
    let todays: Vec<&SecurityEvent> = recent.iter().filter(|e| e.created_at >= today).collect();
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_severity: BTreeMap<Severity, usize> = BTreeMap::new();
    let mut by_day: BTreeMap<i64, (usize, usize)> =
        (0..7).map(|d| (week + d * 86_400, (0, 0))).collect();
    for e in &recent {
        *by_type.entry(e.event_type.as_str()).or_default() += 1;
        *by_severity.entry(e.severity).or_default() += 1;
        let day = e.created_at - e.created_at.rem_euclid(86_400);
        let slot = by_day.entry(day).or_default();
        slot.0 += 1;
        slot.1 += usize::from(e.is_blocked);
    }
    let active_blacklist = s
        .store
        .blacklist()
        .await?
        .iter()
        .filter(|e| e.in_force(now))
        .count();
    let active_sessions = s
        .store
        .sessions()
        .await?
        .iter()
        .filter(|x| reach.sees_session(x) && x.ended_at.is_none() && x.expires_at > now)
        .count();
    ok(json!({
        "overview": {
            "today_events": todays.len(),
            "critical_events": todays.iter().filter(|e| e.severity == Severity::Critical).count(),
            "blocked_attempts": todays.iter().filter(|e| e.is_blocked).count(),
            "active_blacklist": active_blacklist,
            "active_sessions": active_sessions,
        },
        "events_by_type": by_type.iter().map(|(t, n)| json!({ "event_type": t, "count": n })).collect::<Vec<_>>(),
        "events_by_severity": by_severity.iter().map(|(v, n)| json!({ "severity": v, "count": n })).collect::<Vec<_>>(),
        "daily_trend": by_day.iter().map(|(d, (n, b))| json!({
            "date": chrono::DateTime::from_timestamp(*d, 0).map(|t| t.format("%Y-%m-%d").to_string()),
            "count": n,
            "blocked": b,
        })).collect::<Vec<_>>(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SessionFilter {
    license_id: Option<String>,
    is_active: Option<bool>,
    page: Option<usize>,
    limit: Option<usize>,
}

/// Client sessions, newest first.
#[utoipa::path(get, path = "/api/security/sessions", tag = "licensecm-security", params(SessionFilter),
    responses((status = 200, description = "`{success, data: {sessions: [...], pagination}}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn sessions(State(s): State<AppState>, me: Me, Query(f): Query<SessionFilter>) -> Answer {
    me.require_admin()?;
    let now = s.clock.now();
    let reach = Reach::of(&s, &me, true).await?;
    let mut items: Vec<Session> = s
        .store
        .sessions()
        .await?
        .into_iter()
        .filter(|x| {
            reach.sees_session(x)
                && f.license_id.as_deref().is_none_or(|l| x.license_id == l)
                && f.is_active
                    .is_none_or(|a| (x.ended_at.is_none() && x.expires_at > now) == a)
        })
        .collect();
    items.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    let (page, pagination) = Paging {
        page: f.page,
        limit: f.limit,
    }
    .apply(items);
    ok(
        json!({ "sessions": page.iter().map(|x| session_view(x, now)).collect::<Vec<_>>(), "pagination": pagination }),
    )
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct Reason {
    reason: Option<String>,
}

/// Ends one session; its next heartbeat is refused.
#[utoipa::path(post, path = "/api/security/sessions/{id}/terminate", tag = "licensecm-security", params(("id" = String, Path, description = "Session ID")), request_body = Reason,
    responses((status = 200, description = "`{success, data: session}`", body = serde_json::Value),
              (status = 404, description = "`NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn terminate_session(
    State(s): State<AppState>,
    me: Me,
    ip: ClientIp,
    Id(id): Id,
    In(b): In<Reason>,
) -> Answer {
    me.require_admin()?;
    let missing = || Fail::not_found("NOT_FOUND", "Session not found");
    let mut sess = s.store.session(&id).await?.ok_or_else(missing)?;
    // Another product's session does not exist for this admin.
    me.license(&s, &sess.license_id)
        .await
        .map_err(|_| missing())?;
    let now = s.clock.now();
    let reason = b.reason.unwrap_or_else(|| "terminated by an admin".into());
    if sess.end(now, &reason) {
        s.store.put_session(&sess, &[]).await?;
        s.journal
            .audit(
                &me.actor(),
                AuditAction::SessionTerminated,
                &sess.license_id,
                ip.text(),
                json!({ "session_id": sess.id, "reason": sess.end_reason }),
            )
            .await?;
    }
    ok(session_view(&sess, now))
}

/// Ends every session of a license.
#[utoipa::path(post, path = "/api/security/licenses/{id}/revoke-sessions", tag = "licensecm-security", params(("id" = String, Path, description = "License ID")), request_body = Reason,
    responses((status = 200, description = "`{success, data: {revoked}}`", body = serde_json::Value),
              (status = 404, description = "`LICENSE_NOT_FOUND`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn revoke_license_sessions(
    State(s): State<AppState>,
    me: Me,
    ip: ClientIp,
    Id(id): Id,
    In(b): In<Reason>,
) -> Answer {
    me.require_admin()?;
    let (l, _) = me.license(&s, &id).await?;
    let reason = b.reason.unwrap_or_else(|| "revoked by an admin".into());
    let n = super::shared::end_sessions(&s, &l.id, None, &reason).await?;
    s.journal
        .audit(
            &me.actor(),
            AuditAction::SessionRevoked,
            &l.id,
            ip.text(),
            json!({ "count": n, "reason": reason }),
        )
        .await?;
    ok(json!({ "revoked": n }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct Block {
    ip: Option<String>,
    hwid: Option<String>,
    reason: Option<String>,
    duration_hours: Option<u32>,
}

async fn quick_block(
    s: &AppState,
    me: &Me,
    ip: ClientIp,
    kind: BlacklistType,
    value: Option<String>,
    b: Block,
    default_hours: u32,
) -> Answer {
    me.require_admin()?;
    let hours = b.duration_hours.unwrap_or(default_hours);
    if hours == 0 || hours > 24 * 3650 {
        return Err(Fail::invalid("duration_hours: 1 to 87600"));
    }
    let e = add_entry(
        s,
        me,
        ip,
        Draft {
            kind,
            value: value.unwrap_or_default(),
            reason: b.reason.unwrap_or_default(),
            severity: Severity::High,
            expires_at: Some(s.clock.now() + i64::from(hours) * 3600),
        },
    )
    .await?;
    ok_with(StatusCode::CREATED, entry_view(&e))
}

/// Blocks an IP address for `duration_hours` (default 24).
#[utoipa::path(post, path = "/api/security/block-ip", tag = "licensecm-security", request_body = Block,
    responses((status = 201, description = "`{success, data: entry}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn block_ip(State(s): State<AppState>, me: Me, ip: ClientIp, In(b): In<Block>) -> Answer {
    let value = b.ip.clone();
    quick_block(&s, &me, ip, BlacklistType::Ip, value, b, 24).await
}

/// Blocks a HWID for `duration_hours` (default 720, 30 days).
#[utoipa::path(post, path = "/api/security/block-hwid", tag = "licensecm-security", request_body = Block,
    responses((status = 201, description = "`{success, data: entry}`", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn block_hwid(State(s): State<AppState>, me: Me, ip: ClientIp, In(b): In<Block>) -> Answer {
    let value = b.hwid.clone();
    quick_block(&s, &me, ip, BlacklistType::Hwid, value, b, 720).await
}
