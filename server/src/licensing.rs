//! Licensing operations that several API families and the background tasks share, and that
//! need the server's keys or clock as well as the store: revoking for good, finding and
//! culling dead floating seats. No handlers.

use crate::app::error::ErrorCode;
use licet_core::audit::AuditAction;
use licet_core::ids::LicenseId;
use serde_json::json;

use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::http::extract::ClientIp;
use licet_core::events::kind;
use licet_core::model::{Lease, License, LicenseStatus, Machine, Policy};
use licet_core::seats::{SeatClaim, SeatRule, Snapshot};
use licet_core::store::{Halted, Record, SeatChange, SeatsWith};

/// Puts `l` and its machines' tokens on a newly published list, unless a list holds it
/// already; returns the license as stored and the sequence of the list that holds it.
pub async fn revoke_now(
    s: &AppState,
    actor: &str,
    ip: ClientIp,
    l: &License,
) -> ApiResult<(License, u64)> {
    let published = s.store.revocation_state().await?;
    if l.status == LicenseStatus::Revoked && published.license_ids.contains(l.id.as_str()) {
        return Ok((l.clone(), published.sequence));
    }
    let tokens: Vec<String> = s
        .store
        .machines(&l.id)
        .await?
        .into_iter()
        .map(|m| m.token_id)
        .collect();
    let mut revoked = l.clone();
    revoked.status = LicenseStatus::Revoked;
    let audience = s
        .journal
        .audience(kind::LicenseRevoked, Some(&l.product_id))
        .await?;
    let now = s.clock.now();
    let (l, state) = s
        .revocations
        .revoke_license(l, &tokens, &|state| {
            let entry = s.journal.audit_entry(
                actor,
                AuditAction::LicenseRevoked,
                &l.id,
                ip.text(),
                json!({ "product_id": l.product_id, "revocation_sequence": state.sequence }),
                Some(l.product_id.clone()),
            );
            audience.record(revoked.clone(), now, vec![entry])
        })
        .await?;
    Ok((l, state.sequence))
}

/// The machines that no longer hold their seat at `now` (floating ones whose heartbeat is
/// overdue, leases that ended), with their license and policy.
///
/// Only licenses that have had floating machines are read (the culler and `/metrics`
/// read every machine every time). With `forget`, licenses that no longer have floating
/// machines (gone, emptied, or a policy that no longer floats) leave the culler's index.
pub async fn dead_floating_machines(
    s: &AppState,
    now: i64,
    forget: bool,
) -> ApiResult<Vec<(License, Policy, Vec<Machine>)>> {
    let mut out = Vec::new();
    for license_id in s.store.floating_licenses().await? {
        let Some(l) = s.store.license(&LicenseId::from(&license_id)).await? else {
            if forget {
                s.store.unmark_floating(&license_id).await?;
            }
            continue;
        };
        let Some(policy) = s.store.policy(&l.policy_id).await? else {
            continue;
        };
        let machines = s.store.machines(&l.id).await?;
        if !SeatRule::of(&l, &policy).may_expire(&machines) {
            if forget {
                s.store.unmark_floating(&license_id).await?;
            }
            continue;
        }
        let dead: Vec<Machine> = machines
            .into_iter()
            .filter(|m| !SeatRule::of(&l, &policy).alive(m, now))
            .collect();
        if !dead.is_empty() {
            out.push((l, policy, dead));
        }
    }
    Ok(out)
}

/// Why a dead machine lost its seat (the audit's `reason`).
pub fn dead_reason(m: &Machine) -> &'static str {
    if m.lease_until.is_some() {
        "lease_ended"
    } else {
        "heartbeat_dead"
    }
}

/// Removes machines that no longer hold their seat, revoking what they still hold; returns
/// how many.
pub async fn cull_dead_machines(s: &AppState) -> ApiResult<usize> {
    let now = s.clock.now();
    let mut culled = 0;
    for (l, policy, dead) in dead_floating_machines(s, now, true).await? {
        let rule = SeatRule::of(&l, &policy);
        for m in dead {
            // Judged again in the seat operation: a heartbeat may have arrived meanwhile.
            let freed = free_seat(
                s,
                &l,
                &claim_of(&l, &m),
                &Freeing::culled("server", None),
                &|f, now| Ok(f.id == m.id && !rule.alive(f, now)),
            )
            .await?;
            if freed.is_some() {
                culled += 1;
            }
        }
    }
    Ok(culled)
}

/// The seat claim of a stored machine: its license and exact fingerprint.
pub fn claim_of(l: &License, m: &Machine) -> SeatClaim {
    SeatClaim {
        license_id: l.id.clone(),
        fingerprint: m.fingerprint.clone(),
        parts: Vec::new(),
    }
}

/// Frees machine `m`'s seat on `l`, revoking what it holds, as [`free_seat`] does, with its
/// audit entry (`machine.deactivated`, with `why` in the detail when given) and its
/// `license.deactivated` event; whether it was still there to free.
pub async fn deactivate(
    s: &AppState,
    actor: &str,
    ip: &ClientIp,
    l: &License,
    m: &Machine,
    why: Option<&str>,
) -> ApiResult<bool> {
    let how = Freeing {
        why,
        ..Freeing::deactivated(actor, ip.text())
    };
    let freed = free_seat(s, l, &claim_of(l, m), &how, &|f, _| Ok(f.id == m.id)).await?;
    Ok(freed.is_some())
}

/// How a seat is freed, for its audit entry and event.
#[derive(Debug, Clone)]
pub struct Freeing<'a> {
    /// Who acts (`license:…`, an API key's id, `server`).
    pub actor: &'a str,
    /// The client's address, when it asked itself.
    pub ip: Option<String>,
    /// A culled seat (`machine.culled`, no event) rather than a deactivated one
    /// (`machine.deactivated` and `license.deactivated`).
    pub culled: bool,
    /// Why, in the audit entry's detail (`reset`, `heartbeat_dead`, …).
    pub why: Option<&'a str>,
}

impl<'a> Freeing<'a> {
    /// A seat given back.
    pub fn deactivated(actor: &'a str, ip: Option<String>) -> Freeing<'a> {
        Freeing {
            actor,
            ip,
            culled: false,
            why: None,
        }
    }

    /// A seat that no longer holds (an overdue heartbeat, a lease ended).
    pub fn culled(actor: &'a str, ip: Option<String>) -> Freeing<'a> {
        Freeing {
            actor,
            ip,
            culled: true,
            why: None,
        }
    }
}

/// How often [`free_seat`] reads a machine again when it changed between the revocation and
/// the seat operation (a renewal gave it a token under a new id).
const FREE_TRIES: usize = 3;

/// Why [`free_seat`]'s seat operation freed nothing, decided on the machine as stored then.
enum Unfreed {
    /// The machine is gone, or `admit` no longer lets it go.
    Left,
    /// It holds a token that was not revoked (given meanwhile).
    Moved,
    /// `admit` refused.
    Refused(ApiError),
}

impl From<ApiError> for Unfreed {
    fn from(e: ApiError) -> Self {
        Unfreed::Refused(e)
    }
}

/// Frees the seat of the machine `claim` names on `l`, if `admit` lets it go (`Ok(false)`
/// leaves it; an error refuses), revoking first every token the machine still holds
/// ([`Machine::live_tokens`]: its current token and the replaced ones that have not expired).
/// The revocation is published before the seat is freed, so that a crash in between leaves
/// a revoked machine in its seat (the same request again finishes the job), never a free
/// seat with a live token. The seat operation frees it only if everything the machine holds
/// then was revoked; a machine given a new token meanwhile is read and revoked again. This
/// is the one way a seat is given back, by every family, the culler and an operator: the
/// machine freed, or `None` if there was none to free.
pub async fn free_seat(
    s: &AppState,
    l: &License,
    claim: &SeatClaim,
    how: &Freeing<'_>,
    admit: &(dyn Fn(&Machine, i64) -> ApiResult<bool> + Send + Sync),
) -> ApiResult<Option<Machine>> {
    let audience = match how.culled {
        true => None,
        false => Some(
            s.journal
                .audience(kind::LicenseDeactivated, Some(&l.product_id))
                .await?,
        ),
    };
    for _ in 0..FREE_TRIES {
        let now = s.clock.now();
        let seen = Snapshot::read(&*s.store, std::slice::from_ref(claim), None).await?;
        let Some(found) = licet_core::seats::recognise(claim, &seen)? else {
            return Ok(None);
        };
        if !admit(&found.machine, now)? {
            return Ok(None);
        }
        let revoked = found.machine.live_tokens(now);
        s.revocations
            .revoke_held(l, &found.machine, &revoked, how.actor, how.ip.clone())
            .await?;
        let removed = s
            .store
            .change_seat_with(claim, &|now_found| {
                let Some(f) = now_found.filter(|f| f.machine.id == found.machine.id) else {
                    return Err(Unfreed::Left);
                };
                let now = s.clock.now();
                if !admit(&f.machine, now)? {
                    return Err(Unfreed::Left);
                }
                if !f
                    .machine
                    .live_tokens(now)
                    .iter()
                    .all(|t| revoked.contains(t))
                {
                    return Err(Unfreed::Moved);
                }
                let mut detail = json!({
                    "license_id": l.id,
                    "lease": f.machine.lease.map(Lease::as_str),
                });
                if how.culled {
                    detail["reason"] = json!(dead_reason(&f.machine));
                }
                if let Some(why) = how.why {
                    detail["reason"] = json!(why);
                }
                let action = match how.culled {
                    true => AuditAction::MachineCulled,
                    false => AuditAction::MachineDeactivated,
                };
                let entry = s.journal.audit_entry(
                    how.actor,
                    action,
                    &f.machine.id,
                    how.ip.clone(),
                    detail,
                    Some(l.product_id.clone()),
                );
                let told = match &audience {
                    None => Record::from(entry),
                    Some(a) => a.record((l.clone(), f.machine.clone()), now, vec![entry]),
                };
                Ok((SeatChange::Remove, told, ()))
            })
            .await;
        return match removed {
            Ok((removed, ())) => Ok(removed.map(|f| f.machine)),
            // Gone meanwhile, or no longer to be freed: nothing was.
            Err(Halted::Declined(Unfreed::Left)) => Ok(None),
            // Given a new token meanwhile: read and revoked again.
            Err(Halted::Declined(Unfreed::Moved)) => continue,
            Err(Halted::Declined(Unfreed::Refused(e))) => Err(e),
            Err(Halted::Failed(e)) => Err(e.into()),
        };
    }
    Err(crate::app::error::ApiError::conflict(
        ErrorCode::MachineBusy,
        "the machine kept changing while its seat was being freed; try again",
    ))
}
