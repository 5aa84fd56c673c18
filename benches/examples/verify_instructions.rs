//! One verification path, repeated: for counting instructions under callgrind, which is
//! repeatable where wall-clock time on a shared machine is not.
//!
//! `valgrind --tool=callgrind target/release/examples/verify_instructions licet 200` (and `raw`,
//! and both with 0 to subtract the set-up); see BENCHMARKS.md.

use std::hint::black_box;

use licet_benches::{FINGERPRINT, NOW, typical};
use licet_issuer::SigningKey;
use licet_verifier::cose::encode;
use licet_verifier::{Context, UnverifiedToken};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "licet".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let key = SigningKey::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&[0xa1; 32]));
    let token = typical("K7Q2M9XA")
        .sign_with_rng(&key, &mut ChaCha20Rng::from_seed([1; 32]))
        .expect("sign");
    let keys = [key.public_key().clone()];
    let ents = ["pro"];
    let ctx = Context::new(NOW, "acme-pro")
        .fingerprint(FINGERPRINT)
        .domain("example.com")
        .entitlements(&ents);
    let u = UnverifiedToken::decode(&token).expect("decode");
    let tbs = encode::sig_structure(u.protected_bytes(), u.payload_bytes());
    let sig = ed25519_dalek::Signature::from_slice(u.signature()).expect("sig");
    let vk = ed25519_dalek::VerifyingKey::from_bytes(key.public_key().ed25519_bytes().expect("ed"))
        .expect("vk");
    let mut ok = 0;
    for _ in 0..n {
        let good = match mode.as_str() {
            "raw" => vk.verify_strict(black_box(&tbs), black_box(&sig)).is_ok(),
            _ => UnverifiedToken::decode(black_box(&token))
                .and_then(|t| t.verify(&keys[..], &ctx))
                .is_ok(),
        };
        ok += usize::from(good);
    }
    assert_eq!(ok, n);
    println!("{mode}: {n} verified");
}
