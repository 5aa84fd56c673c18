//! Token verification: the context a token is checked in, and the license it gives.

use std::ffi::{CStr, c_char};
use std::sync::Arc;

use licet_verifier::claims::{Claims, LicenseKind, MetaValue};
use licet_verifier::text::LABEL_LICENSE;
use licet_verifier::{Algorithm, Context, Error, OwnedContext, UnverifiedToken};

use crate::error::{Failure, free, invalid, licet_error, licet_status, put, read, run};
use crate::keys::{keyset, licet_keyset};
use crate::revocations::{ListCell, licet_revocations};
use crate::text::{Owned, bytes, fixed, licet_str, opt_text, text, write_fixed, write_opt};

/// What a token is checked against: the time, the product, this machine, the domain, the
/// entitlements the application needs, the revocation list. Everything but the time is
/// optional; a check the context does not ask for is not made, except that a machine-bound or
/// domain-bound token needs its fingerprint or domain (`hwid_required`, `domain_required`).
#[derive(Debug)]
pub struct licet_context {
    settings: OwnedContext,
    revocations: Option<Arc<ListCell>>,
}

impl licet_context {
    /// Runs `f` with the verifier's context for these settings.
    pub(crate) fn with<R>(&self, f: impl FnOnce(Context<'_>) -> R) -> R {
        let list = self.revocations.as_deref().map(ListCell::borrow_dependent);
        self.settings.with(list, f)
    }
}

/// A context at `now` (unix seconds, from the application's clock) for `product`. A NULL
/// `product` accepts a token of any product: only for tools that read any licet token.
///
/// # Safety
/// `product` is NULL or valid for `product_len` bytes; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_new(
    now: i64,
    product: *const c_char,
    product_len: usize,
    out: *mut *mut licet_context,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `product` is NULL or readable.
        let product = unsafe { opt_text(product, product_len, "product") }?;
        let ctx = licet_context {
            settings: OwnedContext {
                now,
                product: product.map(str::to_owned),
                ..OwnedContext::default()
            },
            revocations: None,
        };
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, ctx) }
    })
}

/// Runs a setter on a context.
///
/// # Safety
/// `ctx` is NULL or a live context no other thread uses during the call.
unsafe fn set(
    ctx: *mut licet_context,
    err: *mut *mut licet_error,
    f: impl FnOnce(&mut licet_context) -> Result<(), Failure>,
) -> licet_status {
    run(err, || {
        // SAFETY: forwarded from the caller's promise.
        let c = unsafe { ctx.as_mut() }.ok_or_else(|| invalid("ctx is NULL"))?;
        f(c)
    })
}

/// This machine's fingerprint (the 64-hex id of `licet_machine_fingerprint`, or the one the
/// vendor bound the token to).
///
/// # Safety
/// `ctx` is a live context no other thread uses during the call; `fingerprint` valid for `len`
/// bytes; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_set_fingerprint(
    ctx: *mut licet_context,
    fingerprint: *const c_char,
    len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(ctx, err, |c| {
            c.settings.fingerprint = Some(text(fingerprint, len, "fingerprint")?.to_owned());
            Ok(())
        })
    }
}

/// Binds the check to this machine: its fingerprint and hardware parts for the context's
/// product, as licet's client sends them on activation (so a token bound to either verifies
/// here, and one bound to another machine does not). Needs a product.
///
/// # Safety
/// `ctx` is a live context no other thread uses during the call; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_set_this_machine(
    ctx: *mut licet_context,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(ctx, err, |c| {
            let product =
                c.settings.product.as_deref().ok_or_else(|| {
                    invalid("a context for any product has no machine fingerprint")
                })?;
            let fp = ::licet_client::fingerprint::Fingerprint::collect(product);
            c.settings.fingerprint = Some(fp.id());
            c.settings.hwid_parts = fp.parts();
            Ok(())
        })
    }
}

/// This machine's hardware parts, `count` of 8 bytes each, for a token bound k-of-n to parts.
///
/// # Safety
/// As `licet_context_set_fingerprint`, with `parts` valid for `8 * count` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_set_hwid_parts(
    ctx: *mut licet_context,
    parts: *const u8,
    count: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(ctx, err, |c| {
            let len = count
                .checked_mul(8)
                .ok_or_else(|| invalid("too many parts"))?;
            let raw = bytes(parts, len, "parts")?;
            c.settings.hwid_parts = raw
                .chunks_exact(8)
                .map(|p| <[u8; 8]>::try_from(p).unwrap_or_default())
                .collect();
            Ok(())
        })
    }
}

/// The device key this machine holds (32 bytes, Ed25519): a token bound to another is refused
/// (`device_key_mismatch`).
///
/// # Safety
/// As `licet_context_set_fingerprint`, with `key` valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_set_device_key(
    ctx: *mut licet_context,
    key: *const u8,
    len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(ctx, err, |c| {
            c.settings.device_key = Some(fixed(key, len, "a device key")?);
            Ok(())
        })
    }
}

/// Refuses a token that binds no device key (`device_key_required`).
///
/// # Safety
/// As `licet_context_set_fingerprint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_require_device_binding(
    ctx: *mut licet_context,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(ctx, err, |c| {
            c.settings.require_device_binding = true;
            Ok(())
        })
    }
}

/// The domain the application runs on, for a token bound to domains.
///
/// # Safety
/// As `licet_context_set_fingerprint`, with `domain` valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_set_domain(
    ctx: *mut licet_context,
    domain: *const c_char,
    len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(ctx, err, |c| {
            c.settings.domain = Some(text(domain, len, "domain")?.to_owned());
            Ok(())
        })
    }
}

/// Requires an entitlement (call once for each): a token without it is refused
/// (`missing_entitlement`).
///
/// # Safety
/// As `licet_context_set_fingerprint`, with `entitlement` valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_add_entitlement(
    ctx: *mut licet_context,
    entitlement: *const c_char,
    len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(ctx, err, |c| {
            c.settings
                .entitlements
                .push(text(entitlement, len, "entitlement")?.to_owned());
            Ok(())
        })
    }
}

/// Seconds of clock difference allowed around `nbf` and `exp` [default: 0].
///
/// # Safety
/// As `licet_context_set_fingerprint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_set_leeway(
    ctx: *mut licet_context,
    seconds: u64,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(ctx, err, |c| {
            c.settings.leeway = seconds;
            Ok(())
        })
    }
}

/// The revocation list to check the token against (`revoked`). With `require_fresh`, a list
/// past its next update refuses every token (`stale_revocations`); without, the license says
/// so (`licet_license_revocations_stale`). The context keeps its own reference.
///
/// # Safety
/// As `licet_context_set_fingerprint`, with `list` a live revocation list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_set_revocations(
    ctx: *mut licet_context,
    list: *const licet_revocations,
    require_fresh: bool,
    err: *mut *mut licet_error,
) -> licet_status {
    // SAFETY: forwarded from the caller's promise.
    unsafe {
        set(ctx, err, |c| {
            let l = list.as_ref().ok_or_else(|| invalid("list is NULL"))?;
            c.revocations = Some(l.cell.clone());
            c.settings.require_fresh_revocations = require_fresh;
            Ok(())
        })
    }
}

/// Frees a context. NULL is accepted.
///
/// # Safety
/// `ctx` is NULL or a context this library made, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_context_free(ctx: *mut licet_context) {
    // SAFETY: forwarded from the caller's promise.
    unsafe { free(ctx) }
}

/// What the license handle knows beyond the claims.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held<'a> {
    claims: Claims<'a>,
    kid: [u8; 8],
    algorithm: &'static CStr,
    verified: bool,
    stale: bool,
}

impl<'a> Held<'a> {
    pub(crate) fn verified(v: &licet_verifier::VerifiedLicense<'a>) -> Held<'a> {
        Held {
            claims: *v.claims(),
            kid: *v.kid().as_bytes(),
            algorithm: algorithm_name(Ok(v.algorithm())),
            verified: true,
            stale: v.revocations_stale(),
        }
    }
}

/// The algorithm's name as a C string.
fn algorithm_name(a: Result<Algorithm, Error>) -> &'static CStr {
    match a {
        Ok(Algorithm::Ed25519) => c"EdDSA",
        Ok(Algorithm::Ps256) => c"PS256",
        Ok(Algorithm::Rs256) => c"RS256",
        _ => c"unknown",
    }
}

self_cell::self_cell!(
    /// The token's bytes and what was read from them.
    pub(crate) struct LicenseCell {
        owner: Vec<u8>,
        #[covariant]
        dependent: Held,
    }

    impl {Debug}
);

/// A license: the claims of a verified token (or, from `licet_inspect`, of one that was not
/// verified). Free with `licet_license_free`.
#[derive(Debug)]
pub struct licet_license {
    cell: LicenseCell,
    /// Owned copies of the text claims with a NUL after each, for `%s`.
    strings: Strings,
}

#[derive(Debug)]
struct Strings {
    product: Owned,
    license_id: Owned,
    issuer: Option<Owned>,
    subject: Option<Owned>,
    audience: Option<Owned>,
    domains: Vec<Owned>,
    entitlements: Vec<Owned>,
    metadata: Vec<(Owned, Meta)>,
}

#[derive(Debug)]
enum Meta {
    Text(Owned),
    Int(i64),
    Bool(bool),
}

impl licet_license {
    pub(crate) fn new(cell: LicenseCell) -> licet_license {
        let c = &cell.borrow_dependent().claims;
        let strings = Strings {
            product: Owned::new(c.product),
            license_id: Owned::new(c.license_id),
            issuer: c.issuer.map(Owned::new),
            subject: c.subject.map(Owned::new),
            audience: c.audience.map(Owned::new),
            domains: c.domains.iter().map(Owned::new).collect(),
            entitlements: c.entitlements.iter().map(Owned::new).collect(),
            metadata: c
                .metadata
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        MetaValue::Text(t) => Meta::Text(Owned::new(t)),
                        MetaValue::Int(i) => Meta::Int(i),
                        MetaValue::Bool(b) => Meta::Bool(b),
                        // A newer verifier's kind of value reads as absent text.
                        _ => Meta::Text(Owned::new("")),
                    };
                    (Owned::new(k), v)
                })
                .collect(),
        };
        licet_license { cell, strings }
    }

    fn held(&self) -> &Held<'_> {
        self.cell.borrow_dependent()
    }
}

/// Verifies a token (binary COSE_Sign1, base64url text or the armored `LICET LICENSE` file)
/// against `keys` in `ctx`. On success `*out` is the license; otherwise the error's code is
/// the verifier's (`expired`, `wrong_product`, `hwid_mismatch`, `bad_signature`, …).
///
/// # Safety
/// `token` valid for `len` bytes; `keys` and `ctx` live; `out` writable; `err` NULL or
/// writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_verify(
    token: *const u8,
    len: usize,
    keys: *const licet_keyset,
    ctx: *const licet_context,
    out: *mut *mut licet_license,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `len` readable bytes at `token`.
        let input = unsafe { bytes(token, len, "token") }?;
        // SAFETY: the caller promises `keys` is NULL or live.
        let keys = unsafe { keyset(keys) }?;
        // SAFETY: the caller promises `ctx` is NULL or live.
        let ctx = unsafe { ctx.as_ref() }.ok_or_else(|| invalid("ctx is NULL"))?;
        let raw = licet_verifier::text::decode(input, LABEL_LICENSE)?;
        let cell = LicenseCell::try_new(raw, |b| {
            ctx.with(|c| UnverifiedToken::decode(b)?.verify(keys, &c))
                .map(|v| Held::verified(&v))
        })?;
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, licet_license::new(cell)) }
    })
}

/// Reads a token's claims **without verifying it**: for support tools and diagnostics, never
/// to decide whether an application runs (`licet_license_is_verified` is false).
///
/// # Safety
/// As `licet_verify`, without keys or context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_inspect(
    token: *const u8,
    len: usize,
    out: *mut *mut licet_license,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `len` readable bytes at `token`.
        let input = unsafe { bytes(token, len, "token") }?;
        let raw = licet_verifier::text::decode(input, LABEL_LICENSE)?;
        let cell = LicenseCell::try_new(raw, |b| {
            let t = UnverifiedToken::decode(b)?;
            let header = t.header();
            let kid: [u8; 8] = header.kid.try_into().unwrap_or_default();
            Ok::<_, Error>(Held {
                claims: t.unverified_claims()?,
                kid,
                algorithm: algorithm_name(header.algorithm()),
                verified: false,
                stale: false,
            })
        })?;
        // SAFETY: the caller promises `out` is writable.
        unsafe { put(out, licet_license::new(cell)) }
    })
}

/// Whether the license came from `licet_verify` (true) or `licet_inspect` (false).
///
/// # Safety
/// `l` is NULL or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_is_verified(l: *const licet_license) -> bool {
    read(l, false, |l| l.held().verified)
}

/// The license id (`LIC-…`).
///
/// # Safety
/// `l` is NULL or live; the string lives as long as `l`. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_id(l: *const licet_license) -> licet_str {
    read(l, licet_str::NONE, |l| {
        licet_str::of_owned(&l.strings.license_id)
    })
}

/// The product code.
///
/// # Safety
/// As `licet_license_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_product(l: *const licet_license) -> licet_str {
    read(l, licet_str::NONE, |l| {
        licet_str::of_owned(&l.strings.product)
    })
}

/// The issuer (`iss`), or `data == NULL`.
///
/// # Safety
/// As `licet_license_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_issuer(l: *const licet_license) -> licet_str {
    read(l, licet_str::NONE, |l| {
        l.strings
            .issuer
            .as_ref()
            .map_or(licet_str::NONE, licet_str::of_owned)
    })
}

/// The subject (`sub`: the customer), or `data == NULL`.
///
/// # Safety
/// As `licet_license_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_subject(l: *const licet_license) -> licet_str {
    read(l, licet_str::NONE, |l| {
        l.strings
            .subject
            .as_ref()
            .map_or(licet_str::NONE, licet_str::of_owned)
    })
}

/// The audience (`aud`), or `data == NULL`.
///
/// # Safety
/// As `licet_license_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_audience(l: *const licet_license) -> licet_str {
    read(l, licet_str::NONE, |l| {
        l.strings
            .audience
            .as_ref()
            .map_or(licet_str::NONE, licet_str::of_owned)
    })
}

/// When the token was issued (`iat`), unix seconds.
///
/// # Safety
/// `l` is NULL (0) or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_issued_at(l: *const licet_license) -> i64 {
    read(l, 0, |l| l.held().claims.issued_at)
}

/// Writes the expiry (`exp`, unix seconds) to `*out`; false for a token that never expires.
///
/// # Safety
/// `l` is NULL or live; `out` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_expires_at(l: *const licet_license, out: *mut i64) -> bool {
    // SAFETY: the caller promises `out` is NULL or writable.
    read(l, false, |l| unsafe {
        write_opt(out, l.held().claims.expires_at)
    })
}

/// Writes the not-before time (`nbf`) to `*out`; false when the token has none.
///
/// # Safety
/// As `licet_license_expires_at`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_not_before(l: *const licet_license, out: *mut i64) -> bool {
    // SAFETY: the caller promises `out` is NULL or writable.
    read(l, false, |l| unsafe {
        write_opt(out, l.held().claims.not_before)
    })
}

/// Writes when the application should check in (`refresh_after`) to `*out`; false when the
/// token does not ask.
///
/// # Safety
/// As `licet_license_expires_at`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_refresh_after(
    l: *const licet_license,
    out: *mut i64,
) -> bool {
    // SAFETY: the caller promises `out` is NULL or writable.
    read(l, false, |l| unsafe {
        write_opt(out, l.held().claims.refresh_after)
    })
}

/// Writes the offline grace (seconds the application may run without reaching the server) to
/// `*out`; false when the token has none.
///
/// # Safety
/// `l` is NULL or live; `out` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_offline_grace(
    l: *const licet_license,
    out: *mut u64,
) -> bool {
    // SAFETY: the caller promises `out` is NULL or writable.
    read(l, false, |l| unsafe {
        write_opt(out, l.held().claims.offline_grace)
    })
}

/// Writes the seat count to `*out`; false when the token has none.
///
/// # Safety
/// `l` is NULL or live; `out` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_seats(l: *const licet_license, out: *mut u32) -> bool {
    // SAFETY: the caller promises `out` is NULL or writable.
    read(l, false, |l| unsafe {
        write_opt(out, l.held().claims.seats)
    })
}

/// The license kind: `trial`, `subscription` or `lifetime`, or `data == NULL`.
///
/// # Safety
/// As `licet_license_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_kind(l: *const licet_license) -> licet_str {
    read(l, licet_str::NONE, |l| {
        l.held().claims.kind.map_or(licet_str::NONE, |k| {
            licet_str::of_c(match k {
                LicenseKind::Trial => c"trial",
                LicenseKind::Subscription => c"subscription",
                LicenseKind::Lifetime => c"lifetime",
                _ => c"unknown",
            })
        })
    })
}

/// Copies the 16-byte token id (`cti`, what a revocation list names) to `out`.
///
/// # Safety
/// `l` is NULL (false) or live; `out` NULL or valid for 16 bytes. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_token_id(l: *const licet_license, out: *mut u8) -> bool {
    // SAFETY: the caller promises 16 writable bytes at `out`.
    read(l, false, |l| unsafe {
        write_fixed(out, &l.held().claims.token_id)
    })
}

/// Copies the 8-byte id of the key that signed the token to `out`.
///
/// # Safety
/// `l` is NULL (false) or live; `out` NULL or valid for 8 bytes. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_kid(l: *const licet_license, out: *mut u8) -> bool {
    // SAFETY: the caller promises 8 writable bytes at `out`.
    read(l, false, |l| unsafe { write_fixed(out, &l.held().kid) })
}

/// The signature algorithm (`EdDSA`, `PS256`, `RS256`).
///
/// # Safety
/// As `licet_license_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_algorithm(l: *const licet_license) -> licet_str {
    read(l, licet_str::NONE, |l| licet_str::of_c(l.held().algorithm))
}

/// Copies the 16-byte machine binding (`hwid`) to `out`; false when the token binds no machine.
///
/// # Safety
/// `l` is NULL or live; `out` NULL or valid for 16 bytes. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_hwid(l: *const licet_license, out: *mut u8) -> bool {
    read(l, false, |l| match &l.held().claims.hwid {
        // SAFETY: the caller promises 16 writable bytes at `out`.
        Some(h) => unsafe { write_fixed(out, h) },
        None => false,
    })
}

/// Copies the 32-byte device key the token binds to `out`; false when it binds none.
///
/// # Safety
/// `l` is NULL or live; `out` NULL or valid for 32 bytes. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_device_key(l: *const licet_license, out: *mut u8) -> bool {
    read(l, false, |l| match &l.held().claims.device_key {
        // SAFETY: the caller promises 32 writable bytes at `out`.
        Some(k) => unsafe { write_fixed(out, k) },
        None => false,
    })
}

/// How many domains the token names.
///
/// # Safety
/// `l` is NULL (0) or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_domain_count(l: *const licet_license) -> usize {
    read(l, 0, |l| l.strings.domains.len())
}

/// Domain `i` (`data == NULL` past the end).
///
/// # Safety
/// As `licet_license_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_domain(l: *const licet_license, i: usize) -> licet_str {
    read(l, licet_str::NONE, |l| {
        l.strings
            .domains
            .get(i)
            .map_or(licet_str::NONE, licet_str::of_owned)
    })
}

/// How many entitlements the token grants.
///
/// # Safety
/// `l` is NULL (0) or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_entitlement_count(l: *const licet_license) -> usize {
    read(l, 0, |l| l.strings.entitlements.len())
}

/// Entitlement `i` (`data == NULL` past the end).
///
/// # Safety
/// As `licet_license_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_entitlement(l: *const licet_license, i: usize) -> licet_str {
    read(l, licet_str::NONE, |l| {
        l.strings
            .entitlements
            .get(i)
            .map_or(licet_str::NONE, licet_str::of_owned)
    })
}

/// Whether the token grants `entitlement` (false for text that is not UTF-8).
///
/// # Safety
/// `l` is NULL or live; `entitlement` valid for `len` bytes. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_has_entitlement(
    l: *const licet_license,
    entitlement: *const c_char,
    len: usize,
) -> bool {
    read(l, false, |l| {
        // SAFETY: the caller promises `len` readable bytes at `entitlement`.
        unsafe { text(entitlement, len, "entitlement") }
            .is_ok_and(|e| l.held().claims.entitlements.contains(e))
    })
}

/// The kind of a metadata value.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum licet_meta_kind {
    /// No such entry.
    None = 0,
    /// Text: `text`.
    Text = 1,
    /// A signed integer: `integer`.
    Int = 2,
    /// A boolean: `boolean`.
    Bool = 3,
}

/// A metadata entry of a token.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct licet_meta {
    /// The entry's key.
    pub key: licet_str,
    /// Which of the fields below holds the value.
    pub kind: licet_meta_kind,
    /// The value when `kind` is `LICET_META_KIND_TEXT`.
    pub text: licet_str,
    /// The value when `kind` is `LICET_META_KIND_INT`.
    pub integer: i64,
    /// The value when `kind` is `LICET_META_KIND_BOOL`.
    pub boolean: bool,
}

impl licet_meta {
    const NONE: licet_meta = licet_meta {
        key: licet_str::NONE,
        kind: licet_meta_kind::None,
        text: licet_str::NONE,
        integer: 0,
        boolean: false,
    };

    fn of(key: &Owned, value: &Meta) -> licet_meta {
        let mut m = licet_meta {
            key: licet_str::of_owned(key),
            ..licet_meta::NONE
        };
        match value {
            Meta::Text(t) => {
                m.kind = licet_meta_kind::Text;
                m.text = licet_str::of_owned(t);
            }
            Meta::Int(i) => {
                m.kind = licet_meta_kind::Int;
                m.integer = *i;
            }
            Meta::Bool(b) => {
                m.kind = licet_meta_kind::Bool;
                m.boolean = *b;
            }
        }
        m
    }
}

/// How many metadata entries the token carries.
///
/// # Safety
/// `l` is NULL (0) or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_metadata_count(l: *const licet_license) -> usize {
    read(l, 0, |l| l.strings.metadata.len())
}

/// Metadata entry `i`, in the token's (sorted) order; `kind == LICET_META_KIND_NONE` past the end.
///
/// # Safety
/// As `licet_license_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_metadata(l: *const licet_license, i: usize) -> licet_meta {
    read(l, licet_meta::NONE, |l| {
        l.strings
            .metadata
            .get(i)
            .map_or(licet_meta::NONE, |(k, v)| licet_meta::of(k, v))
    })
}

/// The metadata entry under `key`; `kind == LICET_META_KIND_NONE` when there is none.
///
/// # Safety
/// `l` is NULL or live; `key` valid for `len` bytes. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_metadata_get(
    l: *const licet_license,
    key: *const c_char,
    len: usize,
) -> licet_meta {
    read(l, licet_meta::NONE, |l| {
        // SAFETY: the caller promises `len` readable bytes at `key`.
        let Ok(key) = (unsafe { text(key, len, "key") }) else {
            return licet_meta::NONE;
        };
        l.strings
            .metadata
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map_or(licet_meta::NONE, |(k, v)| licet_meta::of(k, v))
    })
}

/// Whether the revocation list the token was checked against is past its next update (the
/// application should fetch a new one).
///
/// # Safety
/// `l` is NULL (false) or live. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_revocations_stale(l: *const licet_license) -> bool {
    read(l, false, |l| l.held().stale)
}

/// Checks a device's proof of possession of the key this token binds: `signature` (64 bytes)
/// over `"licet/device-pop/v1\0" || challenge`. Refused with `device_key_mismatch`, or
/// `device_key_required` when the token binds no device key. Use a fresh random challenge.
///
/// # Safety
/// `l` live; `challenge` valid for `challenge_len` bytes, `signature` for `signature_len`;
/// `err` NULL or writable. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_verify_possession(
    l: *const licet_license,
    challenge: *const u8,
    challenge_len: usize,
    signature: *const u8,
    signature_len: usize,
    err: *mut *mut licet_error,
) -> licet_status {
    run(err, || {
        // SAFETY: the caller promises `l` is NULL or live.
        let l = unsafe { l.as_ref() }.ok_or_else(|| invalid("license is NULL"))?;
        // SAFETY: the caller promises the lengths.
        let challenge = unsafe { bytes(challenge, challenge_len, "challenge") }?;
        // SAFETY: as above.
        let signature = unsafe { bytes(signature, signature_len, "signature") }?;
        l.held().claims.verify_possession(challenge, signature)?;
        Ok(())
    })
}

/// Frees a license. NULL is accepted.
///
/// # Safety
/// `l` is NULL or a license this library made, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn licet_license_free(l: *mut licet_license) {
    // SAFETY: forwarded from the caller's promise.
    unsafe { free(l) }
}
