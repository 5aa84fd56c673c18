//! The storage traits: what the licensing core asks of a backend.
//!
//! A backend is a struct that implements a handful of small traits, one per concern (the
//! catalogue, licenses, seats, identities, …), gathered by [`Store`]; the server holds it as an
//! `Arc<dyn Store>`. Every method is a whole operation: it keeps its own invariants (unique
//! codes, seat counts, once-only ids) without any lock held by the caller, so that the same
//! guarantees hold when several processes share one database.
//!
//! Errors are [`StoreError`]s: a backend never decides an HTTP status. Filters and cursors are
//! data ([`LicenseFilter`], [`PageRequest`]), so that a SQL backend can turn them into a query.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{
    ApiKey, AuditEvent, BlacklistEntry, BlacklistType, Customer, Delivery, Download, DownloadGrant,
    License, LicenseRow, LicenseStatus, Machine, Notification, Order, Policy, Price, Product,
    SecurityEvent, Session, Severity, User, Webhook,
};
use crate::seats::{Recognised, SeatClaim, SeatError, SeatRule, Seated};

mod catalog;
mod counters;
mod durability;
mod identity;
mod journal;
mod licenses;
mod lookups;
mod query;
mod revocations;
mod seats;
mod shop;
mod vaults;

pub use crate::error::*;
pub use catalog::*;
pub use counters::*;
pub use durability::*;
pub use identity::*;
pub use journal::*;
pub use licenses::*;
pub use lookups::*;
pub use query::*;
pub use revocations::*;
pub use seats::*;
pub use shop::*;
pub use vaults::*;

/// A storage backend: every concern, in one object the server holds as `Arc<dyn Store>`.
pub trait Store:
    Durability
    + Catalog
    + Licenses
    + Seats
    + Shop
    + Downloads
    + Identity
    + Security
    + Outbox
    + OneTime
    + Audit
    + Revocations
    + KeyVault
    + FileVault
    + Transfer
    + Lookups
    + Counters
    + std::fmt::Debug
{
}

impl<T> Store for T where
    T: Durability
        + Catalog
        + Licenses
        + Seats
        + Shop
        + Downloads
        + Identity
        + Security
        + Outbox
        + OneTime
        + Audit
        + Revocations
        + KeyVault
        + FileVault
        + Transfer
        + Lookups
        + Counters
        + std::fmt::Debug
{
}
