//! Licenses: the list and search, one license with its machines and timeline, and its actions.

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::desk::{Desk, Posted, Refusal};
use super::page::{self, When, q, when};
use super::templates::{self, EventRow, LicenseRow, LicenseView, MachineRow, ProductChoice};
use super::{Ask, Flash, confirm, refusal_page, refused};
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::licenses::Listing;
use crate::app::{audit, catalog, licenses, offline};
use licet_api::answers::{MachineBody, PolicyBody};
use licet_api::requests::NewLicense;

const STATUSES: [&str; 5] = ["", "active", "suspended", "expired", "revoked"];

/// The query of the list page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    policy: String,
    after: Option<String>,
    #[serde(flatten)]
    flash: Flash,
}

fn list_of(items: &[String]) -> String {
    match items.is_empty() {
        true => "—".into(),
        false => items.join(", "),
    }
}

fn time_or(t: Option<i64>, now: i64, none: &str) -> String {
    t.map_or_else(|| none.to_owned(), |t| when(t, now))
}

fn kind_text(k: licet_api::Kind) -> &'static str {
    match k {
        licet_api::Kind::Trial => "trial",
        licet_api::Kind::Subscription => "subscription",
        licet_api::Kind::Lifetime => "lifetime",
    }
}

/// The products the viewer sees, for the choices of the page.
pub(super) async fn choices(d: &Desk) -> Result<Vec<ProductChoice>, Refusal> {
    Ok(catalog::products(&d.s, d.caller())
        .await?
        .into_iter()
        .map(|p| ProductChoice {
            id: p.id,
            code: p.code,
        })
        .collect())
}

/// `GET /admin/licenses`.
pub async fn list(d: Desk, Query(f): Query<ListQuery>) -> Response {
    let (s, v) = (&d.s, &d.v);
    let now = s.clock.now();
    let products = match choices(&d).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e),
    };
    let nonempty = |x: &str| (!x.is_empty()).then(|| x.to_owned());
    let status = match nonempty(&f.status) {
        None => Ok(None),
        Some(st) => page::choice(&st).map(Some).map_err(|_| {
            ApiError::bad_request(
                ErrorCode::InvalidField,
                "status: active, suspended, expired or revoked",
            )
        }),
    };
    // The policies to filter by: those of the products the viewer sees, named with their
    // product's code.
    let policies = match catalog::policies(s, d.caller(), None).await {
        Ok(ps) => ps
            .into_iter()
            .map(|q| {
                let product = products
                    .iter()
                    .find(|p| p.id == q.product_id)
                    .map_or_else(String::new, |p| p.code.clone());
                ProductChoice {
                    id: q.id,
                    code: format!("{product} · {}", q.name),
                }
            })
            .collect(),
        Err(e) => return refusal_page(&e.into()),
    };
    let listed = match status {
        Ok(status) => {
            let listing = Listing {
                product_id: nonempty(&f.product),
                policy_id: nonempty(&f.policy),
                status,
                q: Some(f.q.clone()),
                after: f.after.clone(),
                limit: 50,
            };
            licenses::list_summaries(s, d.caller(), &listing).await
        }
        Err(e) => Err(e),
    };
    let (rows, next, notice) = match listed {
        Ok(page) => {
            let code_of = |id: &str| {
                products
                    .iter()
                    .find(|p| p.id == id)
                    .map_or_else(|| id.to_owned(), |p| p.code.clone())
            };
            let rows = page
                .items
                .into_iter()
                .map(|l| LicenseRow {
                    product: code_of(&l.product_id),
                    expires: l.expires_at.map(|t| When(t, now)),
                    created: When(l.created_at, now),
                    id: l.id,
                    key: l.key,
                    status: l.status.as_str(),
                })
                .collect();
            let next = page.next.as_deref().map(|n| {
                format!(
                    "/admin/licenses?q={}&product={}&policy={}&status={}&after={}",
                    q(&f.q),
                    q(&f.product),
                    q(&f.policy),
                    q(&f.status),
                    q(n)
                )
            });
            (rows, next, f.flash.notice(&d))
        }
        Err(e) => (Vec::new(), None, Some(refused(&e.into()))),
    };
    let t = templates::Licenses {
        chrome: v.chrome("licenses"),
        notice,
        q: f.q,
        product: f.product,
        status: f.status,
        policy: f.policy,
        policies,
        statuses: STATUSES.iter().map(|s| (*s).to_owned()).collect(),
        products,
        rows,
        next,
    };
    page::render(StatusCode::OK, &t)
}

/// `POST /admin/licenses`: creates a license and shows it.
pub async fn create(Posted { d, form }: Posted) -> Response {
    let mut new = NewLicense::of(form.get("product_id").unwrap_or(""));
    new.policy_id = form.get("policy_id").map(str::to_owned);
    if let Some(e) = form.get("expires") {
        match page::parse_date(e) {
            Some(t) => new.expires_at = Some(t),
            None => {
                return page::see_other(&format!(
                    "/admin/licenses?{}",
                    Flash::refusal(&d, "expires: a date as YYYY-MM-DD (invalid_field)")
                ));
            }
        }
    }
    match licenses::create(&d.s, d.caller(), d.ip, &new).await {
        Ok(l) => page::see_other(&format!(
            "/admin/licenses/{}?{}",
            q(&l.id),
            Flash::of(&d, &Ok("License created.".to_owned()))
        )),
        Err(e) => page::see_other(&format!(
            "/admin/licenses?{}",
            Flash::of(&d, &Err(e.into()))
        )),
    }
}

/// A machine's row; `ttl` is the policy's heartbeat TTL when its seats float (a floating
/// seat whose last heartbeat is older is dead, and the culler frees it).
fn machine_row(m: MachineBody, now: i64, ttl: Option<u64>) -> MachineRow {
    let short = if m.fingerprint.chars().count() > 20 {
        format!("{}…", m.fingerprint.chars().take(20).collect::<String>())
    } else {
        m.fingerprint.clone()
    };
    let dead =
        ttl.is_some_and(|ttl| now - m.last_heartbeat > i64::try_from(ttl).unwrap_or(i64::MAX));
    let (state, class) = match (m.lease.as_deref(), m.lease_until) {
        (Some("borrowed"), Some(u)) => (format!("borrowed until {}", when(u, now)), "borrowed"),
        (Some("offline"), Some(u)) => (format!("offline lease until {}", when(u, now)), "offline"),
        _ if dead => ("dead: the culler frees it".to_owned(), "dead"),
        _ => ("alive".to_owned(), "alive"),
    };
    MachineRow {
        offline_file: m.lease.as_deref() == Some("offline")
            && m.lease_until.is_some_and(|u| u > now),
        host: [m.hostname, m.platform]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
        heartbeat: when(m.last_heartbeat, now),
        first_seen: when(m.first_seen, now),
        id: m.id,
        fingerprint: m.fingerprint,
        short,
        state,
        state_class: class,
    }
}

/// `GET /admin/machines/{id}/license-file`: the response an offline machine was activated
/// with, as the file the customer installs.
pub async fn license_file(d: Desk, Path(id): Path<String>) -> Response {
    match offline::answer_again(&d.s, d.caller(), &id).await {
        Ok(a) => {
            let name = format!(
                "licet-activation-response-{}.txt",
                id.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            );
            let mut r = (
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                a.response,
            )
                .into_response();
            page::secure_headers(r.headers_mut());
            r
        }
        Err(e) => refusal_page(&e.into()),
    }
}

/// `GET /admin/licenses/{id}`.
pub async fn show(d: Desk, Path(id): Path<String>, Query(flash): Query<Flash>) -> Response {
    let (s, v) = (&d.s, &d.v);
    let now = s.clock.now();
    let l = match licenses::read(s, d.caller(), &id).await {
        Ok(l) => l,
        Err(e) => return refusal_page(&e.into()),
    };
    let machines = match licenses::machines(s, d.caller(), &id).await {
        Ok(m) => m,
        Err(e) => return refusal_page(&e.into()),
    };
    let product = match catalog::product(s, d.caller(), &l.product_id).await {
        Ok(p) => format!("{} ({})", p.name, p.code),
        Err(_) => l.product_id.clone(),
    };
    let policy: ApiResult<PolicyBody> = catalog::policy(s, d.caller(), &l.policy_id).await;
    let ttl = match &policy {
        Ok(p) if p.floating => Some(p.heartbeat_ttl),
        _ => None,
    };
    let policy = match policy {
        Ok(p) => format!(
            "{} · {} machine(s){}",
            p.name,
            p.max_machines,
            if p.floating { ", floating" } else { "" }
        ),
        Err(_) => l.policy_id.clone(),
    };
    // The timeline needs an admin key (it reads the audit log); a page without it still
    // shows the license. The newest 100 entries, newest first.
    let timeline = licet_core::store::AuditFilter {
        license: Some(id.clone()),
        newest_first: true,
        ..licet_core::store::AuditFilter::default()
    };
    let newest = licet_core::store::PageRequest {
        after: None,
        limit: 100,
    };
    let events = match audit::entries(s, d.caller(), timeline, newest).await {
        Ok(page) => page
            .items
            .into_iter()
            .map(|e| EventRow {
                at: when(e.at, now),
                action: e.action,
                actor: e.actor,
                detail: match &e.detail {
                    Value::Object(o) if o.is_empty() => String::new(),
                    Value::Null => String::new(),
                    d => d.to_string(),
                },
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let status = l.status.as_str().to_owned();
    let mut actions: Vec<(&'static str, &'static str, bool)> = Vec::new();
    match status.as_str() {
        "revoked" => {}
        "suspended" => actions.push(("reinstate", "Reinstate", false)),
        _ => actions.push(("suspend", "Suspend", false)),
    }
    if status != "revoked" {
        actions.push(("renew", "Renew", false));
        actions.push(("revoke", "Revoke", true));
    }
    if !machines.is_empty() {
        actions.push(("reset-machines", "Reset all machines", true));
    }
    actions.push(("delete", "Delete", true));
    let view = LicenseView {
        status,
        product,
        policy,
        kind: kind_text(l.kind).to_owned(),
        expires: time_or(l.expires_at, now, "never"),
        seats: l
            .seats
            .map_or_else(|| "the policy's".to_owned(), |n| n.to_string()),
        entitlements: list_of(&l.entitlements),
        domains: list_of(&l.domains),
        metadata: match l.metadata.is_empty() {
            true => "—".to_owned(),
            false => serde_json::to_string(&l.metadata).unwrap_or_default(),
        },
        created: when(l.created_at, now),
        id: l.id,
        key: l.key,
    };
    let t = templates::License {
        chrome: v.chrome("licenses"),
        notice: flash.notice(&d),
        l: view,
        actions,
        machines: machines
            .into_iter()
            .map(|m| machine_row(m, now, ttl))
            .collect(),
        events,
    };
    page::render(StatusCode::OK, &t)
}

/// The actions of the license page: whether each asks first, and what it says when done.
fn action_of(action: &str) -> Option<(bool, &'static str)> {
    Some(match action {
        "suspend" => (false, "Suspended."),
        "reinstate" => (false, "Reinstated."),
        "renew" => (false, "Renewed."),
        "revoke" => (true, "Revoked: the revocation list names it now."),
        "delete" => (true, "Deleted."),
        "reset-machines" => (true, "Every machine deactivated: their seats are free."),
        _ => return None,
    })
}

/// Takes `action` on license `id` as the viewer.
async fn take(d: &Desk, id: &str, action: &str) -> ApiResult<()> {
    let (s, c, ip) = (&d.s, d.caller(), d.ip);
    match action {
        "suspend" => licenses::suspend(s, c, ip, id).await.map(drop),
        "reinstate" => licenses::reinstate(s, c, ip, id).await.map(drop),
        "renew" => licenses::renew(s, c, ip, id, None).await.map(drop),
        "revoke" => licenses::revoke(s, c, ip, id).await.map(drop),
        "delete" => licenses::delete(s, c, ip, id).await,
        _ => licenses::reset_machines(s, c, ip, id).await.map(drop),
    }
}

/// `POST /admin/licenses/{id}/{action}`: suspend, reinstate, renew, revoke, delete, or reset
/// the machines.
pub async fn act(
    Path((id, action)): Path<(String, String)>,
    Posted { d, form }: Posted,
) -> Response {
    let v = &d.v;
    let Some((destructive, done)) = action_of(&action) else {
        return page::failure(&crate::app::error::ApiError::not_found("action"));
    };
    let back = format!("/admin/licenses/{}", q(&id));
    if destructive && form.get("confirm") != Some("yes") {
        let (question, consequence, verb) = match action.as_str() {
            "revoke" => (
                "Revoke this license?",
                "Revocation is final: every token of the license fails once a client has the new revocation list.",
                "Revoke",
            ),
            "reset-machines" => (
                "Deactivate every machine of this license?",
                "All its seats are freed at once, so that it can be activated elsewhere; the machines keep their tokens until they expire or check in.",
                "Reset all machines",
            ),
            _ => (
                "Delete this license?",
                "Its record, machines and key are removed; clients holding tokens keep them until they expire.",
                "Delete",
            ),
        };
        return confirm(
            v,
            "licenses",
            Ask {
                question,
                consequence,
                verb,
                action: format!("{back}/{action}"),
                back,
                fields: Vec::new(),
            },
        );
    }
    let result = take(&d, &id, &action)
        .await
        .map(|()| done.to_owned())
        .map_err(Refusal::from);
    if action == "delete" && result.is_ok() {
        return page::see_other(&format!("/admin/licenses?{}", Flash::of(&d, &result)));
    }
    page::see_other(&format!("{back}?{}", Flash::of(&d, &result)))
}

/// `POST /admin/machines/{id}/deactivate`: frees the machine's seat.
pub async fn deactivate_machine(Path(id): Path<String>, Posted { d, form }: Posted) -> Response {
    let v = &d.v;
    let license = form.get("license").unwrap_or("").to_owned();
    let back = format!("/admin/licenses/{}", q(&license));
    if form.get("confirm") != Some("yes") {
        return confirm(
            v,
            "licenses",
            Ask {
                question: "Deactivate this machine?",
                consequence: "Its seat is freed at once; the machine keeps its token until it expires or checks in.",
                verb: "Deactivate",
                action: format!("/admin/machines/{}/deactivate", q(&id)),
                back,
                fields: vec![("license".to_owned(), license)],
            },
        );
    }
    let result = licenses::deactivate_machine(&d.s, d.caller(), d.ip, &id)
        .await
        .map(|()| "Machine deactivated: its seat is free.".to_owned())
        .map_err(Refusal::from);
    page::see_other(&format!("{back}?{}", Flash::of(&d, &result)))
}
