//! What the firmware images share: the golden cases compiled in by `build.rs`, checking one,
//! and measuring the stack a call takes.
#![no_std]

use licet_verifier::offline::{
    ActivationRequest, ActivationResponse, TokenHolder, UnverifiedReceipt,
};
use licet_verifier::{Claims, Context, Error, PublicKey, RevocationList, UnverifiedToken};

/// The claims a valid case must give.
pub struct Expected {
    pub license_id: &'static str,
    pub product: &'static str,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
    pub token_id: [u8; 16],
    pub entitlements: &'static [&'static str],
}

/// A token case of `expected.json`, with its context.
pub struct TokenCase {
    pub name: &'static str,
    pub token: &'static [u8],
    pub keys: &'static [[u8; 32]],
    pub now: i64,
    pub product: Option<&'static str>,
    pub fingerprint: Option<&'static str>,
    pub hwid_parts: &'static [[u8; 8]],
    pub device_key: Option<[u8; 32]>,
    pub require_device_binding: bool,
    pub domain: Option<&'static str>,
    pub entitlements: &'static [&'static str],
    pub leeway: u64,
    pub revocations: Option<&'static [u8]>,
    pub last_seen_sequence: Option<u64>,
    pub require_fresh: bool,
    pub expected: &'static str,
    pub claims: Option<Expected>,
}

/// A case of `offline.json`.
pub enum OfflineCase {
    Request {
        name: &'static str,
        data: &'static [u8],
        now: i64,
        window: u64,
        expected: &'static str,
    },
    Response {
        name: &'static str,
        data: &'static [u8],
        keys: &'static [[u8; 32]],
        pending: &'static [u8],
        now: i64,
        product: &'static str,
        fingerprint: &'static str,
        expected: &'static str,
    },
    Receipt {
        name: &'static str,
        data: &'static [u8],
        holder: &'static str,
        device_key: Option<[u8; 32]>,
        expected: &'static str,
    },
}

include!(concat!(env!("OUT_DIR"), "/cases.rs"));

/// Runs `f` with the key set of `raw` (no allocator: a case has one to three keys).
fn with_keys<R>(
    raw: &[[u8; 32]],
    f: impl FnOnce(&[PublicKey]) -> Result<R, Error>,
) -> Result<R, Error> {
    match raw {
        [a] => f(&[PublicKey::ed25519(a)?]),
        [a, b] => f(&[PublicKey::ed25519(a)?, PublicKey::ed25519(b)?]),
        [a, b, c] => f(&[
            PublicKey::ed25519(a)?,
            PublicKey::ed25519(b)?,
            PublicKey::ed25519(c)?,
        ]),
        _ => Err(Error::InvalidKey),
    }
}

fn claims_match(got: &Claims<'_>, want: &Option<Expected>) -> bool {
    let Some(w) = want else { return true };
    got.license_id == w.license_id
        && got.product == w.product
        && got.issued_at == w.issued_at
        && got.expires_at == w.expires_at
        && got.token_id == w.token_id
        && got.entitlements.len() == w.entitlements.len()
        && got
            .entitlements
            .iter()
            .zip(w.entitlements)
            .all(|(a, b)| a == *b)
}

/// The outcome of a token case: `"valid"`, or the verifier's code.
pub fn token_outcome(c: &'static TokenCase) -> &'static str {
    let r = with_keys(c.keys, |keys| {
        let list = match c.revocations {
            Some(b) => Some(RevocationList::verify(b, keys, c.last_seen_sequence)?),
            None => None,
        };
        let mut ctx = match c.product {
            Some(p) => Context::new(c.now, p),
            None => Context::any_product(c.now),
        }
        .entitlements(c.entitlements)
        .leeway(c.leeway);
        if let Some(f) = c.fingerprint {
            ctx = ctx.fingerprint(f);
        }
        if !c.hwid_parts.is_empty() {
            ctx = ctx.hwid_parts(c.hwid_parts);
        }
        if let Some(d) = c.domain {
            ctx = ctx.domain(d);
        }
        if let Some(k) = &c.device_key {
            ctx = ctx.device_key(k);
        }
        if c.require_device_binding {
            ctx = ctx.require_device_binding();
        }
        if let Some(list) = &list {
            ctx = ctx.revocations(list);
            if c.require_fresh {
                ctx = ctx.require_fresh_revocations();
            }
        }
        let v = UnverifiedToken::decode(c.token)?.verify(keys, &ctx)?;
        Ok(claims_match(v.claims(), &c.claims))
    });
    match r {
        Ok(true) => "valid",
        Ok(false) => "valid with other claims",
        Err(e) => e.code(),
    }
}

/// The outcome of an offline case, checked as its reader checks it.
pub fn offline_outcome(c: &'static OfflineCase) -> &'static str {
    let r = match c {
        OfflineCase::Request {
            data, now, window, ..
        } => {
            ActivationRequest::verify(data).and_then(|r| r.check_age(*now, *window).map(|()| true))
        }
        OfflineCase::Response {
            data,
            keys,
            pending,
            now,
            product,
            fingerprint,
            ..
        } => with_keys(keys, |keys| {
            let pending = ActivationRequest::verify(pending)?;
            let answer = ActivationResponse::verify(data, keys)?;
            let ctx = Context::new(*now, product).fingerprint(fingerprint);
            let v = answer.verify_token(keys, &pending, ctx)?;
            // An installed token binds the pending request's device key.
            Ok(v.claims().device_key == Some(pending.device_key))
        }),
        OfflineCase::Receipt {
            data,
            holder,
            device_key,
            ..
        } => UnverifiedReceipt::decode(data).and_then(|r| {
            let holder = match *holder {
                "machine" => TokenHolder::Machine(device_key.as_ref()),
                "revoked" => TokenHolder::Revoked,
                _ => TokenHolder::Replaced,
            };
            r.check(holder).map(|_| true)
        }),
    };
    match r {
        Ok(true) => "valid",
        Ok(false) => "valid without the pending device key",
        Err(e) => e.code(),
    }
}

impl OfflineCase {
    pub fn name(&self) -> &'static str {
        match self {
            OfflineCase::Request { name, .. }
            | OfflineCase::Response { name, .. }
            | OfflineCase::Receipt { name, .. } => name,
        }
    }

    pub fn expected(&self) -> &'static str {
        match self {
            OfflineCase::Request { expected, .. }
            | OfflineCase::Response { expected, .. }
            | OfflineCase::Receipt { expected, .. } => expected,
        }
    }
}

/// A panic exits with status 101, saying only that it happened: a handler that formatted the
/// message would pull `core::fmt` into every image, the minimal one too.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    if let Ok(mut out) = semihosting::io::stdout() {
        let _ = semihosting::io::Write::write_all(&mut out, b"panicked\n");
    }
    semihosting::process::exit(101)
}

/// Writes `n` in decimal without `core::fmt`.
pub fn write_number(out: &mut impl semihosting::io::Write, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let _ = out.write_all(&buf[i..]);
}

const PAINT: u32 = 0x5A5A_5A5A;

/// Paints `bytes` of the free stack below the caller's frame, leaving `margin` bytes under this
/// frame alone. Returns the painted range (bottom, top).
#[inline(never)]
pub fn paint_stack(bytes: usize, margin: usize) -> (usize, usize) {
    let here = 0u32;
    let top = (core::ptr::addr_of!(here) as usize - margin) & !3;
    let bottom = top - bytes;
    let mut a = bottom;
    while a < top {
        // SAFETY: below the live frames is stack nobody uses yet (no interrupts run here).
        unsafe { (a as *mut u32).write_volatile(PAINT) };
        a += 4;
    }
    (bottom, top)
}

/// Bytes of the painted range a call wrote into: from its lowest written word to the top of
/// the range, plus the margin left unpainted above it.
pub fn stack_used((bottom, top): (usize, usize), margin: usize) -> usize {
    let mut a = bottom;
    // SAFETY: the range was painted by `paint_stack` and is still stack memory.
    while a < top && unsafe { (a as *const u32).read_volatile() } == PAINT {
        a += 4;
    }
    top - a + margin
}

/// A counter that advances deterministically under QEMU's `-icount`.
#[cfg(target_arch = "arm")]
pub mod timer {
    /// SysTick counts processor clocks down from 2^24 - 1; under `-icount shift=0` one
    /// instruction is one nanosecond of the machine's clock, so a tick is (10^9 / clock)
    /// instructions.
    pub const UNIT: &[u8] = b" SysTick ticks";
    const SYST_CSR: *mut u32 = 0xE000_E010 as *mut u32;
    const SYST_RVR: *mut u32 = 0xE000_E014 as *mut u32;
    const SYST_CVR: *mut u32 = 0xE000_E018 as *mut u32;

    pub fn start() {
        // SAFETY: SysTick's registers, on every Cortex-M.
        unsafe {
            SYST_RVR.write_volatile(0x00FF_FFFF);
            SYST_CVR.write_volatile(0);
            // Enabled, on the processor clock.
            SYST_CSR.write_volatile(0b101);
        }
    }

    pub fn now() -> u32 {
        // SAFETY: reading SysTick's current value has no effect.
        unsafe { SYST_CVR.read_volatile() }
    }

    /// Ticks from `start` to `end` of the 24-bit down-counter (less than one wrap).
    pub fn elapsed(start: u32, end: u32) -> u32 {
        start.wrapping_sub(end) & 0x00FF_FFFF
    }
}

#[cfg(target_arch = "riscv32")]
pub mod timer {
    /// `minstret`: QEMU counts retired instructions exactly under `-icount`.
    pub const UNIT: &[u8] = b" instructions";

    pub fn start() {}

    pub fn elapsed(start: u32, end: u32) -> u32 {
        end.wrapping_sub(start)
    }

    pub fn now() -> u32 {
        let n: u32;
        // SAFETY: reading a counter CSR has no effect.
        unsafe { core::arch::asm!("csrr {0}, minstret", out(reg) n) };
        n
    }
}
