//! FaxStore's license system, answered from licet's own model (`seeds/faxstore-license-system.md`).
//!
//! `POST /api/check/{PRODUCT_ID}` and `POST /api/check/multiple` take the raw license key in the
//! `authorization` header and `info`, `log` and `proIds` from the query string **or** a JSON or
//! form body. Products are addressed by their numeric id. Choices where FaxStore's documents are
//! silent (also in `docs/compat.md`):
//!
//! - Every check that could be evaluated is answered **200** with `pass` saying the outcome:
//!   FaxStore integrations branch on `pass`, and a 4xx would make clients without error handling
//!   throw. A request that cannot be evaluated at all (unparseable body, a non-numeric `proIds`)
//!   is 400 with the same shape and `status: "BAD REQUEST"`.
//! - `KEY DISABLED`: the license is suspended or revoked (by staff). `NOT ACTIVE`: the owner
//!   switched it off (`owner_active: false`) or it has expired. `NOT AUTHORISED`: the license has
//!   an IP address and the request comes from another. A key that exists but belongs to another
//!   product is `NOT FOUND (License key)` for that product.
//! - Checks are logged in the audit log as `faxstore.check` ("previous auths") with `info`, the
//!   IP and the outcome unless `log` is false; they are flushed with the next durable write.

use licet_core::audit::AuditAction;
use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::state::AppState;
use crate::http::extract::{ClientIp, public_url};
use crate::rules::{self, Admit, Asked, Denial, Family, Probe, Refusal};
use licet_core::model::{License, Product};
use licet_core::store::ValidationFacts;

/// The FaxStore routes.
pub fn router(v1: bool) -> OpenApiRouter<AppState> {
    let r = OpenApiRouter::new()
        .routes(routes!(check_multiple))
        .routes(routes!(check_single));
    if v1 {
        r.routes(routes!(check_item_v1))
    } else {
        r
    }
}

/// Longest `info` kept in the log.
const MAX_INFO: usize = 1000;
/// Characters of `info` kept for a check without a known key.
const MAX_ANONYMOUS_INFO: usize = 200;
/// Most products one `multiple` request may name.
const MAX_PRODUCTS: usize = 100;

/// The documented statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Authorised,
    KeyDisabled,
    NotActive,
    NotAuthorised,
    NoProduct,
    NoKey,
}

impl Outcome {
    fn status(self) -> &'static str {
        match self {
            Outcome::Authorised => "AUTHORISED",
            Outcome::KeyDisabled => "KEY DISABLED",
            Outcome::NotActive => "NOT ACTIVE",
            Outcome::NotAuthorised => "NOT AUTHORISED",
            Outcome::NoProduct => "NOT FOUND (Unauthorised)",
            Outcome::NoKey => "NOT FOUND (License key)",
        }
    }

    /// The refusal's code in the overview's counts (`crate::stats`); `None` when authorised.
    fn refusal(self) -> Option<&'static str> {
        match self {
            Outcome::Authorised => None,
            Outcome::KeyDisabled => Some("license_disabled"),
            Outcome::NotActive => Some("license_inactive"),
            Outcome::NotAuthorised => Some("not_authorised_here"),
            Outcome::NoProduct | Outcome::NoKey => Some("not_found"),
        }
    }

    fn details(self, url: &str) -> String {
        match self {
            Outcome::Authorised => format!("Authorisation completed - {url}"),
            Outcome::KeyDisabled => "This license key has been disabled.".into(),
            Outcome::NotActive => "This license key is not active.".into(),
            Outcome::NotAuthorised => {
                "This license key is not authorised for this IP address.".into()
            }
            Outcome::NoProduct => "No product exists with this ID.".into(),
            Outcome::NoKey => "No license key matches this product.".into(),
        }
    }
}

/// The parameters, merged from the query string and the body.
#[derive(Debug, Default)]
struct Params {
    info: Option<String>,
    log: bool,
    pro_ids: Vec<String>,
}

/// Why a check could not be answered: a request FaxStore's shape reports as `BAD REQUEST`, or
/// one of licet's own errors (rate limit, storage).
#[derive(Debug)]
enum Fail {
    Bad(String),
    /// The body could not be read (413 too large, 400 broken), in FaxStore's shape.
    Body(StatusCode, String),
    Api(crate::app::error::ApiError),
}

impl From<BytesRejection> for Fail {
    fn from(r: BytesRejection) -> Self {
        Fail::Body(r.status(), r.body_text())
    }
}

impl From<licet_core::StoreError> for Fail {
    fn from(e: licet_core::StoreError) -> Self {
        crate::app::error::ApiError::from(e).into()
    }
}

impl From<crate::app::error::ApiError> for Fail {
    fn from(e: crate::app::error::ApiError) -> Self {
        Fail::Api(e)
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        match self {
            Fail::Bad(details) => (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "status": "BAD REQUEST", "pass": false, "details": details })),
            )
                .into_response(),
            Fail::Body(status, details) => (
                status,
                axum::Json(json!({ "status": "BAD REQUEST", "pass": false, "details": details })),
            )
                .into_response(),
            Fail::Api(e) => e.into_response(),
        }
    }
}

fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn absorb_pair(p: &mut Params, k: &str, v: &str) -> Result<(), String> {
    match k {
        "info" => p.info = Some(v.to_owned()),
        "log" => p.log = truthy(v).ok_or_else(|| format!("log: {v:?} is not a boolean"))?,
        _ if k == "proIds" || k.starts_with("proIds[") => {
            p.pro_ids.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
        _ => {}
    }
    Ok(())
}

fn parse(query: Option<&str>, headers: &HeaderMap, body: &Bytes) -> Result<Params, String> {
    let mut p = Params {
        log: true,
        ..Params::default()
    };
    if let Some(q) = query {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(q).map_err(|e| format!("query string: {e}"))?;
        for (k, v) in &pairs {
            absorb_pair(&mut p, k, v)?;
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(p);
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let text = std::str::from_utf8(body).map_err(|_| "body: not UTF-8".to_owned())?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(text).map_err(|e| format!("body: {e}"))?;
        for (k, v) in &pairs {
            absorb_pair(&mut p, k, v)?;
        }
        return Ok(p);
    }
    // JSON, whether or not the client said so (FaxStore's own clients send JSON bodies).
    let v: BTreeMap<String, Value> =
        serde_json::from_slice(body).map_err(|e| format!("body: not a JSON object: {e}"))?;
    for (k, v) in &v {
        match (k.as_str(), v) {
            ("info", Value::String(s)) => p.info = Some(s.clone()),
            ("info", other) => p.info = Some(other.to_string()),
            ("log", Value::Bool(b)) => p.log = *b,
            ("log", Value::String(s)) => {
                p.log = truthy(s).ok_or_else(|| format!("log: {s:?} is not a boolean"))?
            }
            ("log", other) => return Err(format!("log: {other} is not a boolean")),
            ("proIds" | "proIds[]", Value::Array(items)) => {
                for i in items {
                    match i {
                        Value::Number(n) => p.pro_ids.push(n.to_string()),
                        Value::String(s) => absorb_pair(&mut p, "proIds", s)?,
                        other => return Err(format!("proIds: {other} is not a product id")),
                    }
                }
            }
            ("proIds" | "proIds[]", Value::Number(n)) => p.pro_ids.push(n.to_string()),
            ("proIds" | "proIds[]", Value::String(s)) => absorb_pair(&mut p, "proIds", s)?,
            ("proIds" | "proIds[]", other) => {
                return Err(format!("proIds: {other} is not a list of product ids"));
            }
            _ => {}
        }
    }
    Ok(p)
}

fn license_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .map(str::to_owned)
}

/// Judges one product for a key by the rules every family shares (`crate::rules::admit_read`,
/// on the blacklist's matches and the license read once per request), mapped to FaxStore's
/// outcomes, then FaxStore's own IP binding.
/// A blocked caller is "not authorised" and learns nothing else; a product FaxStore does not
/// know is "no product" before anything about the key is said.
fn judge(
    s: &AppState,
    product: Option<&Product>,
    facts: &ValidationFacts,
    key: &str,
    ip: ClientIp,
) -> Result<Outcome, Fail> {
    let ip_text = ip.text();
    let ask = Admit {
        probe: Probe {
            key,
            ip: ip_text.as_deref(),
            ..Probe::default()
        },
        asked: Asked::Named(product.map_or("", |p| p.id.as_str())),
        family: Family::FaxStore,
    };
    let l = match (rules::admit_read(s, facts, product, &ask)?, &facts.license) {
        (Ok(()), Some(l)) => l,
        (Ok(()), None) => return Ok(Outcome::NoKey),
        (Err(denied), _) => {
            return Ok(match denied.denial {
                Denial::Blacklisted(_) => Outcome::NotAuthorised,
                _ if product.is_none() => Outcome::NoProduct,
                Denial::Refused(Refusal::Suspended | Refusal::Revoked) => Outcome::KeyDisabled,
                Denial::Refused(_) => Outcome::NotActive,
                _ => Outcome::NoKey,
            });
        }
    };
    Ok(
        if l.ip
            .as_ref()
            .is_some_and(|bound| ip_text.as_deref() != Some(bound.as_str()))
        {
            Outcome::NotAuthorised
        } else {
            Outcome::Authorised
        },
    )
}

async fn log_check(
    s: &AppState,
    license: Option<&License>,
    product: &str,
    outcome: Outcome,
    p: &Params,
    ip: ClientIp,
    route: &str,
) {
    crate::stats::validated(
        s,
        license.map_or("", |l| l.product_id.as_str()),
        outcome.refusal(),
    );
    if !p.log {
        return;
    }
    let ip_text = ip.text();
    // A check without a known key proves nothing about the caller: such checks are recorded
    // once a minute per route, outcome and address, with how many were passed over, and keep
    // less of `info` (1000-character entries, one per request, without bound).
    let (actor, subject, max_info, repeats) = match license {
        Some(l) => (format!("license:{}", l.id), l.id.to_string(), MAX_INFO, 0),
        None => {
            let Some(repeats) = s.journal.once_a_minute(&[
                "faxstore",
                route,
                outcome.status(),
                ip_text.as_deref().unwrap_or(""),
            ]) else {
                return;
            };
            (
                "anonymous".to_owned(),
                "-".to_owned(),
                MAX_ANONYMOUS_INFO,
                repeats,
            )
        }
    };
    let info: Option<String> = p.info.as_ref().map(|i| i.chars().take(max_info).collect());
    let mut detail =
        json!({ "route": route, "product": product, "status": outcome.status(), "info": info });
    if repeats > 0 {
        detail["repeats_since_last"] = json!(repeats);
    }
    if let Err(e) = s
        .journal
        .audit(
            &actor,
            AuditAction::FaxstoreCheck,
            &subject,
            ip_text,
            detail,
        )
        .await
    {
        tracing::warn!(code = e.code().as_str(), "could not log a FaxStore check");
    }
}

struct Request {
    key: Option<String>,
    /// What admission reads about the key and the caller, read once for every product asked.
    facts: ValidationFacts,
    params: Params,
}

impl Request {
    fn license(&self) -> Option<&License> {
        self.facts.license.as_ref()
    }
}

async fn prepare(
    s: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &Bytes,
    ip: ClientIp,
) -> Result<Request, Fail> {
    let params = parse(query, headers, body).map_err(Fail::Bad)?;
    let key = license_key(headers);
    let facts = match &key {
        Some(k) => {
            s.limits.check_license(k)?;
            let ip_text = ip.text();
            let probe = Probe {
                key: k,
                ip: ip_text.as_deref(),
                ..Probe::default()
            };
            rules::admission_reads(s, &probe).await?
        }
        None => ValidationFacts::default(),
    };
    Ok(Request { key, facts, params })
}

async fn product(s: &AppState, id: &str) -> Result<Option<Product>, Fail> {
    match id.trim().parse::<u64>() {
        // Only products enabled for FaxStore exist for it.
        Ok(n) => Ok(s
            .store
            .product_by_number(n)
            .await?
            .filter(|p| p.compat.faxstore)),
        Err(_) => Ok(None),
    }
}

/// Judges the key against one product and logs the check (single and V1 routes).
async fn check_one(
    s: &AppState,
    ip: ClientIp,
    product_id: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
    route: &str,
) -> Result<Outcome, Fail> {
    let req = prepare(s, headers, query, body, ip).await?;
    let product = product(s, product_id).await?;
    let outcome = match &req.key {
        None => Outcome::NoKey,
        Some(key) => judge(s, product.as_ref(), &req.facts, key, ip)?,
    };
    log_check(
        s,
        req.license(),
        product_id,
        outcome,
        &req.params,
        ip,
        route,
    )
    .await;
    Ok(outcome)
}

/// FaxStore single check.
#[utoipa::path(post, path = "/api/check/{product_id}", tag = "faxstore",
    params(("product_id" = String, Path, description = "the product's numeric id"),
           ("authorization" = String, Header, description = "the raw license key"),
           ("info" = Option<String>, Query, description = "details to log"),
           ("log" = Option<bool>, Query, description = "false: do not log this check")),
    request_body(content = Option<serde_json::Value>, description = "optional `{info, log}` as JSON or form"),
    responses((status = 200, description = "`{status, pass, details}`; `pass` says whether the key is authorised", body = serde_json::Value),
              (status = 400, description = "`{status: \"BAD REQUEST\", pass: false, details}`", body = serde_json::Value)))]
async fn check_single(
    State(s): State<AppState>,
    ip: ClientIp,
    Path(product_id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Fail> {
    let body = body?;
    let outcome = check_one(&s, ip, &product_id, q.as_deref(), &headers, &body, "check").await?;
    let url = public_url(&s, &headers);
    Ok(axum::Json(json!({ "status": outcome.status(), "pass": outcome == Outcome::Authorised, "details": outcome.details(&url) })).into_response())
}

/// FaxStore multiple check: passes if the key is authorised for any listed product.
#[utoipa::path(post, path = "/api/check/multiple", tag = "faxstore",
    params(("authorization" = String, Header, description = "the raw license key"),
           ("proIds" = Vec<u64>, Query, description = "product ids: `proIds=8&proIds=16`, `proIds[]=8`, `proIds=8,16`, or `{\"proIds\": [8, 16]}` in a JSON body"),
           ("info" = Option<String>, Query, description = "details to log"),
           ("log" = Option<bool>, Query, description = "false: do not log this check")),
    request_body(content = Option<serde_json::Value>, description = "optional `{proIds, info, log}` as JSON or form"),
    responses((status = 200, description = "`{status, pass, details, proId}`; `proId` names the product that passed", body = serde_json::Value),
              (status = 400, description = "`{status: \"BAD REQUEST\", pass: false, details}`", body = serde_json::Value)))]
async fn check_multiple(
    State(s): State<AppState>,
    ip: ClientIp,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Fail> {
    let body = body?;
    let req = prepare(&s, &headers, q.as_deref(), &body, ip).await?;
    if req.params.pro_ids.is_empty() {
        return Err(Fail::Bad(
            "proIds: at least one product id is required".into(),
        ));
    }
    if req.params.pro_ids.len() > MAX_PRODUCTS {
        return Err(Fail::Bad(format!(
            "proIds: at most {MAX_PRODUCTS} product ids"
        )));
    }
    let mut ids = Vec::with_capacity(req.params.pro_ids.len());
    for id in &req.params.pro_ids {
        match id.parse::<u64>() {
            Ok(n) => ids.push(n),
            Err(_) => return Err(Fail::Bad(format!("proIds: {id:?} is not a product id"))),
        }
    }
    // The first listed product the key passes for wins; otherwise the most telling failure: the
    // one of the key's own product if listed, else "no such key", else "no such product".
    let mut best: Option<(Outcome, u64)> = None;
    for n in &ids {
        let product = s
            .store
            .product_by_number(*n)
            .await?
            .filter(|p| p.compat.faxstore);
        let outcome = match &req.key {
            None => Outcome::NoKey,
            Some(key) => judge(&s, product.as_ref(), &req.facts, key, ip)?,
        };
        let rank = |o: Outcome| match o {
            Outcome::Authorised => 3,
            Outcome::KeyDisabled | Outcome::NotActive | Outcome::NotAuthorised => 2,
            Outcome::NoKey => 1,
            Outcome::NoProduct => 0,
        };
        if best.is_none_or(|(b, _)| rank(outcome) > rank(b)) {
            best = Some((outcome, *n));
        }
        if outcome == Outcome::Authorised {
            break;
        }
    }
    let (outcome, pro_id) = best.unwrap_or((Outcome::NoProduct, 0));
    log_check(
        &s,
        req.license(),
        &pro_id.to_string(),
        outcome,
        &req.params,
        ip,
        "check/multiple",
    )
    .await;
    let url = public_url(&s, &headers);
    let mut body = json!({ "status": outcome.status(), "pass": outcome == Outcome::Authorised, "details": outcome.details(&url) });
    if outcome == Outcome::Authorised {
        body["proId"] = json!(pro_id);
    }
    Ok(axum::Json(body).into_response())
}

/// FaxStore's removed V1 check (only when `--compat-faxstore-v1` is on).
#[utoipa::path(post, path = "/api/checkitem/{product_id}", tag = "faxstore",
    params(("product_id" = String, Path, description = "the product's numeric id"),
           ("authorization" = String, Header, description = "the raw license key")),
    responses((status = 200, description = "`{status: \"OK\" | \"NOT FOUND\", pass, details}`", body = serde_json::Value)))]
async fn check_item_v1(
    State(s): State<AppState>,
    ip: ClientIp,
    Path(product_id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Fail> {
    let body = body?;
    let outcome = check_one(
        &s,
        ip,
        &product_id,
        q.as_deref(),
        &headers,
        &body,
        "checkitem",
    )
    .await?;
    let pass = outcome == Outcome::Authorised;
    let details = if pass {
        outcome.details(&public_url(&s, &headers))
    } else {
        format!("{} ({})", outcome.details(""), outcome.status())
    };
    Ok(axum::Json(json!({ "status": if pass { "OK" } else { "NOT FOUND" }, "pass": pass, "details": details })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str, ctype: &str, body: &str) -> Result<Params, String> {
        let mut h = HeaderMap::new();
        if !ctype.is_empty() {
            h.insert(header::CONTENT_TYPE, ctype.parse().expect("header"));
        }
        parse(Some(query), &h, &Bytes::from(body.to_owned()))
    }

    #[test]
    fn every_documented_form_of_pro_ids() {
        for (q, ctype, body) in [
            ("proIds=8&proIds=16", "", ""),
            ("proIds[]=8&proIds[]=16", "", ""),
            ("proIds%5B%5D=8&proIds%5B%5D=16", "", ""),
            ("proIds=8,16", "", ""),
            ("", "application/json", r#"{"proIds": [8, 16]}"#),
            ("", "application/json", r#"{"proIds": ["8", "16"]}"#),
            (
                "",
                "application/x-www-form-urlencoded",
                "proIds=8&proIds=16",
            ),
        ] {
            let p = params(q, ctype, body).expect("parses");
            assert_eq!(p.pro_ids, ["8", "16"], "{q} {body}");
        }
    }

    #[test]
    fn info_and_log_from_query_or_body() {
        let p = params("info=hello&log=false", "", "").expect("parses");
        assert_eq!((p.info.as_deref(), p.log), (Some("hello"), false));
        let p = params("", "application/json", r#"{"info": "x", "log": false}"#).expect("parses");
        assert_eq!((p.info.as_deref(), p.log), (Some("x"), false));
        assert!(
            params("", "", "").expect("empty").log,
            "log defaults to true"
        );
        assert!(params("log=maybe", "", "").is_err());
        assert!(params("", "application/json", "{not json").is_err());
    }
}
