//! Token decoding and verification: any bytes either decode into an unverified token whose
//! claims can be read, or fail with an error; nothing panics, and nothing verifies against a key
//! that did not sign it.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use licet_verifier::{Context, UnverifiedToken};

fuzz_target!(|data: &[u8]| {
    let key = common::key();
    if let Ok(t) = UnverifiedToken::decode(data) {
        let _ = t.unverified_claims();
        let ctx = Context::new(1_800_000_000, "fuzz").fingerprint("machine");
        // The key is RFC 8032's test key 1, whose secret no input here knows.
        assert!(t.verify(&[key][..], &ctx).is_err());
    }
    // Armored text too.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = licet_verifier::text::decode(text.as_bytes(), "LICET LICENSE");
    }
});
