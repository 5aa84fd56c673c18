//! Statuses, error objects, and the guard every entry point runs in.

use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use ::licet_client::online::ClientError;
use licet_verifier::Error;

/// What a fallible function did. `LICET_STATUS_OK` is 0; every other value comes with an error
/// object (when `err` is not NULL) whose code says exactly why.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum licet_status {
    /// Done.
    Ok = 0,
    /// Checked and refused: a token, list or artefact did not verify (the verifier's code), or
    /// the server refused (its code).
    Refused = 1,
    /// The caller's mistake: a NULL pointer, a wrong length, text that is not UTF-8.
    InvalidArgument = 2,
    /// The license server could not be reached (`unreachable`).
    Unreachable = 3,
    /// The server's answer did not check out and was not trusted (the verifier's code).
    Untrusted = 4,
    /// The local license state could not be read or written (`state_error`), or there is no
    /// license or pending request to act on (`not_activated`, `no_pending_request`).
    State = 5,
    /// A bug in licet: a panic was caught at the boundary (`internal`).
    Internal = 6,
}

/// An error: a stable code and a message. Free with `licet_error_free`.
#[derive(Debug)]
pub struct licet_error {
    status: licet_status,
    code: CString,
    message: CString,
}

/// Why a call failed, before it becomes a `licet_error`.
#[derive(Debug)]
pub(crate) enum Failure {
    Verifier(Error),
    Client(ClientError),
    Argument(&'static str, String),
    Panic,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Verifier(e)
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

/// A caller's mistake with the argument named.
pub(crate) fn invalid(what: &str) -> Failure {
    Failure::Argument("invalid_argument", what.to_owned())
}

fn c_string(s: &str) -> CString {
    // An interior NUL cannot be in a C string: cut there (codes and messages have none).
    let bytes: Vec<u8> = s.bytes().take_while(|&b| b != 0).collect();
    CString::new(bytes).unwrap_or_default()
}

impl Failure {
    fn into_error(self) -> licet_error {
        let (status, code, message) = match self {
            Failure::Verifier(e) => (licet_status::Refused, e.code().to_owned(), e.to_string()),
            Failure::Argument(code, message) => {
                (licet_status::InvalidArgument, code.to_owned(), message)
            }
            Failure::Panic => (
                licet_status::Internal,
                "internal".to_owned(),
                "an internal error in licet (a panic was caught)".to_owned(),
            ),
            Failure::Client(e) => {
                let message = e.to_string();
                match e {
                    ClientError::Unreachable(_) => {
                        (licet_status::Unreachable, "unreachable".into(), message)
                    }
                    ClientError::Refused { code, .. } => (licet_status::Refused, code, message),
                    ClientError::Untrusted(v) => {
                        (licet_status::Untrusted, v.code().to_owned(), message)
                    }
                    ClientError::NotActivated => {
                        (licet_status::State, "not_activated".into(), message)
                    }
                    ClientError::NoPendingRequest => {
                        (licet_status::State, "no_pending_request".into(), message)
                    }
                    _ => (licet_status::State, "state_error".into(), message),
                }
            }
        };
        licet_error {
            status,
            code: c_string(&code),
            message: c_string(&message),
        }
    }
}

/// Runs `f` as an entry point: a panic becomes `internal`, a failure is written to `*err` when
/// `err` is not NULL (and `*err` is set to NULL on success).
pub(crate) fn run(
    err: *mut *mut licet_error,
    f: impl FnOnce() -> Result<(), Failure>,
) -> licet_status {
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or(Err(Failure::Panic));
    let (status, error) = match result {
        Ok(()) => (licet_status::Ok, None),
        Err(failure) => {
            let e = failure.into_error();
            (e.status, Some(e))
        }
    };
    if !err.is_null() {
        let out = error.map_or(std::ptr::null_mut(), |e| Box::into_raw(Box::new(e)));
        // SAFETY: the caller promises that a non-NULL `err` points to a writable pointer.
        unsafe { *err = out };
    }
    status
}

/// Runs an infallible accessor: a panic gives `fallback`.
pub(crate) fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Runs an infallible accessor on a handle: `fallback` for NULL (or a caught panic).
pub(crate) fn read<H, T: Copy>(handle: *const H, fallback: T, f: impl FnOnce(&H) -> T) -> T {
    guard(fallback, || {
        // SAFETY: every caller is an entry point whose caller promises `handle` is NULL or a
        // live handle of this library.
        match unsafe { handle.as_ref() } {
            Some(h) => f(h),
            None => fallback,
        }
    })
}

/// Moves `value` into a new handle at `*out`.
///
/// # Safety
/// `out` is NULL (refused) or points to a writable pointer.
pub(crate) unsafe fn put<T>(out: *mut *mut T, value: T) -> Result<(), Failure> {
    if out.is_null() {
        return Err(invalid("the out pointer is NULL"));
    }
    // SAFETY: `out` is not NULL and the caller promises it is writable.
    unsafe { *out = Box::into_raw(Box::new(value)) };
    Ok(())
}

/// Frees a handle made by [`put`] or `Box::into_raw`.
///
/// # Safety
/// `p` is NULL or a pointer this library handed out for a `T`, not yet freed.
pub(crate) unsafe fn free<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: the caller promises `p` came from `Box::into_raw` and is freed once.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// The error's stable code (`expired`, `bad_signature`, `too_many_machines`, `unreachable`, …),
/// NUL-terminated, valid until the error is freed. NULL for a NULL error.
///
/// # Safety
/// `err` is NULL or an error this library made, not yet freed. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_error_code(err: *const licet_error) -> *const c_char {
    // SAFETY: the caller promises `err` is NULL or a live error.
    match unsafe { err.as_ref() } {
        Some(e) => e.code.as_ptr(),
        None => std::ptr::null(),
    }
}

/// The error's message for people, NUL-terminated, valid until the error is freed. NULL for a
/// NULL error.
///
/// # Safety
/// `err` is NULL or an error this library made, not yet freed. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_error_message(err: *const licet_error) -> *const c_char {
    // SAFETY: the caller promises `err` is NULL or a live error.
    match unsafe { err.as_ref() } {
        Some(e) => e.message.as_ptr(),
        None => std::ptr::null(),
    }
}

/// The status the error came with.
///
/// # Safety
/// `err` is NULL (gives `LICET_STATUS_OK`) or an error this library made, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_error_status(err: *const licet_error) -> licet_status {
    // SAFETY: the caller promises `err` is NULL or a live error.
    unsafe { err.as_ref() }.map_or(licet_status::Ok, |e| e.status)
}

/// Frees an error. NULL is accepted.
///
/// # Safety
/// `err` is NULL or an error this library made, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_error_free(err: *mut licet_error) {
    // SAFETY: forwarded from the caller's promise.
    unsafe { free(err) }
}
