//! The native `/v1` API, one module per resource. Each reaches storage through the core's store
//! operations and shares only neutral helpers (`access`), never another resource's handlers.

pub mod access;
pub mod admin;
pub mod body;
pub mod client;
pub mod downloads;
pub mod licenses;
pub mod offline;
pub mod public;
pub mod shop;
pub mod stats;
pub mod webhooks;
