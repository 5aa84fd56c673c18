//! The store Verify API (`seeds/verify-api-reference.md`): `POST /api/v1/licenses/verify`.
//!
//! Public, JSON in and out. The environment allow-list is kept as the license's machines: a
//! domain is a machine with fingerprint `domain:<name>`, an IP one with `ip:<address>`, so the
//! license's seats are its activation slots and the store's seat operation keeps concurrent
//! requests from exceeding them. Each new domain or IP takes a slot; known ones do not. The IP checked is the
//! connection's (or a trusted proxy header's), never the body's `ip`, which is validated for
//! format only. Choices where the document is silent are in `docs/compat.md`.

use licet_core::audit::AuditAction;
use licet_core::store::{Halted, Seat};
use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::error::ApiError;
use crate::app::seats::Made;
use crate::app::state::AppState;
use crate::http::extract::ClientIp;
use crate::rules;
use licet_core::model::{DOMAIN_PREFIX, Machine};
use licet_core::seats::{SeatClaim, SeatError, SeatRule};

/// The Verify API route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify))
}

const INVALID_FORMAT: &str = "Invalid license format.";
const NOT_FOUND: &str = "License not found.";
const REVOKED: &str = "License has been revoked.";
const EXPIRED: &str = "License expired.";
const NO_SLOT: &str = "Max activations exceeded or unrecognized environment.";

fn refuse(status: StatusCode, reason: &str) -> Response {
    (status, Json(json!({ "valid": false, "reason": reason }))).into_response()
}

/// Laravel's validation answer: 422 with every field's messages.
fn invalid(errors: BTreeMap<&'static str, Vec<String>>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "message": "The given data was invalid.", "errors": errors })),
    )
        .into_response()
}

/// `CP-` and five groups of six upper-case letters or digits.
pub fn is_cp_key(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("CP-") else {
        return false;
    };
    let groups: Vec<&str> = rest.split('-').collect();
    groups.len() == 5
        && groups.iter().all(|g| {
            g.len() == 6
                && g.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

struct Input {
    key: String,
    domain: String,
}

/// Validates as Laravel's `required|string`, `required|string`, `required|ip` rules would.
fn validate(body: &Bytes) -> Result<Input, BTreeMap<&'static str, Vec<String>>> {
    // Laravel reads an unparseable or non-object body as no input at all.
    let v: BTreeMap<String, Value> = serde_json::from_slice(body).unwrap_or_default();
    let mut errors: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut text = |field: &'static str, max: usize| -> Option<String> {
        match v.get(field) {
            None | Some(Value::Null) => {
                errors.entry(field).or_default().push(format!(
                    "The {} field is required.",
                    field.replace('_', " ")
                ));
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                errors.entry(field).or_default().push(format!(
                    "The {} field is required.",
                    field.replace('_', " ")
                ));
                None
            }
            Some(Value::String(s)) if s.len() > max => {
                errors.entry(field).or_default().push(format!(
                    "The {} may not be greater than {max} characters.",
                    field.replace('_', " ")
                ));
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(_) => {
                errors
                    .entry(field)
                    .or_default()
                    .push(format!("The {} must be a string.", field.replace('_', " ")));
                None
            }
        }
    };
    let key = text("license_key", 255);
    let domain = text("domain", 253);
    let ip = text("ip", 64);
    if let Some(ip) = &ip
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        errors
            .entry("ip")
            .or_default()
            .push("The ip must be a valid IP address.".into());
    }
    match (key, domain) {
        (Some(key), Some(domain)) if errors.is_empty() => Ok(Input {
            key,
            domain: normalise_domain(&domain),
        }),
        _ => Err(errors),
    }
}

fn normalise_domain(d: &str) -> String {
    d.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Store Verify API: is this key valid, here?
#[utoipa::path(post, path = "/api/v1/licenses/verify", tag = "verify-api",
    request_body(content = serde_json::Value, description = "`{\"license_key\", \"domain\", \"ip\"}`, all required; `ip` is checked for format only"),
    responses((status = 200, description = "`{valid: true, product, expiry: \"YYYY-MM-DD\" | null, lifetime}`", body = serde_json::Value),
              (status = 403, description = "`{valid: false, reason}`: invalid format, revoked, expired, or no activation slot", body = serde_json::Value),
              (status = 404, description = "`{valid: false, reason: \"License not found.\"}`", body = serde_json::Value),
              (status = 422, description = "Laravel validation: `{message, errors: {field: [messages]}}`", body = serde_json::Value)))]
async fn verify(
    State(s): State<AppState>,
    ip: ClientIp,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        // Too large (413) or unreadable (400): Laravel's shape, the body as the field.
        Err(r) => {
            return (
                r.status(),
                Json(json!({ "message": "The given data was invalid.", "errors": { "body": [r.body_text()] } })),
            )
                .into_response();
        }
    };
    match run(&s, ip, &body).await {
        Ok(r) | Err(r) => r,
    }
}

/// A refusal of a validation, counted for the overview by its stable code (`product_id`
/// `""` where no license was found).
fn refused(
    s: &AppState,
    product_id: &str,
    code: &str,
    status: StatusCode,
    reason: &str,
) -> Response {
    crate::stats::validated(s, product_id, Some(code));
    refuse(status, reason)
}

async fn run(s: &AppState, ip: ClientIp, body: &Bytes) -> Result<Response, Response> {
    let input = validate(body).map_err(invalid)?;
    if !is_cp_key(&input.key) {
        return Err(refused(
            s,
            "",
            "invalid_format",
            StatusCode::FORBIDDEN,
            INVALID_FORMAT,
        ));
    }
    s.limits
        .check_license(&input.key)
        .map_err(IntoResponse::into_response)?;
    // The rules every family shares (`crate::rules::admit`), mapped to the document's three
    // reasons: a blocked caller, an unknown key and a product not enabled for the Verify API
    // are all "not found", so a license of another product cannot pass for one whose name it
    // copied; an expired license is "expired"; every other refusal is "revoked" (the overview
    // keeps the real one).
    let ip_text = ip.text();
    let environment = format!("{DOMAIN_PREFIX}{}", input.domain);
    let ask = rules::Admit {
        probe: rules::Probe {
            key: &input.key,
            ip: ip_text.as_deref(),
            hwid: Some(&environment),
            ..rules::Probe::default()
        },
        asked: rules::Asked::Own,
        family: rules::Family::Verify,
    };
    let rules::Admitted {
        license: l,
        product,
        policy,
    } = match rules::admit(s, &ask)
        .await
        .map_err(IntoResponse::into_response)?
    {
        Ok(admitted) => admitted,
        Err(denied) => {
            let (status, reason) = match &denied.denial {
                rules::Denial::Blacklisted(_) => (StatusCode::FORBIDDEN, NOT_FOUND),
                rules::Denial::Refused(rules::Refusal::Expired) => (StatusCode::FORBIDDEN, EXPIRED),
                rules::Denial::Refused(_) => (StatusCode::FORBIDDEN, REVOKED),
                _ => (StatusCode::NOT_FOUND, NOT_FOUND),
            };
            return Err(refused(
                s,
                denied.product_id(),
                denied.denial.code(),
                status,
                reason,
            ));
        }
    };
    let mut wanted = vec![format!("{DOMAIN_PREFIX}{}", input.domain)];
    wanted.extend(ip.text().map(|ip| format!("ip:{ip}")));

    // The environments to record: new ones take slots, known ones have their last use
    // refreshed, to the minute (a known environment used again within it is a read).
    let now = s.clock.now();
    let mut claims = Vec::new();
    for fp in &wanted {
        let known = s
            .store
            .machine(&l.id, fp)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        if known.is_none_or(|m| now - m.last_seen >= 60) {
            claims.push(SeatClaim {
                license_id: l.id.clone(),
                fingerprint: fp.clone(),
                parts: Vec::new(),
            });
        }
    }
    if !claims.is_empty() {
        // Slots are seats under the one seat rule (`licet_core::seats`), all taken or none.
        let taken = s
            .seats
            .activate_all(&l, &claims, &SeatRule::of(&l, &policy), &|i, seat, now| {
                let fp = &claims[i].fingerprint;
                let numeric_id = match seat {
                    Seat::Known(f) => {
                        let mut m = f.machine.clone();
                        m.last_seen = now;
                        m.last_heartbeat = now;
                        return Ok::<_, std::convert::Infallible>(Made::new(m, Vec::new(), ()));
                    }
                    Seat::New { number } => number,
                };
                let m = Machine {
                    hostname: fp.strip_prefix(DOMAIN_PREFIX).map(str::to_owned),
                    platform: Some("verify-api".into()),
                    ip: ip.text(),
                    domain_type: fp
                        .strip_prefix(DOMAIN_PREFIX)
                        .map(licet_core::model::DomainType::guess),
                    ..Machine::new(crate::ids::new_id(), &l.id, fp, numeric_id, now)
                };
                let entry = s.journal.audit_entry(
                    &format!("license:{}", l.id),
                    AuditAction::EnvironmentActivated,
                    &m.id,
                    ip.text(),
                    json!({ "license_id": l.id, "environment": fp }),
                    Some(l.product_id.clone()),
                );
                Ok(Made::new(m, vec![entry], ()))
            })
            .await;
        match taken {
            Ok(seated) => {
                for _ in seated.iter().filter(|(m, ())| m.fresh) {
                    crate::stats::count(s, &l.product_id, licet_core::tally::Count::Activation);
                }
            }
            Err(Halted::Failed(SeatError::Refused(r))) => {
                let code = ApiError::from(SeatError::Refused(r)).code().as_str();
                return Err(refused(
                    s,
                    &l.product_id,
                    code,
                    StatusCode::FORBIDDEN,
                    NO_SLOT,
                ));
            }
            Err(Halted::Failed(e)) => return Err(ApiError::from(e).into_response()),
            Err(Halted::Declined(never)) => match never {},
        }
    }
    let expiry = l
        .expires_at
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.date_naive().format("%Y-%m-%d").to_string());
    crate::stats::validated(s, &l.product_id, None);
    // The answer's `product` is the name of the license's own product, as it is now.
    let product = product.name;
    Ok(Json(json!({ "valid": true, "product": product, "expiry": expiry, "lifetime": l.expires_at.is_none() })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_key_shape() {
        assert!(is_cp_key("CP-AB12CD-34EF56-GH78IJ-90KLMN-XYZ123"));
        assert!(!is_cp_key("CP-AB12CD-34EF56-GH78IJ-90KLMN"));
        assert!(!is_cp_key("CP-ab12cd-34EF56-GH78IJ-90KLMN-XYZ123"));
        assert!(!is_cp_key("XX-AB12CD-34EF56-GH78IJ-90KLMN-XYZ123"));
        assert!(!is_cp_key("CP-AB12CD-34EF56-GH78IJ-90KLMN-XYZ1234"));
    }

    #[test]
    fn laravel_validation_messages() {
        let errors = validate(&Bytes::from_static(b"{}")).err().expect("invalid");
        assert_eq!(errors.len(), 3);
        assert_eq!(invalid(errors).status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            validate(&Bytes::from_static(
                br#"{"license_key":"k","domain":"d","ip":"1.2.3.4"}"#
            ))
            .is_ok()
        );
        assert!(
            validate(&Bytes::from_static(
                br#"{"license_key":"k","domain":"d","ip":"999.1.1.1"}"#
            ))
            .is_err()
        );
        assert!(validate(&Bytes::from_static(b"not json")).is_err());
    }
}
