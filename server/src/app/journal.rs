//! The journal: audit entries (written with the change they record, or appended), security
//! events and notifications, and who hears an event (`crate::events` holds those methods,
//! beside the outbox that delivers them).

use licet_core::ids::{LicenseId, MachineId, PolicyId, ProductId};
use std::sync::Arc;

use licet_core::audit::{AuditAction, AuditObject};
use licet_core::clock::Clock;
use licet_core::model::AuditEvent;
use licet_core::store::Store;

use crate::app::error::ApiResult;

/// Most entries [`AppState::first_this_minute`] remembers; it forgets them all past this, so
/// the worst case is one extra log entry per key, never a missing refusal.
const MAX_LOGGED: usize = 200_000;

/// What was let through once a minute, by the SHA-256 of its parts: (minute, times passed over
/// since).
type Logged = std::collections::HashMap<[u8; 32], (i64, u64)>;

/// What the server records of what happens.
#[derive(Debug)]
pub struct Journal {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// What was logged this minute (see [`Journal::first_this_minute`]).
    logged: std::sync::Mutex<Logged>,
}

impl Journal {
    /// The journal of `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Journal {
        Journal {
            store,
            clock,
            logged: std::sync::Mutex::default(),
        }
    }

    /// An audit entry about an object of `product_id`, to be written with the change it records
    /// (in the same store operation).
    pub fn audit_entry(
        &self,
        actor: &str,
        action: AuditAction,
        subject: &str,
        ip: Option<String>,
        detail: serde_json::Value,
        product_id: Option<ProductId>,
    ) -> AuditEvent {
        AuditEvent {
            seq: 0,
            at: self.clock.now(),
            actor: actor.to_owned(),
            action: action.as_str().to_owned(),
            subject: subject.to_owned(),
            ip,
            detail,
            product_id,
        }
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: AuditAction,
        subject: &str,
        ip: Option<String>,
        detail: serde_json::Value,
    ) -> ApiResult<()> {
        let product_id = self.product_of(action, subject, &detail).await?;
        self.store
            .append_audit(self.audit_entry(actor, action, subject, ip, detail, product_id))
            .await?;
        Ok(())
    }

    /// The product an audit entry is about: named in its detail, or found through its subject
    /// (an object of the kind its action names) or the license its detail names. `None` for
    /// what spans products (API keys, customers, users), which only unrestricted keys see.
    async fn product_of(
        &self,
        action: AuditAction,
        subject: &str,
        detail: &serde_json::Value,
    ) -> ApiResult<Option<ProductId>> {
        if let Some(p) = detail.get("product_id").and_then(|v| v.as_str()) {
            return Ok(Some(ProductId::from(p)));
        }
        let license = match action.object() {
            AuditObject::Product => return Ok(Some(ProductId::from(subject))),
            AuditObject::Policy => {
                let policy = self.store.policy(&PolicyId::from(subject)).await?;
                return Ok(policy.map(|p| p.product_id));
            }
            AuditObject::License => Some(LicenseId::from(subject)),
            AuditObject::Machine => self
                .store
                .machine_by_id(&MachineId::from(subject))
                .await?
                .map(|m| m.license_id),
            _ => detail
                .get("license_id")
                .and_then(|v| v.as_str())
                .map(LicenseId::from),
        };
        match license {
            Some(id) => Ok(self.store.license(&id).await?.map(|l| l.product_id)),
            None => Ok(None),
        }
    }

    /// Whether the event `what` (its parts) is new this minute; it is remembered if so.
    ///
    /// Repeated successful checks of one license from one machine and address are logged once
    /// a minute rather than once per request: the log keeps who checked and when, to the
    /// minute, and a validation stops costing store writes. Refusals are always
    /// logged.
    pub(crate) fn first_this_minute(&self, what: &[&str]) -> bool {
        self.once_a_minute(what).is_some()
    }

    /// [`Journal::first_this_minute`], counting: `Some(n)` when `what` is new this minute,
    /// with `n` the times it was passed over since it was last let through; `None` (and one
    /// more passed over) otherwise. Events anyone can cause without a credential are recorded
    /// this way, so that they cost one log entry a minute, not one a request.
    pub(crate) fn once_a_minute(&self, what: &[&str]) -> Option<u64> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for part in what {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let id: [u8; 32] = h.finalize().into();
        let minute = self.clock.now().div_euclid(60);
        let Ok(mut seen) = self.logged.lock() else {
            return Some(0);
        };
        if let Some((m, skipped)) = seen.get_mut(&id) {
            if *m == minute {
                *skipped += 1;
                return None;
            }
            let n = *skipped;
            *m = minute;
            *skipped = 0;
            return Some(n);
        }
        if seen.len() >= MAX_LOGGED {
            seen.clear();
        }
        seen.insert(id, (minute, 0));
        Some(0)
    }
}
