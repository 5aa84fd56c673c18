//! The client API, where the license key is the credential: activate, heartbeat, deactivate,
//! validate. Answers a client may cache are signed (`Licet-Signature`), carry the server time and
//! echo the client's nonce.

use crate::app::error::ErrorCode;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use licet_api::client::{
    DeactivateAnswer, HeartbeatTerms, MachineRequest, RefusalAnswer, TokenAnswer, ValidateRequest,
};
use licet_core::store::Record;
use licet_verifier::text::encode_text;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::MachineBody;
use crate::activation::{self, Activation, check_device, proven_device_key, usable_license};
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::http::extract::{Body, ClientIp, Q, Signed};
use crate::rules::{self, Ask, Probe, Validation, Verdict};
use licet_core::model::{Lease, License, Machine, Policy};
use licet_core::seats::{Recognised, SeatClaim, SeatRule, learned_parts};
use licet_core::store::{Halted, SeatChange, SeatsWith};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(activate))
        .routes(routes!(borrow))
        .routes(routes!(heartbeat))
        .routes(routes!(deactivate))
        .routes(routes!(validate))
        .routes(routes!(validate_with_key))
}

/// Longest fingerprint accepted, in bytes.
const MAX_FINGERPRINT: usize = 256;
/// Longest nonce echoed, in bytes.
const MAX_NONCE: usize = 128;

/// Middleware for `/v1/client/*`: refusals are signed like answers (`Licet-Signature`, the
/// server time and the request's nonce in the body), so that a client acts on a refusal only
/// when it verifies; anyone else answering at the server's address is "unreachable", and can
/// no longer erase a license with an unsigned `revoked`.
pub async fn sign_refusals(
    s: &AppState,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, s.config.max_body_bytes).await else {
        return ApiError::new(
            ErrorCode::BodyTooLarge,
            "the body exceeds the server's limit",
        )
        .into_response_signed(s, None);
    };
    let nonce = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("nonce")?.as_str().map(str::to_owned))
        .filter(|n| n.len() <= MAX_NONCE);
    let resp = next
        .run(axum::extract::Request::from_parts(
            parts,
            axum::body::Body::from(bytes),
        ))
        .await;
    let status = resp.status();
    if status.is_success()
        || resp
            .headers()
            .contains_key(crate::app::tokens::SIGNATURE_HEADER)
    {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut v: Value = serde_json::from_slice(&body).unwrap_or_else(
        |_| json!({ "error": { "code": ErrorCode::Internal.as_str(), "message": "internal error" } }),
    );
    v["server_time"] = json!(s.clock.now());
    v["nonce"] = json!(nonce);
    let mut signed = crate::http::answer::signed(status, s.tokens.signed(&v));
    for name in [
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderName::from_static("x-request-id"),
    ] {
        if let Some(h) = parts.headers.get(&name) {
            signed.headers_mut().insert(name, h.clone());
        }
    }
    signed
}

impl ApiError {
    /// This error as a signed refusal of a client route.
    fn into_response_signed(self, s: &AppState, nonce: Option<String>) -> Response {
        let status = crate::http::error::status(&self);
        let v = RefusalAnswer {
            error: licet_api::error::ErrorDetail {
                code: self.code().as_str().to_owned(),
                message: self.message().to_owned(),
            },
            server_time: s.clock.now(),
            nonce,
        };
        crate::http::answer::signed(status, s.tokens.signed(&v))
    }
}

/// What a machine request says about who asks, for the shared rules.
fn probe<'a>(b: &'a MachineRequest, ip: &'a Option<String>) -> Probe<'a> {
    let report = b.client_data.as_ref();
    Probe {
        key: &b.key,
        ip: ip.as_deref(),
        hwid: Some(&b.fingerprint),
        fingerprint: report.and_then(|r| r.device_fingerprint.as_deref()),
        vm: report.map_or(&[], |r| &r.vm_indicators),
        debug: report.map_or(&[], |r| &r.debug_indicators),
    }
}

/// The request's parts, decoded; empty if none were sent.
fn request_parts(b: &MachineRequest) -> ApiResult<Vec<[u8; 8]>> {
    let Some(parts) = &b.parts else {
        return Ok(Vec::new());
    };
    let bad = || {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            "parts: 1–16 distinct parts of 16 hex digits",
        )
    };
    if parts.is_empty() || parts.len() > licet_verifier::claims::MAX_HWID_PARTS {
        return Err(bad());
    }
    let mut out: Vec<[u8; 8]> = Vec::with_capacity(parts.len());
    for p in parts {
        let raw = crate::ids::unhex(p)
            .filter(|r| r.len() == 8)
            .ok_or_else(bad)?;
        let mut part = [0u8; 8];
        part.copy_from_slice(&raw);
        if out.contains(&part) {
            return Err(bad());
        }
        out.push(part);
    }
    Ok(out)
}

/// The seat claim of a request.
fn claim_of(license: &License, b: &MachineRequest, parts: &[[u8; 8]]) -> SeatClaim {
    SeatClaim {
        license_id: license.id.clone(),
        fingerprint: b.fingerprint.clone(),
        parts: parts.to_vec(),
    }
}

fn check_text(field: &str, v: &str, max: usize) -> ApiResult<()> {
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            format!("{field}: 1–{max} bytes, no control characters"),
        ));
    }
    Ok(())
}

fn check_request(s: &AppState, b: &MachineRequest) -> ApiResult<()> {
    check_text("key", &b.key, 128)?;
    s.limits.check_license(&b.key)?;
    check_text("fingerprint", &b.fingerprint, MAX_FINGERPRINT)?;
    for (f, v) in [
        ("product", &b.product),
        ("hostname", &b.hostname),
        ("platform", &b.platform),
    ] {
        if let Some(v) = v {
            check_text(f, v, 255)?;
        }
    }
    if let Some(n) = &b.nonce {
        check_text("nonce", n, MAX_NONCE)?;
    }
    if let Some(r) = &b.client_data {
        let lists = [&r.vm_indicators, &r.debug_indicators];
        if lists
            .iter()
            .any(|l| l.len() > 32 || l.iter().any(|x| x.is_empty() || x.len() > 255))
        {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                "client_data: at most 32 indicators of each kind, each 1–255 bytes",
            ));
        }
        if let Some(f) = &r.device_fingerprint {
            check_text("client_data.device_fingerprint", f, MAX_FINGERPRINT)?;
        }
    }
    Ok(())
}

fn token_answer(
    s: &AppState,
    status: StatusCode,
    issued: &crate::app::tokens::IssuedToken,
    m: &Machine,
    policy: &Policy,
    nonce: Option<String>,
) -> Response {
    let heartbeat = policy.floating.then_some(HeartbeatTerms {
        interval: policy.heartbeat_interval,
        ttl: policy.heartbeat_ttl,
    });
    crate::http::answer::signed(
        status,
        s.tokens.signed(&TokenAnswer {
            token: encode_text(&issued.token),
            token_id: issued.token_id.clone(),
            expires_at: issued.expires_at,
            machine: MachineBody::from(m),
            heartbeat,
            server_time: s.clock.now(),
            nonce,
        }),
    )
}

#[utoipa::path(post, path = "/v1/client/activate", tag = "client", request_body = MachineRequest, responses((status = 201, description = "signed: `{token, token_id, expires_at, machine, heartbeat, server_time, nonce}`", body = serde_json::Value), (status = 403, description = "revoked, suspended or expired", body = crate::http::error::ErrorBody), (status = 404, description = "license_not_found", body = crate::http::error::ErrorBody), (status = 409, description = "too_many_machines", body = crate::http::error::ErrorBody), (status = 429, description = "rate_limited", body = crate::http::error::ErrorBody)))]
async fn activate(
    State(s): State<AppState>,
    ip: ClientIp,
    req: Signed<MachineRequest>,
) -> ApiResult<Response> {
    let b = &req.body;
    check_request(&s, b)?;
    no_until(b)?;
    let parts = request_parts(b)?;
    let device_key = proven_device_key(&s, &req)?;
    let ip_text = ip.text();
    let admitted = usable_license(&s, &probe(b, &ip_text)).await?;
    seat_answer(&s, ip_text, b, &parts, device_key, None, &admitted).await
}

/// Takes the seat a client asked for (online, or borrowed until a date) through the shared
/// activation, and answers its token.
async fn seat_answer(
    s: &AppState,
    ip: Option<String>,
    b: &MachineRequest,
    parts: &[[u8; 8]],
    device_key: Option<[u8; 32]>,
    lease: Option<(Lease, i64)>,
    (license, product, policy): &(License, licet_core::model::Product, Policy),
) -> ApiResult<Response> {
    // A client for another product would take a seat for a token it then refuses.
    if let Some(p) = &b.product
        && *p != product.code
        && *p != product.id
    {
        return Err(ApiError::forbidden_code(
            ErrorCode::WrongProduct,
            "the license is for another product than the client's",
        ));
    }
    let done = activation::activate(
        s,
        &Activation {
            license,
            product,
            policy,
            fingerprint: &b.fingerprint,
            parts,
            hostname: b.hostname.clone(),
            platform: b.platform.clone(),
            ip,
            device_key,
            lease,
            request_id: None,
            actor: format!("license:{}", license.id),
        },
    )
    .await?;
    let issued = done
        .issued
        .ok_or_else(|| ApiError::internal("a client activation without a token"))?;
    Ok(token_answer(
        s,
        StatusCode::CREATED,
        &issued,
        &done.machine,
        policy,
        b.nonce.clone(),
    ))
}

/// `until` belongs to `/v1/client/borrow` only.
fn no_until(b: &MachineRequest) -> ApiResult<()> {
    if b.until.is_some() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "until: only /v1/client/borrow takes it",
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/client/borrow", tag = "client", request_body = MachineRequest, responses((status = 201, description = "signed: a token valid until `until`, with no check-ins", body = serde_json::Value), (status = 403, description = "borrow_not_allowed, borrow_too_long, device_key_mismatch", body = crate::http::error::ErrorBody), (status = 409, description = "too_many_machines", body = crate::http::error::ErrorBody)))]
async fn borrow(
    State(s): State<AppState>,
    ip: ClientIp,
    req: Signed<MachineRequest>,
) -> ApiResult<Response> {
    let b = &req.body;
    check_request(&s, b)?;
    let parts = request_parts(b)?;
    let device_key = proven_device_key(&s, &req)?;
    let Some(until) = b.until else {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "until: when the borrowed seat comes back (unix seconds) is required",
        ));
    };
    let ip_text = ip.text();
    let admitted = usable_license(&s, &probe(b, &ip_text)).await?;
    let policy = &admitted.2;
    let now = s.clock.now();
    if !policy.floating || policy.max_borrow == 0 {
        return Err(ApiError::forbidden_code(
            ErrorCode::BorrowNotAllowed,
            "the license's policy does not lend seats (a floating policy with max_borrow)",
        ));
    }
    let longest = now.saturating_add(i64::try_from(policy.max_borrow).unwrap_or(i64::MAX));
    if until <= now || until > longest {
        return Err(ApiError::forbidden_code(
            ErrorCode::BorrowTooLong,
            format!(
                "until: after now and at most max_borrow ({} s) ahead",
                policy.max_borrow
            ),
        ));
    }
    let lease = Some((Lease::Borrowed, until));
    seat_answer(&s, ip_text, b, &parts, device_key, lease, &admitted).await
}

#[utoipa::path(post, path = "/v1/client/heartbeat", tag = "client", request_body = MachineRequest, responses((status = 200, description = "signed: a refreshed token", body = serde_json::Value), (status = 404, description = "license_not_found, machine_not_found", body = crate::http::error::ErrorBody), (status = 410, description = "heartbeat_dead", body = crate::http::error::ErrorBody)))]
async fn heartbeat(
    State(s): State<AppState>,
    ip: ClientIp,
    req: Signed<MachineRequest>,
) -> ApiResult<Response> {
    let b = &req.body;
    check_request(&s, b)?;
    no_until(b)?;
    let parts = request_parts(b)?;
    let proven = proven_device_key(&s, &req)?;
    let ip_text = ip.text();
    let (license, product, policy) = usable_license(&s, &probe(b, &ip_text)).await?;
    let rule = SeatRule::of(&license, &policy);
    // Renewed or culled in the store's seat operation: a cull cannot remove a seat a heartbeat
    // is renewing, nor a heartbeat revive one a cull removed.
    let renewed = s
        .store
        .change_seat_with(&claim_of(&license, b, &parts), &|found| {
            let Some(Recognised {
                machine,
                parts: bound,
            }) = found
            else {
                return Err(Beat::Unknown);
            };
            check_device(machine, proven.as_ref())?;
            let now = s.clock.now();
            if !rule.alive(machine, now) {
                // Freed below, its tokens revoked first (`licensing::free_seat`).
                return Err(Beat::Dead(Box::new(machine.clone())));
            }
            // A leased seat keeps its lease (and a token that ends with it); any seat keeps
            // its device key.
            let terms = crate::app::tokens::TokenTerms {
                device_key: machine
                    .device_key
                    .as_deref()
                    .and_then(|k| crate::activation::device_key_of(k).ok()),
                until: machine.lease_until,
                // The same grant, re-signed: one revocation entry ends every check-in's token.
                token_id: machine.live_token_id(now).and_then(crate::ids::unhex16),
            };
            let issued = s.tokens.issue_token_with(
                &product,
                &policy,
                &license,
                &machine.fingerprint,
                bound,
                &terms,
            )?;
            let mut m = machine.clone();
            if !parts.is_empty() {
                m.parts = learned_parts(&m, &parts);
            }
            m.last_seen = now;
            m.last_heartbeat = now;
            m.give_token(issued.token_id.clone(), issued.expires_at, now);
            Ok((
                SeatChange::Update(Box::new(m.clone())),
                Record::none(),
                (issued, m),
            ))
        })
        .await;
    let (issued, m) = match renewed {
        Ok((_, renewed)) => renewed,
        Err(Halted::Declined(Beat::Unknown)) => {
            return Err(ApiError::new(
                ErrorCode::MachineNotFound,
                "this machine is not activated",
            ));
        }
        Err(Halted::Declined(Beat::Dead(d))) => {
            let actor = format!("license:{}", license.id);
            let how = crate::licensing::Freeing::culled(&actor, ip.text());
            crate::licensing::free_seat(
                &s,
                &license,
                &crate::licensing::claim_of(&license, &d),
                &how,
                &|f, now| Ok(f.id == d.id && !rule.alive(f, now)),
            )
            .await?;
            return Err(ApiError::new(
                ErrorCode::HeartbeatDead,
                "the heartbeat was overdue; the seat was released, activate again",
            ));
        }
        Err(Halted::Declined(Beat::Refused(e))) => return Err(e),
        Err(Halted::Failed(e)) => return Err(e.into()),
    };
    Ok(token_answer(
        &s,
        StatusCode::OK,
        &issued,
        &m,
        &policy,
        b.nonce.clone(),
    ))
}

/// Why a heartbeat renewed nothing, decided on the machine as stored then.
enum Beat {
    /// The license has no such machine.
    Unknown,
    /// Its heartbeat is overdue: the seat is freed (its tokens revoked) and the client told
    /// to activate again.
    Dead(Box<Machine>),
    /// Refused (a device key that does not match) or failed to sign.
    Refused(ApiError),
}

impl From<ApiError> for Beat {
    fn from(e: ApiError) -> Self {
        Beat::Refused(e)
    }
}

#[utoipa::path(post, path = "/v1/client/deactivate", tag = "client", request_body = MachineRequest, responses((status = 200, description = "signed: `{deactivated, machine_id, server_time, nonce}`", body = serde_json::Value), (status = 404, description = "license_not_found, machine_not_found", body = crate::http::error::ErrorBody)))]
async fn deactivate(
    State(s): State<AppState>,
    ip: ClientIp,
    req: Signed<MachineRequest>,
) -> ApiResult<Response> {
    let b = &req.body;
    check_request(&s, b)?;
    no_until(b)?;
    let l = s
        .store
        .license_by_key(&b.key)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::LicenseNotFound, "no license with this key"))?;
    let parts = request_parts(b)?;
    let proven = proven_device_key(&s, &req)?;
    let m = activation::release(
        &s,
        &l,
        &claim_of(&l, b, &parts),
        ip.text(),
        &format!("license:{}", l.id),
        &|m| check_device(m, proven.as_ref()),
    )
    .await?
    .ok_or_else(|| ApiError::new(ErrorCode::MachineNotFound, "this machine is not activated"))?;
    Ok(crate::http::answer::signed(
        StatusCode::OK,
        s.tokens.signed(&DeactivateAnswer {
            deactivated: true,
            machine_id: m.id,
            server_time: s.clock.now(),
            nonce: b.nonce.clone(),
        }),
    ))
}

/// Validation, in the core's order (`licet_core::rules::Verdict`; the first failing check
/// gives the code): `blacklisted`, `not_found`, `product_scope_mismatch`, `product_inactive`,
/// `revoked`, `suspended`, `expired`, `license_inactive`, `no_machine`, `heartbeat_dead`,
/// `entitlements_missing`; otherwise `valid`. `ip` is the client's address when the client
/// itself asks.
async fn check(
    s: &AppState,
    r: &ValidateRequest,
    visible: &(dyn Fn(&License) -> bool + Send + Sync),
    ip: Option<&str>,
) -> ApiResult<Validation> {
    let ask = Ask {
        probe: Probe {
            key: &r.key,
            ip,
            hwid: r.fingerprint.as_deref(),
            ..Probe::default()
        },
        product: r.product.as_deref(),
        fingerprint: r.fingerprint.as_deref(),
        entitlements: &r.entitlements,
    };
    let v = licet_core::rules::validate(&*s.store, s.clock.now(), &ask, visible).await?;
    crate::stats::validated(
        s,
        v.license.as_ref().map_or("", |l| l.product_id.as_str()),
        (v.verdict != Verdict::Valid).then(|| v.verdict.code()),
    );
    Ok(v)
}

fn validation_answer(s: &AppState, r: &ValidateRequest, v: Validation) -> Response {
    let now = s.clock.now();
    crate::http::answer::signed(
        StatusCode::OK,
        s.tokens.signed(&json!({
            "valid": v.verdict == Verdict::Valid,
            "code": v.verdict.code(),
            "detail": rules::detail(&v.verdict),
            "license": v.license.map(|l| license_summary(&l, now)),
            "server_time": now,
            "nonce": r.nonce,
        })),
    )
}

fn license_summary(l: &License, now: i64) -> Value {
    json!({
        "id": l.id, "product_id": l.product_id, "status": l.status_at(now), "kind": l.kind,
        "expires_at": l.expires_at, "entitlements": l.entitlements,
    })
}

fn check_validate(s: &AppState, r: &ValidateRequest) -> ApiResult<()> {
    check_text("key", &r.key, 128)?;
    s.limits.check_license(&r.key)?;
    if let Some(f) = &r.fingerprint {
        check_text("fingerprint", f, MAX_FINGERPRINT)?;
    }
    if let Some(n) = &r.nonce {
        check_text("nonce", n, MAX_NONCE)?;
    }
    if r.entitlements.len() > 64 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "entitlements: at most 64",
        ));
    }
    Ok(())
}

/// `POST /v1/client/validate`: the license key is the credential.
#[utoipa::path(post, path = "/v1/client/validate", tag = "client", request_body = ValidateRequest, responses((status = 200, description = "signed verdict: `{valid, code, detail, license, server_time, nonce}`", body = serde_json::Value)))]
async fn validate(
    State(s): State<AppState>,
    ip: ClientIp,
    Body(r): Body<ValidateRequest>,
) -> ApiResult<Response> {
    check_validate(&s, &r)?;
    let verdict = check(&s, &r, &|_| true, ip.text().as_deref()).await?;
    Ok(validation_answer(&s, &r, verdict))
}

/// `GET /v1/licenses/validate?key=…`: License-API's validation with an API key or a JWT; a key
/// limited to one product sees only that product's licenses.
#[utoipa::path(get, path = "/v1/licenses/validate", tag = "licenses", params(ValidateRequest), responses((status = 200, description = "signed verdict: `{valid, code, detail, license, server_time, nonce}`", body = serde_json::Value), crate::http::error::CommonErrors), security(("bearer" = [])))]
pub async fn validate_with_key(
    State(s): State<AppState>,
    caller: Caller,
    Q(r): Q<ValidateRequest>,
) -> ApiResult<Response> {
    check_validate(&s, &r)?;
    // The caller is a vendor's backend, so its address says nothing about the licensee.
    let verdict = check(&s, &r, &|l: &License| caller.sees(&l.product_id), None).await?;
    Ok(validation_answer(&s, &r, verdict))
}
