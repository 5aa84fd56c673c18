//! Taking a seat for a machine, written once for every way a machine asks for one: an online
//! activation, an offline request carried in, a borrowed floating seat. Each goes through the
//! same seat operation (`Seats::take_seats`, the license's seat lock or transaction), the same
//! audit entry and event, and the same device-key rules; only the token's terms differ.
//!
//! Device keys: a machine recorded with one (`Machine::device_key`) is that key's. A request
//! for it without that key, or without a valid signature by it, is refused
//! (`device_key_mismatch`, `device_signature_required`, `bad_device_signature`), so that a
//! license key and a fingerprint alone can neither take over nor release its seat.

use crate::app::error::ErrorCode;
use crate::app::seats::Made;
use licet_api::client::MachineRequest;
use licet_core::audit::AuditAction;
use licet_core::seats::{Recognised, SeatClaim, SeatRule, Snapshot, learned_parts, part_hex};
use licet_core::store::{Halted, Seat};
use serde_json::json;

use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::app::tokens::{IssuedToken, TokenTerms};
use crate::ids::{hex, unhex};
use crate::rules::{self, Admit, Asked, Family, Probe};
use licet_core::model::{Lease, License, Machine, Policy, Product};

/// Seconds a device-signed request's `time` may differ from the server's.
pub const MAX_REQUEST_SKEW: i64 = 300;

/// A device public key from its hex form.
pub fn device_key_of(text: &str) -> ApiResult<[u8; 32]> {
    let bad = || {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            "device_key: 64 hex digits of a valid Ed25519 public key",
        )
    };
    let raw: [u8; 32] = unhex(text)
        .and_then(|r| r.try_into().ok())
        .ok_or_else(bad)?;
    licet_verifier::PublicKey::ed25519(&raw).map_err(|_| bad())?;
    Ok(raw)
}

/// A client request's claim to its device key: the body as received, the path it was sent to
/// and the signature it carried (`Licet-Device-Signature`), if any.
#[derive(Debug, Clone, Copy)]
pub struct DeviceProof<'a> {
    /// The request's path: the signature covers it, so a body signed for one route is refused
    /// on another.
    pub path: &'a str,
    /// The body, byte for byte as received.
    pub raw: &'a [u8],
    /// The decoded signature (`None` also when it was not base64url).
    pub signature: Option<&'a [u8]>,
    /// Whether a signature was sent at all.
    pub signature_sent: bool,
}

/// The device key a signed client request proves: `None` if it names none. A request naming
/// one must carry a valid signature by it over the body as received, and a `time` within
/// five minutes of the server's (a recorded request cannot be replayed later).
pub fn proven_device_key(
    s: &AppState,
    body: &MachineRequest,
    proof: &DeviceProof<'_>,
) -> ApiResult<Option<[u8; 32]>> {
    let Some(text) = &body.device_key else {
        if proof.signature_sent {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                "Licet-Device-Signature without device_key",
            ));
        }
        return Ok(None);
    };
    let key = device_key_of(text)?;
    let Some(sig) = proof.signature else {
        return Err(ApiError::new(
            if proof.signature_sent {
                ErrorCode::BadDeviceSignature
            } else {
                ErrorCode::DeviceSignatureRequired
            },
            "a request naming a device key must be signed with it (Licet-Device-Signature)",
        ));
    };
    licet_verifier::device::verify_request(&key, proof.path, proof.raw, sig).map_err(|_| {
        ApiError::new(
            ErrorCode::BadDeviceSignature,
            "the device signature does not verify with device_key over this body",
        )
    })?;
    let skew = body
        .time
        .map(|t| (t - s.clock.now()).abs())
        .unwrap_or(i64::MAX);
    if skew > MAX_REQUEST_SKEW {
        return Err(ApiError::new(
            ErrorCode::StaleRequest,
            "a signed request must carry its time (within 5 minutes of the server's)",
        ));
    }
    Ok(Some(key))
}

/// Refuses a request for `m` unless it proved `m`'s device key (when `m` has one).
pub fn check_device(m: &Machine, proven: Option<&[u8; 32]>) -> ApiResult<()> {
    match (&m.device_key, proven) {
        (None, _) => Ok(()),
        (Some(k), Some(p)) if *k == hex(p) => Ok(()),
        (Some(_), Some(_)) => Err(device_key_mismatch()),
        (Some(_), None) => Err(ApiError::new(
            ErrorCode::DeviceSignatureRequired,
            "this machine is bound to a device key: sign the request with it",
        )),
    }
}

/// The refusal of a token that would make a machine hold more replaced, unexpired tokens than
/// [`licet_core::model::MAX_HELD_TOKENS`].
pub fn too_many_tokens() -> ApiError {
    ApiError::conflict(
        ErrorCode::TooManyTokens,
        "this machine holds too many unexpired tokens from earlier leases: give its seat back, or wait until they expire",
    )
}

/// The refusal of a request by another device than the machine's.
pub fn device_key_mismatch() -> ApiError {
    ApiError::forbidden_code(
        ErrorCode::DeviceKeyMismatch,
        "this machine is bound to another device key",
    )
}

/// The license of a key, with its product and policy, refused unless the shared rules admit
/// the client (`licet_core::rules::admit`, in its documented order).
///
/// A refusal is counted for the overview (`crate::stats`), with the license's product when the
/// refusal is about one.
pub async fn usable_license(s: &AppState, p: &Probe<'_>) -> ApiResult<(License, Product, Policy)> {
    let ask = Admit {
        probe: *p,
        asked: Asked::Own,
        family: Family::Native,
    };
    match rules::admit(s, &ask).await? {
        Ok(a) => Ok((a.license, a.product, a.policy)),
        Err(denied) => {
            let product_id = denied.product_id().to_owned();
            let e = ApiError::from(denied.denial);
            crate::stats::refused(s, &product_id, &e);
            Err(e)
        }
    }
}

/// A request for a seat, however it came.
#[derive(Debug)]
pub struct Activation<'a> {
    /// The license, its product and policy (admitted by the shared rules already).
    pub license: &'a License,
    /// Its product.
    pub product: &'a Product,
    /// Its policy.
    pub policy: &'a Policy,
    /// The machine's fingerprint.
    pub fingerprint: &'a str,
    /// Its parts (possibly none).
    pub parts: &'a [[u8; 8]],
    /// Reported host name and platform.
    pub hostname: Option<String>,
    /// See `hostname`.
    pub platform: Option<String>,
    /// The client's address, if it asked itself.
    pub ip: Option<String>,
    /// The device key it proved (a signature, or an offline request signed by it).
    pub device_key: Option<[u8; 32]>,
    /// A lease: the seat is held without heartbeats until then.
    pub lease: Option<(Lease, i64)>,
    /// The offline request answered: its response is kept, so the same request again gets
    /// the same answer and no second seat.
    pub request_id: Option<[u8; 16]>,
    /// Who acts, for the audit (`license:…`, or an API key's id).
    pub actor: String,
}

/// What an activation came to.
#[derive(Debug)]
pub struct Activated {
    /// The token (for a repeated offline request: the one answered the first time).
    pub issued: Option<IssuedToken>,
    /// The machine as stored.
    pub machine: Machine,
    /// The signed offline response, for an offline request.
    pub response: Option<Vec<u8>>,
    /// Whether this was a request already answered.
    pub repeated: bool,
}

fn stored_response(m: &Machine, request_id: &[u8; 16]) -> Option<Vec<u8>> {
    use base64::Engine;
    if m.request_id.as_deref() != Some(hex(request_id).as_str()) {
        return None;
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(m.response.as_deref()?)
        .ok()
}

/// An activation's audit detail: the license and the token, and what the machine holds
/// beyond an online seat (a lease, an offline request, a device key) only when it holds it.
/// One entry is written for every activation, so its size is part of the disk an
/// activation takes.
fn activation_detail(license_id: &str, token_id: &str, m: &Machine) -> serde_json::Value {
    let mut d = serde_json::Map::new();
    d.insert("license_id".into(), json!(license_id));
    d.insert("token_id".into(), json!(token_id));
    if let Some(lease) = m.lease {
        d.insert("lease".into(), json!(lease.as_str()));
    }
    if let Some(until) = m.lease_until {
        d.insert("lease_until".into(), json!(until));
    }
    if let Some(id) = &m.request_id {
        d.insert("request_id".into(), json!(id));
    }
    if m.device_key.is_some() {
        d.insert("device_key".into(), json!(true));
    }
    serde_json::Value::Object(d)
}

/// Takes (or keeps) the seat of `a`'s machine and issues its token, as one seat operation.
/// The outcome is counted for the overview: an activation, or a refusal by its code (an
/// offline request answered again is neither).
pub async fn activate(s: &AppState, a: &Activation<'_>) -> ApiResult<Activated> {
    let done = take_seat(s, a).await;
    match &done {
        Ok(d) if d.repeated => {}
        Ok(_) => crate::stats::count(
            s,
            &a.license.product_id,
            licet_core::tally::Count::Activation,
        ),
        Err(e) => crate::stats::refused(s, &a.license.product_id, e),
    }
    done
}

async fn take_seat(s: &AppState, a: &Activation<'_>) -> ApiResult<Activated> {
    use base64::Engine;
    if a.policy.require_device_key && a.device_key.is_none() {
        return Err(ApiError::forbidden_code(
            ErrorCode::DeviceKeyRequired,
            "the license's policy requires a device key: use a client that makes one",
        ));
    }
    let rule = SeatRule::of(a.license, a.policy);
    let terms = |token_id: Option<[u8; 16]>| TokenTerms {
        device_key: a.device_key,
        until: a.lease.map(|(_, until)| until),
        token_id,
    };
    let bind = |found: Option<&Recognised>| found.map_or(a.parts.to_vec(), |f| f.parts.clone());
    // A machine that holds an online seat and asks online again gets its grant re-signed
    // under the same token id (one revocation entry ends them all); anything else, a new id.
    let grant = |found: Option<&Recognised>, now: i64| {
        found
            .filter(|f| rule.alive(&f.machine, now))
            .and_then(|f| f.machine.reusable_token_id(a.lease.is_some(), now))
            .and_then(crate::ids::unhex16)
    };
    let claim = SeatClaim {
        license_id: a.license.id.clone(),
        fingerprint: a.fingerprint.to_owned(),
        parts: a.parts.to_vec(),
    };
    let seen = Snapshot::read(&*s.store, std::slice::from_ref(&claim), None).await?;
    let before = licet_core::seats::recognise(&claim, &seen)?;
    if let (Some(b), Some(id)) = (&before, &a.request_id)
        && let Some(response) = stored_response(&b.machine, id)
    {
        return Ok(Activated {
            issued: None,
            machine: b.machine.clone(),
            response: Some(response),
            repeated: true,
        });
    }
    if let Some(b) = &before {
        check_device(&b.machine, a.device_key.as_ref())?;
    }
    // The token depends on the request, the license and the parts of the machine it is taken
    // for, not on the seats: it is signed before the seat is taken, so that the store's seat
    // operation covers only its reads and writes (one busy license's activations
    // queue on it). Should the store find another machine, it is signed again there.
    let sign = |found: Option<&Recognised>, now: i64| {
        s.tokens.issue_token_with(
            a.product,
            a.policy,
            a.license,
            a.fingerprint,
            &bind(found),
            &terms(grant(found, now)),
        )
    };
    let seen_at = s.clock.now();
    let presigned = sign(before.as_ref(), seen_at)?;
    let taken = s
        .seats
        .activate(a.license, &claim, &rule, &|seat, now| {
            let found = seat.found();
            if let Some(f) = found {
                // Decided again here, atomically: the same request twice takes one seat.
                if let Some(id) = &a.request_id
                    && stored_response(&f.machine, id).is_some()
                {
                    return Err(Declined::Repeated(Box::new(f.machine.clone())));
                }
                check_device(&f.machine, a.device_key.as_ref())?;
            }
            let token = if bind(found) == bind(before.as_ref())
                && grant(found, now) == grant(before.as_ref(), seen_at)
            {
                presigned.clone()
            } else {
                sign(found, now)?
            };
            if let Some(f) = found
                && f.machine.holds_too_many(&token.token_id, now)
            {
                return Err(too_many_tokens().into());
            }
            let mut m = match seat {
                Seat::Known(f) => {
                    let mut m = f.machine.clone();
                    m.parts = learned_parts(&m, a.parts);
                    m
                }
                Seat::New { number: numeric_id } => Machine {
                    parts: a.parts.iter().map(part_hex).collect(),
                    ..Machine::new(
                        crate::ids::new_id(),
                        &a.license.id,
                        a.fingerprint,
                        numeric_id,
                        now,
                    )
                },
            };
            m.hostname = a.hostname.clone().or(m.hostname);
            m.platform = a.platform.clone().or(m.platform);
            m.ip = a.ip.clone().or(m.ip);
            m.last_seen = now;
            m.last_heartbeat = now;
            m.give_token(token.token_id.clone(), token.expires_at, now);
            m.device_key = a.device_key.as_ref().map(|k| hex(k)).or(m.device_key);
            m.lease = a.lease.map(|(l, _)| l);
            m.lease_until = a.lease.map(|(_, until)| until);
            let response = match &a.request_id {
                Some(id) => Some(
                    licet_issuer::sign_activation_response(
                        &s.tokens.keys().token,
                        id,
                        &token.token,
                    )
                    .map_err(ApiError::internal)?,
                ),
                None => None,
            };
            m.request_id = a.request_id.as_ref().map(|id| hex(id));
            m.response = response
                .as_ref()
                .map(|r| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r));
            let entry = s.journal.audit_entry(
                &a.actor,
                AuditAction::MachineActivated,
                &m.id,
                a.ip.clone(),
                activation_detail(&a.license.id, &token.token_id, &m),
                Some(a.license.product_id.clone()),
            );
            Ok(Made::new(m, vec![entry], (token, response)))
        })
        .await;
    let (seated, (issued, response)) = match taken {
        Ok(taken) => taken,
        Err(Halted::Declined(Declined::Repeated(m))) => {
            let response = a.request_id.as_ref().and_then(|id| stored_response(&m, id));
            return Ok(Activated {
                issued: None,
                response,
                machine: *m,
                repeated: true,
            });
        }
        Err(Halted::Declined(Declined::Refused(e))) => return Err(e),
        Err(Halted::Failed(e)) => return Err(e.into()),
    };
    for dead in &seated.reaped {
        tracing::debug!(machine = %dead.id, "a dead seat was given back");
    }
    s.metrics.activation();
    Ok(Activated {
        issued: Some(issued),
        machine: seated.machine,
        response,
        repeated: false,
    })
}

/// Why an activation's seat operation declined, decided on the machine as stored then.
enum Declined {
    /// The same offline request was answered already: its machine, whose stored answer is
    /// sent again.
    Repeated(Box<Machine>),
    /// Refused (a device key that does not match, too many live tokens) or failed to sign.
    Refused(ApiError),
}

impl From<ApiError> for Declined {
    fn from(e: ApiError) -> Self {
        Declined::Refused(e)
    }
}

/// Gives back the seat of the machine `claim` names, if `check` admits it (its device key;
/// a receipt's signature), revoking every token it still holds first
/// ([`crate::licensing::free_seat`]). The machine given back, or `None` if there was none.
pub async fn release(
    s: &AppState,
    license: &License,
    claim: &SeatClaim,
    ip: Option<String>,
    actor: &str,
    check: &(dyn Fn(&Machine) -> ApiResult<()> + Send + Sync),
) -> ApiResult<Option<Machine>> {
    let how = crate::licensing::Freeing::deactivated(actor, ip);
    crate::licensing::free_seat(s, license, claim, &how, &|m, _| check(m).map(|()| true)).await
}
