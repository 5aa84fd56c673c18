//! The client API's operations, where the license key is the credential: activate, borrow,
//! heartbeat, deactivate and validate. Each checks the request, admits the client by the rules
//! every family shares, acts through the seat service and answers a `licet-api` type carrying
//! the server's time and the client's nonce; the adapter signs it.
//!
//! A request that names a device key proves it with a signature over the body as received
//! ([`DeviceProof`]); a machine bound to a device key is changed only by a request so signed.

use licet_api::answers::MachineBody;
use licet_api::client::{
    DeactivateAnswer, HeartbeatTerms, MachineRequest, TokenAnswer, ValidateRequest,
    ValidatedLicense, ValidationAnswer,
};
use licet_core::model::{Lease, License, Machine, Policy, Product};
use licet_core::seats::{Recognised, SeatClaim, SeatRule, learned_parts};
use licet_core::store::{Halted, Record, SeatChange, SeatsWith};
use licet_verifier::text::encode_text;

pub use crate::activation::DeviceProof;
use crate::activation::{self, Activation, check_device, proven_device_key, usable_license};
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;
use crate::app::tokens::{IssuedToken, TokenTerms};
use crate::net::ClientIp;
use crate::rules::{self, Ask, Probe, Verdict};

/// Longest fingerprint accepted, in bytes.
const MAX_FINGERPRINT: usize = 256;
/// Longest nonce echoed, in bytes.
pub const MAX_NONCE: usize = 128;

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

/// A machine request's fields within their bounds; `until` only where the operation takes it.
fn check_request(s: &AppState, b: &MachineRequest, takes_until: bool) -> ApiResult<()> {
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
    if !takes_until && b.until.is_some() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "until: only /v1/client/borrow takes it",
        ));
    }
    Ok(())
}

/// A machine request's parts, decoded, and the device key it proves (`None` if it names none).
struct Checked {
    parts: Vec<[u8; 8]>,
    device_key: Option<[u8; 32]>,
}

/// Checks a machine request before anything is read: its fields within their bounds, its parts
/// and its device key's signature.
fn checked(
    s: &AppState,
    b: &MachineRequest,
    proof: &DeviceProof<'_>,
    takes_until: bool,
) -> ApiResult<Checked> {
    check_request(s, b, takes_until)?;
    Ok(Checked {
        parts: request_parts(b)?,
        device_key: proven_device_key(s, b, proof)?,
    })
}

/// The answer carrying a token issued for `m`.
fn token_answer(
    s: &AppState,
    issued: &IssuedToken,
    m: &Machine,
    policy: &Policy,
    nonce: Option<String>,
) -> TokenAnswer {
    TokenAnswer {
        token: encode_text(&issued.token),
        token_id: issued.token_id.clone(),
        expires_at: issued.expires_at,
        machine: MachineBody::from(m),
        heartbeat: policy.floating.then_some(HeartbeatTerms {
            interval: policy.heartbeat_interval,
            ttl: policy.heartbeat_ttl,
        }),
        server_time: s.clock.now(),
        nonce,
    }
}

/// Takes a seat online: the machine's token, bound to its fingerprint and parts (and to its
/// device key when it proved one).
pub async fn activate(
    s: &AppState,
    ip: ClientIp,
    b: &MachineRequest,
    proof: &DeviceProof<'_>,
) -> ApiResult<TokenAnswer> {
    let c = checked(s, b, proof, false)?;
    let ip_text = ip.text();
    let admitted = usable_license(s, &probe(b, &ip_text)).await?;
    take_seat(s, ip_text, b, &c, None, &admitted).await
}

/// Borrows a floating seat until `until`: a token that needs no heartbeat, ending then, within
/// the policy's `max_borrow`.
pub async fn borrow(
    s: &AppState,
    ip: ClientIp,
    b: &MachineRequest,
    proof: &DeviceProof<'_>,
) -> ApiResult<TokenAnswer> {
    let c = checked(s, b, proof, true)?;
    let Some(until) = b.until else {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "until: when the borrowed seat comes back (unix seconds) is required",
        ));
    };
    let ip_text = ip.text();
    let admitted = usable_license(s, &probe(b, &ip_text)).await?;
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
    take_seat(s, ip_text, b, &c, lease, &admitted).await
}

/// Takes the seat a client asked for (online, or borrowed until a date) through the shared
/// activation.
async fn take_seat(
    s: &AppState,
    ip: Option<String>,
    b: &MachineRequest,
    c: &Checked,
    lease: Option<(Lease, i64)>,
    (license, product, policy): &(License, Product, Policy),
) -> ApiResult<TokenAnswer> {
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
            parts: &c.parts,
            hostname: b.hostname.clone(),
            platform: b.platform.clone(),
            ip,
            device_key: c.device_key,
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
        &issued,
        &done.machine,
        policy,
        b.nonce.clone(),
    ))
}

/// Keeps a floating seat alive (or a node-locked one seen): the same grant re-signed. A seat
/// whose heartbeat is overdue is freed, its tokens revoked, and the client told to activate
/// again (`heartbeat_dead`).
pub async fn heartbeat(
    s: &AppState,
    ip: ClientIp,
    b: &MachineRequest,
    proof: &DeviceProof<'_>,
) -> ApiResult<TokenAnswer> {
    let Checked {
        parts,
        device_key: proven,
    } = checked(s, b, proof, false)?;
    let ip_text = ip.text();
    let (license, product, policy) = usable_license(s, &probe(b, &ip_text)).await?;
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
            let terms = TokenTerms {
                device_key: machine
                    .device_key
                    .as_deref()
                    .and_then(|k| activation::device_key_of(k).ok()),
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
        Err(Halted::Declined(Beat::Unknown)) => return Err(not_activated()),
        Err(Halted::Declined(Beat::Dead(d))) => {
            let actor = format!("license:{}", license.id);
            let how = crate::licensing::Freeing::culled(&actor, ip_text);
            crate::licensing::free_seat(
                s,
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
    Ok(token_answer(s, &issued, &m, &policy, b.nonce.clone()))
}

fn not_activated() -> ApiError {
    ApiError::new(ErrorCode::MachineNotFound, "this machine is not activated")
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

/// Gives the machine's seat back, revoking every token it still holds. A license that may no
/// longer be used still takes its seats back.
pub async fn deactivate(
    s: &AppState,
    ip: ClientIp,
    b: &MachineRequest,
    proof: &DeviceProof<'_>,
) -> ApiResult<DeactivateAnswer> {
    let Checked {
        parts,
        device_key: proven,
    } = checked(s, b, proof, false)?;
    let l = s
        .store
        .license_by_key(&b.key)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::LicenseNotFound, "no license with this key"))?;
    let m = activation::release(
        s,
        &l,
        &claim_of(&l, b, &parts),
        ip.text(),
        &format!("license:{}", l.id),
        &|m| check_device(m, proven.as_ref()),
    )
    .await?
    .ok_or_else(not_activated)?;
    Ok(DeactivateAnswer {
        deactivated: true,
        machine_id: m.id.into(),
        server_time: s.clock.now(),
        nonce: b.nonce.clone(),
    })
}

/// Who asks for a validation.
#[derive(Debug, Clone, Copy)]
pub enum Asker<'a> {
    /// The licensed client itself, from its address: every license its key names.
    Client(ClientIp),
    /// A vendor's backend with an API key: the licenses of the products the key sees. Its
    /// address says nothing about the licensee.
    Vendor(&'a Caller),
}

/// Validation, in the core's order (`licet_core::rules::Verdict`; the first failing check
/// gives the code): `blacklisted`, `not_found`, `product_scope_mismatch`, `product_inactive`,
/// `revoked`, `suspended`, `expired`, `license_inactive`, `no_machine`, `heartbeat_dead`,
/// `entitlements_missing`; otherwise `valid`. A refusal is an answer, not an error.
pub async fn validate(
    s: &AppState,
    asker: Asker<'_>,
    r: &ValidateRequest,
) -> ApiResult<ValidationAnswer> {
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
    let ip = match asker {
        Asker::Client(ip) => ip.text(),
        Asker::Vendor(_) => None,
    };
    let ask = Ask {
        probe: Probe {
            key: &r.key,
            ip: ip.as_deref(),
            hwid: r.fingerprint.as_deref(),
            ..Probe::default()
        },
        product: r.product.as_deref(),
        fingerprint: r.fingerprint.as_deref(),
        entitlements: &r.entitlements,
    };
    let visible = |l: &License| match asker {
        Asker::Client(_) => true,
        Asker::Vendor(c) => c.sees(&l.product_id),
    };
    let now = s.clock.now();
    let v = licet_core::rules::validate(&*s.store, now, &ask, &visible).await?;
    crate::stats::validated(
        s,
        v.license.as_ref().map_or("", |l| l.product_id.as_str()),
        (v.verdict != Verdict::Valid).then(|| v.verdict.code()),
    );
    Ok(ValidationAnswer {
        valid: v.verdict == Verdict::Valid,
        code: v.verdict.code().to_owned(),
        detail: rules::detail(&v.verdict),
        license: v.license.map(|l| ValidatedLicense::of(&l, now)),
        server_time: now,
        nonce: r.nonce.clone(),
    })
}
