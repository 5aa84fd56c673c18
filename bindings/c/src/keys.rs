//! The vendor's public keys: the trust anchors tokens are checked with.

use std::ffi::c_char;

use licet_verifier::PublicKey;

use crate::error::{Failure, free, licet_error, licet_status, put, read, run};
use crate::text::{bytes, fixed, text};

/// A set of public keys (Ed25519 or RSA). A token names its key by kid; only a key of the set
/// verifies it. Build it once at start-up, with the keys compiled into the application.
#[derive(Debug, Default)]
pub struct licet_keyset {
    pub(crate) keys: Vec<PublicKey>,
}

/// A new, empty key set at `*out`.
///
/// # Safety
/// `out` is a writable pointer; `err` is NULL or a writable pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_keyset_new(
    out: *mut *mut licet_keyset,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise about `out`.
    run(err, || unsafe { put(out, licet_keyset::default()) })
}

/// Adds every `PUBLIC KEY` block of a PEM text (SubjectPublicKeyInfo: Ed25519, or RSA of 2048
/// to 4096 bits). Leading and trailing whitespace and CRLF line ends are accepted. One unreadable
/// block refuses the whole text (`invalid_key`) and adds nothing.
///
/// # Safety
/// `keys` is a live key set no other thread uses during the call; `pem` is valid for `len`
/// bytes; `err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_keyset_add_pem(
    keys: *mut licet_keyset,
    pem: *const c_char,
    len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `keys` is NULL or live and unshared.
        let set = unsafe { keys.as_mut() }.ok_or_else(|| crate::error::invalid("keys is NULL"))?;
        // SAFETY: the caller promises `len` readable bytes at `pem`.
        let pem = unsafe { text(pem, len, "pem") }?;
        set.keys.extend(PublicKey::all_from_pem(pem)?);
        Ok(())
    })
}

/// Adds a key given as DER SubjectPublicKeyInfo.
///
/// # Safety
/// As `licet_keyset_add_pem`, with `der` valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_keyset_add_spki_der(
    keys: *mut licet_keyset,
    der: *const u8,
    len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `keys` is NULL or live and unshared.
        let set = unsafe { keys.as_mut() }.ok_or_else(|| crate::error::invalid("keys is NULL"))?;
        // SAFETY: the caller promises `len` readable bytes at `der`.
        let der = unsafe { bytes(der, len, "der") }?;
        set.keys.push(PublicKey::from_spki_der(der)?);
        Ok(())
    })
}

/// Adds a raw Ed25519 public key (`len` must be 32). A small-order point is refused
/// (`invalid_key`).
///
/// # Safety
/// As `licet_keyset_add_pem`, with `raw` valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_keyset_add_ed25519(
    keys: *mut licet_keyset,
    raw: *const u8,
    len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `keys` is NULL or live and unshared.
        let set = unsafe { keys.as_mut() }.ok_or_else(|| crate::error::invalid("keys is NULL"))?;
        // SAFETY: the caller promises `len` readable bytes at `raw`.
        let raw: [u8; 32] = unsafe { fixed(raw, len, "an Ed25519 key") }?;
        set.keys.push(PublicKey::ed25519(&raw)?);
        Ok(())
    })
}

/// Adds a key given as a COSE_Key (RFC 9052 §7), as `/v1/keys` publishes it.
///
/// # Safety
/// As `licet_keyset_add_pem`, with `cose` valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_keyset_add_cose_key(
    keys: *mut licet_keyset,
    cose: *const u8,
    len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `keys` is NULL or live and unshared.
        let set = unsafe { keys.as_mut() }.ok_or_else(|| crate::error::invalid("keys is NULL"))?;
        // SAFETY: the caller promises `len` readable bytes at `cose`.
        let cose = unsafe { bytes(cose, len, "cose") }?;
        set.keys.push(PublicKey::from_cose_key(cose)?);
        Ok(())
    })
}

/// How many keys the set holds (0 for NULL).
///
/// # Safety
/// `keys` is NULL or a live key set. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_keyset_len(keys: *const licet_keyset) -> usize {
    read(keys, 0, |k| k.keys.len())
}

/// Frees a key set. NULL is accepted.
///
/// # Safety
/// `keys` is NULL or a key set this library made, freed once, when no other call uses it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_keyset_free(keys: *mut licet_keyset) {
    // SAFETY: forwarded from the caller's promise.
    unsafe { free(keys) }
}

/// The key set behind a pointer, or `invalid_argument`.
///
/// # Safety
/// `keys` is NULL or a live key set.
pub(crate) unsafe fn keyset<'a>(keys: *const licet_keyset) -> Result<&'a [PublicKey], Failure> {
    // SAFETY: forwarded from the caller's promise.
    unsafe { keys.as_ref() }
        .map(|k| &k.keys[..])
        .ok_or_else(|| crate::error::invalid("keys is NULL"))
}
