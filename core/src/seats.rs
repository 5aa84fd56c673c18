//! The seat rule, written once: how many machines a license may have, which of them still hold
//! a seat, and which stored machine a request is (the hardware-parts rule).
//!
//! Every family takes seats through [`Seats::take_seat`](crate::store::Seats::take_seat), which
//! applies [`plan`] to the license's machines inside the store's own atomic operation, so that
//! concurrent activations never exceed the seats whichever family or process they come through.

use crate::error::{StoreError, StoreResult};
use crate::model::{License, Machine, MachineId, Policy, parts_threshold};

/// Machines read per hardware part when a claim is matched by its parts: a bound on what one
/// request can make the store read, whatever the license holds.
pub const PART_CANDIDATES: usize = 64;

/// Dead seats one seat operation reaps at most; the culler frees the rest. A bound on what one
/// activation can make the store read and write, whatever the license holds.
pub const REAP_MAX: usize = 256;

/// A license's seats under its policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatRule {
    /// Machines the license may have: its own `seats`, else its policy's `max_machines`.
    pub max: u64,
    /// Floating: a machine holds its seat only while its heartbeat is at most `heartbeat_ttl`
    /// overdue, and dead machines give their seats back to whoever needs one.
    pub floating: bool,
    /// Seconds a floating machine's heartbeat may be overdue.
    pub heartbeat_ttl: u64,
    /// Bound to its first machine (`hwid_locked`): no second machine, whatever the seats.
    pub bound_to_first: bool,
}

impl SeatRule {
    /// The rule of `license` under `policy`.
    pub fn of(license: &License, policy: &Policy) -> SeatRule {
        SeatRule {
            max: u64::from(license.seats.unwrap_or(policy.max_machines)),
            floating: policy.floating,
            heartbeat_ttl: policy.heartbeat_ttl,
            bound_to_first: license.hwid_locked == Some(true),
        }
    }

    /// Whether `m` still holds its seat at `now`: a leased machine (offline or borrowed)
    /// until its lease ends, whatever its heartbeats; other node-locked machines always;
    /// other floating ones until their heartbeat is overdue by more than the TTL.
    pub fn alive(&self, m: &Machine, now: i64) -> bool {
        if let Some(until) = m.lease_until {
            return now < until;
        }
        !self.floating
            || now.saturating_sub(m.last_heartbeat)
                <= i64::try_from(self.heartbeat_ttl).unwrap_or(i64::MAX)
    }

    /// Whether a license under this rule can have machines that stop holding their seat on
    /// their own (floating ones, or any with a lease), for the culler.
    pub fn may_expire(&self, machines: &[Machine]) -> bool {
        self.floating || machines.iter().any(|m| m.lease_until.is_some())
    }
}

/// A request for a seat: the license, and the machine as the request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatClaim {
    /// The license.
    pub license_id: crate::model::LicenseId,
    /// The machine's fingerprint (or, for a domain, `domain:` and the domain).
    pub fingerprint: String,
    /// The fingerprint's hardware parts, if the client sent them (at most 16).
    pub parts: Vec<[u8; 8]>,
}

/// Why a machine may not have a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeatRefusal {
    /// Every seat is held by a live machine.
    TooManyMachines {
        /// The license's seats.
        max: u64,
    },
    /// The license is bound to another machine (`hwid_locked`).
    BoundToAnother,
    /// The parts sent are not those of the machine recorded with this fingerprint.
    PartsMismatch,
}

impl SeatRefusal {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            SeatRefusal::TooManyMachines { .. } => "too_many_machines",
            SeatRefusal::BoundToAnother | SeatRefusal::PartsMismatch => "hwid_mismatch",
        }
    }
}

/// Why [`take_seat`](crate::store::Seats::take_seat) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SeatError {
    /// The seat rule refused; nothing was written.
    Refused(SeatRefusal),
    /// The store failed; nothing was written.
    Store(StoreError),
}

impl From<StoreError> for SeatError {
    fn from(e: StoreError) -> Self {
        SeatError::Store(e)
    }
}

/// A seat taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Seated {
    /// The machine as stored.
    pub machine: Machine,
    /// Whether the machine is new to the license.
    pub fresh: bool,
    /// Dead floating machines removed to make room.
    pub reaped: Vec<Machine>,
}

/// The license every claim of one seat operation is of (`None`: no claims). Claims of several
/// licenses are a caller's bug: every backend refuses them before it reads anything.
pub fn license_of(claims: &[SeatClaim]) -> Result<Option<&str>, StoreError> {
    let Some(first) = claims.first().map(|c| c.license_id.as_str()) else {
        return Ok(None);
    };
    if claims.iter().any(|c| c.license_id != first) {
        return Err(StoreError::backend(
            "take_seats: claims of several licenses",
        ));
    }
    Ok(Some(first))
}

/// The stored machine a claim is, and the claim's parts that a token may bind: only those the
/// machine was recorded with, so a token never binds another machine's parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognised {
    /// The stored machine.
    pub machine: Machine,
    /// The claim's parts that are among its recorded ones, in the claim's order.
    pub parts: Vec<[u8; 8]>,
}

/// Lower-case hex of a part, as parts are recorded.
pub fn part_hex(p: &[u8; 8]) -> String {
    p.iter().map(|b| format!("{b:02x}")).collect()
}

/// The claim's parts that are among the recorded ones, in the claim's order, each once.
pub fn shared_parts(recorded: &[String], claim: &[[u8; 8]]) -> Vec<[u8; 8]> {
    distinct(claim)
        .into_iter()
        .filter(|p| recorded.contains(&part_hex(p)))
        .collect()
}

/// `parts` in their order, each once: a part sent twice counts once, so a claim cannot reach
/// the threshold by repeating the one part it knows.
fn distinct<T: PartialEq + Clone>(parts: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(parts.len());
    for p in parts {
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// Whether recorded and claimed parts are of one machine: their overlap (of distinct parts)
/// reaches the k-of-n threshold of both. One way only, a request carrying 4 of machine A's 6
/// parts plus machine B's own 6 would be taken for A and get a token that verifies on B.
pub fn same_machine(recorded: &[String], claim: &[[u8; 8]]) -> bool {
    let recorded = distinct(recorded);
    let claim = distinct(claim);
    let shared = shared_parts(&recorded, &claim).len();
    !recorded.is_empty()
        && !claim.is_empty()
        && shared >= parts_threshold(recorded.len())
        && shared >= parts_threshold(claim.len())
}

/// The recorded parts a store indexes a machine by, so that a claim is matched by its parts
/// without reading every machine of the license: the first `d - t + 1` of the `d` distinct
/// recorded parts, where `t` is their threshold. A claim that is the same machine shares at
/// least `t` of the distinct parts, so it shares at least one of any `d - t + 1` of them.
pub fn indexed_parts(recorded: &[String]) -> Vec<&str> {
    let d = distinct(recorded);
    let keep = d.len() - parts_threshold(d.len()) + usize::from(!d.is_empty());
    let mut out: Vec<&str> = Vec::with_capacity(keep);
    for p in recorded {
        if out.len() == keep {
            break;
        }
        if !out.contains(&p.as_str()) {
            out.push(p);
        }
    }
    out
}

/// The parts a machine keeps after a claim matched it: the claim's when it was recorded with
/// parts (one replaced component is learned), none when it was recorded without (parts that
/// matched nothing are not taken on trust).
pub fn learned_parts(m: &Machine, claim: &[[u8; 8]]) -> Vec<String> {
    if m.parts.is_empty() {
        Vec::new()
    } else {
        claim.iter().map(part_hex).collect()
    }
}

/// A license's machines as the seat rule reads them: point reads and bounded queries, so that
/// what taking or refusing a seat costs does not grow with the machines the license has.
pub trait MachinesOf {
    /// The machine with this fingerprint.
    fn by_fingerprint(&self, fingerprint: &str) -> Result<Option<Machine>, StoreError>;
    /// How many machines there are (a count kept with the license, not a scan).
    fn count(&self) -> Result<u64, StoreError>;
    /// The machines indexed under any of `parts` ([`indexed_parts`]), at most
    /// [`PART_CANDIDATES`] a part: the only machines a claim with these parts can be.
    fn sharing_parts(&self, parts: &[[u8; 8]]) -> Result<Vec<Machine>, StoreError>;
    /// Up to `limit` machines whose seat has ended at `now` under `rule`, none of `except`:
    /// leases that ended and, on a floating rule, machines whose heartbeat is overdue.
    fn ended(
        &self,
        rule: &SeatRule,
        now: i64,
        limit: usize,
        except: &[MachineId],
    ) -> Result<Vec<Machine>, StoreError>;
}

impl MachinesOf for [Machine] {
    fn by_fingerprint(&self, fingerprint: &str) -> Result<Option<Machine>, StoreError> {
        Ok(self.iter().find(|m| m.fingerprint == fingerprint).cloned())
    }
    fn count(&self) -> Result<u64, StoreError> {
        Ok(self.len() as u64)
    }
    fn sharing_parts(&self, parts: &[[u8; 8]]) -> Result<Vec<Machine>, StoreError> {
        let wanted: Vec<String> = parts.iter().map(part_hex).collect();
        Ok(self
            .iter()
            .filter(|m| {
                indexed_parts(&m.parts)
                    .iter()
                    .any(|p| wanted.iter().any(|w| w == p))
            })
            .cloned()
            .collect())
    }
    fn ended(
        &self,
        rule: &SeatRule,
        now: i64,
        limit: usize,
        except: &[MachineId],
    ) -> Result<Vec<Machine>, StoreError> {
        Ok(self
            .iter()
            .filter(|m| !except.contains(&m.id) && !rule.alive(m, now))
            .take(limit)
            .cloned()
            .collect())
    }
}

/// What a store reads of one license's machines for the seat rule: the trait a backend answers
/// inside its atomic operation (or a [`Store`](crate::store::Store) outside one), from which a
/// [`Snapshot`] is read ahead.
#[async_trait::async_trait]
pub trait SeatReads: Send + Sync {
    /// The machine of a license with this fingerprint.
    async fn machine(&self, license_id: &str, fingerprint: &str) -> StoreResult<Option<Machine>>;
    /// How many machines a license has.
    async fn machine_count(&self, license_id: &str) -> StoreResult<u64>;
    /// [`MachinesOf::sharing_parts`] of a license.
    async fn machines_sharing_parts(
        &self,
        license_id: &str,
        parts: &[[u8; 8]],
    ) -> StoreResult<Vec<Machine>>;
    /// [`MachinesOf::ended`] of a license (no exceptions), soonest ended first.
    async fn ended_machines(
        &self,
        license_id: &str,
        rule: &SeatRule,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<Machine>>;
}

/// Which of the license's machines the claim is: by fingerprint, or else (when the claim has
/// parts) the machine whose recorded parts match the claim's both ways, so a machine with one
/// replaced disk is the same machine under its new fingerprint. A fingerprint whose recorded
/// parts the claim's do not match is refused rather than taken for that machine.
pub fn recognise(
    claim: &SeatClaim,
    machines: &(impl MachinesOf + ?Sized),
) -> Result<Option<Recognised>, SeatError> {
    let found = |m: Machine| Recognised {
        parts: shared_parts(&m.parts, &claim.parts),
        machine: m,
    };
    if let Some(m) = machines.by_fingerprint(&claim.fingerprint)? {
        if !m.parts.is_empty() && !claim.parts.is_empty() && !same_machine(&m.parts, &claim.parts) {
            return Err(SeatError::Refused(SeatRefusal::PartsMismatch));
        }
        return Ok(Some(found(m)));
    }
    if claim.parts.is_empty() {
        return Ok(None);
    }
    let mut candidates = machines.sharing_parts(&claim.parts)?;
    candidates.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    Ok(candidates
        .into_iter()
        .find(|m| same_machine(&m.parts, &claim.parts))
        .map(found))
}

/// What a store holds of one license's machines, read ahead of the seat rule: the machines of
/// the claims' fingerprints, the count, and only when the rule may need them, the machines
/// sharing the claims' parts and the seats that ended. Every read is a point read or bounded,
/// so a snapshot costs the same on a license with ten machines and on one with a million.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    by_fingerprint: Vec<Machine>,
    count: u64,
    sharing: Vec<Machine>,
    ended: Vec<Machine>,
}

impl Snapshot {
    /// Reads what the rule will read of the claims' license (all claims are of one license).
    /// With `reap`, the rule and the time at which a full license may reap ended seats; without,
    /// only what recognising the claims needs.
    pub async fn read(
        store: &(impl SeatReads + ?Sized),
        claims: &[SeatClaim],
        reap: Option<(&SeatRule, i64)>,
    ) -> Result<Snapshot, StoreError> {
        let Some(license_id) = license_of(claims)? else {
            return Ok(Snapshot::default());
        };
        let mut snapshot = Snapshot::default();
        let mut unknown_parts: Vec<[u8; 8]> = Vec::new();
        for claim in claims {
            match store.machine(license_id, &claim.fingerprint).await? {
                Some(m) => snapshot.by_fingerprint.push(m),
                None => unknown_parts.extend(&claim.parts),
            }
        }
        if !unknown_parts.is_empty() {
            snapshot.sharing = store
                .machines_sharing_parts(license_id, &distinct(&unknown_parts))
                .await?;
        }
        let Some((rule, now)) = reap else {
            return Ok(snapshot);
        };
        if snapshot.by_fingerprint.len() == claims.len()
            && snapshot.by_fingerprint.iter().all(|m| rule.alive(m, now))
        {
            // Every claim is a live known machine: the rule keeps their seats without counting
            // the others (`plan` returns before it reads the count).
            return Ok(snapshot);
        }
        snapshot.count = store.machine_count(license_id).await?;
        // A full license may have ended seats to reap: as many as the claims may need, and as
        // many again for the claims' own machines, which are never reaped for themselves.
        let need = (snapshot.count + claims.len() as u64).saturating_sub(rule.max);
        if need > 0 {
            let limit = usize::try_from(need).unwrap_or(usize::MAX).min(REAP_MAX) + claims.len();
            snapshot.ended = store.ended_machines(license_id, rule, now, limit).await?;
        }
        Ok(snapshot)
    }
}

impl MachinesOf for Snapshot {
    fn by_fingerprint(&self, fingerprint: &str) -> Result<Option<Machine>, StoreError> {
        Ok(self
            .by_fingerprint
            .iter()
            .chain(&self.sharing)
            .find(|m| m.fingerprint == fingerprint)
            .cloned())
    }
    fn count(&self) -> Result<u64, StoreError> {
        Ok(self.count)
    }
    fn sharing_parts(&self, parts: &[[u8; 8]]) -> Result<Vec<Machine>, StoreError> {
        self.sharing[..].sharing_parts(parts)
    }
    fn ended(
        &self,
        rule: &SeatRule,
        now: i64,
        limit: usize,
        except: &[MachineId],
    ) -> Result<Vec<Machine>, StoreError> {
        self.ended[..].ended(rule, now, limit, except)
    }
}

/// The seat rule applied without taking the seat: whether `claim` would hold one now (a
/// validation). A snapshot, so a concurrent change may make the answer stale; only
/// [`take_seat`](crate::store::Seats::take_seat) decides atomically.
pub async fn check(
    store: &(impl SeatReads + ?Sized),
    claim: &SeatClaim,
    rule: &SeatRule,
    now: i64,
) -> Result<Plan, SeatError> {
    let snapshot = Snapshot::read(store, std::slice::from_ref(claim), Some((rule, now))).await?;
    plan(rule, claim, &snapshot, now)
}

/// What taking a seat does to a license's machines.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The stored machine the claim is, if any.
    pub existing: Option<Recognised>,
    /// Dead floating machines to remove first.
    pub reap: Vec<Machine>,
}

/// The seat rule: whether the claim may hold a seat among the license's machines at `now`, and
/// what must change for it.
///
/// A known machine that is alive keeps its seat. A new machine is refused on a license bound
/// to its first machine once it has one. Otherwise a seat is free when fewer than `max` other
/// machines hold one; on a floating license, dead machines give their seats back first.
pub fn plan(
    rule: &SeatRule,
    claim: &SeatClaim,
    machines: &(impl MachinesOf + ?Sized),
    now: i64,
) -> Result<Plan, SeatError> {
    let existing = recognise(claim, machines)?;
    if existing
        .as_ref()
        .is_some_and(|r| rule.alive(&r.machine, now))
    {
        return Ok(Plan {
            existing,
            reap: Vec::new(),
        });
    }
    let count = machines.count()?;
    if existing.is_none() && rule.bound_to_first && count > 0 {
        return Err(SeatError::Refused(SeatRefusal::BoundToAnother));
    }
    let existing_id = existing.as_ref().map(|r| r.machine.id.clone());
    let mut taken = count.saturating_sub(u64::from(existing.is_some()));
    let mut reap = Vec::new();
    if taken >= rule.max {
        // Dead machines (floating ones past their heartbeat, leases that ended) give their
        // seats back as soon as anyone needs them: as many as this claim needs, the culler
        // frees the rest.
        let need = usize::try_from(taken - rule.max + 1).unwrap_or(usize::MAX);
        if need <= REAP_MAX {
            let except: Vec<MachineId> = existing_id.into_iter().collect();
            reap = machines.ended(rule, now, need, &except)?;
            taken = taken.saturating_sub(reap.len() as u64);
        }
    }
    if taken >= rule.max {
        return Err(SeatError::Refused(SeatRefusal::TooManyMachines {
            max: rule.max,
        }));
    }
    Ok(Plan { existing, reap })
}

/// A license's machines as they will be once earlier claims of one operation are placed: their
/// new machines counted, their reaped ones gone.
struct Overlay<'a, M: MachinesOf + ?Sized> {
    base: &'a M,
    added: u64,
    removed: Vec<MachineId>,
}

impl<M: MachinesOf + ?Sized> MachinesOf for Overlay<'_, M> {
    fn by_fingerprint(&self, fingerprint: &str) -> Result<Option<Machine>, StoreError> {
        Ok(self
            .base
            .by_fingerprint(fingerprint)?
            .filter(|m| !self.removed.contains(&m.id)))
    }
    fn count(&self) -> Result<u64, StoreError> {
        Ok((self.base.count()? + self.added).saturating_sub(self.removed.len() as u64))
    }
    fn sharing_parts(&self, parts: &[[u8; 8]]) -> Result<Vec<Machine>, StoreError> {
        let mut found = self.base.sharing_parts(parts)?;
        found.retain(|m| !self.removed.contains(&m.id));
        Ok(found)
    }
    fn ended(
        &self,
        rule: &SeatRule,
        now: i64,
        limit: usize,
        except: &[MachineId],
    ) -> Result<Vec<Machine>, StoreError> {
        let except: Vec<MachineId> = except.iter().chain(&self.removed).cloned().collect();
        self.base.ended(rule, now, limit, &except)
    }
}

/// [`plan`] for several claims of one license taken together (the Verify API's domain and
/// address): each is judged with the seats the earlier ones take already taken, and one refusal
/// refuses them all. Claims taken together are one environment to a license bound to its first
/// machine: it takes them all while it has no machine, and no new one once it has.
pub fn plan_all(
    rule: &SeatRule,
    claims: &[SeatClaim],
    machines: &(impl MachinesOf + ?Sized),
    now: i64,
) -> Result<Vec<Plan>, SeatError> {
    let bound = rule.bound_to_first && machines.count()? > 0;
    let unbound = SeatRule {
        bound_to_first: false,
        ..*rule
    };
    let mut view = Overlay {
        base: machines,
        added: 0,
        removed: Vec::new(),
    };
    let mut plans = Vec::with_capacity(claims.len());
    for claim in claims {
        if bound && recognise(claim, &view)?.is_none() {
            return Err(SeatError::Refused(SeatRefusal::BoundToAnother));
        }
        let p = plan(&unbound, claim, &view, now)?;
        if p.existing.is_none() {
            view.added += 1;
        }
        view.removed.extend(p.reap.iter().map(|m| m.id.clone()));
        plans.push(p);
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, fp: &str, heartbeat: i64, parts: &[[u8; 8]]) -> Machine {
        serde_json::from_value(serde_json::json!({
            "id": id, "license_id": "lic", "fingerprint": fp, "hostname": null,
            "platform": null, "ip": null, "first_seen": 0, "last_seen": 0,
            "last_heartbeat": heartbeat, "token_id": "", "numeric_id": 0,
            "parts": parts.iter().map(part_hex).collect::<Vec<_>>(),
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn claim(fp: &str, parts: &[[u8; 8]]) -> SeatClaim {
        SeatClaim {
            license_id: "lic".into(),
            fingerprint: fp.into(),
            parts: parts.to_vec(),
        }
    }

    /// The seat rule's refusal, if it refused.
    fn refusal<T>(r: Result<T, SeatError>) -> Option<SeatRefusal> {
        match r {
            Err(SeatError::Refused(why)) => Some(why),
            _ => None,
        }
    }

    const RULE: SeatRule = SeatRule {
        max: 2,
        floating: false,
        heartbeat_ttl: 100,
        bound_to_first: false,
    };

    #[test]
    fn a_known_machine_keeps_its_seat_and_a_new_one_needs_a_free_one() {
        let ms = [m("a", "fa", 0, &[]), m("b", "fb", 0, &[])];
        let p = plan(&RULE, &claim("fa", &[]), &ms[..], 1000).expect("known");
        assert_eq!(p.existing.map(|r| r.machine.id), Some("a".into()));
        assert_eq!(
            refusal(plan(&RULE, &claim("fc", &[]), &ms[..], 1000)),
            Some(SeatRefusal::TooManyMachines { max: 2 })
        );
        assert!(plan(&RULE, &claim("fc", &[]), &ms[..1], 1000).is_ok());
    }

    #[test]
    fn dead_floating_machines_give_their_seats_back_only_when_needed() {
        let rule = SeatRule {
            floating: true,
            ..RULE
        };
        let ms = [m("a", "fa", 0, &[]), m("b", "fb", 950, &[])];
        let p = plan(&rule, &claim("fc", &[]), &ms[..], 1000).expect("a is dead");
        assert_eq!(
            p.reap.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        assert!(
            plan(&rule, &claim("fc", &[]), &ms[1..], 1000)
                .expect("free")
                .reap
                .is_empty(),
            "nothing is reaped while a seat is free"
        );
        // A dead machine coming back counts the others, not itself.
        let p = plan(&rule, &claim("fa", &[]), &ms[..], 1000).expect("returns");
        assert!(p.existing.is_some() && p.reap.is_empty());
    }

    #[test]
    fn a_bound_license_takes_no_second_machine() {
        let rule = SeatRule {
            max: 5,
            bound_to_first: true,
            ..RULE
        };
        let ms = [m("a", "fa", 0, &[])];
        assert_eq!(
            refusal(plan(&rule, &claim("fb", &[]), &ms[..], 0)),
            Some(SeatRefusal::BoundToAnother)
        );
        assert!(plan(&rule, &claim("fa", &[]), &ms[..], 0).is_ok());
        assert!(plan(&rule, &claim("fb", &[]), &[][..], 0).is_ok());
    }

    #[test]
    fn claims_taken_together_count_each_other_and_share_a_refusal() {
        let ms = [m("a", "fa", 0, &[])];
        let two = [claim("fb", &[]), claim("fc", &[])];
        assert_eq!(
            refusal(plan_all(&RULE, &two, &ms[..], 0)),
            Some(SeatRefusal::TooManyMachines { max: 2 }),
            "one seat is free, two are claimed"
        );
        let known_and_new = [claim("fa", &[]), claim("fb", &[])];
        let plans = plan_all(&RULE, &known_and_new, &ms[..], 0).expect("fits");
        assert!(plans[0].existing.is_some() && plans[1].existing.is_none());
        // Two claims on a floating license may not reap the same dead machine twice.
        let rule = SeatRule {
            floating: true,
            ..RULE
        };
        let ms = [m("a", "fa", 0, &[]), m("b", "fb", 1000, &[])];
        assert_eq!(
            refusal(plan_all(
                &rule,
                &[claim("fc", &[]), claim("fd", &[])],
                &ms[..],
                1000
            )),
            Some(SeatRefusal::TooManyMachines { max: 2 })
        );
        // A bound license takes claims made together while it has no machine, then no new one.
        let bound = SeatRule {
            max: 5,
            bound_to_first: true,
            ..RULE
        };
        assert!(plan_all(&bound, &two, &[][..], 0).is_ok());
        let ms = [m("a", "fa", 0, &[])];
        assert_eq!(
            refusal(plan_all(
                &bound,
                &[claim("fa", &[]), claim("fb", &[])],
                &ms[..],
                0
            )),
            Some(SeatRefusal::BoundToAnother)
        );
    }

    #[test]
    fn parts_match_both_ways() {
        let a: Vec<[u8; 8]> = (1..=6u8).map(|i| [i; 8]).collect();
        let b: Vec<[u8; 8]> = (11..=16u8).map(|i| [i; 8]).collect();
        let ms = [m("a", "fa", 0, &a)];
        // One replaced part: the same machine under a new fingerprint.
        let mut one_new = a.clone();
        one_new[0] = [99; 8];
        let r = recognise(&claim("new", &one_new), &ms[..])
            .expect("ok")
            .expect("found");
        assert_eq!(r.parts.len(), 5, "only recorded parts are bound");
        // Four of A's parts and six of B's: not A.
        let mixed: Vec<[u8; 8]> = a[..4].iter().chain(&b).copied().collect();
        assert!(matches!(
            recognise(&claim("new", &mixed), &ms[..]),
            Ok(None)
        ));
        // A's fingerprint with B's parts is refused, not taken for A.
        assert_eq!(
            refusal(recognise(&claim("fa", &b), &ms[..])),
            Some(SeatRefusal::PartsMismatch)
        );
    }
}
