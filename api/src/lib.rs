//! licet-server's native API as data: the request and answer types that the server, the
//! `licet` CLI and the online client (`licet_client::online`) share, so that no side writes
//! the other's JSON by hand.
//!
//! These types are apart from the records the store keeps (`licet_core::model`): renaming a
//! stored field is not an API change, and the reverse. With the `core` feature (the server's)
//! each answer is made from its record and each enum converts to and from the core's; with
//! `openapi`, every type derives its OpenAPI schema. A client needs neither.
#![forbid(unsafe_code)]

pub mod answers;
pub mod client;
pub mod enums;
pub mod error;
pub mod offline;
pub mod requests;

pub use enums::*;
