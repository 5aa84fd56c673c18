//! The HTTP suite (`tests/suite/`) on PostgreSQL: the same modules as `tests/sled.rs`, each
//! test on a fresh schema of the test database.

mod common;
mod suite;

use common::backends::postgres as backend;
