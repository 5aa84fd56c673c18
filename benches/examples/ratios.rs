//! Side-by-side ratios that survive a noisy machine: the two contenders run in alternating
//! short rounds (A B B A …), and the median of the per-round ratios is reported with its
//! interquartile range. Drift in the machine's speed hits both sides of a round alike.
//!
//! `cargo run -p licet-benches --release --example ratios`

use std::hint::black_box;

use licet_benches::{Ed25519Fixture, interleaved, typical};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const ROUNDS: usize = 301;
const PER_ROUND: usize = 100;

fn compare(name: &str, a: &mut dyn FnMut() -> bool, b: &mut dyn FnMut() -> bool) {
    compare_rounds(name, ROUNDS, PER_ROUND, a, b);
}

fn compare_rounds(
    name: &str,
    rounds: usize,
    per_round: usize,
    a: &mut dyn FnMut() -> bool,
    b: &mut dyn FnMut() -> bool,
) {
    let r = interleaved(rounds, per_round, a, b);
    println!(
        "| {name} | {:.3}× | {:.3}–{:.3} | {:.2} µs | {:.2} µs |",
        r.ratio[1],
        r.ratio[0],
        r.ratio[2],
        r.a * 1e6,
        r.b * 1e6
    );
}

fn main() {
    let f = Ed25519Fixture::new();
    let ctx = f.context();
    println!("| A vs B | median A/B | IQR | A median | B median |");
    println!("|---|---|---|---|---|");
    compare(
        "licet full verify vs raw verify_strict",
        &mut || f.licet_verify(&ctx),
        &mut || f.raw_verify(),
    );
    compare(
        "licet full verify vs coset + verify_strict (signature only)",
        &mut || f.licet_verify(&ctx),
        &mut || f.coset_verify(),
    );
    compare(
        "licet full verify vs jsonwebtoken EdDSA decode",
        &mut || f.licet_verify(&ctx),
        &mut || f.jwt_verify(),
    );

    // Issuing: build the typical claims and sign, against signing the same bytes raw.
    let raw_key = ed25519_dalek::SigningKey::from_bytes(&[0xa1; 32]);
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let mut issue = || {
        !typical(black_box("K7Q2M9XA"))
            .sign_with_rng(&f.key, &mut rng)
            .expect("sign")
            .is_empty()
    };
    let mut raw_sign = || {
        use ed25519_dalek::Signer;
        black_box(raw_key.sign(black_box(&f.tbs)));
        true
    };
    compare(
        "licet issue (build + sign) vs raw Ed25519 sign",
        &mut issue,
        &mut raw_sign,
    );

    // Batch verification: 64 signatures (64 tokens' Sig_structures, one key) checked at once,
    // against 64 strict checks one by one. The ratio is the cost per signature.
    const BATCH: usize = 64;
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let tokens: Vec<Vec<u8>> = (0..BATCH)
        .map(|i| {
            typical(&format!("K7Q2M{i:03}"))
                .sign_with_rng(&f.key, &mut rng)
                .expect("sign")
        })
        .collect();
    let decoded: Vec<_> = tokens
        .iter()
        .map(|t| licet_verifier::UnverifiedToken::decode(t).expect("decode"))
        .collect();
    let tbs: Vec<Vec<u8>> = decoded
        .iter()
        .map(|u| {
            licet_verifier::cose::encode::sig_structure(u.protected_bytes(), u.payload_bytes())
        })
        .collect();
    let sigs: Vec<ed25519_dalek::Signature> = decoded
        .iter()
        .map(|u| ed25519_dalek::Signature::from_slice(u.signature()).expect("sig"))
        .collect();
    let msgs: Vec<&[u8]> = tbs.iter().map(Vec::as_slice).collect();
    let vks = vec![f.vk; BATCH];
    compare_rounds(
        "64 signatures: verify_batch vs 64 × verify_strict",
        31,
        5,
        &mut || ed25519_dalek::verify_batch(black_box(&msgs), &sigs, &vks).is_ok(),
        &mut || {
            msgs.iter()
                .zip(&sigs)
                .all(|(m, s)| f.vk.verify_strict(black_box(m), s).is_ok())
        },
    );
}
