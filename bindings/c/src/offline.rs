//! The air-gapped artefacts: activation requests (the vendor's check), activation responses
//! (the machine's check before it installs one), deactivation receipts (the vendor's check),
//! and a device's proof of possession.

use licet_verifier::offline::{
    ActivationRequest, ActivationResponse, LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE,
    TokenHolder, UnverifiedReceipt,
};

use crate::error::{free, invalid, licet_error, licet_status, put, read, run};
use crate::keys::{keyset, licet_keyset};
use crate::text::{bytes, fixed, licet_str, write_fixed, write_opt};
use crate::verify::{Held, LicenseCell, licet_context, licet_license};

self_cell::self_cell!(
    struct RequestCell {
        owner: Vec<u8>,
        #[covariant]
        dependent: ActivationRequest,
    }

    impl {Debug}
);

/// An offline activation request whose signature (by the device key it carries) verified.
#[derive(Debug)]
pub struct licet_offline_request {
    cell: RequestCell,
}

/// Verifies an activation request (binary or armored `LICET ACTIVATION REQUEST`): signed by
/// the device key it carries (`bad_signature` otherwise), of the right type (`wrong_type`).
/// Its age is checked apart: `licet_offline_request_check_age`.
///
/// # Safety
/// `request` valid for `len` bytes; `out` writable; `err` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_request_verify(
    request: *const u8,
    len: usize,
    out: *mut *mut licet_offline_request,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `len` readable bytes at `request`.
        let input = unsafe { bytes(request, len, "request") }?;
        let raw = licet_verifier::text::decode(input, LABEL_REQUEST)?;
        let cell = RequestCell::try_new(raw, |b| ActivationRequest::verify(b))?;
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, licet_offline_request { cell }) }
    })
}

/// The vendor's check of a request's age at `now`: `request_expired` when it was made more than
/// `window` seconds ago, `request_from_future` when dated ahead of the allowed skew.
///
/// # Safety
/// `request` live; `err` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_request_check_age(
    request: *const licet_offline_request,
    now: i64,
    window: u64,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `request` is NULL or live.
        let r = unsafe { request.as_ref() }.ok_or_else(|| invalid("request is NULL"))?;
        r.cell.borrow_dependent().check_age(now, window)?;
        Ok(())
    })
}

fn with_request<T: Copy>(
    r: *const licet_offline_request,
    fallback: T,
    f: impl FnOnce(&ActivationRequest<'_>) -> T,
) -> T {
    read(r, fallback, |r| f(r.cell.borrow_dependent()))
}

/// The request's product code (not NUL-terminated: use the length).
///
/// # Safety
/// `r` is NULL or live; the string lives as long as `r`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_request_product(
    r: *const licet_offline_request,
) -> licet_str {
    with_request(r, licet_str::NONE, |r| licet_str::of(r.product))
}

/// The license key the machine asks to activate (not NUL-terminated).
///
/// # Safety
/// As `licet_offline_request_product`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_request_license_key(
    r: *const licet_offline_request,
) -> licet_str {
    with_request(r, licet_str::NONE, |r| licet_str::of(r.license_key))
}

/// The machine's fingerprint id (not NUL-terminated).
///
/// # Safety
/// As `licet_offline_request_product`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_request_fingerprint(
    r: *const licet_offline_request,
) -> licet_str {
    with_request(r, licet_str::NONE, |r| licet_str::of(r.fingerprint))
}

/// The customer's note for the vendor, or `data == NULL` (not NUL-terminated).
///
/// # Safety
/// As `licet_offline_request_product`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_request_note(r: *const licet_offline_request) -> licet_str {
    with_request(r, licet_str::NONE, |r| {
        r.note.map_or(licet_str::NONE, licet_str::of)
    })
}

/// When the machine made the request (its clock), unix seconds.
///
/// # Safety
/// `r` is NULL (0) or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_request_created_at(r: *const licet_offline_request) -> i64 {
    with_request(r, 0, |r| r.created_at)
}

/// Copies the request's 16-byte id to `out`.
///
/// # Safety
/// `r` is NULL (false) or live; `out` NULL or valid for 16 bytes. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_request_id(
    r: *const licet_offline_request,
    out: *mut u8,
) -> bool {
    // SAFETY: the caller promises 16 writable bytes at `out`.
    with_request(r, false, |r| unsafe { write_fixed(out, &r.request_id) })
}

/// Copies the 32-byte device key the request carries to `out`.
///
/// # Safety
/// `r` is NULL (false) or live; `out` NULL or valid for 32 bytes. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_request_device_key(
    r: *const licet_offline_request,
    out: *mut u8,
) -> bool {
    // SAFETY: the caller promises 32 writable bytes at `out`.
    with_request(r, false, |r| unsafe { write_fixed(out, &r.device_key) })
}

/// Frees a request. NULL is accepted.
///
/// # Safety
/// `r` is NULL or a request this library made, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_request_free(r: *mut licet_offline_request) {
    // SAFETY: forwarded from the caller's promise.
    unsafe { free(r) }
}

/// The machine's check of an activation response (binary or armored `LICET ACTIVATION
/// RESPONSE`) before it installs it: signed by a key of `keys`, answering `pending`
/// (`request_mismatch` otherwise), its token valid in `ctx` (this machine's product, fingerprint
/// and time) and bound to the pending request's device key (`device_key_mismatch`,
/// `device_key_required`). On success `*out` is the license the token carries.
///
/// # Safety
/// `response` valid for `len` bytes; `keys`, `pending` and `ctx` live; `out` writable; `err`
/// NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_offline_response_verify(
    response: *const u8,
    len: usize,
    keys: *const licet_keyset,
    pending: *const licet_offline_request,
    ctx: *const licet_context,
    out: *mut *mut licet_license,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `len` readable bytes at `response`.
        let input = unsafe { bytes(response, len, "response") }?;
        // SAFETY: the caller promises `keys` is NULL or live.
        let keys = unsafe { keyset(keys) }?;
        // SAFETY: the caller promises `pending` is NULL or live.
        let pending = unsafe { pending.as_ref() }.ok_or_else(|| invalid("pending is NULL"))?;
        // SAFETY: the caller promises `ctx` is NULL or live.
        let ctx = unsafe { ctx.as_ref() }.ok_or_else(|| invalid("ctx is NULL"))?;
        let raw = licet_verifier::text::decode(input, LABEL_RESPONSE)?;
        let req = pending.cell.borrow_dependent();
        let cell = LicenseCell::try_new(raw, |b| {
            let answer = ActivationResponse::verify(b, keys)?;
            ctx.with(|c| answer.verify_token(keys, req, c))
                .map(|v| Held::verified(&v))
        })?;
        // The license handle owns the response's bytes; its claims are the token's.
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, licet_license::new(cell)) }
    })
}

self_cell::self_cell!(
    struct ReceiptCell {
        owner: Vec<u8>,
        #[covariant]
        dependent: UnverifiedReceipt,
    }

    impl {Debug}
);

/// A deactivation receipt, read but not yet checked: the vendor looks up the token it names
/// (`licet_receipt_token_id`), then checks it with `licet_receipt_check`.
#[derive(Debug)]
pub struct licet_receipt {
    cell: ReceiptCell,
}

/// Reads a deactivation receipt (binary or armored `LICET DEACTIVATION RECEIPT`); `wrong_type`
/// for another artefact. Its signature is checked by `licet_receipt_check`.
///
/// # Safety
/// `receipt` valid for `len` bytes; `out` writable; `err` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_receipt_decode(
    receipt: *const u8,
    len: usize,
    out: *mut *mut licet_receipt,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `len` readable bytes at `receipt`.
        let input = unsafe { bytes(receipt, len, "receipt") }?;
        let raw = licet_verifier::text::decode(input, LABEL_RECEIPT)?;
        let cell = ReceiptCell::try_new(raw, |b| UnverifiedReceipt::decode(b))?;
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, licet_receipt { cell }) }
    })
}

/// What the vendor knows of the token a receipt names.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum licet_holder {
    /// A machine holds it now (give its device key, or none if it has none).
    Machine = 0,
    /// No machine holds it and it is revoked: given back already (`receipt_replayed`).
    Revoked = 1,
    /// No machine holds it and it is not revoked: a newer token replaced it
    /// (`token_not_current`).
    Replaced = 2,
}

/// The vendor's whole check of a receipt: for `LICET_HOLDER_MACHINE`, its signature with the
/// machine's recorded device key (`device_key` of 32 bytes; NULL when the machine has none,
/// which is `device_key_required`); `device_key_mismatch` or `bad_signature` when it does not
/// verify.
///
/// # Safety
/// `receipt` live; `device_key` NULL or valid for `device_key_len` bytes; `err` NULL or
/// writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_receipt_check(
    receipt: *const licet_receipt,
    holder: licet_holder,
    device_key: *const u8,
    device_key_len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `receipt` is NULL or live.
        let r = unsafe { receipt.as_ref() }.ok_or_else(|| invalid("receipt is NULL"))?;
        let key: Option<[u8; 32]> = if device_key.is_null() {
            None
        } else {
            // SAFETY: the caller promises `device_key_len` readable bytes.
            Some(unsafe { fixed(device_key, device_key_len, "a device key") }?)
        };
        let holder = match holder {
            licet_holder::Machine => TokenHolder::Machine(key.as_ref()),
            licet_holder::Revoked => TokenHolder::Revoked,
            licet_holder::Replaced => TokenHolder::Replaced,
        };
        r.cell.borrow_dependent().check(holder)?;
        Ok(())
    })
}

fn with_receipt<T: Copy>(
    r: *const licet_receipt,
    fallback: T,
    f: impl FnOnce(&UnverifiedReceipt<'_>) -> T,
) -> T {
    read(r, fallback, |r| f(r.cell.borrow_dependent()))
}

/// The product the receipt names (not verified until `licet_receipt_check`).
///
/// # Safety
/// `r` is NULL or live; the string lives as long as `r`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_receipt_product(r: *const licet_receipt) -> licet_str {
    with_receipt(r, licet_str::NONE, |r| {
        licet_str::of(r.unverified().product)
    })
}

/// The license id the receipt names.
///
/// # Safety
/// As `licet_receipt_product`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_receipt_license_id(r: *const licet_receipt) -> licet_str {
    with_receipt(r, licet_str::NONE, |r| {
        licet_str::of(r.unverified().license_id)
    })
}

/// Copies the 16-byte id of the token given back to `out`.
///
/// # Safety
/// `r` is NULL (false) or live; `out` NULL or valid for 16 bytes. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_receipt_token_id(r: *const licet_receipt, out: *mut u8) -> bool {
    // SAFETY: the caller promises 16 writable bytes at `out`.
    with_receipt(r, false, |r| unsafe {
        write_fixed(out, &r.unverified().token_id)
    })
}

/// Copies the 16-byte id of the request the token answered to `out`; false when the receipt
/// names none (a seat taken online).
///
/// # Safety
/// `r` is NULL or live; `out` NULL or valid for 16 bytes. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_receipt_request_id(r: *const licet_receipt, out: *mut u8) -> bool {
    with_receipt(r, false, |r| match &r.unverified().request_id {
        // SAFETY: the caller promises 16 writable bytes at `out`.
        Some(id) => unsafe { write_fixed(out, id) },
        None => false,
    })
}

/// Writes when the machine gave the seat back (its clock) to `*out`.
///
/// # Safety
/// `r` is NULL (false) or live; `out` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_receipt_at(r: *const licet_receipt, out: *mut i64) -> bool {
    // SAFETY: the caller promises `out` is NULL or writable.
    with_receipt(r, false, |r| unsafe {
        write_opt(out, Some(r.unverified().at))
    })
}

/// Frees a receipt. NULL is accepted.
///
/// # Safety
/// `r` is NULL or a receipt this library made, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_receipt_free(r: *mut licet_receipt) {
    // SAFETY: forwarded from the caller's promise.
    unsafe { free(r) }
}

/// Checks a proof of possession of a device key (32 bytes): `signature` over
/// `"licet/device-pop/v1\0" || challenge`; `device_key_mismatch` when it is not the key's.
///
/// # Safety
/// Each pointer valid for its length; `err` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_verify_possession(
    device_key: *const u8,
    device_key_len: usize,
    challenge: *const u8,
    challenge_len: usize,
    signature: *const u8,
    signature_len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises each length.
        let key: [u8; 32] = unsafe { fixed(device_key, device_key_len, "a device key") }?;
        // SAFETY: as above.
        let challenge = unsafe { bytes(challenge, challenge_len, "challenge") }?;
        // SAFETY: as above.
        let signature = unsafe { bytes(signature, signature_len, "signature") }?;
        licet_verifier::device::verify_possession(&key, challenge, signature)?;
        Ok(())
    })
}
