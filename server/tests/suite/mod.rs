//! The HTTP suite: every API family through a real router. `tests/sled.rs` and
//! `tests/postgres.rs` compile these modules once each, over their own `crate::backend`.

mod admission;
mod api;
mod audience;
mod bad_input;
mod dashboard;
mod dashboard_forms;
mod devices;
mod faxstore;
mod hwid_parts;
mod licensecm;
mod licensecm_python;
mod licensecm_reach;
mod matrix;
mod offline;
mod privilege;
mod roots;
mod rotation;
mod seat_release;
mod seats;
mod security;
mod signed_answers;
mod stats;
mod verify_api;
mod webhooks;
mod wemx;
mod wire;
