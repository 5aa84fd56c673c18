//! Machines on seats: activation, heartbeats, releases.

use super::*;
use crate::seats::{Plan, SeatReads};

/// The seat a claim takes, as the seat operation found it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seat<'a> {
    /// The stored machine the claim is (with the parts its token may bind).
    Known(&'a Recognised),
    /// A machine new to the license, with the number the operation drew for it: numbers are
    /// drawn inside the operation, for the new machines only (they may have gaps, never
    /// repeats).
    New {
        /// The machine's number.
        number: u64,
    },
}

impl<'a> Seat<'a> {
    /// The stored machine, if the claim is one.
    pub fn found(self) -> Option<&'a Recognised> {
        match self {
            Seat::Known(r) => Some(r),
            Seat::New { .. } => None,
        }
    }
}

/// Builds the machine to store once the seat rule has admitted a claim, from the seat it takes,
/// and the audit entries to write with it. Called inside [`Seats::take_seat`]'s atomic
/// operation, at most once; an error writes nothing.
pub type MakeSeat<'a> = &'a (dyn Fn(Seat<'_>) -> StoreResult<(Machine, Record)> + Send + Sync);

/// [`MakeSeat`] for one of several claims, by its index.
pub type MakeSeats<'a> =
    &'a (dyn Fn(usize, Seat<'_>) -> StoreResult<(Machine, Record)> + Send + Sync);

/// A value that a store operation's closure hands back to its caller. The closures are `Fn`
/// (a backend may call them on another thread, at most once per operation), so what they
/// make besides their answer goes here.
#[derive(Debug)]
pub struct Slot<T>(std::sync::Mutex<Option<T>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot(std::sync::Mutex::new(None))
    }
}

impl<T> Slot<T> {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `v` in, replacing what was there.
    pub fn put(&self, v: T) {
        *self.lock() = Some(v);
    }

    /// Takes what is there.
    pub fn take(&self) -> Option<T> {
        self.lock().take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<T>> {
        // What a panicking holder left is a plain value.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What [`Seats::change_seat`] does to the machine a claim names.
#[derive(Debug, Clone, PartialEq)]
pub enum SeatChange {
    /// Leave it (or its absence) as it is.
    Keep,
    /// Store this machine in its place: the same machine (id, license and fingerprint) with new
    /// facts, as a heartbeat makes it.
    Update(Box<Machine>),
    /// Give its seat back.
    Remove,
}

/// Decides a [`Seats::change_seat`] from the machine the claim is as stored now (`None`: the
/// license has no such machine), with the audit entries to write with the change. Called
/// inside the atomic operation, at most once; an error writes nothing.
pub type ChangeSeat<'a> =
    &'a (dyn Fn(Option<&Recognised>) -> StoreResult<(SeatChange, Record)> + Send + Sync);

/// Decides a [`Licenses::change_license`] from the license as stored now: the license to store
/// in its place and the audit entries to write with it, or `None` to leave it. Called inside
/// the atomic operation, at most once; an error writes nothing.
pub type ChangeLicense<'a> =
    &'a (dyn Fn(&License) -> StoreResult<Option<(License, Record)>> + Send + Sync);

/// Machines: the seats of licenses.
#[async_trait]
pub trait Seats: Send + Sync {
    /// Takes seats for `claims` (all of one license) under `rule` at `now`, as one operation
    /// that no concurrent seat change of the license (through any handle) can interleave with:
    /// reads what the rule needs of the license's machines (point reads and bounded queries,
    /// never the whole list), applies [`seats::plan_all`](crate::seats::plan_all), removes the
    /// dead machines it names, draws a number for each new machine, stores the machines `make`
    /// builds (called with each claim's index and [`Seat`]) and their audit entries. All or
    /// none; durable when it returns.
    async fn take_seats(
        &self,
        claims: &[SeatClaim],
        rule: &SeatRule,
        now: i64,
        make: MakeSeats<'_>,
    ) -> Result<Vec<Seated>, SeatError>;

    /// [`Seats::take_seats`] for one claim.
    async fn take_seat(
        &self,
        claim: &SeatClaim,
        rule: &SeatRule,
        now: i64,
        make: MakeSeat<'_>,
    ) -> Result<Seated, SeatError> {
        let mut seated = self
            .take_seats(std::slice::from_ref(claim), rule, now, &|_, seat| {
                make(seat)
            })
            .await?;
        seated
            .pop()
            .ok_or_else(|| SeatError::Store(StoreError::backend("take_seats returned nothing")))
    }
    /// Changes the machine `claim` names (by fingerprint, or by its parts under the
    /// hardware-parts rule, [`seats::recognise`](crate::seats::recognise)) as one operation that
    /// no other seat change of the license interleaves with: `change` sees it as stored now and
    /// says what to do, and its audit entries are written with the change. Durable when it
    /// returns. The machine as it was before, if the license had it.
    ///
    /// Heartbeats, deactivations and culls go through it, so that a heartbeat cannot revive a
    /// machine a cull just removed, nor a cull remove one a heartbeat just renewed.
    async fn change_seat(
        &self,
        claim: &SeatClaim,
        change: ChangeSeat<'_>,
    ) -> Result<Option<Recognised>, SeatError>;
    /// Gives back every seat of a license in one operation, with its record; the
    /// machines removed.
    async fn clear_seats(&self, license_id: &str, record: Record) -> StoreResult<Vec<Machine>>;
    /// The machines of a license.
    async fn machines(&self, license_id: &str) -> StoreResult<Vec<Machine>>;
    /// The machine of a license with this fingerprint.
    async fn machine(&self, license_id: &str, fingerprint: &str) -> StoreResult<Option<Machine>>;
    /// A machine by id.
    async fn machine_by_id(&self, id: &str) -> StoreResult<Option<Machine>>;
    /// How many machines a license has, from the count kept with the license (not a scan).
    async fn machine_count(&self, license_id: &str) -> StoreResult<u64>;
    /// The machines of a license indexed under any of `parts`
    /// ([`seats::indexed_parts`](crate::seats::indexed_parts)), at most
    /// [`PART_CANDIDATES`](crate::seats::PART_CANDIDATES) a part, whatever the license holds.
    async fn machines_sharing_parts(
        &self,
        license_id: &str,
        parts: &[[u8; 8]],
    ) -> StoreResult<Vec<Machine>>;
    /// Up to `limit` machines of a license whose seat has ended at `now` under `rule` (leases
    /// that ended; on a floating rule, heartbeats overdue by more than its TTL), soonest ended
    /// first, read from an index of seat ends: the cost is the `limit`'s, not the license's.
    async fn ended_machines(
        &self,
        license_id: &str,
        rule: &SeatRule,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<Machine>>;
    /// How many machines there are.
    async fn machine_total(&self) -> StoreResult<usize>;
    /// How many machines each license has, for the licenses that have any: (license id,
    /// count), in license id order. Read from the counts the store keeps with the machines.
    async fn seat_counts(&self) -> StoreResult<Vec<(String, u64)>>;
    /// Adds or replaces a machine, keeping the license's count.
    async fn put_machine(&self, m: &Machine) -> StoreResult<()>;
    /// Replaces a machine that exists.
    async fn update_machine(&self, m: &Machine) -> StoreResult<()>;
    /// Removes a machine; whether it existed.
    async fn remove_machine(&self, m: &Machine) -> StoreResult<bool>;
    /// Marks every license of a floating policy for culling.
    async fn recheck_floating(&self) -> StoreResult<()>;
    /// Licenses that have had floating machines.
    async fn floating_licenses(&self) -> StoreResult<Vec<String>>;
    /// Stops culling a license.
    async fn unmark_floating(&self, license_id: &str) -> StoreResult<()>;
}

/// Every store's seats answer the seat rule's reads.
#[async_trait::async_trait]
impl<T: Seats + ?Sized> SeatReads for T {
    async fn machine(&self, license_id: &str, fingerprint: &str) -> StoreResult<Option<Machine>> {
        Seats::machine(self, license_id, fingerprint).await
    }
    async fn machine_count(&self, license_id: &str) -> StoreResult<u64> {
        Seats::machine_count(self, license_id).await
    }
    async fn machines_sharing_parts(
        &self,
        license_id: &str,
        parts: &[[u8; 8]],
    ) -> StoreResult<Vec<Machine>> {
        Seats::machines_sharing_parts(self, license_id, parts).await
    }
    async fn ended_machines(
        &self,
        license_id: &str,
        rule: &SeatRule,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<Machine>> {
        Seats::ended_machines(self, license_id, rule, now, limit).await
    }
}

/// One claim placed: its plan, the machine to store and the record to write with it.
#[derive(Debug)]
pub struct Placement {
    /// What the seat rule decided.
    pub plan: Plan,
    /// The machine to store.
    pub machine: Machine,
    /// Its audit entries and deliveries.
    pub record: Record,
}

impl Placement {
    /// The seat taken, once the placement is written.
    pub fn seated(machine: Machine, plan: Plan) -> Seated {
        Seated {
            machine,
            fresh: plan.existing.is_none(),
            reaped: plan.reap,
        }
    }
}

/// How many of `plans` are of machines new to the license: the numbers a backend draws,
/// inside its operation, before [`place`].
pub fn new_machines(plans: &[Plan]) -> usize {
    plans.iter().filter(|p| p.existing.is_none()).count()
}

/// Builds every machine of a seat operation with `make` before anything is written, so that an
/// error writes nothing, and checks that each is of `license_id`. `numbers` are those drawn for
/// the new machines ([`new_machines`] of them), given out in order. What a backend writes next,
/// in its atomic operation: each placement's reaped machines removed, its machine stored, its
/// record written.
pub fn place(
    license_id: &str,
    plans: Vec<Plan>,
    numbers: Vec<u64>,
    make: MakeSeats<'_>,
) -> Result<Vec<Placement>, SeatError> {
    let mut numbers = numbers.into_iter();
    let mut out = Vec::with_capacity(plans.len());
    for (i, plan) in plans.into_iter().enumerate() {
        let seat = match &plan.existing {
            Some(r) => Seat::Known(r),
            None => Seat::New {
                number: numbers
                    .next()
                    .ok_or_else(|| StoreError::backend("take_seats: a new machine unnumbered"))?,
            },
        };
        let (machine, record) = make(i, seat)?;
        if machine.license_id != license_id {
            return Err(StoreError::backend("take_seats: a machine of another license").into());
        }
        out.push(Placement {
            plan,
            machine,
            record,
        });
    }
    Ok(out)
}

/// What a [`SeatChange`] asks a backend to write, checked against
/// the machine it was decided on.
#[derive(Debug, PartialEq)]
pub enum Write<'a> {
    /// Nothing.
    Nothing,
    /// Store this machine in place of the one found (the same id, license and fingerprint).
    Put(&'a Machine),
    /// Remove the machine found.
    Remove(&'a Machine),
}

/// Checks a seat change against the machine found: a change may only update or remove the
/// machine it was shown.
pub fn write_of<'a>(
    change: &'a SeatChange,
    found: Option<&'a Recognised>,
) -> Result<Write<'a>, StoreError> {
    match (change, found) {
        (SeatChange::Keep, _) => Ok(Write::Nothing),
        (SeatChange::Update(m), Some(f))
            if m.id == f.machine.id
                && m.license_id == f.machine.license_id
                && m.fingerprint == f.machine.fingerprint =>
        {
            Ok(Write::Put(m))
        }
        (SeatChange::Remove, Some(f)) => Ok(Write::Remove(&f.machine)),
        _ => Err(StoreError::backend(
            "change_seat: a change of another machine",
        )),
    }
}
