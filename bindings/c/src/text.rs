//! Strings and byte strings across the boundary.

use std::ffi::c_char;

use crate::error::{Failure, guard, invalid};

/// A string handed out by licet: UTF-8, `len` bytes at `data` (a NUL follows them when the
/// string came from licet's own storage, so `data` may be printed with `%s` too). `data` is NULL
/// when the value is absent. Valid as long as the handle it came from.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct licet_str {
    /// The bytes, or NULL.
    pub data: *const c_char,
    /// How many.
    pub len: usize,
}

impl licet_str {
    /// An absent value.
    pub(crate) const NONE: licet_str = licet_str {
        data: std::ptr::null(),
        len: 0,
    };

    /// A view of `s`, which must outlive the handle's use of it.
    pub(crate) fn of(s: &str) -> licet_str {
        licet_str {
            data: s.as_ptr().cast(),
            len: s.len(),
        }
    }

    /// A view of a static C string (NUL-terminated).
    pub(crate) fn of_c(s: &'static std::ffi::CStr) -> licet_str {
        licet_str {
            data: s.as_ptr(),
            len: s.to_bytes().len(),
        }
    }

    /// A view of a string kept with a NUL after it (see [`Owned`]).
    pub(crate) fn of_owned(s: &Owned) -> licet_str {
        licet_str {
            data: s.0.as_ptr().cast(),
            len: s.0.len() - 1,
        }
    }
}

/// A string kept with a trailing NUL, so that its `licet_str` can be printed with `%s`.
#[derive(Debug, Clone)]
pub(crate) struct Owned(Vec<u8>);

impl Owned {
    pub(crate) fn new(s: &str) -> Owned {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        Owned(v)
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0[..self.0.len() - 1]).unwrap_or_default()
    }
}

/// Bytes the caller passed: `len` bytes at `ptr`; NULL is allowed only with a length of 0.
///
/// # Safety
/// `ptr` is NULL or valid for reading `len` bytes for `'a`.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(invalid(&format!("{what} is NULL")))
        };
    }
    // SAFETY: `ptr` is not NULL and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Text the caller passed, checked to be UTF-8.
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(
    ptr: *const c_char,
    len: usize,
    what: &str,
) -> Result<&'a str, Failure> {
    // SAFETY: forwarded from the caller's promise.
    let b = unsafe { bytes(ptr.cast(), len, what) }?;
    std::str::from_utf8(b)
        .map_err(|_| Failure::Argument("invalid_utf8", format!("{what} is not UTF-8")))
}

/// Optional text: NULL is none.
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn opt_text<'a>(
    ptr: *const c_char,
    len: usize,
    what: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller's promise.
    unsafe { text(ptr, len, what) }.map(Some)
}

/// Exactly `N` bytes the caller passed.
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn fixed<const N: usize>(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<[u8; N], Failure> {
    // SAFETY: forwarded from the caller's promise.
    let b = unsafe { bytes(ptr, len, what) }?;
    b.try_into()
        .map_err(|_| invalid(&format!("{what} must be {N} bytes, not {len}")))
}

/// Copies `value` into the caller's `N`-byte buffer; false (and nothing written) when `out` is
/// NULL.
///
/// # Safety
/// `out` is NULL or valid for writing `N` bytes.
pub(crate) unsafe fn write_fixed<const N: usize>(out: *mut u8, value: &[u8; N]) -> bool {
    if out.is_null() {
        return false;
    }
    // SAFETY: `out` is not NULL and the caller promises `N` writable bytes.
    unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), out, N) };
    true
}

/// Writes `value` to `*out` when both are there; whether it did.
///
/// # Safety
/// `out` is NULL or valid for writing a `T`.
pub(crate) unsafe fn write_opt<T>(out: *mut T, value: Option<T>) -> bool {
    match value {
        Some(v) if !out.is_null() => {
            // SAFETY: `out` is not NULL and the caller promises it is writable.
            unsafe { out.write(v) };
            true
        }
        _ => false,
    }
}

/// Bytes made by licet (an activation request, a receipt, an armored file). Free with
/// `licet_bytes_free`.
#[derive(Debug)]
pub struct licet_bytes {
    data: Vec<u8>,
}

impl licet_bytes {
    pub(crate) fn new(data: Vec<u8>) -> licet_bytes {
        licet_bytes { data }
    }
}

/// The bytes' start (NULL for a NULL handle).
///
/// # Safety
/// `b` is NULL or a live `licet_bytes`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_bytes_data(b: *const licet_bytes) -> *const u8 {
    // SAFETY: the caller promises `b` is NULL or live.
    unsafe { b.as_ref() }.map_or(std::ptr::null(), |b| b.data.as_ptr())
}

/// How many bytes (0 for a NULL handle).
///
/// # Safety
/// `b` is NULL or a live `licet_bytes`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_bytes_len(b: *const licet_bytes) -> usize {
    // SAFETY: the caller promises `b` is NULL or live.
    unsafe { b.as_ref() }.map_or(0, |b| b.data.len())
}

/// Frees bytes made by licet. NULL is accepted.
///
/// # Safety
/// `b` is NULL or a `licet_bytes` this library made, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_bytes_free(b: *mut licet_bytes) {
    // SAFETY: forwarded from the caller's promise.
    unsafe { crate::error::free(b) }
}

/// The library's version (`0.1.0`), NUL-terminated, static.
#[unsafe(no_mangle)]
pub extern "C" fn licet_version() -> *const c_char {
    guard(std::ptr::null(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}
