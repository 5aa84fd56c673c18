//! The native `/v1` API, one module per resource. Each reaches storage through the core's store
//! operations and the application layer (`crate::app`), never another resource's handlers.

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
