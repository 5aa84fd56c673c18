//! Machines on seats: activation, heartbeats, releases.

use super::*;
use crate::seats::{MachinesOf, Plan, SeatReads};

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
/// with the audit entries to write with it and what the caller wants back beside it. Called
/// inside [`Seats::take_seats`]'s atomic operation, at most once a claim; an error writes
/// nothing. Callers use [`SeatsWith::take_seats_with`], which carries their own types.
pub type MakeSeats<'a> =
    &'a (dyn Fn(usize, Seat<'_>) -> StoreResult<(Machine, Record, Carried)> + Send + Sync);

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
/// license has no such machine), with the audit entries to write with the change and what the
/// caller wants back. Called inside the atomic operation, at most once; an error writes
/// nothing. Callers use [`SeatsWith::change_seat_with`], which carries their own types.
pub type ChangeSeat<'a> =
    &'a (dyn Fn(Option<&Recognised>) -> StoreResult<(SeatChange, Record, Carried)> + Send + Sync);

/// Decides a [`Licenses::change_license`] from the license as stored now: the license to store
/// in its place and the audit entries to write with it, or `None` to leave it. Called inside
/// the atomic operation, at most once; an error writes nothing. Callers that decline with a
/// reason of their own use [`LicensesWith::change_license_with`].
pub type ChangeLicense<'a> =
    &'a (dyn Fn(&License) -> StoreResult<Option<(License, Record)>> + Send + Sync);

/// Machines: the seats of licenses.
#[async_trait]
pub trait Seats: Send + Sync {
    /// Takes seats for `claims` (all of one license) under `rule` at `now`, as one operation
    /// that no concurrent seat change of the license (through any handle) can interleave with:
    /// [`take_seats_in`] over the backend's [`SeatTx`]. All or none; durable when it returns.
    /// Each seat comes back with what `make` carried for it.
    async fn take_seats(
        &self,
        claims: &[SeatClaim],
        rule: &SeatRule,
        now: i64,
        make: MakeSeats<'_>,
    ) -> Result<Vec<(Seated, Carried)>, SeatError>;
    /// Changes the machine `claim` names (by fingerprint, or by its parts under the
    /// hardware-parts rule, [`seats::recognise`](crate::seats::recognise)) as one operation that
    /// no other seat change of the license interleaves with: `change` sees it as stored now and
    /// says what to do, and its audit entries are written with the change. Durable when it
    /// returns. The machine as it was before, if the license had it.
    ///
    /// Heartbeats, deactivations and culls go through it, so that a heartbeat cannot revive a
    /// machine a cull just removed, nor a cull remove one a heartbeat just renewed.
    ///
    /// [`change_seat_in`] over the backend's [`SeatTx`]; what `change` carried comes back too.
    async fn change_seat(
        &self,
        claim: &SeatClaim,
        change: ChangeSeat<'_>,
    ) -> Result<(Option<Recognised>, Carried), SeatError>;
    /// Gives back every seat of a license in one operation, with its record; the
    /// machines removed.
    async fn clear_seats(&self, license_id: &str, record: Record) -> StoreResult<Vec<Machine>>;
    /// The machines of a license.
    async fn machines(&self, license_id: &crate::model::LicenseId) -> StoreResult<Vec<Machine>>;
    /// The machine of a license with this fingerprint.
    async fn machine(&self, license_id: &str, fingerprint: &str) -> StoreResult<Option<Machine>>;
    /// A machine by id.
    async fn machine_by_id(&self, id: &crate::model::MachineId) -> StoreResult<Option<Machine>>;
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

/// One claim placed: its plan, the machine to store, the record to write with it and what the
/// caller's closure carried.
struct Placement {
    plan: Plan,
    machine: Machine,
    record: Record,
    carried: Carried,
}

/// How many of `plans` are of machines new to the license: the numbers drawn, inside the
/// operation, before [`place`].
fn new_machines(plans: &[Plan]) -> usize {
    plans.iter().filter(|p| p.existing.is_none()).count()
}

/// Builds every machine of a seat operation with `make` before anything is written, so that an
/// error writes nothing, and checks that each is of `license_id`. `numbers` are those drawn for
/// the new machines ([`new_machines`] of them), given out in order.
fn place(
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
        let (machine, record, carried) = make(i, seat)?;
        if machine.license_id != license_id {
            return Err(StoreError::backend("take_seats: a machine of another license").into());
        }
        out.push(Placement {
            plan,
            machine,
            record,
            carried,
        });
    }
    Ok(out)
}

/// What a [`SeatChange`] asks to write, checked against the machine it was decided on.
#[derive(Debug, PartialEq)]
enum Write<'a> {
    /// Nothing.
    Nothing,
    /// Store this machine in place of the one found (the same id, license and fingerprint).
    Put(&'a Machine),
    /// Remove the machine found.
    Remove(&'a Machine),
}

/// Checks a seat change against the machine found: a change may only update or remove the
/// machine it was shown.
fn write_of<'a>(
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

/// One seat operation's transaction, as a backend opens it: the license already locked against
/// every other seat change of it (sled's seat lock, PostgreSQL's row lock), reads of its
/// machines as they stand, and writes that land together when the backend commits.
/// [`take_seats_in`] and [`change_seat_in`] are the one seat routine every backend runs over
/// it, so the rule, the numbering and the checks of what a closure may write are written once.
///
/// A backend whose operations never wait (sled) answers with futures that are ready at once and
/// runs the routine with [`run_ready`] under its lock.
#[async_trait]
pub trait SeatTx: Send {
    /// The license's machines as the rule reads them.
    type View: MachinesOf + Send + Sync;
    /// What the rule will read of the claims' machines; with `reap`, the rule and the time at
    /// which a full license may reap ended seats ([`Snapshot::read`](crate::seats::Snapshot::read)).
    async fn view(
        &mut self,
        claims: &[SeatClaim],
        reap: Option<(&SeatRule, i64)>,
    ) -> StoreResult<Self::View>;
    /// `n` machine numbers, never given before (gaps allowed).
    async fn numbers(&mut self, n: usize) -> StoreResult<Vec<u64>>;
    /// Stores a machine, new or in place of the one with its fingerprint, keeping the
    /// license's count and the machine indexes.
    async fn put(&mut self, m: &Machine) -> StoreResult<()>;
    /// Removes a machine, keeping the count and the indexes; whether it was there.
    async fn remove(&mut self, m: &Machine) -> StoreResult<bool>;
    /// Writes a record's audit entries and deliveries.
    async fn record(&mut self, r: Record) -> StoreResult<()>;
}

/// Takes seats for `claims` (all of one license, locked in `tx`) under `rule` at `now`: reads
/// what the rule needs (point reads and bounded queries, never the whole list), applies
/// [`plan_all`](crate::seats::plan_all), draws a number for each new machine, builds every
/// machine with `make` before anything is written, then removes the dead machines the rule
/// reaps and stores the machines with their records. An error leaves `tx` to be rolled back.
pub async fn take_seats_in<T: SeatTx + ?Sized>(
    tx: &mut T,
    license_id: &str,
    claims: &[SeatClaim],
    rule: &SeatRule,
    now: i64,
    make: MakeSeats<'_>,
) -> Result<Vec<(Seated, Carried)>, SeatError> {
    let seen = tx.view(claims, Some((rule, now))).await?;
    let plans = crate::seats::plan_all(rule, claims, &seen, now)?;
    let numbers = tx.numbers(new_machines(&plans)).await?;
    let mut seated = Vec::with_capacity(plans.len());
    for p in place(license_id, plans, numbers, make)? {
        for dead in &p.plan.reap {
            tx.remove(dead).await?;
        }
        tx.put(&p.machine).await?;
        tx.record(p.record).await?;
        let seat = Seated {
            fresh: p.plan.existing.is_none(),
            reaped: p.plan.reap,
            machine: p.machine,
        };
        seated.push((seat, p.carried));
    }
    Ok(seated)
}

/// Changes the machine `claim` names (its license locked in `tx`): recognises it
/// ([`recognise`](crate::seats::recognise)), asks `change`, checks that the change is of the
/// machine it was shown, and writes it with its record (nothing at all for
/// [`SeatChange::Keep`]). The machine as it was, and what `change` carried.
pub async fn change_seat_in<T: SeatTx + ?Sized>(
    tx: &mut T,
    claim: &SeatClaim,
    change: ChangeSeat<'_>,
) -> Result<(Option<Recognised>, Carried), SeatError> {
    let seen = tx.view(std::slice::from_ref(claim), None).await?;
    let found = crate::seats::recognise(claim, &seen)?;
    let (what, log, carried) = change(found.as_ref())?;
    match write_of(&what, found.as_ref())? {
        Write::Nothing => return Ok((found, carried)),
        Write::Put(m) => tx.put(m).await?,
        Write::Remove(m) => {
            tx.remove(m).await?;
        }
    }
    tx.record(log).await?;
    Ok((found, carried))
}

/// Runs a future that never waits to its end: a synchronous backend's [`SeatTx`] routine,
/// under a lock that must not be held across a real wait. `None` if it did wait (a backend's
/// bug, reported as a store error by the caller rather than blocking a thread).
pub fn run_ready<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// The seat operations with the caller's own types: `make` and `change` return what the caller
/// wants back beside the machine (`T`) or decline with its own reason (`E`), and the caller
/// gets exactly that back: no side channel, no error string to recognise.
#[async_trait]
pub trait SeatsWith: Seats {
    /// [`Seats::take_seats`]: each seat with the `T` its claim's `make` returned. (The
    /// closures' lifetimes are spelled out: `async_trait` would otherwise name them.)
    async fn take_seats_with<T, E>(
        &self,
        claims: &[SeatClaim],
        rule: &SeatRule,
        now: i64,
        make: &(dyn for<'s> Fn(usize, Seat<'s>) -> Result<(Machine, Record, T), E> + Send + Sync),
    ) -> Result<Vec<(Seated, T)>, Halted<E, SeatError>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let boxed = |i: usize, seat: Seat<'_>| match make(i, seat) {
            Ok((m, r, t)) => Ok((m, r, Carried::new(t))),
            Err(e) => Err(StoreError::Declined(Carried::new(e))),
        };
        let seated = self
            .take_seats(claims, rule, now, &boxed)
            .await
            .map_err(halted)?;
        seated
            .into_iter()
            .map(|(seat, c)| Ok((seat, unbox(c)?)))
            .collect()
    }

    /// [`SeatsWith::take_seats_with`] for one claim.
    async fn take_seat_with<T, E>(
        &self,
        claim: &SeatClaim,
        rule: &SeatRule,
        now: i64,
        make: &(dyn for<'s> Fn(Seat<'s>) -> Result<(Machine, Record, T), E> + Send + Sync),
    ) -> Result<(Seated, T), Halted<E, SeatError>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let one = |_: usize, seat: Seat<'_>| make(seat);
        self.take_seats_with(std::slice::from_ref(claim), rule, now, &one)
            .await?
            .pop()
            .ok_or_else(|| {
                Halted::Failed(StoreError::backend("take_seats returned no seat").into())
            })
    }

    /// [`Seats::change_seat`], with the `T` that `change` returned.
    async fn change_seat_with<T, E>(
        &self,
        claim: &SeatClaim,
        change: &(
             dyn for<'s> Fn(Option<&'s Recognised>) -> Result<(SeatChange, Record, T), E>
                 + Send
                 + Sync
         ),
    ) -> Result<(Option<Recognised>, T), Halted<E, SeatError>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let boxed = |found: Option<&Recognised>| match change(found) {
            Ok((what, r, t)) => Ok((what, r, Carried::new(t))),
            Err(e) => Err(StoreError::Declined(Carried::new(e))),
        };
        let (found, c) = self.change_seat(claim, &boxed).await.map_err(halted)?;
        Ok((found, unbox(c)?))
    }
}

impl<S: Seats + ?Sized> SeatsWith for S {}

/// A seat operation's failure, with the caller's own decline taken out of it.
fn halted<E: 'static>(e: SeatError) -> Halted<E, SeatError> {
    match e {
        SeatError::Store(e) => match crate::error::declined_as::<E>(e) {
            Ok(reason) => Halted::Declined(reason),
            Err(e) => Halted::Failed(SeatError::Store(e)),
        },
        other => Halted::Failed(other),
    }
}

/// What a closure carried, as the type it was given in.
fn unbox<T: 'static, E>(c: Carried) -> Result<T, Halted<E, SeatError>> {
    c.take::<T>().map_err(|_| {
        Halted::Failed(StoreError::backend("a store handed back another operation's value").into())
    })
}
