//! WemX's licensing service (`seeds/wemx-licensing-service.md`), answered from licet's model.
//!
//! WemX's nouns map onto licet's: a *package* is a product (its `package_id` is the product's
//! numeric id, its name the product's name), a *price* a [`Price`] of the product, a *user* a
//! [`Customer`], an *order* an [`Order`] whose due date is the license's expiry, and a license's
//! *domains* are the license's machines with fingerprint `domain:<name>` (as for the Verify
//! API), so the license's seats are `max_domains`. Choices where the document is silent (also
//! in `docs/compat.md`):
//!
//! - Answers are `{"success": false, "message"}` with 404 (no such license), 403 (the license
//!   may not be used here), 409 (a repeated `transaction_id`), 422 (Laravel validation, with
//!   `errors`), 401 (private API without a valid key) and 429 (rate limited).
//! - An unknown domain is claimed on first install while the license has a free domain slot;
//!   its type is guessed (development for `localhost`, IPs, test TLDs and `dev.` hosts).
//! - The public `due_date` may set a first due date or bring it forward, never push it later:
//!   anyone holding a key can call the public API, so only the private API extends.

use licet_core::store::Record;
use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domains::{DomainName, new_domain};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{ClientIp, public_url};
use crate::http::state::AppState;
use crate::model::{
    Customer, DOMAIN_PREFIX, DownloadGrant, Kind, License, LicenseStatus, Machine, Order, Policy,
    PriceKind, Product, Scope,
};
use crate::rules;
use licet_core::events::DomainEvent;
use licet_core::seats::{SeatClaim, SeatError, SeatRefusal, SeatRule};
use licet_core::store::{Slot, StoreError};

/// The WemX routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(validate))
        .routes(routes!(domains))
        .routes(routes!(download))
        .routes(routes!(fetch))
        .routes(routes!(create))
        .routes(routes!(update_due_date))
}

/// Largest `data` kept on a license, as JSON bytes.
const MAX_DATA: usize = 4096;
/// Most package names one request may list.
const MAX_PACKAGES: usize = 32;

// ----- answers

/// A refusal in WemX's shape.
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    message: String,
    errors: Option<BTreeMap<&'static str, Vec<String>>>,
    retry_after: Option<u64>,
    /// The product (`""`: no license found) and stable code the overview counts this refusal
    /// of a check under; `None` for what is not the license saying no (bad input, a fault).
    counted: Option<(String, &'static str)>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
            errors: None,
            retry_after: None,
            counted: None,
        }
    }

    /// This refusal, counted for the overview as `code` of `product_id`.
    fn counted(mut self, product_id: &str, code: &'static str) -> Self {
        self.counted = Some((product_id.to_owned(), code));
        self
    }

    /// Laravel's validation answer: the first message, "(and N more errors)", and every field.
    fn invalid(errors: BTreeMap<&'static str, Vec<String>>) -> Self {
        let total: usize = errors.values().map(Vec::len).sum();
        let first = errors
            .values()
            .flatten()
            .next()
            .cloned()
            .unwrap_or_default();
        let message = match total {
            0 | 1 => first,
            2 => format!("{first} (and 1 more error)"),
            n => format!("{first} (and {} more errors)", n - 1),
        };
        Refusal {
            errors: Some(errors),
            ..Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, message)
        }
    }

    fn field(field: &'static str, message: impl Into<String>) -> Self {
        Refusal::invalid(BTreeMap::from([(field, vec![message.into()])]))
    }
}

impl From<licet_core::StoreError> for Refusal {
    fn from(e: licet_core::StoreError) -> Self {
        crate::http::error::ApiError::from(e).into()
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        let message = match e.status() {
            StatusCode::TOO_MANY_REQUESTS => "Too Many Attempts.".to_owned(),
            StatusCode::UNAUTHORIZED => "Unauthenticated.".to_owned(),
            s if s.is_server_error() => "Server Error".to_owned(),
            _ => e.message().to_owned(),
        };
        Refusal {
            retry_after: e.retry_after(),
            ..Refusal::new(e.status(), message)
        }
    }
}

impl From<BytesRejection> for Refusal {
    fn from(r: BytesRejection) -> Self {
        Refusal::new(r.status(), r.body_text())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut body = json!({ "success": false, "message": self.message });
        if let Some(errors) = self.errors {
            body["errors"] = json!(errors);
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

type Answer = Result<Response, Refusal>;

/// Laravel's timestamp format: `2024-01-01T15:29:35.000000Z`.
fn laravel_time(t: i64) -> Value {
    chrono::DateTime::from_timestamp(t, 0).map_or(Value::Null, |d| {
        json!(d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    })
}

// ----- input, as Laravel's `$request->input()` sees it

/// The query string and the body (JSON or form), the body winning; an unparseable body counts
/// as empty, as in Laravel.
fn input(query: Option<&str>, headers: &HeaderMap, body: &Bytes) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(q) = query {
        absorb_form(&mut out, q.as_bytes());
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        absorb_form(&mut out, body);
    } else if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
        out.extend(o);
    }
    out
}

/// `a=1&data[x]=2&data[]=3` → `{"a": "1", "data": {"x": "2", "0": "3"}}`.
fn absorb_form(out: &mut Map<String, Value>, raw: &[u8]) {
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw) else {
        return;
    };
    for (k, v) in pairs {
        match k.split_once('[') {
            Some((name, rest)) => {
                let sub = rest.trim_end_matches(']');
                let entry = out
                    .entry(name.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(o) = entry {
                    let key = if sub.is_empty() {
                        o.len().to_string()
                    } else {
                        sub.to_owned()
                    };
                    o.insert(key, Value::String(v));
                }
            }
            None => {
                out.insert(k, Value::String(v));
            }
        }
    }
}

/// Laravel-style rules over one input map, collecting every field's messages.
struct Rules<'a> {
    input: &'a Map<String, Value>,
    errors: BTreeMap<&'static str, Vec<String>>,
}

impl<'a> Rules<'a> {
    fn new(input: &'a Map<String, Value>) -> Self {
        Rules {
            input,
            errors: BTreeMap::new(),
        }
    }

    fn fail(&mut self, field: &'static str, message: String) {
        self.errors.entry(field).or_default().push(message);
    }

    fn present(&self, field: &str) -> Option<&'a Value> {
        match self.input.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => Some(v),
        }
    }

    /// `required|string|max:N` (or `nullable|…` when not `required`).
    fn string(&mut self, field: &'static str, required: bool, max: usize) -> Option<String> {
        let name = field.replace('_', " ");
        match self.present(field) {
            None if required => {
                self.fail(field, format!("The {name} field is required."));
                None
            }
            None => None,
            Some(Value::String(s)) if s.chars().count() > max => {
                self.fail(
                    field,
                    format!("The {name} field must not be greater than {max} characters."),
                );
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(_) => {
                self.fail(field, format!("The {name} field must be a string."));
                None
            }
        }
    }

    /// `required|integer` (a number or a string of digits).
    fn integer(&mut self, field: &'static str) -> Option<u64> {
        let name = field.replace('_', " ");
        let parsed = match self.present(field) {
            None => {
                self.fail(field, format!("The {name} field is required."));
                return None;
            }
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        if parsed.is_none() {
            self.fail(field, format!("The {name} field must be an integer."));
        }
        parsed
    }

    /// `date|after:now`.
    fn future_date(&mut self, field: &'static str, required: bool, now: i64) -> Option<i64> {
        let name = field.replace('_', " ");
        let text = self.string(field, required, 64)?;
        match parse_date(&text) {
            None => {
                self.fail(field, format!("The {name} field must be a valid date."));
                None
            }
            Some(t) if t <= now => {
                self.fail(field, format!("The {name} field must be a date after now."));
                None
            }
            Some(t) => Some(t),
        }
    }

    /// `nullable|array` of at most [`MAX_DATA`] bytes.
    fn data(&mut self, field: &'static str) -> Option<Value> {
        match self.present(field)? {
            v @ (Value::Object(_) | Value::Array(_)) => {
                if serde_json::to_vec(v).map_or(usize::MAX, |b| b.len()) > MAX_DATA {
                    self.fail(
                        field,
                        format!("The {field} field must not be greater than {MAX_DATA} bytes."),
                    );
                    return None;
                }
                Some(v.clone())
            }
            _ => {
                self.fail(field, format!("The {field} field must be an array."));
                None
            }
        }
    }

    /// A domain (with or without protocol).
    fn domain(&mut self, field: &'static str) -> Option<DomainName> {
        let raw = self.string(field, true, 255)?;
        let d = DomainName::parse(&raw);
        if d.is_none() {
            self.fail(field, format!("The {field} field must be a valid domain."));
        }
        d
    }

    fn finish(self) -> Result<(), Refusal> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Refusal::invalid(self.errors))
        }
    }
}

/// RFC 3339 (`2028-01-01T20:55:13.000000Z`), `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (UTC).
fn parse_date(s: &str) -> Option<i64> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp());
    }
    if let Ok(d) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(d.and_utc().timestamp());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

// ----- the public check

/// The license, the packages it was found valid for, and what the domain check found.
struct Checked {
    license: License,
    policy: Policy,
    /// The requested packages the license covers, in the order they were requested.
    products: Vec<Product>,
    /// The domain's machine as it should be stored, and whether it changed.
    domain: Machine,
    domain_changed: bool,
}

/// Everything the public routes check before answering: the key, its status, the packages,
/// and the domain (first install records the IP; an unknown domain takes a free slot). What it
/// found is written through the store's seat operation, which judges the domain again:
/// [`write_domain`]. Each check is counted for the overview: a validation, and a refusal by
/// its code.
async fn check(
    s: &AppState,
    key: &str,
    packages: &str,
    domain: &DomainName,
    ip: ClientIp,
) -> Result<Checked, Refusal> {
    let checked = judge(s, key, packages, domain, ip).await;
    match &checked {
        Ok(c) => crate::stats::validated(s, &c.license.product_id, None),
        Err(Refusal {
            counted: Some((product_id, code)),
            ..
        }) => crate::stats::validated(s, product_id, Some(code)),
        Err(_) => {}
    }
    checked
}

async fn judge(
    s: &AppState,
    key: &str,
    packages: &str,
    domain: &DomainName,
    ip: ClientIp,
) -> Result<Checked, Refusal> {
    let refuse = |m: &str| Refusal::new(StatusCode::FORBIDDEN, m);
    // The rules every family shares (`crate::rules`): the blacklist first, so a blocked caller
    // learns nothing about the license; then its state; the product's switch is applied to
    // the packages below.
    let ip_text = ip.text();
    let probe = rules::Probe {
        key,
        ip: ip_text.as_deref(),
        hwid: Some(&domain.fingerprint()),
        ..rules::Probe::default()
    };
    if rules::blacklisted(s, &probe).await?.is_some() {
        return Err(refuse("Access denied.").counted("", "blacklisted"));
    }
    let l = s.store.license_by_key(key).await?.ok_or_else(|| {
        Refusal::new(StatusCode::NOT_FOUND, "License not found.").counted("", "license_not_found")
    })?;
    if let Err(r) = rules::status(&l, s.clock.now()) {
        let message = match r {
            rules::Refusal::Suspended => "This license is suspended.",
            rules::Refusal::Revoked => "This license has been revoked.",
            rules::Refusal::Expired => "This license has expired.",
            _ => "This license is not active.",
        };
        return Err(refuse(message).counted(&l.product_id, r.code()));
    }
    let mut covered = Vec::new();
    for p in std::iter::once(&l.product_id).chain(&l.extra_products) {
        // `packages` resolves only among products enabled for WemX, whose names are unique
        // among them: another product cannot answer for a name it copied.
        if let Some(p) = s
            .store
            .product(p)
            .await?
            .filter(|p| p.compat.wemx && rules::product(p, &probe).is_ok())
        {
            covered.push(p);
        }
    }
    let mut products = Vec::new();
    for wanted in packages
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .take(MAX_PACKAGES)
    {
        if let Some(p) = covered.iter().find(|p| p.name.eq_ignore_ascii_case(wanted))
            && !products.iter().any(|q: &Product| q.id == p.id)
        {
            products.push(p.clone());
        }
    }
    if products.is_empty() {
        return Err(
            refuse("This license is not valid for the requested package.")
                .counted(&l.product_id, "package_not_covered"),
        );
    }
    let policy = s
        .store
        .policy(&l.policy_id)
        .await?
        .ok_or_else(|| ApiError::internal("license without policy"))?;
    let now = s.clock.now();
    let (machine, changed) = match s.store.machine(&l.id, &domain.fingerprint()).await? {
        Some(mut m) => match (&m.ip, ip.text()) {
            (Some(known), Some(caller)) if *known != caller => {
                return Err(refuse(OTHER_ADDRESS).counted(&l.product_id, "other_address"));
            }
            (None, Some(caller)) => {
                m.ip = Some(caller);
                m.last_seen = now;
                m.last_heartbeat = now;
                (m, true)
            }
            // Last use is kept to the minute: a known install is a read, not a write.
            _ if now - m.last_seen >= 60 => {
                m.last_seen = now;
                m.last_heartbeat = now;
                (m, true)
            }
            _ => (m, false),
        },
        None => {
            // A new domain needs a seat under the one seat rule; it is taken, atomically, when
            // the domain is written (`validate`).
            licet_core::seats::check(
                &*s.store,
                &domain_claim(&l, domain),
                &SeatRule::of(&l, &policy),
                now,
            )
            .await
            .map_err(|e| {
                let code = seat_code(&e);
                let r = domain_refusal(e);
                match code {
                    Some(code) => r.counted(&l.product_id, code),
                    None => r,
                }
            })?;
            (new_domain(s, &l.id, domain, None, ip.text()).await?, true)
        }
    };
    Ok(Checked {
        license: l,
        policy,
        products,
        domain: machine,
        domain_changed: changed,
    })
}

/// Writes a domain `check` found new or changed through the store's seat operation: a new
/// domain takes a seat under the one seat rule, and a known one is judged again as stored now
/// (an address recorded meanwhile by another caller refuses this one).
async fn write_domain(
    s: &AppState,
    l: &License,
    policy: &Policy,
    machine: &Machine,
    ip: ClientIp,
    now: i64,
) -> Result<(), Refusal> {
    let caller = ip.text();
    let other_address = Slot::new();
    let audience = s.audience("license.activated", Some(&l.product_id)).await?;
    let taken = s
        .store
        .take_seat(
            &SeatClaim {
                license_id: l.id.clone(),
                fingerprint: machine.fingerprint.clone(),
                parts: Vec::new(),
            },
            &SeatRule::of(l, policy),
            now,
            &|found| match found.map(|f| &f.machine) {
                Some(stored) => match (&stored.ip, &caller) {
                    (Some(known), Some(c)) if known != c => {
                        other_address.put(());
                        Err(StoreError::backend("installed from another address"))
                    }
                    _ => {
                        let mut m = stored.clone();
                        m.ip = m.ip.or_else(|| caller.clone());
                        m.last_seen = now;
                        m.last_heartbeat = now;
                        Ok((m, Record::none()))
                    }
                },
                None => {
                    let event = DomainEvent::LicenseActivated {
                        license: l.clone(),
                        machine: machine.clone(),
                    };
                    Ok((machine.clone(), audience.record(&event, now, Vec::new())))
                }
            },
        )
        .await;
    match taken {
        Ok(_) => Ok(()),
        Err(_) if other_address.take().is_some() => {
            Err(Refusal::new(StatusCode::FORBIDDEN, OTHER_ADDRESS))
        }
        Err(e) => Err(domain_refusal(e)),
    }
}

/// WemX's refusal of a known domain called from another address.
const OTHER_ADDRESS: &str =
    "This license is already installed on this domain from a different IP address.";

/// The seat claim of a domain.
fn domain_claim(l: &License, domain: &DomainName) -> SeatClaim {
    SeatClaim {
        license_id: l.id.clone(),
        fingerprint: domain.fingerprint(),
        parts: Vec::new(),
    }
}

/// WemX's answer to a seat refusal for a domain.
/// The stable code of a seat refused (`None`: a fault, not a refusal).
fn seat_code(e: &SeatError) -> Option<&'static str> {
    match e {
        SeatError::Refused(r) => Some(ApiError::from(SeatError::Refused(r.clone())).code()),
        _ => None,
    }
}

fn domain_refusal(e: SeatError) -> Refusal {
    let refuse = |m: &str| Refusal::new(StatusCode::FORBIDDEN, m);
    match e {
        SeatError::Refused(SeatRefusal::TooManyMachines { max }) => refuse(&format!(
            "This domain is not authorised for this license (it allows {max} domain{}).",
            if max == 1 { "" } else { "s" }
        )),
        SeatError::Refused(_) => {
            refuse("This license is bound to the domain it was first installed on.")
        }
        SeatError::Store(e) => e.into(),
        e => ApiError::from(e).into(),
    }
}

/// The license as WemX shows it.
async fn license_view(s: &AppState, l: &License, policy: &Policy) -> Result<Value, Refusal> {
    let last_installed = s
        .store
        .machines(&l.id)
        .await?
        .iter()
        .filter(|m| m.fingerprint.starts_with(DOMAIN_PREFIX))
        .map(|m| m.last_seen)
        .max();
    Ok(json!({
        "id": l.numeric_id,
        "order_id": l.order_id,
        "key": l.key,
        "max_domains": SeatRule::of(l, policy).max,
        "last_installed_at": last_installed.map_or(Value::Null, laravel_time),
        "created_at": laravel_time(l.created_at),
        "updated_at": laravel_time(last_installed.map_or(l.updated_at, |t| t.max(l.updated_at))),
    }))
}

/// WemX: validate a license for a domain and packages.
#[utoipa::path(post, path = "/api/v1/licenses/public/validate", tag = "wemx",
    request_body(content = serde_json::Value, description = "`{license, domain, packages}` (packages comma-separated), optional `data` (array), `transaction_id` (each accepted once), `due_date` (future; recurring licenses). JSON, form or query."),
    responses((status = 200, description = "`{success: true, message, package, type, license{id, order_id, key, max_domains, last_installed_at, created_at, updated_at}}`", body = serde_json::Value),
              (status = 403, description = "`{success: false, message}`: suspended, revoked, expired, wrong package, domain not authorised, other IP", body = serde_json::Value),
              (status = 404, description = "`{success: false, message: \"License not found.\"}`", body = serde_json::Value),
              (status = 409, description = "the transaction id was used before", body = serde_json::Value),
              (status = 422, description = "Laravel validation: `{success: false, message, errors}`", body = serde_json::Value)))]
async fn validate(
    State(s): State<AppState>,
    ip: ClientIp,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let body = body?;
    let input = input(query.as_deref(), &headers, &body);
    let now = s.clock.now();
    let mut rules = Rules::new(&input);
    let key = rules.string("license", true, 255);
    let domain = rules.domain("domain");
    let packages = rules.string("packages", true, 1000);
    let data = rules.data("data");
    let transaction = rules.string("transaction_id", false, 255);
    let due = rules.future_date("due_date", false, now);
    rules.finish()?;
    let (Some(key), Some(domain), Some(packages)) = (key, domain, packages) else {
        return Err(ApiError::internal("validated input missing").into());
    };
    s.limits.check_license(&key)?;
    let checked = check(&s, &key, &packages, &domain, ip).await?;
    let Checked {
        license: mut l,
        policy,
        products,
        domain: machine,
        domain_changed,
    } = checked;

    // The optional changes, judged before anything is written.
    let mut order = None;
    if let Some(due) = due {
        let o = match l.order_id {
            Some(id) => s.store.order(id).await?,
            None => None,
        };
        let recurring = match &o {
            Some(o) => s
                .store
                .price(o.price_id)
                .await?
                .is_some_and(|p| p.kind == PriceKind::Recurring),
            None => false,
        };
        let Some(mut o) = o.filter(|_| recurring) else {
            return Err(Refusal::field(
                "due_date",
                "The due date can only be set on a license with a recurring price.",
            ));
        };
        if o.due_date.is_some_and(|current| due > current) {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "The due date can only be extended through the private API.",
            ));
        }
        if o.due_date != Some(due) {
            o.due_date = Some(due);
            o.updated_at = now;
            l.expires_at = Some(due);
            order = Some(o);
        }
    }
    let data_changed = data.is_some() && data != l.data;

    let mut changes = Vec::new();
    if domain_changed {
        write_domain(&s, &l, &policy, &machine, ip, now).await?;
        changes.push("domain");
    }
    // Spent only once the domain holds its seat: a refused validation leaves the id unspent.
    if let Some(t) = &transaction
        && !s.store.claim_transaction(t, &l.id).await?
    {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "This transaction id has already been used.",
        ));
    }
    // The license is changed as stored now, not as read above: no concurrent change is lost.
    let due = order.as_ref().and_then(|o| o.due_date);
    let change = |current: &License| {
        let mut next = current.clone();
        if due.is_some() {
            next.expires_at = due;
        }
        if data_changed {
            next.data.clone_from(&data);
        }
        next.updated_at = now;
        Ok(Some((next, Record::none())))
    };
    if let Some(o) = &order {
        if let Some(stored) = s.store.update_order(o, &change).await? {
            l = stored;
        }
        changes.push("due_date");
    } else if data_changed && let Some(stored) = s.store.change_license(&l.id, &change).await? {
        l = stored;
    }
    if data_changed {
        changes.push("data");
    }
    if transaction.is_some() {
        changes.push("transaction_id");
    }
    if !changes.is_empty() {
        s.audit(
            &format!("license:{}", l.id),
            "wemx.validated",
            &l.id,
            ip.text(),
            json!({ "domain": domain.name, "changed": changes, "transaction_id": transaction, "due_date": order.as_ref().and_then(|o| o.due_date) }),
        ).await?;
    }
    let package = products.first().map(|p| p.name.clone()).unwrap_or_default();
    Ok(Json(json!({
        "success": true,
        "message": "License verified successfully.",
        "package": package,
        "type": machine.domain_type.unwrap_or(crate::model::DomainType::Production).as_str(),
        "license": license_view(&s, &l, &policy).await?,
    }))
    .into_response())
}

/// WemX: the domains a license is authorised for.
#[utoipa::path(get, path = "/api/v1/licenses/public/{license}/domains", tag = "wemx",
    params(("license" = String, Path, description = "the license key")),
    responses((status = 200, description = "`{success: true, domains: [{id, license_id, type, protocol, domain, last_used_at, created_at, updated_at}]}`", body = serde_json::Value),
              (status = 404, description = "`{success: false, message: \"License not found.\"}`", body = serde_json::Value)))]
async fn domains(State(s): State<AppState>, key: Result<Path<String>, PathRejection>) -> Answer {
    let key = key.map(|Path(k)| k).unwrap_or_default();
    if key.is_empty() || key.len() > 255 {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "License not found."));
    }
    s.limits.check_license(&key)?;
    let l = s
        .store
        .license_by_key(&key)
        .await?
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "License not found."))?;
    let mut ms: Vec<Machine> = s
        .store
        .machines(&l.id)
        .await?
        .into_iter()
        .filter(|m| m.fingerprint.starts_with(DOMAIN_PREFIX))
        .collect();
    ms.sort_by_key(|m| m.numeric_id);
    let domains: Vec<Value> = ms
        .iter()
        .map(|m| {
            let name = &m.fingerprint[DOMAIN_PREFIX.len()..];
            json!({
                "id": m.numeric_id,
                "license_id": l.numeric_id,
                "type": m.domain_type.unwrap_or_else(|| crate::model::DomainType::guess(name)).as_str(),
                "protocol": m.protocol.as_deref().unwrap_or("https://"),
                "domain": name,
                "last_used_at": laravel_time(m.last_seen),
                "created_at": laravel_time(m.first_seen),
                "updated_at": laravel_time(m.last_seen),
            })
        })
        .collect();
    Ok(Json(json!({ "success": true, "domains": domains })).into_response())
}

// ----- downloads

/// Length of a download grant id.
const GRANT_ID: usize = 16;
/// Length of the MAC kept in a download token.
const GRANT_MAC: usize = 16;

/// The key that signs download URLs: derived from the server's token key with a label of its
/// own, so it needs no file of its own and changes when the token key does.
fn url_key(s: &AppState) -> zeroize::Zeroizing<[u8; 32]> {
    s.keys().derive(b"licet-download-url-v1\0")
}

fn url_mac(s: &AppState, id: &[u8; GRANT_ID], exp: i64) -> hmac::Hmac<Sha256> {
    let key = url_key(s);
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key.as_ref())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(id);
    mac.update(&exp.to_be_bytes());
    mac
}

/// `base64url(id ‖ expiry ‖ HMAC-SHA256(id ‖ expiry)[..16])`.
fn grant_token(s: &AppState, id: &[u8; GRANT_ID], exp: i64) -> String {
    let tag = url_mac(s, id, exp).finalize().into_bytes();
    let mut raw = Vec::with_capacity(GRANT_ID + 8 + GRANT_MAC);
    raw.extend_from_slice(id);
    raw.extend_from_slice(&exp.to_be_bytes());
    raw.extend_from_slice(&tag[..GRANT_MAC]);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The grant id and expiry of a token whose MAC is right (checked in constant time).
fn open_token(s: &AppState, token: &str) -> Option<([u8; GRANT_ID], i64)> {
    if token.len() > 128 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    if raw.len() != GRANT_ID + 8 + GRANT_MAC {
        return None;
    }
    let id: [u8; GRANT_ID] = raw[..GRANT_ID].try_into().ok()?;
    let exp = i64::from_be_bytes(raw[GRANT_ID..GRANT_ID + 8].try_into().ok()?);
    url_mac(s, &id, exp)
        .verify_truncated_left(&raw[GRANT_ID + 8..])
        .ok()?;
    Some((id, exp))
}

/// WemX: check a license and hand out a single-use, expiring URL for one of its downloads.
#[utoipa::path(post, path = "/api/v1/licenses/public/download", tag = "wemx",
    request_body(content = serde_json::Value, description = "`{license, domain, packages, resource_name}`"),
    responses((status = 200, description = "`{success: true, message: \"Download started.\", download_url}`", body = serde_json::Value),
              (status = 403, description = "the license may not be used here", body = serde_json::Value),
              (status = 404, description = "no such license or resource", body = serde_json::Value),
              (status = 422, description = "Laravel validation", body = serde_json::Value)))]
async fn download(
    State(s): State<AppState>,
    ip: ClientIp,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let body = body?;
    let input = input(query.as_deref(), &headers, &body);
    let mut rules = Rules::new(&input);
    let key = rules.string("license", true, 255);
    let domain = rules.domain("domain");
    let packages = rules.string("packages", true, 1000);
    let resource = rules.string("resource_name", true, 255);
    rules.finish()?;
    let (Some(key), Some(domain), Some(packages), Some(resource)) =
        (key, domain, packages, resource)
    else {
        return Err(ApiError::internal("validated input missing").into());
    };
    s.limits.check_license(&key)?;
    let c = check(&s, &key, &packages, &domain, ip).await?;
    let mut found = None;
    for p in &c.products {
        if let Some(d) = s.store.download_by_name(&p.id, &resource).await? {
            found = Some(d);
            break;
        }
    }
    let d = found.ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "Resource not found."))?;
    if c.domain_changed {
        write_domain(&s, &c.license, &c.policy, &c.domain, ip, s.clock.now()).await?;
    }
    let id = crate::ids::random_bytes::<GRANT_ID>();
    let exp = s
        .clock
        .now()
        .saturating_add(i64::try_from(s.config.download_url_ttl).unwrap_or(300));
    s.store
        .put_grant(
            &id,
            &DownloadGrant {
                download_id: d.id,
                license_id: c.license.id.clone(),
                expires_at: exp,
                used_at: None,
            },
        )
        .await?;
    s.audit(
        &format!("license:{}", c.license.id),
        "download.granted",
        &d.id.to_string(),
        ip.text(),
        json!({ "resource_name": d.name, "domain": domain.name, "expires_at": exp }),
    )
    .await?;
    let url = format!(
        "{}/api/v1/licenses/public/download/{}",
        public_url(&s, &headers),
        grant_token(&s, &id, exp)
    );
    Ok(
        Json(json!({ "success": true, "message": "Download started.", "download_url": url }))
            .into_response(),
    )
}

/// WemX: the file behind a download URL, once.
#[utoipa::path(get, path = "/api/v1/licenses/public/download/{token}", tag = "wemx",
    params(("token" = String, Path, description = "the token of a URL handed out by `POST /api/v1/licenses/public/download`")),
    responses((status = 200, description = "the file, streamed", content_type = "application/octet-stream"),
              (status = 403, description = "the license is no longer valid", body = serde_json::Value),
              (status = 404, description = "no such download", body = serde_json::Value),
              (status = 410, description = "the URL expired or was used", body = serde_json::Value)))]
async fn fetch(
    State(s): State<AppState>,
    ip: ClientIp,
    token: Result<Path<String>, PathRejection>,
) -> Answer {
    let not_found = || Refusal::new(StatusCode::NOT_FOUND, "Download not found.");
    let Ok(Path(token)) = token else {
        return Err(not_found());
    };
    let (id, exp) = open_token(&s, &token).ok_or_else(not_found)?;
    let now = s.clock.now();
    if now >= exp {
        return Err(Refusal::new(
            StatusCode::GONE,
            "This download link has expired.",
        ));
    }
    let g = s.store.grant(&id).await?.ok_or_else(not_found)?;
    if g.used_at.is_some() {
        return Err(Refusal::new(
            StatusCode::GONE,
            "This download link has already been used.",
        ));
    }
    let l = s
        .store
        .license(&g.license_id)
        .await?
        .ok_or_else(not_found)?;
    if l.status_at(now) != LicenseStatus::Active {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "This license is no longer valid.",
        ));
    }
    let d = s
        .store
        .download(g.download_id)
        .await?
        .ok_or_else(not_found)?;
    // Open the file before spending the URL, so that a missing file does not burn it.
    let file = crate::files::open(&s, &d).await?;
    if !s.store.use_grant(&id, now).await? {
        return Err(Refusal::new(
            StatusCode::GONE,
            "This download link has already been used.",
        ));
    }
    s.audit(
        &format!("license:{}", l.id),
        "download.served",
        &d.id.to_string(),
        ip.text(),
        json!({ "resource_name": d.name, "file": d.file }),
    )
    .await?;
    // Single use must survive a crash: the mark is on disk before the first byte leaves.
    Ok(crate::files::stream(&s, file, &d))
}

// ----- private API

/// The caller of the private API (a bearer API key or JWT allowed to write licenses) and the
/// request's input.
fn private_request(
    caller: Result<Caller, ApiError>,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Caller, Map<String, Value>), Refusal> {
    let body = body?;
    let c = caller?;
    c.require(Scope::ReadWrite)?;
    Ok((c, input(query, headers, &body)))
}

/// WemX: create a license for a customer (created if unknown) from a package and a price.
#[utoipa::path(post, path = "/api/v1/licenses/private/create", tag = "wemx",
    request_body(content = serde_json::Value, description = "`{email, domain, package_id, price_id}`"),
    responses((status = 200, description = "`{success: true}`", body = serde_json::Value),
              (status = 401, description = "no valid bearer API key", body = serde_json::Value),
              (status = 409, description = "the package has no default policy", body = serde_json::Value),
              (status = 422, description = "Laravel validation (unknown package or price included)", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn create(
    State(s): State<AppState>,
    caller: Result<Caller, ApiError>,
    ip: ClientIp,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let (caller, input) = private_request(caller, query.as_deref(), &headers, body)?;
    let mut rules = Rules::new(&input);
    let email = rules.string("email", true, 254);
    if let Some(e) = &email
        && !valid_email(e)
    {
        rules.fail(
            "email",
            "The email field must be a valid email address.".into(),
        );
    }
    let domain = rules.domain("domain");
    let package_id = rules.integer("package_id");
    let price_id = rules.integer("price_id");
    rules.finish()?;
    let (Some(email), Some(domain), Some(package_id), Some(price_id)) =
        (email, domain, package_id, price_id)
    else {
        return Err(ApiError::internal("validated input missing").into());
    };
    let email = email.to_ascii_lowercase();
    let product = s
        .store
        .product_by_number(package_id)
        .await?
        .filter(|p| caller.sees(&p.id) && p.compat.wemx)
        .ok_or_else(|| Refusal::field("package_id", "The selected package id is invalid."))?;
    let price = s
        .store
        .price(price_id)
        .await?
        .filter(|p| p.product_id == product.id)
        .ok_or_else(|| Refusal::field("price_id", "The selected price id is invalid."))?;
    let policy = match &product.default_policy_id {
        Some(id) => s.store.policy(id).await?,
        None => None,
    }
    .ok_or_else(|| {
        Refusal::new(
            StatusCode::CONFLICT,
            "The package has no default policy, so no license can be created for it.",
        )
    })?;

    let now = s.clock.now();
    let customer = match s.store.customer_by_email(&email).await? {
        Some(c) => c,
        None => {
            // The password is random and kept only as a hash; licet sends no mail, so the
            // customer gets a password of their own through an admin reset.
            let (_password, hash) = crate::http::auth::new_password().await?;
            let fresh = Customer {
                id: s.store.next_number("customer").await?,
                email: email.clone(),
                password_hash: hash,
                created_at: now,
            };
            let (c, created) = s.store.insert_customer_if_new(&fresh).await?;
            if created {
                s.audit(
                    &caller.actor(),
                    "customer.created",
                    &c.id.to_string(),
                    ip.text(),
                    json!({ "email": c.email }),
                )
                .await?;
            }
            c
        }
    };
    let due_date = match (price.kind, price.period_days) {
        (PriceKind::Recurring, Some(days)) => Some(now.saturating_add(i64::from(days) * 86_400)),
        _ => None,
    };
    let expires_at = match price.kind {
        PriceKind::Recurring => due_date,
        _ => policy
            .duration
            .map(|d| now.saturating_add(i64::try_from(d).unwrap_or(i64::MAX))),
    };
    let order_id = s.store.next_number("order").await?;
    let license = License {
        id: crate::ids::random_id("lic_"),
        key: crate::ids::license_key(&product.key_prefix, &product.key_format),
        product_id: product.id.clone(),
        policy_id: policy.id.clone(),
        status: LicenseStatus::Active,
        kind: match price.kind {
            PriceKind::Recurring => Kind::Subscription,
            _ if expires_at.is_some() => Kind::Subscription,
            _ => Kind::Lifetime,
        },
        expires_at,
        seats: None,
        domains: Vec::new(),
        entitlements: Vec::new(),
        metadata: BTreeMap::new(),
        ip: None,
        product_name: Some(product.name.clone()),
        owner_active: true,
        numeric_id: s.store.next_number("license").await?,
        extra_products: Vec::new(),
        customer_id: Some(customer.id),
        order_id: Some(order_id),
        data: None,
        hwid_locked: None,
        expiry_announced: None,
        created_at: now,
        updated_at: now,
    };
    let order = Order {
        id: order_id,
        customer_id: customer.id,
        product_id: product.id.clone(),
        price_id: price.id,
        license_id: license.id.clone(),
        due_date,
        created_at: now,
        updated_at: now,
    };
    // The domain is registered now and installed (its IP recorded) on first validation.
    let machine = new_domain(&s, &license.id, &domain, None, None).await?;
    let entry = s.audit_entry(
        &caller.actor(),
        "order.created",
        &order.id.to_string(),
        ip.text(),
        json!({ "customer_id": customer.id, "license_id": license.id, "product_id": product.id, "price_id": price.id, "domain": domain.name }),
        Some(product.id.clone()),
    );
    let told = s
        .tell(&DomainEvent::LicenseCreated(license.clone()), vec![entry])
        .await?;
    s.store
        .insert_order(&order, &license, &[machine], told)
        .await?;
    Ok(Json(json!({ "success": true })).into_response())
}

/// WemX: move an order's due date (and so its license's expiry) to a date in the future.
#[utoipa::path(post, path = "/api/v1/licenses/private/update-due-date", tag = "wemx",
    request_body(content = serde_json::Value, description = "`{order_id, due_date}`"),
    responses((status = 200, description = "`{success: true}`", body = serde_json::Value),
              (status = 401, description = "no valid bearer API key", body = serde_json::Value),
              (status = 422, description = "Laravel validation (unknown order, past date)", body = serde_json::Value)),
    security(("bearer" = [])))]
async fn update_due_date(
    State(s): State<AppState>,
    caller: Result<Caller, ApiError>,
    ip: ClientIp,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let (caller, input) = private_request(caller, query.as_deref(), &headers, body)?;
    let now = s.clock.now();
    let mut rules = Rules::new(&input);
    let order_id = rules.integer("order_id");
    let due = rules.future_date("due_date", true, now);
    rules.finish()?;
    let (Some(order_id), Some(due)) = (order_id, due) else {
        return Err(ApiError::internal("validated input missing").into());
    };
    let invalid = || Refusal::field("order_id", "The selected order id is invalid.");
    let mut o = s
        .store
        .order(order_id)
        .await?
        .filter(|o| caller.sees(&o.product_id))
        .ok_or_else(invalid)?;
    o.due_date = Some(due);
    o.updated_at = now;
    let l = s
        .store
        .update_order(&o, &|current| {
            let mut next = current.clone();
            next.expires_at = Some(due);
            next.updated_at = now;
            Ok(Some((next, Record::none())))
        })
        .await?
        .ok_or_else(invalid)?;
    s.audit(
        &caller.actor(),
        "order.due_date_updated",
        &o.id.to_string(),
        ip.text(),
        json!({ "license_id": l.id, "due_date": due }),
    )
    .await?;
    Ok(Json(json!({ "success": true })).into_response())
}

/// A plausible e-mail address: one `@`, a non-empty local part, a host name after it.
fn valid_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, host)) => {
            !local.is_empty()
                && local.len() <= 64
                && !local.contains(char::is_whitespace)
                && !host.contains('@')
                && host.contains('.')
                && crate::domains::valid_host(&host.to_ascii_lowercase())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laravel_messages_and_dates() {
        let input = Map::new();
        let mut r = Rules::new(&input);
        r.string("license", true, 255);
        r.string("packages", true, 255);
        r.domain("domain");
        let Err(refusal) = r.finish() else {
            panic!("empty input passed")
        };
        assert_eq!(refusal.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            refusal.message,
            "The domain field is required. (and 2 more errors)"
        );
        assert_eq!(
            parse_date("2028-01-01T20:55:13.000000Z"),
            Some(1_830_372_913)
        );
        assert_eq!(parse_date("2028-01-01"), Some(1_830_297_600));
        assert_eq!(parse_date("2028-01-01 20:55:13"), Some(1_830_372_913));
        assert_eq!(parse_date("tomorrow"), None);
        assert_eq!(
            laravel_time(1_704_123_335),
            json!("2024-01-01T15:35:35.000000Z")
        );
    }

    #[test]
    fn form_input_with_arrays() {
        let mut out = Map::new();
        absorb_form(&mut out, b"license=K&data[a]=1&data[]=2");
        assert_eq!(out["license"], json!("K"));
        assert_eq!(out["data"], json!({"a": "1", "1": "2"}));
    }

    #[test]
    fn emails() {
        assert!(valid_email("mfmjqpfbnaqnrpxrgx@cazlq.com"));
        assert!(!valid_email("no-at-sign"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.com"));
    }
}
