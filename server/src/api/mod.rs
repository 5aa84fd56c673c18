//! licet's own API.

pub mod v1;
