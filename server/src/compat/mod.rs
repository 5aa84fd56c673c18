//! The compatibility families: each translates its wire format to the core's operations and
//! the core's outcomes back to its wire format. No family imports another's handlers, nor the
//! native API's.

pub mod faxstore;
pub mod licensecm;
pub mod verify;
pub mod wemx;
