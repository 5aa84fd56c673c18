//! LicenseCM's client API, as its SDKs call it: `public-key`, `validate`, `activate`,
//! `deactivate`, `heartbeat`, `verify-challenge`. No authentication; requests may come in the
//! encrypted envelope ([`super::envelope`]) and are then answered encrypted (errors never are).
//!
//! Answers carry `data.data` — base64url (no padding) of the signed facts as JSON, an ASCII
//! string whose JSON encoding is the same in every language — and `data.signature`, base64 of
//! RSASSA-PKCS1-v1_5 / SHA-512 by the key of `public-key` over that JSON encoding (the string
//! in quotes). A `challenge` for `verify-challenge` rides along with validate, activate and
//! heartbeat answers. Activations also get a licet offline token (`offline_token`).

use crate::app::error::ErrorCode;
use crate::app::seats::Made;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{KeyInit, Mac};
use licet_core::audit::AuditAction;
use licet_core::ids::ProductId;
use licet_core::store::Record;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{Envelope, Refused};
use super::shared::end_sessions;
use super::{Answer, Fail, iso, ok};
use crate::app::error::ApiError;
use crate::app::state::AppState;
use crate::http::extract::ClientIp;
use crate::ids::hex;
use crate::rules::{Admit, Admitted, Asked, Denial, Denied, Family, Probe, Refusal};
use licet_core::model::{License, Machine, Policy, Product, Session, Severity};
use licet_core::seats::{SeatClaim, SeatError, SeatRefusal, SeatRule};
use licet_core::store::{Halted, Seat, SeatChange, SeatsWith};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_key))
        .routes(routes!(validate))
        .routes(routes!(activate))
        .routes(routes!(deactivate))
        .routes(routes!(heartbeat))
        .routes(routes!(verify_challenge))
}

/// Seconds a rotated session token stays valid after rotation.
const ROTATION_GRACE: i64 = 60;
/// Seconds a challenge may be answered.
const CHALLENGE_TTL: i64 = 300;
/// Longest license key, HWID, session token or challenge accepted.
const MAX_FIELD: usize = 512;

/// A client request, snake_case or camelCase.
#[derive(Debug, Default, Deserialize)]
struct ClientRequest {
    #[serde(alias = "licenseKey", alias = "key")]
    license_key: Option<String>,
    hwid: Option<String>,
    #[serde(alias = "productId")]
    product_id: Option<String>,
    #[serde(alias = "clientData")]
    client_data: Option<Value>,
    #[serde(alias = "sessionToken")]
    session_token: Option<String>,
    challenge: Option<String>,
    response: Option<String>,
}

/// A request as received: its fields, and how to answer (plain, or sealed with this secret).
struct Received {
    req: ClientRequest,
    seal: Option<zeroize::Zeroizing<String>>,
    ip: ClientIp,
    user_agent: Option<String>,
}

impl Received {
    fn text(&self, v: &Option<String>, name: &str) -> Result<String, Fail> {
        match v.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() && t.len() <= MAX_FIELD => Ok(t.to_owned()),
            Some(t) if t.len() > MAX_FIELD => Err(Fail::invalid(format!(
                "{name}: at most {MAX_FIELD} characters"
            ))),
            _ => Err(Fail::invalid(format!("{name} is required"))),
        }
    }

    fn key(&self) -> Result<String, Fail> {
        self.text(&self.req.license_key, "license_key")
    }

    fn hwid(&self) -> Result<String, Fail> {
        self.text(&self.req.hwid, "hwid")
    }

    /// Answers `data`, sealed if the request was.
    fn answer(&self, s: &AppState, data: Value) -> Answer {
        let data = super::compact(data);
        match &self.seal {
            None => ok(data),
            Some(secret) => {
                let body = json!({ "success": true, "data": data });
                let sealed = super::envelope::seal(secret, &body, s.clock.now_ms())
                    .ok_or_else(|| crate::app::error::ApiError::internal("sealing an answer"))?;
                Ok(axum::Json(sealed).into_response())
            }
        }
    }
}

/// Reads a client request: plain JSON, or an envelope opened with its product's secret.
async fn receive(
    s: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Received, Fail> {
    let body = body.map_err(|r| Fail::new(r.status(), "VALIDATION_ERROR", r.body_text()))?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|u| u.chars().take(256).collect());
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|_| Fail::invalid("Invalid JSON body"))?
    };
    let (inner, seal) = match Envelope::parse(&v) {
        None => (v, None),
        Some(Err(r)) => return Err(r.fail()),
        Some(Ok(env)) => {
            let product = s
                .store
                .product(&ProductId::from(&env.product_id))
                .await?
                .filter(|p| p.compat.licensecm)
                .ok_or_else(|| Fail::not_found("PRODUCT_NOT_FOUND", "Product not found"))?;
            let secret = super::shared::secret(s, &product)
                .ok_or_else(|| Fail::not_found("PRODUCT_NOT_FOUND", "Product not found"))?;
            let now_ms = s.clock.now_ms();
            let window = i64::try_from(s.config.envelope_window).unwrap_or(300) * 1000;
            match env.open(&secret, now_ms, window) {
                Ok(inner) => {
                    if !s
                        .store
                        .accept_envelope(&env.mac(), env.timestamp_ms(), now_ms - 2 * window)
                        .await?
                    {
                        s.journal
                            .security_event(
                                "replay_attack",
                                Severity::High,
                                None,
                                ip.text(),
                                None,
                                true,
                                json!({ "product_id": product.id }),
                            )
                            .await?;
                        return Err(Fail::new(
                            StatusCode::FORBIDDEN,
                            "SECURITY_VIOLATION",
                            "Replayed request refused",
                        ));
                    }
                    let mut inner = inner;
                    // The envelope names the product; the inner request may leave it out.
                    if inner.get("product_id").is_none() && inner.get("productId").is_none() {
                        inner["product_id"] = json!(product.id);
                    }
                    (inner, Some(secret))
                }
                Err(r) => {
                    let kind = match r {
                        Refused::Stale => "replay_attack",
                        _ => "tamper_detected",
                    };
                    s.journal
                        .security_event(
                            kind,
                            Severity::Medium,
                            None,
                            ip.text(),
                            None,
                            true,
                            json!({ "product_id": product.id, "reason": format!("{r:?}") }),
                        )
                        .await?;
                    return Err(r.fail());
                }
            }
        }
    };
    if !inner.is_object() {
        return Err(Fail::invalid("The request body must be a JSON object"));
    }
    let req: ClientRequest = serde_json::from_value(inner)
        .map_err(|e| Fail::invalid(format!("Invalid request: {e}")))?;
    Ok(Received {
        req,
        seal,
        ip,
        user_agent,
    })
}

/// What `client_data` reports, read leniently (snake_case or camelCase, lists or not).
#[derive(Debug, Default)]
struct ClientData {
    vm: Vec<String>,
    debug: Vec<String>,
    fingerprint: Option<String>,
    platform: Option<String>,
    hostname: Option<String>,
}

fn client_data(v: Option<&Value>) -> ClientData {
    let Some(Value::Object(o)) = v else {
        return ClientData::default();
    };
    let get = |names: &[&str]| names.iter().find_map(|n| o.get(*n));
    let list = |names: &[&str]| -> Vec<String> {
        match get(names) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                })
                .take(32)
                .collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            Some(Value::Bool(true)) => vec!["detected".into()],
            _ => Vec::new(),
        }
    };
    let text = |names: &[&str]| {
        get(names)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(256).collect::<String>())
    };
    ClientData {
        vm: list(&["vm_indicators", "vmIndicators", "vm_detected", "vmDetected"]),
        debug: list(&[
            "debug_indicators",
            "debugIndicators",
            "debug_detected",
            "debugDetected",
        ]),
        fingerprint: text(&["fingerprint", "device_fingerprint", "deviceFingerprint"]),
        platform: text(&["platform", "os"]),
        hostname: text(&[
            "hostname",
            "host_name",
            "hostName",
            "machine_name",
            "machineName",
        ]),
    }
}

/// The license, its product and policy, after every check a client request passes: rate
/// limit, blacklist, product, key, status, and `client_data` detections.
struct Judged {
    license: License,
    product: Product,
    policy: Policy,
    hwid: String,
    data: ClientData,
}

async fn judge(s: &AppState, r: &Received, need_hwid: bool) -> Result<Judged, Fail> {
    let key = r.key()?;
    if let Err(e) = s.limits.check_lcm_validation(&key) {
        // Best effort: the refusal stands whether or not the event could be written.
        let _ = s
            .journal
            .security_event(
                "rate_limit_exceeded",
                Severity::Low,
                None,
                r.ip.text(),
                None,
                true,
                json!({ "license_key": key }),
            )
            .await;
        return Err(Fail::from(e));
    }
    let hwid = if need_hwid {
        r.hwid()?
    } else {
        r.req.hwid.clone().unwrap_or_default()
    };
    let data = client_data(r.req.client_data.as_ref());
    let product_id = r
        .req
        .product_id
        .as_deref()
        .ok_or_else(|| Fail::invalid("product_id is required"))?;
    let ip = r.ip.text();
    // The rules every family shares (`crate::rules::admit`), mapped to LicenseCM's codes.
    let ask = Admit {
        probe: Probe {
            key: &key,
            ip: ip.as_deref(),
            hwid: Some(&hwid),
            fingerprint: data.fingerprint.as_deref(),
            vm: &data.vm,
            debug: &data.debug,
        },
        asked: Asked::Named(product_id),
        family: Family::LicenseCm,
    };
    let admitted = match crate::rules::admit(s, &ask).await? {
        Ok(a) => a,
        Err(Denied {
            denial: Denial::Blacklisted(e),
            ..
        }) => {
            // The admin's view names the license the blocked client asked about; the client
            // learns nothing of it.
            let license = s.store.license_by_key(&key).await?;
            let kind = serde_json::to_value(e.kind).unwrap_or(Value::Null);
            s.journal
                .security_event(
                    "blacklist_hit",
                    e.severity.max(Severity::Medium),
                    license.as_ref(),
                    ip.clone(),
                    Some(&hwid).filter(|h| !h.is_empty()).map(String::as_str),
                    true,
                    json!({ "blacklist_id": e.id, "type": kind }),
                )
                .await?;
            return Err(Fail::blocked("blacklist_hit", kind.as_str().unwrap_or("")));
        }
        Err(Denied {
            denial: Denial::Refused(r @ (Refusal::VmBlocked | Refusal::DebugBlocked)),
            license: Some(license),
        }) => {
            return Err(detections(s, &license, &data, &hwid, ip, Some(&r))
                .await?
                .unwrap_or_else(|| Fail::blocked("client", "client")));
        }
        Err(Denied { denial, .. }) => return Err(refusal(s, &denial, product_id).await?),
    };
    detections(s, &admitted.license, &data, &hwid, ip, None).await?;
    let Admitted {
        license,
        product,
        policy,
    } = admitted;
    Ok(Judged {
        license,
        product,
        policy,
        hwid,
        data,
    })
}

/// LicenseCM's answer to a refusal of the shared rules other than the blacklist and the
/// client's detections. LicenseCM names a product it does not serve before anything about the
/// key, so a key unknown or of another product is `PRODUCT_NOT_FOUND` when the product asked
/// for does not answer LicenseCM clients, `LICENSE_NOT_FOUND` when it does.
async fn refusal(s: &AppState, denial: &Denial, product_id: &str) -> Result<Fail, Fail> {
    let product_not_found = || Fail::not_found("PRODUCT_NOT_FOUND", "Product not found");
    let forbidden = |code: &str, message: &str| Fail::new(StatusCode::FORBIDDEN, code, message);
    Ok(match denial {
        Denial::NotFound | Denial::ProductScopeMismatch(_) => {
            let served = s
                .store
                .product(&ProductId::from(product_id))
                .await?
                .is_some_and(|p| p.is_active && p.compat.licensecm);
            if served {
                Fail::not_found("LICENSE_NOT_FOUND", "License not found")
            } else {
                product_not_found()
            }
        }
        Denial::FamilyDisabled | Denial::Refused(Refusal::ProductInactive) => product_not_found(),
        Denial::Refused(Refusal::Expired) => forbidden("LICENSE_EXPIRED", "License has expired"),
        Denial::Refused(Refusal::Revoked) => {
            forbidden("LICENSE_SUSPENDED", "License has been revoked")
        }
        Denial::Refused(Refusal::OwnerInactive) => {
            forbidden("LICENSE_SUSPENDED", "License is not active")
        }
        Denial::Refused(Refusal::Suspended) => {
            forbidden("LICENSE_SUSPENDED", "License is suspended")
        }
        _ => Fail::forbidden("Access denied"),
    })
}

/// Records what the client reported about itself (a virtual machine, a debugger) as security
/// events, blocked where the shared rules refused it (`refused`); the answer for the one that
/// blocked.
async fn detections(
    s: &AppState,
    license: &License,
    data: &ClientData,
    hwid: &str,
    ip: Option<String>,
    refused: Option<&Refusal>,
) -> Result<Option<Fail>, Fail> {
    let hw = Some(hwid).filter(|h| !h.is_empty());
    for (found, kind, block) in [
        (
            &data.vm,
            "vm_detected",
            refused == Some(&Refusal::VmBlocked),
        ),
        (
            &data.debug,
            "debug_detected",
            refused == Some(&Refusal::DebugBlocked),
        ),
    ] {
        if !found.is_empty() {
            s.journal
                .security_event(
                    kind,
                    Severity::Medium,
                    Some(license),
                    ip.clone(),
                    hw,
                    block,
                    json!({ "indicators": found }),
                )
                .await?;
            if block {
                let mut f = Fail::blocked(kind, "client");
                f.code_mut("SECURITY_VIOLATION");
                return Ok(Some(f));
            }
        }
    }
    Ok(None)
}

/// The signed facts of an answer: `data` (base64url of their JSON) and `signature`.
///
/// The facts carry the minute they were signed in (`timestamp`, ms, rounded down to the
/// minute), so the same facts of one license, machine and verdict are the same message all
/// minute, which the token service signs once ([`crate::app::tokens::TokenService::rsa_signed`]);
/// a client checking freshness still sees a timestamp at most a minute old.
fn signed_facts(s: &AppState, j: &Judged, valid: bool) -> Result<(String, String), Fail> {
    let minute = s.clock.now_ms().div_euclid(60_000);
    let facts = json!({
        "license_key": j.license.key,
        "product_id": j.product.id,
        "hwid": j.hwid,
        "valid": valid,
        "type": super::shared::status_name(&j.license, s.clock.now()),
        "license_type": kind_text(&j.license),
        "expires_at": j.license.expires_at.map(iso),
        "timestamp": minute * 60_000,
    });
    let data = URL_SAFE_NO_PAD.encode(facts.to_string());
    let json_encoded =
        serde_json::to_string(&data).map_err(crate::app::error::ApiError::internal)?;
    let sig = s.tokens.rsa_signed(json_encoded.as_bytes())?;
    Ok((data, STANDARD.encode(sig)))
}

fn kind_text(l: &License) -> &'static str {
    match l.kind {
        licet_core::model::Kind::Trial => "trial",
        licet_core::model::Kind::Subscription => "subscription",
        licet_core::model::Kind::Lifetime => "lifetime",
    }
}

/// A watermark unique to this answer: hex HMAC of license, hwid and time under a server key.
fn watermark(s: &AppState, j: &Judged) -> String {
    let key = s.tokens.keys().derive(b"licet-licensecm-watermark-v1\0");
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key.as_ref())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(format!("{}:{}:{}", j.license.id, j.hwid, s.clock.now_ms()).as_bytes());
    mac.update(&crate::ids::random_bytes::<8>());
    hex(&mac.finalize().into_bytes()[..16])
}

/// A fresh challenge for `verify-challenge`: hex of `nonce ‖ expiry ‖ tag`, the tag an HMAC
/// binding them to the license and hwid under a server key. Nothing is stored when it is
/// handed out (a validation writes nothing for it); answering it spends the nonce once.
fn challenge(s: &AppState, j: &Judged) -> String {
    let nonce = crate::ids::random_bytes::<16>();
    let until = s.clock.now() + CHALLENGE_TTL;
    let mut raw = Vec::with_capacity(CHALLENGE_BYTES);
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&until.to_be_bytes());
    raw.extend_from_slice(&challenge_tag(s, &nonce, until, &j.license.id, &j.hwid));
    hex(&raw)
}

/// Bytes of a challenge: nonce (16), expiry (8), tag (16).
const CHALLENGE_BYTES: usize = 40;

fn challenge_tag(
    s: &AppState,
    nonce: &[u8; 16],
    until: i64,
    license_id: &str,
    hwid: &str,
) -> [u8; 16] {
    let key = s.tokens.keys().derive(b"licet-licensecm-challenge-v1\0");
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key.as_ref())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(nonce);
    mac.update(&until.to_be_bytes());
    mac.update(license_id.as_bytes());
    mac.update(b"\0");
    mac.update(hwid.as_bytes());
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&mac.finalize().into_bytes()[..16]);
    tag
}

/// Reads a challenge this server may have handed out: (nonce, expiry, tag).
fn parse_challenge(c: &str) -> Option<([u8; 16], i64, [u8; 16])> {
    let raw = crate::ids::unhex(c).filter(|r| r.len() == CHALLENGE_BYTES)?;
    let nonce = <[u8; 16]>::try_from(&raw[..16]).ok()?;
    let until = i64::from_be_bytes(<[u8; 8]>::try_from(&raw[16..24]).ok()?);
    let tag = <[u8; 16]>::try_from(&raw[24..]).ok()?;
    Some((nonce, until, tag))
}

fn license_facts(j: &Judged) -> Value {
    json!({
        "type": kind_text(&j.license),
        "expires_at": j.license.expires_at.map(iso),
        "metadata": j.license.metadata,
    })
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Records a client action: the license's activity log, and a security event of `event`.
async fn record(
    s: &AppState,
    r: &Received,
    j: &Judged,
    action: AuditAction,
    event: &str,
    details: Value,
) -> Result<(), Fail> {
    audit(s, r, j, action).await?;
    s.journal
        .security_event(
            event,
            Severity::Info,
            Some(&j.license),
            r.ip.text(),
            Some(&j.hwid),
            false,
            details,
        )
        .await?;
    Ok(())
}

async fn audit(s: &AppState, r: &Received, j: &Judged, action: AuditAction) -> Result<(), Fail> {
    s.journal
        .audit(
            &format!("license:{}", j.license.id),
            action,
            &j.license.id,
            r.ip.text(),
            json!({ "hwid": j.hwid, "user_agent": r.user_agent }),
        )
        .await?;
    Ok(())
}

/// LicenseCM's answer to a seat refusal: 403 `MAX_USES_EXCEEDED` or `HWID_MISMATCH`.
fn seat_refusal(e: SeatError) -> Fail {
    match e {
        SeatError::Refused(SeatRefusal::TooManyMachines { .. }) => Fail::new(
            StatusCode::FORBIDDEN,
            "MAX_USES_EXCEEDED",
            "Maximum activations reached",
        ),
        SeatError::Refused(_) => Fail::new(
            StatusCode::FORBIDDEN,
            "HWID_MISMATCH",
            "Hardware ID does not match",
        ),
        SeatError::Store(e) => e.into(),
        e => Fail::from(crate::app::error::ApiError::from(e)),
    }
}

/// The machine of `hwid`, or why this hwid may not use the license: the seat rule every family
/// shares (`licet_core::seats`), read without taking the seat.
async fn seat_check(s: &AppState, j: &Judged) -> Result<Option<Machine>, Fail> {
    let plan = licet_core::seats::check(
        &*s.store,
        &claim(j),
        &SeatRule::of(&j.license, &j.policy),
        s.clock.now(),
    )
    .await
    .map_err(seat_refusal)?;
    let existing = plan.existing.map(|r| r.machine);
    existing.as_ref().map(unbound).transpose()?;
    Ok(existing)
}

/// LicenseCM's clients cannot sign with a device key, so a machine bound to one (a licet
/// client's, an offline or borrowed lease's) is changed, released or answered for only by
/// licet's own API, and a policy that requires device keys takes no LicenseCM activation.
fn device_bound() -> Fail {
    Fail::new(
        StatusCode::FORBIDDEN,
        "DEVICE_KEY_REQUIRED",
        "This device is bound to a device key: use a licet client",
    )
}

/// Refuses a machine bound to a device key (see [`device_bound`]).
fn unbound(m: &Machine) -> Result<(), Fail> {
    match m.device_key {
        Some(_) => Err(device_bound()),
        None => Ok(()),
    }
}

/// The seat claim of a judged request: the license and the hwid (LicenseCM sends no parts).
fn claim(j: &Judged) -> SeatClaim {
    SeatClaim {
        license_id: j.license.id.clone(),
        fingerprint: j.hwid.clone(),
        parts: Vec::new(),
    }
}

/// Records a refused seat check as a security event.
async fn note_refusal(s: &AppState, r: &Received, j: &Judged, f: &Fail) {
    if f.code() == Some("HWID_MISMATCH") {
        let _ = s
            .journal
            .security_event(
                "hwid_mismatch",
                Severity::Medium,
                Some(&j.license),
                r.ip.text(),
                Some(&j.hwid),
                true,
                json!({}),
            )
            .await;
    }
}

/// How the overview counts a refused validation: the stable code it is counted under, and
/// whether the license (of the request's product) was found. `None`: not the license saying
/// no (bad input, a rate limit, a fault), not counted.
fn counted_as(f: &Fail) -> Option<(&'static str, bool)> {
    Some(match f.code()? {
        "BLACKLISTED" => ("blacklisted", false),
        "LICENSE_NOT_FOUND" => ("license_not_found", false),
        "PRODUCT_NOT_FOUND" => ("product_not_found", false),
        "LICENSE_EXPIRED" => ("expired", true),
        "LICENSE_SUSPENDED" => ("suspended", true),
        "HWID_MISMATCH" => ("hwid_mismatch", true),
        "MAX_USES_EXCEEDED" => ("too_many_machines", true),
        "SECURITY_VIOLATION" => ("security_violation", true),
        _ => return None,
    })
}

/// Counts a refused validation for the overview. A refusal is of the
/// request's product only where the license was found in it: a product id never found is not
/// a key to count under, or a client could make as many as it liked.
fn count_refusal(s: &AppState, r: &Received, f: &Fail) {
    if let Some((code, found)) = counted_as(f) {
        let product = match found {
            true => r.req.product_id.as_deref().unwrap_or_default(),
            false => "",
        };
        crate::stats::validated(s, product, Some(code));
    }
}

macro_rules! client_route {
    ($name:ident, $path:literal, $doc:literal, $ok:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "licensecm-client",
            request_body(content = serde_json::Value, description = "`{license_key, hwid, product_id, client_data?, session_token?}`, plain or in the encrypted envelope"),
            responses((status = 200, description = $ok, body = serde_json::Value),
                      (status = 400, description = "`VALIDATION_ERROR`", body = serde_json::Value),
                      (status = 401, description = "`SESSION_EXPIRED`", body = serde_json::Value),
                      (status = 403, description = "`LICENSE_EXPIRED`, `LICENSE_SUSPENDED`, `HWID_MISMATCH`, `MAX_USES_EXCEEDED`, `BLACKLISTED` (with `security_blocked`), `SECURITY_VIOLATION`", body = serde_json::Value),
                      (status = 404, description = "`LICENSE_NOT_FOUND`, `PRODUCT_NOT_FOUND`", body = serde_json::Value),
                      (status = 429, description = "`RATE_LIMITED`", body = serde_json::Value)))]
        async fn $name(
            State(s): State<AppState>,
            ip: ClientIp,
            headers: HeaderMap,
            body: Result<Bytes, BytesRejection>,
        ) -> Answer {
            let r = receive(&s, ip, &headers, body).await?;
            paste_impl::$name(&s, &r).await
        }
    };
}

client_route!(
    validate,
    "/api/client/validate",
    "Is this license valid on this machine?",
    "`{success, data: {valid, license: {type, expires_at, metadata}, data, signature, watermark, challenge}}`"
);
client_route!(
    activate,
    "/api/client/activate",
    "Activates this machine: takes a use, opens a session, hands out an offline token.",
    "`{success, data: {activated, session: {token, expires_at}, license, data, signature, watermark, offline_token, challenge}}`"
);
client_route!(
    deactivate,
    "/api/client/deactivate",
    "Deactivates this machine: frees its use and ends its sessions.",
    "`{success, data: {deactivated}}`"
);
client_route!(
    heartbeat,
    "/api/client/heartbeat",
    "Keeps the session alive; with `session_token`, rotates it (`new_token`).",
    "`{success, data: {valid, new_token?, expires_at, challenge}}`"
);
client_route!(
    verify_challenge,
    "/api/client/verify-challenge",
    "Checks `response` = hex HMAC-SHA256(key = hwid, challenge) for a challenge this server handed out (single use).",
    "`{success, data: {valid: true}}`"
);

mod paste_impl {
    use super::*;

    pub async fn validate(s: &AppState, r: &Received) -> Answer {
        let j = judge(s, r, true)
            .await
            .inspect_err(|f| count_refusal(s, r, f))?;
        if let Err(f) = seat_check(s, &j).await {
            count_refusal(s, r, &f);
            note_refusal(s, r, &j, &f).await;
            return Err(f);
        }
        crate::stats::validated(s, &j.license.product_id, None);
        let ip = r.ip.text().unwrap_or_default();
        let agent = r.user_agent.as_deref().unwrap_or_default();
        if s.journal.first_this_minute(&[
            "licensecm.validation",
            &j.license.id,
            &j.hwid,
            &ip,
            agent,
        ]) {
            record(
                s,
                r,
                &j,
                AuditAction::ClientValidation,
                "license_validation",
                json!({}),
            )
            .await?;
        }
        let (data, signature) = signed_facts(s, &j, true)?;
        r.answer(
            s,
            json!({
                "valid": true,
                "license": license_facts(&j),
                "data": data,
                "signature": signature,
                "watermark": watermark(s, &j),
                "challenge": challenge(s, &j),
            }),
        )
    }

    pub async fn activate(s: &AppState, r: &Received) -> Answer {
        let j = judge(s, r, true).await?;
        if j.policy.require_device_key {
            return Err(device_bound());
        }
        let now = s.clock.now();
        // The offline token binds the hwid alone, so it is signed before the seat is taken,
        // under a new id or, for a machine that holds an online seat, its grant's id again
        // (decided again in the seat operation).
        let rule = SeatRule::of(&j.license, &j.policy);
        let grant = |found: Option<&licet_core::seats::Recognised>, now: i64| {
            found
                .filter(|f| rule.alive(&f.machine, now))
                .and_then(|f| f.machine.reusable_token_id(false, now))
                .and_then(crate::ids::unhex16)
        };
        let sign = |token_id: Option<[u8; 16]>| {
            s.tokens.issue_token_with(
                &j.product,
                &j.policy,
                &j.license,
                &j.hwid,
                &[],
                &crate::app::tokens::TokenTerms {
                    token_id,
                    ..Default::default()
                },
            )
        };
        let known = s.store.machine(&j.license.id, &j.hwid).await?;
        let known_grant = known.as_ref().and_then(|m| {
            (rule.alive(m, now))
                .then(|| m.reusable_token_id(false, now))
                .flatten()
                .and_then(crate::ids::unhex16)
        });
        let presigned = sign(known_grant)?;
        let seated = s
            .seats
            .activate(&j.license, &claim(&j), &rule, &|seat, now| {
                let found = seat.found();
                if let Some(f) = found {
                    unbound(&f.machine)?;
                }
                let token = match grant(found, now) {
                    g if g == known_grant => presigned.clone(),
                    g => sign(g).map_err(Fail::from)?,
                };
                if let Some(f) = found
                    && f.machine.holds_too_many(&token.token_id, now)
                {
                    return Err(crate::activation::too_many_tokens().into());
                }
                let mut m = match seat {
                    Seat::Known(f) => f.machine.clone(),
                    Seat::New { number: numeric_id } => Machine {
                        hostname: j.data.hostname.clone(),
                        platform: j.data.platform.clone(),
                        ..Machine::new(
                            crate::ids::new_id(),
                            &j.license.id,
                            &j.hwid,
                            numeric_id,
                            now,
                        )
                    },
                };
                m.ip = r.ip.text().or(m.ip);
                m.last_seen = now;
                m.last_heartbeat = now;
                m.give_token(token.token_id.clone(), token.expires_at, now);
                Ok(Made::new(m, Vec::new(), token))
            })
            .await;
        let (seated, issued) = match seated {
            Ok(taken) => taken,
            Err(e) => {
                let f = match e {
                    Halted::Declined(f) => f,
                    Halted::Failed(e) => seat_refusal(e),
                };
                note_refusal(s, r, &j, &f).await;
                return Err(f);
            }
        };
        let fresh = seated.fresh;
        let token = hex(&crate::ids::random_bytes::<32>());
        let session = Session {
            id: crate::ids::uuid(),
            token_hash: token_hash(&token),
            previous_hash: None,
            previous_until: 0,
            license_id: j.license.id.clone(),
            hwid: j.hwid.clone(),
            ip: r.ip.text(),
            created_at: now,
            last_heartbeat: now,
            expires_at: now + i64::try_from(s.config.session_ttl).unwrap_or(86_400),
            ended_at: None,
            end_reason: None,
        };
        s.store
            .put_session(&session, &[&session.token_hash])
            .await?;
        record(
            s,
            r,
            &j,
            AuditAction::ClientActivation,
            "license_activation",
            json!({ "new_machine": fresh }),
        )
        .await?;
        if fresh {
            s.metrics.activation();
        }
        let (data, signature) = signed_facts(s, &j, true)?;
        r.answer(
            s,
            json!({
                "activated": true,
                "session": { "token": token, "expires_at": iso(session.expires_at) },
                "license": license_facts(&j),
                "data": data,
                "signature": signature,
                "watermark": watermark(s, &j),
                "offline_token": URL_SAFE_NO_PAD.encode(&issued.token),
                "challenge": challenge(s, &j),
            }),
        )
    }

    /// How often a heartbeat judges its session again when concurrent heartbeats rotated it
    /// first.
    const ROTATION_TRIES: usize = 3;

    /// The seat claim of the device a request names.
    fn device_claim(j: &Judged) -> SeatClaim {
        SeatClaim {
            license_id: j.license.id.clone(),
            fingerprint: j.hwid.clone(),
            parts: Vec::new(),
        }
    }

    pub async fn deactivate(s: &AppState, r: &Received) -> Answer {
        let j = judge(s, r, true).await?;
        // Freed as every seat is: what the machine holds is revoked first.
        let actor = format!("license:{}", j.license.id);
        let how = crate::licensing::Freeing::deactivated(&actor, r.ip.text());
        let removed =
            crate::licensing::free_seat(s, &j.license, &device_claim(&j), &how, &|m, _| match m
                .device_key
            {
                Some(_) => Err(ApiError::forbidden_code(
                    ErrorCode::DeviceKeyRequired,
                    "This device is bound to a device key: use a licet client",
                )),
                None => Ok(true),
            })
            .await?;
        if removed.is_none() {
            return Err(Fail::new(
                StatusCode::NOT_FOUND,
                "NOT_ACTIVATED",
                "This device is not activated",
            ));
        }
        end_sessions(s, &j.license.id, Some(&j.hwid), "deactivated").await?;
        record(
            s,
            r,
            &j,
            AuditAction::ClientDeactivation,
            "license_deactivation",
            json!({}),
        )
        .await?;
        r.answer(s, json!({ "deactivated": true }))
    }

    pub async fn heartbeat(s: &AppState, r: &Received) -> Answer {
        let j = judge(s, r, true).await?;
        let now = s.clock.now();
        let ttl = i64::try_from(s.config.session_ttl).unwrap_or(86_400);
        let ended = |m: &str| Fail::new(StatusCode::UNAUTHORIZED, "SESSION_EXPIRED", m);
        s.store
            .change_seat_with(&device_claim(&j), &|found| match found {
                Some(f) if f.machine.device_key.is_some() => Err(device_bound()),
                Some(f) => {
                    let mut m = f.machine.clone();
                    m.last_seen = now;
                    m.last_heartbeat = now;
                    Ok((SeatChange::Update(Box::new(m)), Record::none(), ()))
                }
                None => Err(ended("Session invalid: this device is not activated")),
            })
            .await
            .map_err(|e| match e {
                Halted::Declined(f) => f,
                Halted::Failed(e) => seat_refusal(e),
            })?;
        let given = r
            .req
            .session_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let mut new_token = None;
        let expires_at;
        match given {
            Some(token) => {
                let h = token_hash(token);
                // Rotated only if no concurrent heartbeat rotated it first; then judged again
                // as stored (the token presented may now be the previous one, in its grace).
                let mut rotated = None;
                for _ in 0..ROTATION_TRIES {
                    let mut sess = s
                        .store
                        .session_by_token(&h)
                        .await?
                        .filter(|x| x.license_id == j.license.id)
                        .ok_or_else(|| ended("Session invalid"))?;
                    if sess.hwid != j.hwid {
                        s.journal
                            .security_event(
                                "session_hijack",
                                Severity::High,
                                Some(&j.license),
                                r.ip.text(),
                                Some(&j.hwid),
                                true,
                                json!({ "session_id": sess.id }),
                            )
                            .await?;
                        return Err(ended("Session invalid for this device"));
                    }
                    if sess.ended_at.is_some() {
                        return Err(ended("Session invalid: it was ended"));
                    }
                    if sess.expires_at <= now {
                        return Err(ended("Session expired"));
                    }
                    let current = bool::from(h.as_bytes().ct_eq(sess.token_hash.as_bytes()));
                    let previous = sess
                        .previous_hash
                        .as_deref()
                        .is_some_and(|p| bool::from(h.as_bytes().ct_eq(p.as_bytes())))
                        && now < sess.previous_until;
                    if !current && !previous {
                        return Err(ended("Session expired: the token was rotated"));
                    }
                    // The token presented stays valid for a short grace (the answer carrying
                    // its successor may be lost); every other earlier token is forgotten.
                    let fresh = hex(&crate::ids::random_bytes::<32>());
                    let old_current = std::mem::replace(&mut sess.token_hash, token_hash(&fresh));
                    let old_previous = sess.previous_hash.replace(h.clone());
                    let forget: Vec<String> = [Some(old_current.clone()), old_previous]
                        .into_iter()
                        .flatten()
                        .filter(|x| *x != h)
                        .collect();
                    sess.previous_until = now + ROTATION_GRACE;
                    sess.last_heartbeat = now;
                    sess.expires_at = now + ttl;
                    sess.ip = r.ip.text();
                    if s.store
                        .rotate_session(&sess, &old_current, &[&sess.token_hash, &h], &forget)
                        .await?
                    {
                        rotated = Some((sess.expires_at, fresh));
                        break;
                    }
                }
                let (at, fresh) =
                    rotated.ok_or_else(|| ended("Session expired: the token was rotated"))?;
                expires_at = at;
                new_token = Some(fresh);
            }
            None => {
                // No token: a valid license, hwid and product keep the newest open session
                // of this machine alive, without rotating it.
                let open = s
                    .store
                    .sessions_of(&j.license.id)
                    .await?
                    .into_iter()
                    .filter(|x| {
                        x.license_id == j.license.id
                            && x.hwid == j.hwid
                            && x.ended_at.is_none()
                            && x.expires_at > now
                    });
                match open.max_by_key(|x| x.created_at) {
                    Some(mut sess) => {
                        sess.last_heartbeat = now;
                        sess.expires_at = now + ttl;
                        s.store.put_session(&sess, &[]).await?;
                        expires_at = sess.expires_at;
                    }
                    None => expires_at = now + ttl,
                }
            }
        }
        audit(s, r, &j, AuditAction::ClientHeartbeat).await?;
        r.answer(
            s,
            json!({
                "valid": true,
                "new_token": new_token,
                "expires_at": iso(expires_at),
                "challenge": challenge(s, &j),
            }),
        )
    }

    pub async fn verify_challenge(s: &AppState, r: &Received) -> Answer {
        let key = r.key()?;
        let hwid = r.hwid()?;
        s.limits.check_lcm_validation(&key)?;
        let challenge = r.text(&r.req.challenge, "challenge")?;
        let response = r.text(&r.req.response, "response")?.to_ascii_lowercase();
        let refused = || {
            Fail::new(
                StatusCode::FORBIDDEN,
                "SECURITY_VIOLATION",
                "Challenge response invalid or expired",
            )
        };
        let license = s
            .store
            .license_by_key(&key)
            .await?
            .ok_or_else(|| Fail::not_found("LICENSE_NOT_FOUND", "License not found"))?;
        // Ours and for this license and hwid (the tag, in constant time), not expired, not
        // answered before: a genuine challenge is used up by its first answer, right or wrong.
        let genuine = parse_challenge(&challenge).filter(|(nonce, until, tag)| {
            let expected = challenge_tag(s, nonce, *until, &license.id, &hwid);
            bool::from(expected.as_slice().ct_eq(tag.as_slice()))
        });
        if let Some((nonce, until, _)) = &genuine {
            let now = s.clock.now();
            if *until < now || !s.store.spend_challenge(nonce, *until, now).await? {
                return Err(refused());
            }
        }
        let genuine = genuine.is_some();
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(hwid.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(challenge.as_bytes());
        let expected = hex(&mac.finalize().into_bytes());
        let answered = bool::from(expected.as_bytes().ct_eq(response.as_bytes()));
        if !genuine || !answered {
            s.journal.security_event(
                "tamper_detected",
                Severity::High,
                Some(&license),
                r.ip.text(),
                Some(&hwid),
                true,
                json!({ "reason": if genuine { "challenge response" } else { "challenge not issued for this license and hwid" } }),
            ).await?;
            return Err(refused());
        }
        r.answer(s, json!({ "valid": true }))
    }
}

/// The RSA public key that signs client answers (SPKI PEM).
#[utoipa::path(get, path = "/api/client/public-key", tag = "licensecm-client",
    responses((status = 200, description = "`{success, data: {public_key: \"-----BEGIN PUBLIC KEY-----…\"}}`", body = serde_json::Value)))]
async fn public_key(State(s): State<AppState>) -> Answer {
    ok(json!({ "public_key": s.tokens.keys().rsa.public_key().to_spki_pem() }))
}
