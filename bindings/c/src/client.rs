//! The online client: this machine's fingerprint, activation, the license status with its
//! cache, grace and clock guard, check-ins, deactivation, and the air-gapped walk.

use std::ffi::c_char;
use std::time::Duration;

use ::licet_client::fingerprint::Fingerprint;
use ::licet_client::online::{Client, Config, RollbackPolicy, Status};
use ::licet_client::state::Slot;
use licet_verifier::offline::{LABEL_RECEIPT, LABEL_REQUEST};
use licet_verifier::text::encode_armor;

use crate::error::{Failure, free, invalid, licet_error, licet_status, put, run};
use crate::keys::{keyset, licet_keyset};
use crate::text::{bytes, licet_bytes, licet_str, opt_text, text};

/// The length of a fingerprint id: 64 hex digits (a buffer needs one more for the NUL).
pub const LICET_FINGERPRINT_LEN: usize = 64;

/// Writes this machine's fingerprint for `product` (64 hex digits and a NUL) to `out`, which
/// must hold at least `LICET_FINGERPRINT_LEN + 1` bytes: what the vendor binds a license to.
/// To check a token against this machine, `licet_context_set_this_machine` sets the fingerprint
/// and the hardware parts at once.
///
/// # Safety
/// `product` valid for `product_len` bytes; `out` valid for `out_len` bytes; `err` NULL or
/// writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_machine_fingerprint(
    product: *const c_char,
    product_len: usize,
    out: *mut c_char,
    out_len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `product_len` readable bytes.
        let product = unsafe { text(product, product_len, "product") }?;
        if out.is_null() || out_len < LICET_FINGERPRINT_LEN + 1 {
            return Err(invalid("out must hold LICET_FINGERPRINT_LEN + 1 bytes"));
        }
        let id = Fingerprint::collect(product).id();
        let id = id.as_bytes();
        let n = id.len().min(LICET_FINGERPRINT_LEN);
        // SAFETY: `out` holds at least `LICET_FINGERPRINT_LEN + 1` bytes, the caller promises.
        unsafe {
            std::ptr::copy_nonoverlapping(id.as_ptr(), out.cast::<u8>(), n);
            out.add(n).write(0);
        }
        Ok(())
    })
}

/// The settings of a client, built before `licet_client_new`.
#[derive(Debug)]
pub struct licet_client_config {
    config: Config,
}

/// Settings for `product` at `server` (`https://licenses.example.com`), trusting the keys of
/// `keys` (copied: the pinned keys the application ships). Defaults: the platform's state
/// directory, the system's TLS roots, a 10 s timeout, host name and platform sent on
/// activation, a rolled-back clock refused beyond 300 s.
///
/// # Safety
/// Strings valid for their lengths; `keys` live; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_config_new(
    server: *const c_char,
    server_len: usize,
    product: *const c_char,
    product_len: usize,
    keys: *const licet_keyset,
    out: *mut *mut licet_client_config,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises each length.
        let server = unsafe { text(server, server_len, "server") }?;
        // SAFETY: as above.
        let product = unsafe { text(product, product_len, "product") }?;
        // SAFETY: the caller promises `keys` is NULL or live.
        let keys = unsafe { keyset(keys) }?;
        if keys.is_empty() {
            return Err(invalid("the key set is empty: pin the vendor's public key"));
        }
        let config = Config::new(server, product, keys.to_vec());
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, licet_client_config { config }) }
    })
}

/// Runs a setter on a configuration.
///
/// # Safety
/// `cfg` is NULL or a live configuration no other thread uses during the call.
unsafe fn set(
    cfg: *mut licet_client_config,
    err: *mut *mut licet_error,
    f: impl FnOnce(&mut Config) -> Result<(), Failure>,
) -> licet_status {
    run(err, || {
        // SAFETY: forwarded from the caller's promise.
        let c = unsafe { cfg.as_mut() }.ok_or_else(|| invalid("config is NULL"))?;
        f(&mut c.config)
    })
}

/// The base directory of the license state (the product's state is a folder inside).
///
/// # Safety
/// `cfg` live and unshared; `dir` valid for `len` bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_config_set_state_dir(
    cfg: *mut licet_client_config,
    dir: *const c_char,
    len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(cfg, err, |c| {
            c.state_dir = Some(text(dir, len, "dir")?.into());
            Ok(())
        })
    }
}

/// The certificate authorities (PEM) the server's certificate must chain to, instead of the
/// system's roots.
///
/// # Safety
/// `cfg` live and unshared; `pem` valid for `len` bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_config_set_ca_certificates(
    cfg: *mut licet_client_config,
    pem: *const u8,
    len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(cfg, err, |c| {
            c.ca_certificates = Some(bytes(pem, len, "pem")?.to_vec());
            Ok(())
        })
    }
}

/// The HTTP timeout, milliseconds (at least 1).
///
/// # Safety
/// `cfg` live and unshared; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_config_set_timeout_ms(
    cfg: *mut licet_client_config,
    ms: u64,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(cfg, err, |c| {
            if ms == 0 {
                return Err(invalid("the timeout must be at least 1 ms"));
            }
            c.timeout = Duration::from_millis(ms);
            Ok(())
        })
    }
}

/// Whether activation sends this machine's host name and platform [default: true].
///
/// # Safety
/// `cfg` live and unshared; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_config_set_send_host_details(
    cfg: *mut licet_client_config,
    send: bool,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(cfg, err, |c| {
            c.send_host_details = send;
            Ok(())
        })
    }
}

/// Whether to trust, besides the pinned keys, the keys the server publishes that a pinned key
/// endorsed through its rotations [default: false].
///
/// # Safety
/// `cfg` live and unshared; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_config_set_trust_server_keys(
    cfg: *mut licet_client_config,
    trust: bool,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(cfg, err, |c| {
            c.trust_server_keys = trust;
            Ok(())
        })
    }
}

/// The clock guard: seconds the clock may read behind what was seen before [default: 300], and
/// whether a clock further behind is refused (`LICET_LICENSE_STATE_CLOCK_ROLLED_BACK`) or only
/// reported by a later check [default: refused].
///
/// # Safety
/// `cfg` live and unshared; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_config_set_clock_guard(
    cfg: *mut licet_client_config,
    tolerance_seconds: u64,
    refuse_rollback: bool,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(cfg, err, |c| {
            c.clock_tolerance = tolerance_seconds;
            c.rollback = if refuse_rollback {
                RollbackPolicy::Refuse
            } else {
                RollbackPolicy::Allow
            };
            Ok(())
        })
    }
}

/// Frees a configuration. NULL is accepted.
///
/// # Safety
/// `cfg` is NULL or a configuration this library made, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_config_free(cfg: *mut licet_client_config) {
    // SAFETY: forwarded from the caller's promise.
    unsafe { free(cfg) }
}

/// The client of one product on this machine.
#[derive(Debug)]
pub struct licet_client {
    client: Client,
}

// A client is shared across threads by the applications that check in from a worker.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<licet_client>();
};

/// A client with `cfg`'s settings (copied: the configuration may be freed after). Opens or
/// makes the product's state directory; collects this machine's fingerprint.
///
/// # Safety
/// `cfg` live; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_new(
    cfg: *const licet_client_config,
    out: *mut *mut licet_client,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `cfg` is NULL or live.
        let cfg = unsafe { cfg.as_ref() }.ok_or_else(|| invalid("config is NULL"))?;
        let client = Client::new(cfg.config.clone())?;
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, licet_client { client }) }
    })
}

/// Where a license stands on this machine.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum licet_license_state {
    /// Licensed until `until`; check in at `refresh_after` (when `has_refresh_after`).
    Valid = 0,
    /// Licensed, though the server could not be reached, until `until`.
    Grace = 1,
    /// The offline grace ended before the server could be reached.
    GraceEnded = 2,
    /// No license on this machine: activate one.
    NeedsActivation = 3,
    /// The license was revoked (its token is deleted).
    Revoked = 4,
    /// The license is suspended.
    Suspended = 5,
    /// The license (or its token) expired.
    Expired = 6,
    /// The clock reads `behind_by` seconds earlier than a time already seen.
    ClockRolledBack = 7,
    /// The stored token does not verify here; `code` says why (`hwid_mismatch`, …).
    Invalid = 8,
    /// A stored file was copied back or removed: not licensed until the server is reached.
    StateRolledBack = 9,
}

/// A license's status.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct licet_license_status {
    /// Where the license stands.
    pub state: licet_license_state,
    /// Whether the application may run licensed (`VALID` or `GRACE`).
    pub licensed: bool,
    /// `VALID`: the token's expiry; `GRACE`: the end of the grace (unix seconds); else 0.
    pub until: i64,
    /// Whether `refresh_after` is set.
    pub has_refresh_after: bool,
    /// `VALID`: when the application should check in.
    pub refresh_after: i64,
    /// `CLOCK_ROLLED_BACK`: by how many seconds.
    pub behind_by: u64,
    /// `INVALID`: the verifier's code (static); else `data == NULL`.
    pub code: licet_str,
}

fn status_of(s: &Status) -> licet_license_status {
    let mut out = licet_license_status {
        state: licet_license_state::Invalid,
        licensed: s.is_licensed(),
        until: 0,
        has_refresh_after: false,
        refresh_after: 0,
        behind_by: 0,
        code: licet_str::NONE,
    };
    out.state = match s {
        Status::Valid {
            until,
            refresh_after,
        } => {
            out.until = *until;
            if let Some(r) = refresh_after {
                out.has_refresh_after = true;
                out.refresh_after = *r;
            }
            licet_license_state::Valid
        }
        Status::Grace { until } => {
            out.until = *until;
            licet_license_state::Grace
        }
        Status::GraceEnded => licet_license_state::GraceEnded,
        Status::NeedsActivation => licet_license_state::NeedsActivation,
        Status::Revoked => licet_license_state::Revoked,
        Status::Suspended => licet_license_state::Suspended,
        Status::Expired => licet_license_state::Expired,
        Status::ClockRolledBack { behind_by } => {
            out.behind_by = *behind_by;
            licet_license_state::ClockRolledBack
        }
        Status::Invalid(e) => {
            out.code = licet_str::of(e.code());
            licet_license_state::Invalid
        }
        Status::StateRolledBack => licet_license_state::StateRolledBack,
        // A status a newer client adds reads as invalid, never as licensed.
        _ => {
            out.licensed = false;
            out.code = licet_str::of("unknown");
            licet_license_state::Invalid
        }
    };
    out
}

/// Runs a client operation that gives a status.
///
/// # Safety
/// `c` is NULL or a live client; `out` NULL or writable.
unsafe fn with_status(
    c: *const licet_client,
    out: *mut licet_license_status,
    err: *mut *mut licet_error,
    f: impl FnOnce(&Client) -> Result<Status, Failure>,
) -> licet_status {
    run(err, || {
        // SAFETY: forwarded from the caller's promise.
        let c = unsafe { c.as_ref() }.ok_or_else(|| invalid("client is NULL"))?;
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        let s = f(&c.client)?;
        // SAFETY: `out` is not NULL and the caller promises it is writable.
        unsafe { out.write(status_of(&s)) };
        Ok(())
    })
}

/// The status from local state alone, without the network: the stored token verified, the
/// grace, the clock guard and the state's own rollback checks.
///
/// # Safety
/// `c` live; `out` writable; `err` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_status(
    c: *const licet_client,
    out: *mut licet_license_status,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe { with_status(c, out, err, |c| Ok(c.status())) }
}

/// The start-up call: the local status, refreshed online when the token asks for a check-in.
/// An unreachable server is not an error here: the grace applies.
///
/// # Safety
/// As `licet_client_status`. It may wait on the network up to the timeout.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_ensure(
    c: *const licet_client,
    out: *mut licet_license_status,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe { with_status(c, out, err, |c| Ok(c.ensure()?)) }
}

/// Checks in now, whatever the token asks: the revocation list is refreshed, then a heartbeat
/// takes a fresh token. A revoked license is `LICET_LICENSE_STATE_REVOKED` at once; an
/// unreachable server is `LICET_STATUS_UNREACHABLE` (the offline status is
/// `licet_client_status`).
///
/// # Safety
/// As `licet_client_ensure`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_check_in(
    c: *const licet_client,
    out: *mut licet_license_status,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe { with_status(c, out, err, |c| Ok(c.check_in()?)) }
}

/// Activates this machine with a license key and stores the token. A refusal
/// (`LICET_STATUS_REFUSED`, the server's code: `too_many_machines`, `license_not_found`, …)
/// leaves the stored state alone.
///
/// # Safety
/// As `licet_client_ensure`, with `key` valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_activate(
    c: *const licet_client,
    key: *const c_char,
    len: usize,
    out: *mut licet_license_status,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        with_status(c, out, err, |c| {
            let key = text(key, len, "key")?;
            Ok(c.activate(key)?)
        })
    }
}

/// Sends a heartbeat: a fresh token and seat. A seat the server released is taken again.
///
/// # Safety
/// As `licet_client_ensure`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_heartbeat(
    c: *const licet_client,
    out: *mut licet_license_status,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe { with_status(c, out, err, |c| Ok(c.heartbeat()?)) }
}

/// Gives the seat back to the server and deletes the token and the device key.
///
/// # Safety
/// `c` live; `err` NULL or writable. It may wait on the network up to the timeout.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_deactivate(
    c: *const licet_client,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `c` is NULL or live.
        let c = unsafe { c.as_ref() }.ok_or_else(|| invalid("client is NULL"))?;
        c.client.deactivate()?;
        Ok(())
    })
}

/// The stored token (binary), for `licet_verify` or `licet_inspect`;
/// `not_activated` when there is none.
///
/// # Safety
/// `c` live; `out` writable; `err` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_token(
    c: *const licet_client,
    out: *mut *mut licet_bytes,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `c` is NULL or live.
        let c = unsafe { c.as_ref() }.ok_or_else(|| invalid("client is NULL"))?;
        let token = c
            .client
            .state()
            .load(Slot::Token)
            .ok_or(::licet_client::online::ClientError::NotActivated)?;
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, licet_bytes::new(token)) }
    })
}

/// Writes an offline activation request for `key` (with an optional note for the vendor, NULL
/// for none) and keeps it as the pending request; `*out` is the armored file the customer
/// carries to the vendor.
///
/// # Safety
/// `c` live; strings valid for their lengths; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_offline_request(
    c: *const licet_client,
    key: *const c_char,
    key_len: usize,
    note: *const c_char,
    note_len: usize,
    out: *mut *mut licet_bytes,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `c` is NULL or live.
        let c = unsafe { c.as_ref() }.ok_or_else(|| invalid("client is NULL"))?;
        // SAFETY: the caller promises each length.
        let key = unsafe { text(key, key_len, "key") }?;
        // SAFETY: as above.
        let note = unsafe { opt_text(note, note_len, "note") }?;
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        let request = c.client.offline_request(key, note)?;
        let armored = encode_armor(&request, LABEL_REQUEST).into_bytes();
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, licet_bytes::new(armored)) }
    })
}

/// Installs the vendor's activation response (binary or armored): nothing is stored unless it
/// is signed by a pinned key, answers the pending request, and its token is valid here and
/// bound to this machine's device key.
///
/// # Safety
/// `c` live; `response` valid for `len` bytes; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_offline_install(
    c: *const licet_client,
    response: *const u8,
    len: usize,
    out: *mut licet_license_status,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        with_status(c, out, err, |c| {
            let input = bytes(response, len, "response")?;
            let raw = licet_verifier::text::decode(input, licet_verifier::offline::LABEL_RESPONSE)?;
            Ok(c.offline_install(&raw)?)
        })
    }
}

/// Gives the seat back without a network: erases the license and the device key, and `*out`
/// is the armored receipt, signed with that key, for the vendor.
///
/// # Safety
/// `c` live; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_offline_deactivate(
    c: *const licet_client,
    out: *mut *mut licet_bytes,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `c` is NULL or live.
        let c = unsafe { c.as_ref() }.ok_or_else(|| invalid("client is NULL"))?;
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        let receipt = c.client.offline_deactivate()?;
        let armored = encode_armor(&receipt, LABEL_RECEIPT).into_bytes();
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, licet_bytes::new(armored)) }
    })
}

/// Frees a client. NULL is accepted.
///
/// # Safety
/// `c` is NULL or a client this library made, freed once, when no other thread uses it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_client_free(c: *mut licet_client) {
    // SAFETY: forwarded from the caller's promise.
    unsafe { free(c) }
}
