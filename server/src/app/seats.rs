//! The seat service: the one activation every family's seats are taken through (the store's
//! seat operation, under the one seat rule), at the server's time, a new machine announced
//! with its seat, and what the seats it reaped still held revoked. A family supplies only its
//! terms: the machine it makes of the seat.

use std::sync::Arc;

use licet_core::clock::Clock;
use licet_core::events::kind;
use licet_core::model::{AuditEvent, License, Machine};
use licet_core::seats::{SeatClaim, SeatError, SeatRule, Seated};
use licet_core::store::{Halted, Record, Seat, SeatsWith, Store, StoreError};

use super::journal::Journal;
use super::revocations::RevocationService;

/// What a family makes of the seat a claim takes: the machine as it is to be stored, the audit
/// entries written with it, and what the family wants back.
#[derive(Debug)]
pub struct Made<T> {
    /// The machine as it is to be stored.
    pub machine: Machine,
    /// Audit entries written with it.
    pub audit: Vec<AuditEvent>,
    /// What the family wants back.
    pub back: T,
}

impl<T> Made<T> {
    /// `machine`, with `audit`, handing `back` to the family.
    pub fn new(machine: Machine, audit: Vec<AuditEvent>, back: T) -> Made<T> {
        Made {
            machine,
            audit,
            back,
        }
    }
}

/// A family's terms for the seat a claim takes: from the seat (the stored machine, or the
/// number the operation drew for a new one) and the operation's time, the machine to store,
/// or the family's reason to decline (`E`), which it gets back as given.
pub type Terms<'a, T, E> = &'a (dyn for<'s> Fn(Seat<'s>, i64) -> Result<Made<T>, E> + Send + Sync);

/// [`Terms`] for one of several claims, by its index.
pub type TermsOf<'a, T, E> =
    &'a (dyn for<'s> Fn(usize, Seat<'s>, i64) -> Result<Made<T>, E> + Send + Sync);

/// Seats, for every family.
#[derive(Debug)]
pub struct SeatService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    revocations: Arc<RevocationService>,
    journal: Arc<Journal>,
}

impl SeatService {
    /// The service over `store`, revoking through `revocations` and announcing through
    /// `journal`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        revocations: Arc<RevocationService>,
        journal: Arc<Journal>,
    ) -> SeatService {
        SeatService {
            store,
            clock,
            revocations,
            journal,
        }
    }

    /// Takes a seat of `license` for `claim`: the one activation every family goes through
    /// (online, offline and borrowed seats, LicenseCM, the Verify API, WemX's domains, a
    /// license's domains). See [`SeatService::activate_all`].
    pub async fn activate<T, E>(
        &self,
        license: &License,
        claim: &SeatClaim,
        rule: &SeatRule,
        terms: Terms<'_, T, E>,
    ) -> Result<(Seated, T), Halted<E, SeatError>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        self.activate_all(
            license,
            std::slice::from_ref(claim),
            rule,
            &|_, seat, now| terms(seat, now),
        )
        .await?
        .pop()
        .ok_or_else(|| Halted::Failed(SeatError::Store(StoreError::backend("no seat taken"))))
    }

    /// Takes a seat of `license` for each of `claims`, all or none, through the store's seat
    /// operation under the one seat rule (`licet_core::seats`), at the server's time. The
    /// family supplies only its terms: the machine it makes of each seat, with its audit
    /// entries, or its reason to decline. A machine new to the license is announced as
    /// `license.activated` in the same operation; what the dead seats the operation reaped
    /// still held is revoked after.
    pub async fn activate_all<T, E>(
        &self,
        license: &License,
        claims: &[SeatClaim],
        rule: &SeatRule,
        terms: TermsOf<'_, T, E>,
    ) -> Result<Vec<(Seated, T)>, Halted<E, SeatError>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let audience = self
            .journal
            .audience(kind::LicenseActivated, Some(&license.product_id))
            .await
            .map_err(|e| Halted::Failed(SeatError::Store(e)))?;
        let now = self.clock.now();
        let seated = self
            .store
            .take_seats_with(claims, rule, now, &|i, seat| {
                let fresh = matches!(seat, Seat::New { .. });
                let made = terms(i, seat, now)?;
                let told = match fresh {
                    true => {
                        audience.record((license.clone(), made.machine.clone()), now, made.audit)
                    }
                    false => Record {
                        audit: made.audit,
                        deliveries: Vec::new(),
                    },
                };
                Ok((made.machine, told, made.back))
            })
            .await?;
        self.revoke_reaped(seated.iter().map(|(s, _)| s))
            .await
            .map_err(Halted::Failed)?;
        Ok(seated)
    }

    /// Revokes what the dead seats a seat operation gave back still held: their machines'
    /// unexpired tokens (a floating seat's current token lives on after its heartbeats stop).
    /// Done after the operation, which alone knows which seats it reaped: a crash in between
    /// leaves those tokens unrevoked until they expire.
    async fn revoke_reaped<'a>(
        &self,
        seated: impl Iterator<Item = &'a Seated>,
    ) -> Result<(), SeatError> {
        let now = self.clock.now();
        for dead in seated.flat_map(|s| &s.reaped) {
            let tokens = dead.live_tokens(now);
            if tokens.is_empty() {
                continue;
            }
            let Some(l) = self.store.license(&dead.license_id).await? else {
                continue;
            };
            self.revocations
                .revoke_held(&l, dead, &tokens, "server", None)
                .await
                .map_err(|e| SeatError::Store(StoreError::backend(e.message())))?;
        }
        Ok(())
    }
}
