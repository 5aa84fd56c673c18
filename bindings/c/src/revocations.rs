//! Revocation lists: verified once, then consulted by any number of verifications.

use std::ffi::c_char;
use std::sync::Arc;

use licet_verifier::RevocationList;
use licet_verifier::text::LABEL_REVOCATION_LIST;

use crate::error::{free, invalid, licet_error, licet_status, put, read, run};
use crate::keys::{keyset, licet_keyset};
use crate::text::{bytes, fixed, text};

self_cell::self_cell!(
    /// The list's bytes and the verified view of them.
    pub(crate) struct ListCell {
        owner: Vec<u8>,
        #[covariant]
        dependent: RevocationList,
    }

    impl {Debug}
);

/// A revocation list whose signature was verified against a key set. Shared with the contexts
/// it is set on, so it may be freed before them.
#[derive(Debug, Clone)]
pub struct licet_revocations {
    pub(crate) cell: Arc<ListCell>,
}

/// Verifies a revocation list (binary, base64url text or armored) against `keys`. With
/// `last_seen_sequence` (not NULL), a list older than the one seen before is refused
/// (`revocation_rollback`), so that an old list cannot bring a revoked license back; store the
/// `licet_revocations_sequence` of each list you accept.
///
/// # Safety
/// `list` is valid for `len` bytes; `keys` a live key set; `last_seen_sequence` NULL or
/// readable; `out` writable; `err` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_revocations_verify(
    list: *const u8,
    len: usize,
    keys: *const licet_keyset,
    last_seen_sequence: *const u64,
    out: *mut *mut licet_revocations,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `len` readable bytes at `list`.
        let input = unsafe { bytes(list, len, "list") }?;
        // SAFETY: the caller promises `keys` is NULL or live.
        let keys = unsafe { keyset(keys) }?;
        // SAFETY: the caller promises `last_seen_sequence` is NULL or readable.
        let seen = unsafe { last_seen_sequence.as_ref() }.copied();
        let raw = licet_verifier::text::decode(input, LABEL_REVOCATION_LIST)?;
        let cell = ListCell::try_new(raw, |b| RevocationList::verify(b, keys, seen))?;
        // SAFETY: the caller promises `out` is writable.
        unsafe {
            put(
                out,
                licet_revocations {
                    cell: Arc::new(cell),
                },
            )
        }
    })
}

fn with<T: Copy>(
    list: *const licet_revocations,
    fallback: T,
    f: impl FnOnce(&RevocationList<'_>) -> T,
) -> T {
    read(list, fallback, |l| f(l.cell.borrow_dependent()))
}

/// The list's sequence number: each new list has a higher one (0 for NULL).
///
/// # Safety
/// `list` is NULL or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_revocations_sequence(list: *const licet_revocations) -> u64 {
    with(list, 0, |l| l.sequence())
}

/// When the list was issued, unix seconds (0 for NULL).
///
/// # Safety
/// `list` is NULL or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_revocations_issued_at(list: *const licet_revocations) -> i64 {
    with(list, 0, |l| l.issued_at())
}

/// When the next list is due, unix seconds (0 for NULL).
///
/// # Safety
/// `list` is NULL or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_revocations_next_update(list: *const licet_revocations) -> i64 {
    with(list, 0, |l| l.next_update())
}

/// Whether the list is past its next update at `now`.
///
/// # Safety
/// `list` is NULL (true) or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_revocations_is_stale(
    list: *const licet_revocations,
    now: i64,
) -> bool {
    with(list, true, |l| l.is_stale(now))
}

/// How many token ids the list names.
///
/// # Safety
/// `list` is NULL or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_revocations_token_count(list: *const licet_revocations) -> usize {
    with(list, 0, |l| l.token_count())
}

/// How many licenses the list names.
///
/// # Safety
/// `list` is NULL or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_revocations_license_count(list: *const licet_revocations) -> usize {
    with(list, 0, |l| l.license_count())
}

/// Whether the list names the token with this 16-byte id. `invalid_argument` for another
/// length.
///
/// # Safety
/// `list` is live; `token_id` valid for `len` bytes; `found` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_revocations_contains_token(
    list: *const licet_revocations,
    token_id: *const u8,
    len: usize,
    found: *mut bool,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `list` is NULL or live.
        let l = unsafe { list.as_ref() }.ok_or_else(|| invalid("list is NULL"))?;
        // SAFETY: the caller promises `len` readable bytes at `token_id`.
        let id: [u8; 16] = unsafe { fixed(token_id, len, "a token id") }?;
        if found.is_null() {
            return Err(invalid("found is NULL"));
        }
        // SAFETY: `found` is not NULL and the caller promises it is writable.
        unsafe { found.write(l.cell.borrow_dependent().contains_token(&id)) };
        Ok(())
    })
}

/// Whether the list names the license with this id.
///
/// # Safety
/// `list` is live; `license_id` valid for `len` bytes; `found` writable; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_revocations_contains_license(
    list: *const licet_revocations,
    license_id: *const c_char,
    len: usize,
    found: *mut bool,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `list` is NULL or live.
        let l = unsafe { list.as_ref() }.ok_or_else(|| invalid("list is NULL"))?;
        // SAFETY: the caller promises `len` readable bytes at `license_id`.
        let id = unsafe { text(license_id, len, "license_id") }?;
        if found.is_null() {
            return Err(invalid("found is NULL"));
        }
        // SAFETY: `found` is not NULL and the caller promises it is writable.
        unsafe { found.write(l.cell.borrow_dependent().contains_license(id)) };
        Ok(())
    })
}

/// Frees a revocation list. NULL is accepted; contexts it was set on keep their own reference.
///
/// # Safety
/// `list` is NULL or a list this library made, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_revocations_free(list: *mut licet_revocations) {
    // SAFETY: forwarded from the caller's promise.
    unsafe { free(list) }
}
