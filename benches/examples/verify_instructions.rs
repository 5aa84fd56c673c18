//! One verification path, repeated: for counting instructions under callgrind, which is
//! repeatable where wall-clock time on a shared machine is not.
//!
//! `valgrind --tool=callgrind target/release/examples/verify_instructions licet 200` (and `raw`,
//! and both with 0 to subtract the set-up); see BENCHMARKS.md.

use licet_benches::Ed25519Fixture;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "licet".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let f = Ed25519Fixture::new();
    let ctx = f.context();
    let mut ok = 0;
    for _ in 0..n {
        let good = match mode.as_str() {
            "raw" => f.raw_verify(),
            _ => f.licet_verify(&ctx),
        };
        ok += usize::from(good);
    }
    assert_eq!(ok, n);
    println!("{mode}: {n} verified");
}
