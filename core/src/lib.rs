//! licet-core: the licensing domain, apart from HTTP and from any storage engine.
//!
//! The server's API families (licet's own `/v1`, FaxStore, WemX, the Verify API, LicenseCM)
//! are adapters over this crate; storage backends (`licet-store-sled`, and later PostgreSQL)
//! implement its [`store`] traits. Dependencies point one way: adapters → core ← stores.
//!
//! Time is injected ([`clock::Clock`]); nothing here reads the system clock on its own.

pub mod audit;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod events;
pub mod ids;
pub mod model;
pub mod rules;
pub mod seats;
pub mod store;
pub mod tally;
pub mod transfer;

pub use store::{Constraint, Page, PageRequest, Store, StoreError, StoreResult};
