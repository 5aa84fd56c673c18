//! Licenses: the list and search, one license with its machines and timeline, and its actions.

use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::api::{Desk, Posted, Refusal};
use super::page::{self, When, q, text, when};
use super::templates::{self, EventRow, LicenseRow, LicenseView, MachineRow, ProductChoice};
use super::{Ask, Flash, confirm, refusal_page, refused};
use licet_api::answers::LicenseSummaryPage;

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

fn list_of(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "—".into())
}

fn time_or(v: &Value, now: i64, none: &str) -> String {
    v.as_i64().map_or_else(|| none.to_owned(), |t| when(t, now))
}

/// The products the viewer sees, for the choices of the page.
pub(super) async fn choices(d: &Desk) -> Result<Vec<ProductChoice>, Refusal> {
    let p = d.get("/v1/products").await?;
    Ok(p["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| ProductChoice {
                    id: text(&p["id"]),
                    code: text(&p["code"]),
                })
                .collect()
        })
        .unwrap_or_default())
}

/// `GET /admin/licenses`.
pub async fn list(d: Desk, Query(f): Query<ListQuery>) -> Response {
    let (s, v) = (&d.s, &d.v);
    let now = s.clock.now();
    let products = match choices(&d).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e),
    };
    let mut uri = format!("/v1/licenses?summary=true&limit=50&q={}", q(&f.q));
    if !f.product.is_empty() {
        uri.push_str(&format!("&product_id={}", q(&f.product)));
    }
    if !f.status.is_empty() {
        uri.push_str(&format!("&status={}", q(&f.status)));
    }
    if !f.policy.is_empty() {
        uri.push_str(&format!("&policy_id={}", q(&f.policy)));
    }
    if let Some(a) = &f.after {
        uri.push_str(&format!("&after={}", q(a)));
    }
    // The policies to filter by: those of the products the viewer sees, named with their
    // product's code.
    let policies = match d.get("/v1/policies").await {
        Ok(p) => p["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|q| {
                let product = products
                    .iter()
                    .find(|p| p.id == text(&q["product_id"]))
                    .map_or_else(String::new, |p| p.code.clone());
                ProductChoice {
                    id: text(&q["id"]),
                    code: format!("{product} · {}", text(&q["name"])),
                }
            })
            .collect(),
        Err(e) => return refusal_page(&e),
    };
    let (rows, next, notice) = match d.get_as::<LicenseSummaryPage>(&uri).await {
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
        Err(e) => (Vec::new(), None, Some(refused(&e))),
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

/// `POST /admin/licenses`: creates a license (`POST /v1/licenses`) and shows it.
pub async fn create(Posted { d, form }: Posted) -> Response {
    let mut body = json!({ "product_id": form.get("product_id").unwrap_or("") });
    if let Some(p) = form.get("policy_id") {
        body["policy_id"] = json!(p);
    }
    if let Some(e) = form.get("expires") {
        match page::parse_date(e) {
            Some(t) => body["expires_at"] = json!(t),
            None => {
                return page::see_other(&format!(
                    "/admin/licenses?{}",
                    Flash::refusal(&d, "expires: a date as YYYY-MM-DD (invalid_field)")
                ));
            }
        }
    }
    match d.send(Method::POST, "/v1/licenses", Some(body)).await {
        Ok(l) => page::see_other(&format!(
            "/admin/licenses/{}?{}",
            q(&text(&l["id"])),
            Flash::of(&d, &Ok("License created.".to_owned()))
        )),
        Err(e) => page::see_other(&format!("/admin/licenses?{}", Flash::of(&d, &Err(e)))),
    }
}

/// A machine's row; `ttl` is the policy's heartbeat TTL when its seats float (a floating
/// seat whose last heartbeat is older is dead, and the culler frees it).
fn machine_row(m: &Value, now: i64, ttl: Option<i64>) -> MachineRow {
    let fingerprint = text(&m["fingerprint"]);
    let short = if fingerprint.chars().count() > 20 {
        format!("{}…", fingerprint.chars().take(20).collect::<String>())
    } else {
        fingerprint.clone()
    };
    let (state, class) = match (m["lease"].as_str(), m["lease_until"].as_i64()) {
        (Some("borrowed"), Some(u)) => (format!("borrowed until {}", when(u, now)), "borrowed"),
        (Some("offline"), Some(u)) => (format!("offline lease until {}", when(u, now)), "offline"),
        _ if ttl
            .zip(m["last_heartbeat"].as_i64())
            .is_some_and(|(ttl, hb)| now - hb > ttl) =>
        {
            ("dead: the culler frees it".to_owned(), "dead")
        }
        _ => ("alive".to_owned(), "alive"),
    };
    MachineRow {
        id: text(&m["id"]),
        fingerprint,
        short,
        host: [text(&m["hostname"]), text(&m["platform"])]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
        state,
        state_class: class,
        heartbeat: time_or(&m["last_heartbeat"], now, "—"),
        first_seen: time_or(&m["first_seen"], now, "—"),
        offline_file: m["lease"].as_str() == Some("offline")
            && m["lease_until"].as_i64().is_some_and(|u| u > now),
    }
}

/// `GET /admin/machines/{id}/license-file`: the response an offline machine was activated
/// with, as the file the customer installs (`GET /v1/offline/activations/{id}`).
pub async fn license_file(d: Desk, Path(id): Path<String>) -> Response {
    match d.get(&format!("/v1/offline/activations/{}", q(&id))).await {
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
                text(&a["response"]),
            )
                .into_response();
            page::secure_headers(r.headers_mut());
            r
        }
        Err(e) => refusal_page(&e),
    }
}

/// `GET /admin/licenses/{id}`.
pub async fn show(d: Desk, Path(id): Path<String>, Query(flash): Query<Flash>) -> Response {
    let (s, v) = (&d.s, &d.v);
    let now = s.clock.now();
    let call = |uri: String| {
        let d = &d;
        async move { d.get(&uri).await }
    };
    let l = match call(format!("/v1/licenses/{}", q(&id))).await {
        Ok(l) => l,
        Err(e) => return refusal_page(&e),
    };
    let machines = match call(format!("/v1/licenses/{}/machines", q(&id))).await {
        Ok(m) => m,
        Err(e) => return refusal_page(&e),
    };
    let product = match call(format!("/v1/products/{}", q(&text(&l["product_id"])))).await {
        Ok(p) => format!("{} ({})", text(&p["name"]), text(&p["code"])),
        Err(_) => text(&l["product_id"]),
    };
    let policy_json = call(format!("/v1/policies/{}", q(&text(&l["policy_id"])))).await;
    let ttl = match &policy_json {
        Ok(p) if p["floating"].as_bool() == Some(true) => p["heartbeat_ttl"].as_i64(),
        _ => None,
    };
    let policy = match policy_json {
        Ok(p) => format!(
            "{} · {} machine(s){}",
            text(&p["name"]),
            text(&p["max_machines"]),
            if p["floating"].as_bool() == Some(true) {
                ", floating"
            } else {
                ""
            }
        ),
        Err(_) => text(&l["policy_id"]),
    };
    // The timeline needs an admin key (it reads the audit log); a page without it still
    // shows the license.
    // The newest 100 entries, newest first.
    let events = match call(format!(
        "/v1/audit?license={}&limit=100&order=newest",
        q(&id)
    ))
    .await
    {
        Ok(a) => a["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| EventRow {
                at: time_or(&e["at"], now, ""),
                action: text(&e["action"]),
                actor: text(&e["actor"]),
                detail: match &e["detail"] {
                    Value::Object(o) if o.is_empty() => String::new(),
                    Value::Null => String::new(),
                    d => d.to_string(),
                },
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let status = text(&l["status"]);
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
    if machines["items"].as_array().is_some_and(|m| !m.is_empty()) {
        actions.push(("reset-machines", "Reset all machines", true));
    }
    actions.push(("delete", "Delete", true));
    let view = LicenseView {
        id: text(&l["id"]),
        key: text(&l["key"]),
        status,
        product,
        policy,
        kind: text(&l["kind"]),
        expires: time_or(&l["expires_at"], now, "never"),
        seats: l["seats"]
            .as_u64()
            .map_or_else(|| "the policy's".to_owned(), |n| n.to_string()),
        entitlements: list_of(&l["entitlements"]),
        domains: list_of(&l["domains"]),
        metadata: match &l["metadata"] {
            Value::Object(o) if !o.is_empty() => l["metadata"].to_string(),
            _ => "—".to_owned(),
        },
        created: time_or(&l["created_at"], now, ""),
    };
    let t = templates::License {
        chrome: v.chrome("licenses"),
        notice: flash.notice(&d),
        l: view,
        actions,
        machines: machines["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| machine_row(m, now, ttl))
            .collect(),
        events,
    };
    page::render(StatusCode::OK, &t)
}

/// What each action of the license page asks of the API, and whether it asks first.
fn action_of(action: &str) -> Option<(Method, &'static str, bool, &'static str)> {
    Some(match action {
        "suspend" => (Method::POST, "suspend", false, "Suspended."),
        "reinstate" => (Method::POST, "reinstate", false, "Reinstated."),
        "renew" => (Method::POST, "renew", false, "Renewed."),
        "revoke" => (
            Method::POST,
            "revoke",
            true,
            "Revoked: the revocation list names it now.",
        ),
        "delete" => (Method::DELETE, "", true, "Deleted."),
        "reset-machines" => (
            Method::DELETE,
            "machines",
            true,
            "Every machine deactivated: their seats are free.",
        ),
        _ => return None,
    })
}

/// `POST /admin/licenses/{id}/{action}`: suspend, reinstate, renew, revoke, delete, or reset
/// the machines.
pub async fn act(
    Path((id, action)): Path<(String, String)>,
    Posted { d, form }: Posted,
) -> Response {
    let v = &d.v;
    let Some((method, path, destructive, done)) = action_of(&action) else {
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
    let uri = if path.is_empty() {
        format!("/v1/licenses/{}", q(&id))
    } else {
        format!("/v1/licenses/{}/{path}", q(&id))
    };
    let body = (method == Method::POST).then(|| json!({}));
    let result = d.send(method, &uri, body).await.map(|_| done.to_owned());
    if action == "delete" && result.is_ok() {
        return page::see_other(&format!("/admin/licenses?{}", Flash::of(&d, &result)));
    }
    page::see_other(&format!("{back}?{}", Flash::of(&d, &result)))
}

/// `POST /admin/machines/{id}/deactivate`: frees the machine's seat (`DELETE /v1/machines/…`).
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
    let result = d
        .send(Method::DELETE, &format!("/v1/machines/{}", q(&id)), None)
        .await
        .map(|_| "Machine deactivated: its seat is free.".to_owned());
    page::see_other(&format!("{back}?{}", Flash::of(&d, &result)))
}
