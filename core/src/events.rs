//! Domain events: every state change of a license, told the same way whichever API family made
//! it. The server turns an event into its audit entry and its webhook deliveries, and the store
//! writes them in the same operation as the change ([`Record`](crate::store::Record)), so that
//! no change is announced that did not happen and none that happened goes untold.

use crate::model::{License, Machine, SecurityEvent};

/// A state change others may listen to.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DomainEvent {
    /// A license was issued (created, imported, sold).
    LicenseCreated(License),
    /// A machine took a seat it did not hold.
    LicenseActivated {
        /// The license.
        license: License,
        /// The machine (or domain) now holding a seat.
        machine: Machine,
    },
    /// A machine gave its seat back (deactivated by itself or by an operator).
    LicenseDeactivated {
        /// The license.
        license: License,
        /// The machine that held the seat.
        machine: Machine,
    },
    /// A license passed its expiry (announced once per expiry).
    LicenseExpired(License),
    /// A license was suspended.
    LicenseSuspended(License),
    /// A suspended license was reinstated.
    LicenseReinstated(License),
    /// A license's expiry was moved on.
    LicenseRenewed(License),
    /// A license was revoked for good; its tokens are on the revocation list.
    LicenseRevoked(License),
    /// A license was deleted.
    LicenseDeleted(License),
    /// A security event of high or critical severity.
    SecurityAlert(SecurityEvent),
    /// A request was blocked (blacklist, tampering).
    SecurityBlocked(SecurityEvent),
}

/// The names of the events webhooks may subscribe to, in a stable order.
pub const EVENT_NAMES: &[&str] = &[
    "license.created",
    "license.activated",
    "license.deactivated",
    "license.expired",
    "license.suspended",
    "license.reinstated",
    "license.renewed",
    "license.revoked",
    "license.deleted",
    "security.alert",
    "security.blocked",
];

impl DomainEvent {
    /// The event's name, as webhooks subscribe to it.
    pub fn name(&self) -> &'static str {
        match self {
            DomainEvent::LicenseCreated(_) => "license.created",
            DomainEvent::LicenseActivated { .. } => "license.activated",
            DomainEvent::LicenseDeactivated { .. } => "license.deactivated",
            DomainEvent::LicenseExpired(_) => "license.expired",
            DomainEvent::LicenseSuspended(_) => "license.suspended",
            DomainEvent::LicenseReinstated(_) => "license.reinstated",
            DomainEvent::LicenseRenewed(_) => "license.renewed",
            DomainEvent::LicenseRevoked(_) => "license.revoked",
            DomainEvent::LicenseDeleted(_) => "license.deleted",
            DomainEvent::SecurityAlert(_) => "security.alert",
            DomainEvent::SecurityBlocked(_) => "security.blocked",
        }
    }

    /// The license the event is about, if any.
    pub fn license(&self) -> Option<&License> {
        match self {
            DomainEvent::LicenseCreated(l)
            | DomainEvent::LicenseExpired(l)
            | DomainEvent::LicenseSuspended(l)
            | DomainEvent::LicenseReinstated(l)
            | DomainEvent::LicenseRenewed(l)
            | DomainEvent::LicenseRevoked(l)
            | DomainEvent::LicenseDeleted(l)
            | DomainEvent::LicenseActivated { license: l, .. }
            | DomainEvent::LicenseDeactivated { license: l, .. } => Some(l),
            DomainEvent::SecurityAlert(_) | DomainEvent::SecurityBlocked(_) => None,
        }
    }

    /// The product the event is about, if any: what decides which webhooks may hear it.
    pub fn product_id(&self) -> Option<&str> {
        match self {
            DomainEvent::SecurityAlert(e) | DomainEvent::SecurityBlocked(e) => {
                e.product_id.as_deref()
            }
            _ => self.license().map(|l| l.product_id.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_name_is_listed_once() {
        let l: License = serde_json::from_value(serde_json::json!({
            "id": "lic", "key": "K", "product_id": "prd", "policy_id": "pol",
            "status": "active", "kind": "lifetime", "expires_at": null, "seats": null,
            "domains": [], "entitlements": [], "metadata": {}, "numeric_id": 0,
            "created_at": 0, "updated_at": 0,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = [
            DomainEvent::LicenseCreated(l.clone()),
            DomainEvent::LicenseExpired(l.clone()),
            DomainEvent::LicenseSuspended(l.clone()),
            DomainEvent::LicenseReinstated(l.clone()),
            DomainEvent::LicenseRenewed(l.clone()),
            DomainEvent::LicenseRevoked(l.clone()),
            DomainEvent::LicenseDeleted(l.clone()),
        ]
        .iter()
        .map(DomainEvent::name)
        .collect();
        for n in &names {
            assert_eq!(EVENT_NAMES.iter().filter(|e| *e == n).count(), 1, "{n}");
        }
        let mut all = EVENT_NAMES.to_vec();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), EVENT_NAMES.len());
    }
}
