//! Machines: a license's seats, changed only under the license's row lock.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use licet_core::model::*;
use licet_core::seats::{
    PART_CANDIDATES, Recognised, SeatClaim, SeatError, SeatReads, SeatRule, Seated, Snapshot,
    license_of, part_hex,
};
use licet_core::store::*;

use crate::licenses::lock_license;
use crate::outbox::write_record;
use crate::*;

/// What the seat rule reads of a license's machines through `C`: in a transaction that holds
/// the license's row lock, the seats as they stand. Point reads and bounded queries only.
struct Reads<'a, C>(&'a C);

#[async_trait]
impl<C: GenericClient + Sync> SeatReads for Reads<'_, C> {
    async fn machine(&self, license_id: &str, fingerprint: &str) -> StoreResult<Option<Machine>> {
        one(
            self.0,
            "SELECT data FROM machines WHERE license_id = $1 AND fingerprint = $2",
            &[&license_id, &fingerprint],
        )
        .await
    }
    async fn machine_count(&self, license_id: &str) -> StoreResult<u64> {
        // Kept by the machines table's triggers (migration V6).
        let n: Option<i64> = row(
            self.0,
            "SELECT n FROM seat_counts WHERE license_id = $1",
            &[&license_id],
        )
        .await?
        .map(|r| col(&r, 0))
        .transpose()?;
        Ok(n.map_or(0, unbig))
    }
    async fn machines_sharing_parts(
        &self,
        license_id: &str,
        parts: &[[u8; 8]],
    ) -> StoreResult<Vec<Machine>> {
        let parts: Vec<String> = parts.iter().map(part_hex).collect();
        all(
            self.0,
            "SELECT m.data FROM machines m WHERE m.license_id = $1 AND m.fingerprint IN ( \
               SELECT c.fingerprint FROM unnest($2::text[]) AS q(part) CROSS JOIN LATERAL ( \
                 SELECT fingerprint FROM machine_parts p \
                  WHERE p.license_id = $1 AND p.part = q.part ORDER BY fingerprint LIMIT $3) c) \
             ORDER BY m.fingerprint",
            &[&license_id, &parts, &big(PART_CANDIDATES as u64)?],
        )
        .await
    }
    async fn ended_machines(
        &self,
        license_id: &str,
        rule: &SeatRule,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<Machine>> {
        // The partial indexes machines_lease_end and machines_heartbeat answer these in the
        // order asked, so each reads at most `limit` rows.
        let mut out: Vec<Machine> = all(
            self.0,
            "SELECT data FROM machines WHERE license_id = $1 AND data->>'lease_until' IS NOT NULL \
               AND (data->>'lease_until')::bigint <= $2 \
             ORDER BY (data->>'lease_until')::bigint LIMIT $3",
            &[&license_id, &now, &big(limit as u64)?],
        )
        .await?;
        if rule.floating && out.len() < limit {
            let ttl = i64::try_from(rule.heartbeat_ttl).unwrap_or(i64::MAX);
            let more: Vec<Machine> = all(
                self.0,
                "SELECT data FROM machines WHERE license_id = $1 AND data->>'lease_until' IS NULL \
                   AND (data->>'last_heartbeat')::bigint < $2 \
                 ORDER BY (data->>'last_heartbeat')::bigint LIMIT $3",
                &[
                    &license_id,
                    &now.saturating_sub(ttl),
                    &big((limit - out.len()) as u64)?,
                ],
            )
            .await?;
            out.extend(more);
        }
        Ok(out)
    }
}

/// The machines of a license (a list for an operator, never the seat rule's read).
async fn machines_in<C: GenericClient>(c: &C, license_id: &str) -> StoreResult<Vec<Machine>> {
    all(
        c,
        "SELECT data FROM machines WHERE license_id = $1 ORDER BY fingerprint",
        &[&license_id],
    )
    .await
}

/// Inserts or replaces a machine (by license and fingerprint), in `tx`: whether it is new.
pub(crate) async fn upsert_machine(tx: &Transaction<'_>, m: &Machine) -> StoreResult<bool> {
    // `xmax = 0` holds for a row this statement inserted, not for one it updated.
    scalar(
        tx,
        "INSERT INTO machines (id, license_id, fingerprint, data) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (license_id, fingerprint) DO UPDATE SET id = EXCLUDED.id, data = EXCLUDED.data \
         RETURNING (xmax = 0)",
        &[&m.id.as_str(), &m.license_id.as_str(), &m.fingerprint, &json(m)],
    )
    .await
}

/// `n` new machine numbers, from the `machine_numbers` sequence.
pub(crate) async fn machine_numbers<C: GenericClient>(c: &C, n: usize) -> StoreResult<Vec<u64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let n = i64::try_from(n).map_err(|_| StoreError::backend("too many new machines"))?;
    let rows = c
        .query(
            "SELECT nextval('machine_numbers') FROM generate_series(1, $1::bigint)",
            &[&n],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| unbig(r.get::<_, i64>(0))).collect())
}

/// Inserts or replaces a machine, in `tx`; a new machine, or one with a lease, marks its
/// license for the culler.
async fn put_in(tx: &Transaction<'_>, m: &Machine) -> StoreResult<()> {
    if upsert_machine(tx, m).await? || m.lease_until.is_some() {
        exec(
            tx,
            "INSERT INTO floating_licenses (license_id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&m.license_id.as_str()],
        )
        .await?;
    }
    Ok(())
}

/// Removes a machine, in `tx`: whether it existed.
async fn remove_in(tx: &Transaction<'_>, m: &Machine) -> StoreResult<bool> {
    Ok(exec(
        tx,
        "DELETE FROM machines WHERE license_id = $1 AND fingerprint = $2",
        &[&m.license_id.as_str(), &m.fingerprint],
    )
    .await?
        > 0)
}

/// A seat operation in a PostgreSQL transaction that holds the license's row lock: the rule's
/// reads are made ahead into a [`Snapshot`] (each a point read or bounded), the writes go into
/// the transaction, and the caller commits.
struct PgTx<'a, 't>(&'a Transaction<'t>);

#[async_trait]
impl SeatTx for PgTx<'_, '_> {
    type View = Snapshot;
    async fn view(
        &mut self,
        claims: &[SeatClaim],
        reap: Option<(&SeatRule, i64)>,
    ) -> StoreResult<Snapshot> {
        Snapshot::read(&Reads(self.0), claims, reap).await
    }
    async fn numbers(&mut self, n: usize) -> StoreResult<Vec<u64>> {
        // From a sequence: drawing one takes no lock that lives until commit, so activations
        // of other licenses do not wait on this one.
        machine_numbers(self.0, n).await
    }
    async fn put(&mut self, m: &Machine) -> StoreResult<()> {
        put_in(self.0, m).await
    }
    async fn remove(&mut self, m: &Machine) -> StoreResult<bool> {
        remove_in(self.0, m).await
    }
    async fn record(&mut self, r: Record) -> StoreResult<()> {
        write_record(self.0, r).await
    }
}

#[async_trait]
impl Seats for PgStore {
    async fn take_seats(
        &self,
        claims: &[SeatClaim],
        rule: &SeatRule,
        now: i64,
        make: MakeSeats<'_>,
    ) -> Result<Vec<(Seated, Carried)>, SeatError> {
        let Some(license_id) = license_of(claims)? else {
            return Ok(Vec::new());
        };
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        // The license's row lock serialises every seat change of the license, on every
        // instance: the machines read next are the seats as they stand until this commits.
        if lock_license(&tx, license_id).await?.is_none() {
            return Err(StoreError::NotFound.into());
        }
        let seated = take_seats_in(&mut PgTx(&tx), license_id, claims, rule, now, make).await?;
        tx.commit().await.map_err(pg)?;
        Ok(seated)
    }
    async fn change_seat(
        &self,
        claim: &SeatClaim,
        change: ChangeSeat<'_>,
    ) -> Result<(Option<Recognised>, Carried), SeatError> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        lock_license(&tx, &claim.license_id).await?;
        let changed = change_seat_in(&mut PgTx(&tx), claim, change).await?;
        tx.commit().await.map_err(pg)?;
        Ok(changed)
    }
    async fn clear_seats(&self, license_id: &str, record: Record) -> StoreResult<Vec<Machine>> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        lock_license(&tx, license_id).await?;
        let removed = all(
            &tx,
            "DELETE FROM machines WHERE license_id = $1 RETURNING data",
            &[&license_id],
        )
        .await?;
        write_record(&tx, record).await?;
        tx.commit().await.map_err(pg)?;
        Ok(removed)
    }
    async fn machines(
        &self,
        license_id: &licet_core::model::LicenseId,
    ) -> StoreResult<Vec<Machine>> {
        let c = self.conn().await?;
        machines_in(&c, license_id).await
    }
    async fn machine(&self, license_id: &str, fingerprint: &str) -> StoreResult<Option<Machine>> {
        let c = self.conn().await?;
        Reads(&c).machine(license_id, fingerprint).await
    }
    async fn machine_by_id(
        &self,
        id: &licet_core::model::MachineId,
    ) -> StoreResult<Option<Machine>> {
        let c = self.conn().await?;
        one(
            &c,
            "SELECT data FROM machines WHERE id = $1 LIMIT 1",
            &[&id.as_str()],
        )
        .await
    }
    async fn machine_count(&self, license_id: &str) -> StoreResult<u64> {
        let c = self.conn().await?;
        Reads(&c).machine_count(license_id).await
    }
    async fn machines_sharing_parts(
        &self,
        license_id: &str,
        parts: &[[u8; 8]],
    ) -> StoreResult<Vec<Machine>> {
        let c = self.conn().await?;
        Reads(&c).machines_sharing_parts(license_id, parts).await
    }
    async fn ended_machines(
        &self,
        license_id: &str,
        rule: &SeatRule,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<Machine>> {
        let c = self.conn().await?;
        Reads(&c).ended_machines(license_id, rule, now, limit).await
    }
    async fn machine_total(&self) -> StoreResult<usize> {
        let c = self.conn().await?;
        Ok(size(
            scalar(&c, "SELECT count(*) FROM machines", &[]).await?,
        ))
    }
    async fn seat_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        let c = self.conn().await?;
        rows(
            &c,
            "SELECT license_id, n FROM seat_counts WHERE n > 0 ORDER BY license_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 0)?, unbig(col(r, 1)?))))
        .collect()
    }
    async fn put_machine(&self, m: &Machine) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        lock_license(&tx, &m.license_id).await?;
        put_in(&tx, m).await?;
        tx.commit().await.map_err(pg)
    }
    async fn update_machine(&self, m: &Machine) -> StoreResult<()> {
        self.put_machine(m).await
    }
    async fn remove_machine(&self, m: &Machine) -> StoreResult<bool> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg)?;
        lock_license(&tx, &m.license_id).await?;
        let existed = remove_in(&tx, m).await?;
        tx.commit().await.map_err(pg)?;
        Ok(existed)
    }
    async fn recheck_floating(&self) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "INSERT INTO floating_licenses (license_id) SELECT DISTINCT license_id FROM machines \
             ON CONFLICT DO NOTHING",
            &[],
        )
        .await?;
        Ok(())
    }
    async fn floating_licenses(&self) -> StoreResult<Vec<String>> {
        let c = self.conn().await?;
        rows(
            &c,
            "SELECT license_id FROM floating_licenses ORDER BY license_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| col(r, 0))
        .collect()
    }
    async fn unmark_floating(&self, license_id: &str) -> StoreResult<()> {
        let c = self.conn().await?;
        exec(
            &c,
            "DELETE FROM floating_licenses WHERE license_id = $1",
            &[&license_id],
        )
        .await?;
        Ok(())
    }
}
