//! The native side of the bindings' benchmark (scripts/bench-bindings.sh): the typical golden
//! token (`valid-ed25519`) verified N times in its case's context, as a Rust application
//! verifies it (the key read once, the context built once). Prints nanoseconds per verify.
//!
//! `cargo run --release -p licet-test-vectors --example golden_verify -- 20000`

use std::time::Instant;

use licet_verifier::{Context, PublicKey, UnverifiedToken};

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let token = std::fs::read(dir.join("tokens/valid-ed25519.cbor")).expect("token");
    let pem = std::fs::read_to_string(dir.join("keys/ed25519-a.pem")).expect("key");
    let keys = PublicKey::all_from_pem(&pem).expect("key");
    let ctx = Context::new(1_800_000_000, "acme-pro")
        .fingerprint("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
        .domain("example.com")
        .entitlements(&["pro"]);
    let verify = || {
        let t = UnverifiedToken::decode(std::hint::black_box(&token)).expect("decode");
        t.verify(&keys[..], &ctx).expect("valid").claims().issued_at
    };
    for _ in 0..n / 10 {
        verify();
    }
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(verify());
    }
    println!(
        "{:.0}",
        start.elapsed().as_nanos() as f64 / f64::from(n.max(1))
    );
}
