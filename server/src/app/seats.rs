//! The seat service: every family's seats taken through one operation (the store's, under
//! the one seat rule), at the server's time, with what the seats it reaped still held revoked.

use std::sync::Arc;

use licet_core::clock::Clock;
use licet_core::model::Machine;
use licet_core::seats::{SeatClaim, SeatError, SeatRule, Seated};
use licet_core::store::{Halted, Record, Seat, SeatsWith, Store, StoreError};

use super::revocations::RevocationService;

/// Builds a seat's machine for [`SeatService::take_seat`]: from the seat the claim takes (the
/// stored machine, or a new one's number, drawn inside the operation), at the operation's time;
/// with the audit entries to write with it and what the caller wants back (`T`), or the
/// caller's reason to decline (`E`), which it gets back as given.
pub type MakeSeatAt<'a, T, E> =
    &'a (dyn for<'s> Fn(Seat<'s>, i64) -> Result<(Machine, Record, T), E> + Send + Sync);

/// [`MakeSeatAt`] for one of several claims, by its index.
pub type MakeSeatsAt<'a, T, E> =
    &'a (dyn for<'s> Fn(usize, Seat<'s>, i64) -> Result<(Machine, Record, T), E> + Send + Sync);

/// Seats, for every family.
#[derive(Debug)]
pub struct SeatService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    revocations: Arc<RevocationService>,
}

impl SeatService {
    /// The service over `store`, revoking through `revocations`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        revocations: Arc<RevocationService>,
    ) -> SeatService {
        SeatService {
            store,
            clock,
            revocations,
        }
    }

    /// Takes a seat through the store's seat operation (the one seat rule, `licet_core::seats`):
    /// `make` gets the seat the claim takes (the stored machine, or the number the operation
    /// drew for a new one) and the time. What the reaped seats still held is revoked after.
    pub async fn take_seat<T, E>(
        &self,
        claim: &SeatClaim,
        rule: &SeatRule,
        make: MakeSeatAt<'_, T, E>,
    ) -> Result<(Seated, T), Halted<E, SeatError>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        self.take_seats(std::slice::from_ref(claim), rule, &|_, seat, now| {
            make(seat, now)
        })
        .await?
        .pop()
        .ok_or_else(|| Halted::Failed(SeatError::Store(StoreError::backend("no seat taken"))))
    }

    /// [`SeatService::take_seat`] for several claims of one license, all or none
    /// (`Seats::take_seats`); `make` gets each claim's index.
    pub async fn take_seats<T, E>(
        &self,
        claims: &[SeatClaim],
        rule: &SeatRule,
        make: MakeSeatsAt<'_, T, E>,
    ) -> Result<Vec<(Seated, T)>, Halted<E, SeatError>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let now = self.clock.now();
        let seated = self
            .store
            .take_seats_with(claims, rule, now, &|i, seat| make(i, seat, now))
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
