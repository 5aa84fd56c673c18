//! Machines and the seat counts kept with them.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::seats::{
    MachinesOf, PART_CANDIDATES, Recognised, SeatClaim, SeatError, SeatRule, Seated, indexed_parts,
    license_of, part_hex,
};
use licet_core::store::*;

use crate::SledStore;
use crate::error::Res;
use crate::layout::*;

impl SledStore {
    /// Makes the culler look at every license with machines again (a policy became floating).
    pub fn recheck_floating(&self) -> Res<()> {
        Ok(self.mark_licenses_with_machines()?)
    }

    /// Licenses that have had floating machines.
    pub fn floating_licenses(&self) -> Res<Vec<String>> {
        self.floating_licenses
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
    }

    /// Stops culling `license_id` (no floating machines, or gone).
    pub fn unmark_floating(&self, license_id: &str) -> Res<()> {
        self.floating_licenses.remove(license_id)?;
        Ok(())
    }

    /// Number of machines in the store.
    pub fn machine_total(&self) -> usize {
        self.machines.len()
    }

    /// The machines of a license.
    pub fn machines(&self, license_id: &str) -> Res<Vec<Machine>> {
        self.machines
            .scan_prefix(machine_prefix(license_id))
            .values()
            .map(|v| from_json(&v?))
            .collect()
    }

    /// The machine of a license with this fingerprint.
    pub fn machine(&self, license_id: &str, fingerprint: &str) -> Res<Option<Machine>> {
        self.machines
            .get(machine_key(license_id, fingerprint))?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// A machine by id.
    pub fn machine_by_id(&self, id: &str) -> Res<Option<Machine>> {
        match self.machine_ids.get(id)? {
            Some(k) => self.machines.get(k)?.map(|b| from_json(&b)).transpose(),
            None => Ok(None),
        }
    }

    /// Inserts or replaces a machine. The caller holds the license's seat lock.
    ///
    /// Three plain writes, not a transaction: sled's multi-tree transactions were most of an
    /// activation's cost (the same writes run 4–5× faster without one). They are
    /// ordered so that whatever prefix a crash leaves, the license's count is at least its
    /// machines — never a seat too many — and [`SledStore::open`] recounts after a crash (see
    /// [`SledStore::close`]): the id index and the count first, the machine last.
    /// The lock of one license's seats (sharded by license id). Every change of a license's
    /// machines takes it, so that [`SledStore::take_seat`] reads and writes them as one
    /// operation: the store keeps the seat rule's atomicity, not its callers.
    pub(crate) fn seat_lock(&self, license_id: &str) -> std::sync::MutexGuard<'_, ()> {
        let h = license_id.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        match self.seat_locks[h % self.seat_locks.len()].lock() {
            Ok(g) => g,
            // The data a panicking holder left is sled's, which stays consistent.
            Err(p) => p.into_inner(),
        }
    }

    /// Takes seats: [`take_seats_in`] under the license's seat lock, with the license's
    /// machines read straight from the trees. Not yet durable: the trait's `take_seats` commits
    /// after the lock is released, so that concurrent activations of one license share flushes.
    pub fn take_seats(
        &self,
        claims: &[SeatClaim],
        rule: &SeatRule,
        now: i64,
        make: MakeSeats<'_>,
    ) -> Result<Vec<(Seated, Carried)>, SeatError> {
        let Some(license_id) = license_of(claims)? else {
            return Ok(Vec::new());
        };
        let _seats = self.seat_lock(license_id);
        if self
            .license(license_id)
            .map_err(StoreError::from)?
            .is_none()
        {
            // Deleted meanwhile (deletion takes this lock too): no seat on a license that is gone.
            return Err(StoreError::NotFound.into());
        }
        let mut tx = SledTx(self, license_id);
        run_ready(take_seats_in(&mut tx, license_id, claims, rule, now, make))
            .unwrap_or_else(|| Err(waited()))
    }

    /// Changes the machine a claim is: [`change_seat_in`] under the license's seat lock. Not
    /// yet durable: the trait's `change_seat` commits after the lock is released.
    pub fn change_seat(
        &self,
        claim: &SeatClaim,
        change: ChangeSeat<'_>,
    ) -> Result<(Option<Recognised>, Carried), SeatError> {
        let _seats = self.seat_lock(&claim.license_id);
        let mut tx = SledTx(self, &claim.license_id);
        run_ready(change_seat_in(&mut tx, claim, change)).unwrap_or_else(|| Err(waited()))
    }

    /// Removes every machine of a license, under its seat lock, with the audit entries.
    pub fn clear_seats(&self, license_id: &str, record: Record) -> Res<Vec<Machine>> {
        let _seats = self.seat_lock(license_id);
        let machines = self.machines(license_id)?;
        for m in &machines {
            self.remove_machine_unlocked(m)?;
        }
        self.write_record(record)?;
        Ok(machines)
    }

    /// Inserts or replaces a machine, under its license's seat lock.
    pub fn put_machine(&self, m: &Machine) -> Res<()> {
        let _seats = self.seat_lock(&m.license_id);
        self.put_machine_unlocked(m)
    }

    fn put_machine_unlocked(&self, m: &Machine) -> Res<()> {
        let key = machine_key(&m.license_id, &m.fingerprint);
        let value = to_json(m)?;
        let old: Option<Machine> = self
            .machines
            .get(&key)?
            .map(|b| from_json(&b))
            .transpose()?;
        let new = old.is_none();
        if (new || m.lease_until.is_some())
            && !self
                .floating_licenses
                .contains_key(m.license_id.as_bytes())?
        {
            // A new machine, or one that took a lease: the culler looks at its license (and
            // forgets it if its policy does not float). Only the first since then writes this.
            self.floating_licenses
                .insert(m.license_id.as_bytes(), &[])?;
        }
        // The same machine again (a heartbeat, a re-activation) keeps its id index entry: one
        // write fewer on the busiest path.
        if old.as_ref().is_none_or(|o| o.id != m.id) {
            self.machine_ids.insert(m.id.as_bytes(), key.clone())?;
        }
        if new {
            self.add_to_count(&m.license_id, 1)?;
        }
        // Each machine's keys once, for both halves of the index change.
        let keys = (
            old.as_ref().map(machine_index_keys).unwrap_or_default(),
            machine_index_keys(m),
        );
        self.index_machine(&keys.0, &keys.1)?;
        self.machines.insert(key, value)?;
        self.unindex_machine(&keys.0, &keys.1)?;
        Ok(())
    }

    /// Writes the index entries `to` has and `from` lacks (the keys of the machine replaced and
    /// of its replacement, [`machine_index_keys`]). Before the machine itself, so that a crash
    /// never leaves a machine its indexes miss.
    fn index_machine(&self, from: &IndexKeys, to: &IndexKeys) -> Res<()> {
        if to.0 != from.0 {
            self.seat_ends.insert(to.0.as_slice(), &[])?;
        }
        for k in to.1.iter().filter(|k| !from.1.contains(k)) {
            self.machine_parts.insert(k.as_slice(), &[])?;
        }
        Ok(())
    }

    /// Drops the index entries `from` has and `to` lacks (`to` empty: the machine is gone).
    /// After the machine is written or removed: a crash leaves a stale entry at most, which
    /// every read checks against the machine and skips.
    fn unindex_machine(&self, from: &IndexKeys, to: &IndexKeys) -> Res<()> {
        if from.0 != to.0 && !from.0.is_empty() {
            self.seat_ends.remove(from.0.as_slice())?;
        }
        for k in from.1.iter().filter(|k| !to.1.contains(k)) {
            self.machine_parts.remove(k.as_slice())?;
        }
        Ok(())
    }

    /// The machines of a license indexed under any of `parts`, at most [`PART_CANDIDATES`] a
    /// part, each once.
    pub fn machines_sharing_parts(&self, license_id: &str, parts: &[[u8; 8]]) -> Res<Vec<Machine>> {
        let mut out: Vec<Machine> = Vec::new();
        for part in parts {
            let hex = part_hex(part);
            let prefix = part_prefix(license_id, &hex);
            for k in self
                .machine_parts
                .scan_prefix(&prefix)
                .keys()
                .take(PART_CANDIDATES)
            {
                let k = k?;
                let fingerprint = String::from_utf8_lossy(&k[prefix.len()..]);
                let Some(m) = self.machine(license_id, &fingerprint)? else {
                    continue;
                };
                if indexed_parts(&m.parts).contains(&hex.as_str())
                    && !out.iter().any(|o| o.id == m.id)
                {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    /// Up to `limit` machines of a license whose seat has ended at `now` under `rule`, none of
    /// `except`: ended leases first, then (floating) the longest silent, from `seat_ends`.
    pub fn ended_machines(
        &self,
        license_id: &str,
        rule: &SeatRule,
        now: i64,
        limit: usize,
        except: &[licet_core::model::MachineId],
    ) -> Res<Vec<Machine>> {
        let mut out = Vec::new();
        // A lease has ended when `until <= now`; a floating seat when its heartbeat is older
        // than `now - ttl` (see `SeatRule::alive`).
        let ttl = i64::try_from(rule.heartbeat_ttl).unwrap_or(i64::MAX);
        let mut ranges = vec![(LEASE_ENDS, now.checked_add(1))];
        if rule.floating {
            ranges.push((HEARTBEATS, Some(now.saturating_sub(ttl))));
        }
        for (kind, before) in ranges {
            let from = seat_ends_prefix(license_id, kind);
            let mut to = from.clone();
            match before {
                Some(t) => to.extend_from_slice(&sortable_time(t)),
                None => to.push(0xff),
            }
            let skip = from.len() + 8;
            for k in self.seat_ends.range(from..to).keys() {
                if out.len() >= limit {
                    return Ok(out);
                }
                let k = k?;
                let fingerprint = String::from_utf8_lossy(&k[skip..]);
                let Some(m) = self.machine(license_id, &fingerprint)? else {
                    continue;
                };
                if seat_end_key(&m) == k.as_ref() && !rule.alive(&m, now) && !except.contains(&m.id)
                {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    /// Rewrites a machine that exists under the same license and fingerprint (a heartbeat):
    /// its id index and the license's count do not change, so this is one write, not a
    /// transaction over three trees. The caller holds the license's seat lock.
    pub fn update_machine(&self, m: &Machine) -> Res<()> {
        let _seats = self.seat_lock(&m.license_id);
        self.put_machine_unlocked(m)
    }

    /// Removes a machine; whether it existed. The caller holds the license's seat lock. Plain
    /// writes in crash-safe order, as in [`SledStore::put_machine`]: the machine first, then the
    /// count and the id index.
    pub fn remove_machine(&self, m: &Machine) -> Res<bool> {
        let _seats = self.seat_lock(&m.license_id);
        self.remove_machine_unlocked(m)
    }

    fn remove_machine_unlocked(&self, m: &Machine) -> Res<bool> {
        let key = machine_key(&m.license_id, &m.fingerprint);
        let old = self.machines.remove(key)?;
        let existed = old.is_some();
        if existed {
            self.add_to_count(&m.license_id, -1)?;
        }
        self.machine_ids.remove(m.id.as_bytes())?;
        // The entries of the machine as it was stored (a value that does not read: as given).
        let old = old.and_then(|b| from_json::<Machine>(&b).ok());
        self.unindex_machine(
            &machine_index_keys(old.as_ref().unwrap_or(m)),
            &IndexKeys::default(),
        )?;
        Ok(existed)
    }

    pub(crate) fn add_to_count(&self, license_id: &str, delta: i64) -> Res<()> {
        self.machine_counts
            .fetch_and_update(license_id.as_bytes(), |old| {
                let n = old
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                Some(n.saturating_add_signed(delta).to_be_bytes().to_vec())
            })?;
        Ok(())
    }

    /// Machines per license, from the counts kept with them.
    pub fn seat_counts(&self) -> Res<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for kv in self.machine_counts.iter() {
            let (k, v) = kv?;
            let n = <[u8; 8]>::try_from(&v[..]).map_or(0, u64::from_be_bytes);
            if n > 0 {
                out.push((String::from_utf8_lossy(&k).into_owned(), n));
            }
        }
        Ok(out)
    }

    /// Number of machines of a license, without reading them.
    pub fn machine_count(&self, license_id: &str) -> Res<u64> {
        Ok(self
            .machine_counts
            .get(license_id)?
            .and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
            .map_or(0, u64::from_be_bytes))
    }
}

/// A license's machines as the seat rule reads them, straight from the trees (under the
/// license's seat lock).
struct Of<'a>(&'a SledStore, &'a str);

/// A seat operation on sled, under the license's seat lock that its caller holds: reads
/// straight from the trees, plain writes in crash-safe order ([`SledStore::put_machine`]),
/// made durable by the trait's commit once the lock is released. Nothing here waits, so the
/// shared routine runs to its end in one poll ([`run_ready`]).
struct SledTx<'a>(&'a SledStore, &'a str);

#[async_trait]
impl<'a> SeatTx for SledTx<'a> {
    type View = Of<'a>;
    async fn view(
        &mut self,
        _claims: &[SeatClaim],
        _reap: Option<(&SeatRule, i64)>,
    ) -> StoreResult<Of<'a>> {
        Ok(Of(self.0, self.1))
    }
    async fn numbers(&mut self, n: usize) -> StoreResult<Vec<u64>> {
        Ok((0..n)
            .map(|_| self.0.next_number("machine"))
            .collect::<Res<Vec<u64>>>()?)
    }
    async fn put(&mut self, m: &Machine) -> StoreResult<()> {
        Ok(self.0.put_machine_unlocked(m)?)
    }
    async fn remove(&mut self, m: &Machine) -> StoreResult<bool> {
        Ok(self.0.remove_machine_unlocked(m)?)
    }
    async fn record(&mut self, r: Record) -> StoreResult<()> {
        Ok(self.0.write_record(r)?)
    }
}

/// The seat routine waited on sled, where nothing waits: a bug, reported rather than blocking.
fn waited() -> SeatError {
    StoreError::backend("a seat operation on sled waited").into()
}

impl MachinesOf for Of<'_> {
    fn by_fingerprint(&self, fingerprint: &str) -> Result<Option<Machine>, StoreError> {
        Ok(self.0.machine(self.1, fingerprint)?)
    }
    fn count(&self) -> Result<u64, StoreError> {
        Ok(self.0.machine_count(self.1)?)
    }
    fn sharing_parts(&self, parts: &[[u8; 8]]) -> Result<Vec<Machine>, StoreError> {
        Ok(self.0.machines_sharing_parts(self.1, parts)?)
    }
    fn ended(
        &self,
        rule: &SeatRule,
        now: i64,
        limit: usize,
        except: &[licet_core::model::MachineId],
    ) -> Result<Vec<Machine>, StoreError> {
        Ok(self.0.ended_machines(self.1, rule, now, limit, except)?)
    }
}

#[async_trait]
impl Seats for SledStore {
    async fn take_seats(
        &self,
        claims: &[SeatClaim],
        rule: &SeatRule,
        now: i64,
        make: MakeSeats<'_>,
    ) -> Result<Vec<(Seated, Carried)>, SeatError> {
        let seated = SledStore::take_seats(self, claims, rule, now, make)?;
        self.committer.commit().await.map_err(StoreError::from)?;
        Ok(seated)
    }
    async fn change_seat(
        &self,
        claim: &SeatClaim,
        change: ChangeSeat<'_>,
    ) -> Result<(Option<Recognised>, Carried), SeatError> {
        let found = SledStore::change_seat(self, claim, change)?;
        self.committer.commit().await.map_err(StoreError::from)?;
        Ok(found)
    }
    async fn clear_seats(&self, license_id: &str, record: Record) -> StoreResult<Vec<Machine>> {
        let removed = SledStore::clear_seats(self, license_id, record)?;
        self.committer.commit().await?;
        Ok(removed)
    }
    async fn machines(
        &self,
        license_id: &licet_core::model::LicenseId,
    ) -> StoreResult<Vec<Machine>> {
        Ok(SledStore::machines(self, license_id)?)
    }
    async fn machine(&self, license_id: &str, fingerprint: &str) -> StoreResult<Option<Machine>> {
        Ok(SledStore::machine(self, license_id, fingerprint)?)
    }
    async fn machine_by_id(
        &self,
        id: &licet_core::model::MachineId,
    ) -> StoreResult<Option<Machine>> {
        Ok(SledStore::machine_by_id(self, id)?)
    }
    async fn machine_count(&self, license_id: &str) -> StoreResult<u64> {
        Ok(SledStore::machine_count(self, license_id)?)
    }
    async fn machine_total(&self) -> StoreResult<usize> {
        Ok(SledStore::machine_total(self))
    }
    async fn machines_sharing_parts(
        &self,
        license_id: &str,
        parts: &[[u8; 8]],
    ) -> StoreResult<Vec<Machine>> {
        Ok(SledStore::machines_sharing_parts(self, license_id, parts)?)
    }
    async fn ended_machines(
        &self,
        license_id: &str,
        rule: &SeatRule,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<Machine>> {
        Ok(SledStore::ended_machines(
            self,
            license_id,
            rule,
            now,
            limit,
            &[],
        )?)
    }
    async fn seat_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        Ok(SledStore::seat_counts(self)?)
    }
    async fn put_machine(&self, m: &Machine) -> StoreResult<()> {
        SledStore::put_machine(self, m)?;
        Ok(self.committer.commit().await?)
    }
    async fn update_machine(&self, m: &Machine) -> StoreResult<()> {
        let done = SledStore::update_machine(self, m)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn remove_machine(&self, m: &Machine) -> StoreResult<bool> {
        let done = SledStore::remove_machine(self, m)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn recheck_floating(&self) -> StoreResult<()> {
        let done = SledStore::recheck_floating(self)?;
        self.committer.commit().await?;
        Ok(done)
    }
    async fn floating_licenses(&self) -> StoreResult<Vec<String>> {
        Ok(SledStore::floating_licenses(self)?)
    }
    async fn unmark_floating(&self, license_id: &str) -> StoreResult<()> {
        let done = SledStore::unmark_floating(self, license_id)?;
        self.committer.commit().await?;
        Ok(done)
    }
}
