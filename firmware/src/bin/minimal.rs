//! One token check with the key compiled in: the shape of a vendor's firmware. It exits 0 when
//! the license verifies. Run with `measure` semantics by scripts/firmware.sh, it also prints the
//! stack one verify took and its cost in timer ticks, without `core::fmt`.
#![no_std]
#![no_main]

use licet_verifier::{Context, PublicKey, UnverifiedToken};
use semihosting::io::Write as _;

/// The vendor's public key, compiled in (the golden vectors' `ed25519-a`).
const VENDOR_KEY: [u8; 32] = [
    0xbc, 0x7c, 0xbc, 0xb5, 0x63, 0x63, 0x75, 0xfa, 0x1d, 0x82, 0x43, 0x4d, 0x46, 0x67, 0x24, 0xd9,
    0x23, 0x77, 0xf5, 0x3b, 0x98, 0x06, 0x95, 0xdd, 0x49, 0xd2, 0x6d, 0x0c, 0xe1, 0x22, 0x05, 0xa5,
];
/// The license as provisioned into flash (the golden `valid-ed25519` token).
static LICENSE: &[u8] = include_bytes!("../../../test-vectors/vectors/tokens/valid-ed25519.cbor");
/// This device's fingerprint, as provisioned.
const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
/// The time from the device's clock (unix seconds).
const NOW: i64 = 1_800_000_000;

/// The application's check: is this device licensed for the product, with `pro`?
#[inline(never)]
fn licensed(token: &[u8]) -> bool {
    let Ok(key) = PublicKey::ed25519(&VENDOR_KEY) else {
        return false;
    };
    let ctx = Context::new(NOW, "acme-pro")
        .fingerprint(FINGERPRINT)
        .domain("example.com")
        .entitlements(&["pro"]);
    UnverifiedToken::decode(token)
        .and_then(|t| t.verify(core::slice::from_ref(&key), &ctx))
        .is_ok()
}

/// Bytes of stack painted below `main`'s frame before the check: what the machine has free.
#[cfg(target_arch = "arm")]
const PAINT_BYTES: usize = if cfg!(target_feature = "thumb2") {
    32 * 1024
} else {
    12 * 1024
};
#[cfg(target_arch = "riscv32")]
const PAINT_BYTES: usize = 12 * 1024;
const MARGIN: usize = 64;

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    licet_firmware::timer::start();
    let range = licet_firmware::paint_stack(PAINT_BYTES, MARGIN);
    let start = licet_firmware::timer::now();
    let ok = licensed(core::hint::black_box(LICENSE));
    let ticks = licet_firmware::timer::elapsed(start, licet_firmware::timer::now());
    let used = licet_firmware::stack_used(range, MARGIN);
    if let Ok(mut out) = semihosting::io::stdout() {
        let _ = out.write_all(if ok {
            b"licensed; stack "
        } else {
            b"NOT licensed; stack "
        });
        licet_firmware::write_number(&mut out, used as u64);
        let _ = out.write_all(b" bytes; ");
        licet_firmware::write_number(&mut out, u64::from(ticks));
        let _ = out.write_all(licet_firmware::timer::UNIT);
        let _ = out.write_all(b"\n");
    }
    semihosting::process::exit(if ok { 0 } else { 1 })
}
