//! Licensing operations that several API families and the background tasks share, and that
//! need the server's keys or clock as well as the store: revoking for good, finding and
//! culling dead floating seats. No handlers.

use serde_json::json;

use crate::http::error::ApiResult;
use crate::http::extract::ClientIp;
use crate::http::state::AppState;
use crate::model::{License, LicenseStatus, Machine, Policy};
use licet_core::events::DomainEvent;
use licet_core::seats::{SeatClaim, SeatRule};
use licet_core::store::{Record, SeatChange};

/// Puts `l` and its machines' tokens on a newly published list, unless a list holds it
/// already; returns the license as stored and the sequence of the list that holds it.
pub async fn revoke_now(
    s: &AppState,
    actor: &str,
    ip: ClientIp,
    l: &License,
) -> ApiResult<(License, u64)> {
    let published = s.store.revocation_state().await?;
    if l.status == LicenseStatus::Revoked && published.license_ids.contains(&l.id) {
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
    let audience = s.audience("license.revoked", Some(&l.product_id)).await?;
    let now = s.clock.now();
    let (l, state) = s
        .revoke_license(l, &tokens, &|state| {
            let entry = s.audit_entry(
                actor,
                "license.revoked",
                &l.id,
                ip.text(),
                json!({ "product_id": l.product_id, "revocation_sequence": state.sequence }),
                Some(l.product_id.clone()),
            );
            audience.record(
                &DomainEvent::LicenseRevoked(revoked.clone()),
                now,
                vec![entry],
            )
        })
        .await?;
    Ok((l, state.sequence))
}

/// The machines that no longer hold their seat at `now` (floating ones whose heartbeat is
/// overdue, leases that ended), with their license and policy.
///
/// Only licenses that have had floating machines are read (issue #7: the culler and `/metrics`
/// read every machine every time). With `forget`, licenses that no longer have floating
/// machines (gone, emptied, or a policy that no longer floats) leave the culler's index.
pub async fn dead_floating_machines(
    s: &AppState,
    now: i64,
    forget: bool,
) -> ApiResult<Vec<(License, Policy, Vec<Machine>)>> {
    let mut out = Vec::new();
    for license_id in s.store.floating_licenses().await? {
        let Some(l) = s.store.license(&license_id).await? else {
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

/// Removes machines that no longer hold their seat; returns how many.
pub async fn cull_dead_machines(s: &AppState) -> ApiResult<usize> {
    let now = s.clock.now();
    let mut culled = 0;
    for (l, policy, dead) in dead_floating_machines(s, now, true).await? {
        let rule = SeatRule::of(&l, &policy);
        for m in dead {
            let claim = SeatClaim {
                license_id: l.id.clone(),
                fingerprint: m.fingerprint.clone(),
                parts: Vec::new(),
            };
            // Judged again in the seat operation: a heartbeat may have arrived meanwhile.
            let before = s
                .store
                .change_seat(&claim, &|found| match found {
                    Some(f) if !rule.alive(&f.machine, now) => {
                        let entry = s.audit_entry(
                            "server",
                            "machine.culled",
                            &f.machine.id,
                            None,
                            json!({ "reason": dead_reason(&f.machine), "license_id": l.id }),
                            Some(l.product_id.clone()),
                        );
                        Ok((SeatChange::Remove, Record::from(entry)))
                    }
                    _ => Ok((SeatChange::Keep, Record::none())),
                })
                .await?;
            if before.is_some_and(|f| !rule.alive(&f.machine, now)) {
                culled += 1;
            }
        }
    }
    Ok(culled)
}

/// Frees machine `m`'s seat on `l`, as one seat operation with its audit entry
/// (`machine.deactivated`, with `why` in the detail when given) and its `license.deactivated`
/// event; whether it was still there to free.
pub async fn deactivate(
    s: &AppState,
    actor: &str,
    ip: &ClientIp,
    l: &License,
    m: &Machine,
    why: Option<&str>,
) -> ApiResult<bool> {
    let claim = SeatClaim {
        license_id: l.id.clone(),
        fingerprint: m.fingerprint.clone(),
        parts: Vec::new(),
    };
    let audience = s
        .audience("license.deactivated", Some(&l.product_id))
        .await?;
    let now = s.clock.now();
    let mut detail = json!({ "license_id": l.id });
    if let Some(why) = why {
        detail["reason"] = json!(why);
    }
    let removed = s
        .store
        .change_seat(&claim, &|found| match found {
            Some(f) if f.machine.id == m.id => {
                let entry = s.audit_entry(
                    actor,
                    "machine.deactivated",
                    &m.id,
                    ip.text(),
                    detail.clone(),
                    Some(l.product_id.clone()),
                );
                let event = DomainEvent::LicenseDeactivated {
                    license: l.clone(),
                    machine: f.machine.clone(),
                };
                Ok((
                    SeatChange::Remove,
                    audience.record(&event, now, vec![entry]),
                ))
            }
            _ => Ok((SeatChange::Keep, Record::none())),
        })
        .await?
        .is_some_and(|f| f.machine.id == m.id);
    Ok(removed)
}
