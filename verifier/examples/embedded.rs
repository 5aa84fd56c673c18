//! An embedded-style check: the vendor's public key compiled in, the token from flash, the time
//! from a real-time clock, no allocator and no std in the checking code (`check` uses only
//! `core` and `licet_verifier`'s default, allocation-free build; `main` is a stand-in for the
//! firmware's entry point). The same code builds for `#![no_std]` targets — see
//! `verifier/nostd-check`, which the tests build freestanding and run.
//!
//!     cargo run -p licet-verifier --example embedded

use licet_verifier::{Context, Error, PublicKey, verify};

/// The vendor's Ed25519 public key, as the firmware image carries it.
fn vendor_key() -> [u8; 32] {
    licet_verifier::doc_example().0
}

/// Checks a token for `product` at `rtc_now` (unix seconds from the RTC): no heap, no OS.
fn check(token: &[u8], rtc_now: i64, product: &str, device_id: &str) -> Result<u64, Error> {
    let key = PublicKey::ed25519(&vendor_key())?;
    let ctx = Context::new(rtc_now, product)
        .fingerprint(device_id)
        .domain("example.com");
    let license = verify(token, &key, &ctx)?;
    Ok(license
        .claims()
        .expires_at
        .map_or(u64::MAX, |e| (e - rtc_now).max(0) as u64))
}

fn main() {
    let (_, token, rtc_now) = licet_verifier::doc_example();
    let device = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    match check(token, rtc_now, "acme-pro", device) {
        Ok(left) => println!("licensed: {} days left", left / 86_400),
        Err(e) => {
            println!("not licensed: {}", e.code());
            std::process::exit(1);
        }
    }
    // Another device, or a clock far in the future, is refused.
    assert_eq!(
        check(token, rtc_now, "acme-pro", "another-device"),
        Err(Error::HwidMismatch)
    );
    assert_eq!(
        check(token, rtc_now + 10 * 365 * 86_400, "acme-pro", device),
        Err(Error::Expired)
    );
    println!("another device: refused; ten years on: refused");
}
