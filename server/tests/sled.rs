//! The HTTP suite (`tests/suite/`) on the embedded sled store.

mod common;
mod suite;

use common::backends::sled as backend;
