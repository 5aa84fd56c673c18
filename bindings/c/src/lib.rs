//! The C ABI of licet (`include/licet.h`, `liblicet.a`, `liblicet.so`).
//!
//! It wraps `licet_verifier` (offline verification of tokens, revocation lists and the
//! air-gapped artefacts) and `licet_client` (this machine's fingerprint and the online client)
//! for C, C++ and any language with a C FFI. Nothing of the format is written here: every check
//! is the Rust crates' own.
//!
//! # The contract
//!
//! - **Handles are opaque.** Each `licet_*_new`, `licet_verify`, … gives a pointer the caller owns
//!   and frees with the matching `licet_*_free` (which accepts NULL). Nothing the library hands
//!   out needs any other way of freeing.
//! - **Lengths are explicit.** Every input string or byte string comes with its length; strings
//!   must be UTF-8 (`invalid_utf8` otherwise) and need no NUL terminator. Strings handed out are
//!   `licet_str`: a pointer and a length, valid as long as the handle they came from, and
//!   NUL-terminated as well for convenience.
//! - **Errors.** A fallible function returns a `licet_status` and, when the caller passes a
//!   non-NULL `licet_error **err`, an error object with a stable code (the verifier's code, such
//!   as `expired` or `bad_signature`; the server's code for a refusal, such as
//!   `too_many_machines`; or `invalid_argument`, `invalid_utf8`, `unreachable`, `state_error`,
//!   `not_activated`, `no_pending_request`, `internal`) and a message.
//! - **No panic crosses the boundary.** Every entry point catches one and reports `internal`.
//! - **Threads.** Handles hold no thread-local state. Key sets, contexts, licenses, revocation
//!   lists and offline artefacts are immutable once built and may be read from several threads
//!   at once; building them (`licet_keyset_add_*`, `licet_context_set_*`) needs the caller's
//!   exclusion. A `licet_client` may be used from several threads: its state directory is
//!   written atomically, file by file.

// The C ABI is raw pointers: each `unsafe` block says which of the caller's promises (in the
// function's `# Safety`) makes it sound.
#![allow(unsafe_code)]
// The C names are the C API's (`licet_keyset`, `licet_str`), as rustls-ffi names its types.
#![allow(non_camel_case_types)]

mod client;
mod error;
mod keys;
mod offline;
mod revocations;
mod text;
mod verify;

pub use client::*;
pub use error::*;
pub use keys::*;
pub use offline::*;
pub use revocations::*;
pub use text::*;
pub use verify::*;
