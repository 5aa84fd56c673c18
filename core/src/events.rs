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

/// Every kind of event, each with the name webhooks subscribe to it by. The name is written
/// here once; everything else asks the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// [`DomainEvent::LicenseCreated`].
    LicenseCreated,
    /// [`DomainEvent::LicenseActivated`].
    LicenseActivated,
    /// [`DomainEvent::LicenseDeactivated`].
    LicenseDeactivated,
    /// [`DomainEvent::LicenseExpired`].
    LicenseExpired,
    /// [`DomainEvent::LicenseSuspended`].
    LicenseSuspended,
    /// [`DomainEvent::LicenseReinstated`].
    LicenseReinstated,
    /// [`DomainEvent::LicenseRenewed`].
    LicenseRenewed,
    /// [`DomainEvent::LicenseRevoked`].
    LicenseRevoked,
    /// [`DomainEvent::LicenseDeleted`].
    LicenseDeleted,
    /// [`DomainEvent::SecurityAlert`].
    SecurityAlert,
    /// [`DomainEvent::SecurityBlocked`].
    SecurityBlocked,
}

impl EventKind {
    /// Every kind, in a stable order.
    pub const ALL: [EventKind; 11] = [
        EventKind::LicenseCreated,
        EventKind::LicenseActivated,
        EventKind::LicenseDeactivated,
        EventKind::LicenseExpired,
        EventKind::LicenseSuspended,
        EventKind::LicenseReinstated,
        EventKind::LicenseRenewed,
        EventKind::LicenseRevoked,
        EventKind::LicenseDeleted,
        EventKind::SecurityAlert,
        EventKind::SecurityBlocked,
    ];

    /// The name webhooks subscribe to.
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::LicenseCreated => "license.created",
            EventKind::LicenseActivated => "license.activated",
            EventKind::LicenseDeactivated => "license.deactivated",
            EventKind::LicenseExpired => "license.expired",
            EventKind::LicenseSuspended => "license.suspended",
            EventKind::LicenseReinstated => "license.reinstated",
            EventKind::LicenseRenewed => "license.renewed",
            EventKind::LicenseRevoked => "license.revoked",
            EventKind::LicenseDeleted => "license.deleted",
            EventKind::SecurityAlert => "security.alert",
            EventKind::SecurityBlocked => "security.blocked",
        }
    }

    /// The kind of a name, if it is one.
    pub fn of_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The names of the events webhooks may subscribe to, in a stable order.
pub const EVENT_NAMES: [&str; 11] = {
    let mut names = [""; 11];
    let mut i = 0;
    while i < EventKind::ALL.len() {
        names[i] = EventKind::ALL[i].name();
        i += 1;
    }
    names
};

/// An event kind known when the code is compiled, with what its event carries. Whatever is
/// told through a [`Kind`] is built by it, so an event cannot be told under another event's
/// name: that does not compile.
pub trait Kind: Copy + Send + Sync {
    /// What the event carries.
    type Payload;
    /// The kind.
    const KIND: EventKind;
    /// The event of `payload`.
    fn event(self, payload: Self::Payload) -> DomainEvent;
}

/// The [`Kind`] of each event.
pub mod kind {
    use super::{DomainEvent, EventKind, Kind};
    use crate::model::{License, Machine, SecurityEvent};

    macro_rules! kinds {
        ($($(#[$doc:meta])* $name:ident($payload:ty) => |$p:ident| $event:expr;)*) => {$(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $name;

            impl Kind for $name {
                type Payload = $payload;
                const KIND: EventKind = EventKind::$name;
                fn event(self, $p: $payload) -> DomainEvent {
                    $event
                }
            }
        )*};
    }

    kinds! {
        /// `license.created`: the license.
        LicenseCreated(License) => |l| DomainEvent::LicenseCreated(l);
        /// `license.activated`: the license and the machine now holding a seat.
        LicenseActivated((License, Machine)) => |p| DomainEvent::LicenseActivated {
            license: p.0,
            machine: p.1,
        };
        /// `license.deactivated`: the license and the machine that held the seat.
        LicenseDeactivated((License, Machine)) => |p| DomainEvent::LicenseDeactivated {
            license: p.0,
            machine: p.1,
        };
        /// `license.expired`: the license.
        LicenseExpired(License) => |l| DomainEvent::LicenseExpired(l);
        /// `license.suspended`: the license.
        LicenseSuspended(License) => |l| DomainEvent::LicenseSuspended(l);
        /// `license.reinstated`: the license.
        LicenseReinstated(License) => |l| DomainEvent::LicenseReinstated(l);
        /// `license.renewed`: the license.
        LicenseRenewed(License) => |l| DomainEvent::LicenseRenewed(l);
        /// `license.revoked`: the license.
        LicenseRevoked(License) => |l| DomainEvent::LicenseRevoked(l);
        /// `license.deleted`: the license.
        LicenseDeleted(License) => |l| DomainEvent::LicenseDeleted(l);
        /// `security.alert`: the security event.
        SecurityAlert(SecurityEvent) => |e| DomainEvent::SecurityAlert(e);
        /// `security.blocked`: the security event.
        SecurityBlocked(SecurityEvent) => |e| DomainEvent::SecurityBlocked(e);
    }
}

impl DomainEvent {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            DomainEvent::LicenseCreated(_) => EventKind::LicenseCreated,
            DomainEvent::LicenseActivated { .. } => EventKind::LicenseActivated,
            DomainEvent::LicenseDeactivated { .. } => EventKind::LicenseDeactivated,
            DomainEvent::LicenseExpired(_) => EventKind::LicenseExpired,
            DomainEvent::LicenseSuspended(_) => EventKind::LicenseSuspended,
            DomainEvent::LicenseReinstated(_) => EventKind::LicenseReinstated,
            DomainEvent::LicenseRenewed(_) => EventKind::LicenseRenewed,
            DomainEvent::LicenseRevoked(_) => EventKind::LicenseRevoked,
            DomainEvent::LicenseDeleted(_) => EventKind::LicenseDeleted,
            DomainEvent::SecurityAlert(_) => EventKind::SecurityAlert,
            DomainEvent::SecurityBlocked(_) => EventKind::SecurityBlocked,
        }
    }

    /// The event's name, as webhooks subscribe to it.
    pub fn name(&self) -> &'static str {
        self.kind().name()
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

    fn told<K: Kind>(k: K, payload: K::Payload) -> (EventKind, EventKind) {
        (k.event(payload).kind(), K::KIND)
    }

    #[test]
    fn each_kind_builds_its_own_event_and_every_name_is_listed_once() {
        let l: License = serde_json::from_value(serde_json::json!({
            "id": "lic", "key": "K", "product_id": "prd", "policy_id": "pol",
            "status": "active", "kind": "lifetime", "expires_at": null, "seats": null,
            "domains": [], "entitlements": [], "metadata": {}, "numeric_id": 0,
            "created_at": 0, "updated_at": 0,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let m = Machine::new("mch".into(), "lic", "fp", 1, 0);
        let e: SecurityEvent = serde_json::from_value(serde_json::json!({
            "seq": 0, "event_type": "blacklist_hit", "severity": "high", "license_id": null,
            "product_id": null, "ip_address": null, "hwid": null, "is_blocked": true,
            "details": {}, "created_at": 0,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let pairs = [
            told(kind::LicenseCreated, l.clone()),
            told(kind::LicenseActivated, (l.clone(), m.clone())),
            told(kind::LicenseDeactivated, (l.clone(), m)),
            told(kind::LicenseExpired, l.clone()),
            told(kind::LicenseSuspended, l.clone()),
            told(kind::LicenseReinstated, l.clone()),
            told(kind::LicenseRenewed, l.clone()),
            told(kind::LicenseRevoked, l.clone()),
            told(kind::LicenseDeleted, l),
            told(kind::SecurityAlert, e.clone()),
            told(kind::SecurityBlocked, e),
        ];
        for (built, declared) in pairs {
            assert_eq!(built, declared);
        }
        let kinds: Vec<EventKind> = pairs.iter().map(|p| p.0).collect();
        assert_eq!(kinds, EventKind::ALL, "every kind has its marker, in order");
        for k in EventKind::ALL {
            assert_eq!(EventKind::of_name(k.name()), Some(k));
            assert_eq!(EVENT_NAMES.iter().filter(|n| **n == k.name()).count(), 1);
        }
        assert_eq!(EventKind::of_name("license.nope"), None);
    }
}
