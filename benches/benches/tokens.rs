//! licet's offline costs, each next to its reference, measured in one run.
//!
//! `cargo bench -p licet-benches --bench tokens`; BENCHMARKS.md explains the groups and holds
//! the ratios of the last run.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use licet_benches::{Ed25519Fixture, FINGERPRINT, NOW, ed_key, typical};
use licet_issuer::{KeySpec, RevocationListBuilder, SigningKey};
use licet_verifier::{Context, RevocationList, UnverifiedToken};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn ed25519_verify(c: &mut Criterion) {
    let f = Ed25519Fixture::new();
    let ctx = f.context();

    let mut g = c.benchmark_group("ed25519_verify");
    g.bench_function("licet_full_verify", |b| b.iter(|| f.licet_verify(&ctx)));
    g.bench_function("raw_verify_strict", |b| b.iter(|| f.raw_verify()));
    g.bench_function("coset_verify_strict", |b| b.iter(|| f.coset_verify()));
    g.bench_function("jsonwebtoken_eddsa", |b| b.iter(|| f.jwt_verify()));
    g.finish();

    // Where licet's time beyond the signature check goes.
    let u = UnverifiedToken::decode(&f.token).expect("decode");
    let mut g = c.benchmark_group("ed25519_verify_parts");
    g.bench_function("decode_envelope", |b| {
        b.iter(|| UnverifiedToken::decode(black_box(&f.token)).is_ok())
    });
    g.bench_function("parse_claims", |b| {
        b.iter(|| u.unverified_claims().map(|c| c.issued_at))
    });
    g.bench_function("dalek_stream_strict", |b| {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let parts: [&[u8]; 2] = [&f.tbs[..20], &f.tbs[20..]];
        b.iter(|| {
            let r = CompressedEdwardsY(*f.sig.r_bytes())
                .decompress()
                .expect("R");
            assert!(!r.is_small_order() && !f.vk.is_weak());
            let mut s = f.vk.verify_stream(black_box(&f.sig)).expect("S");
            for p in parts {
                s.update(p);
            }
            s.finalize_and_verify()
        })
    });
    g.bench_function("hwid_binding", |b| {
        b.iter(|| {
            licet_verifier::binding::hwid_binding(black_box("acme-pro"), black_box(FINGERPRINT))
        })
    });
    g.finish();
}

fn rsa_verify(c: &mut Criterion) {
    let mut g = c.benchmark_group("rsa_verify");
    for bits in [2048usize, 4096] {
        for (name, spec) in [
            ("ps256", KeySpec::RsaPss(bits)),
            ("rs256", KeySpec::RsaPkcs1(bits)),
        ] {
            let key =
                SigningKey::generate_with_rng(spec, &mut ChaCha20Rng::from_seed([bits as u8; 32]))
                    .expect("keygen");
            let token = typical("K7Q2M9XA")
                .sign_with_rng(&key, &mut ChaCha20Rng::from_seed([2; 32]))
                .expect("sign");
            let keys = [key.public_key().clone()];
            let ctx = Context::new(NOW, "acme-pro")
                .fingerprint(FINGERPRINT)
                .domain("example.com");
            g.bench_function(format!("licet_{name}_{bits}"), |b| {
                b.iter(|| {
                    UnverifiedToken::decode(black_box(&token))
                        .and_then(|t| t.verify(&keys[..], &ctx))
                        .is_ok()
                })
            });
        }
    }
    g.finish();
}

fn issue(c: &mut Criterion) {
    let key = ed_key();
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let mut g = c.benchmark_group("issue");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ed25519_typical", |b| {
        b.iter(|| {
            typical(black_box("K7Q2M9XA"))
                .sign_with_rng(&key, &mut rng)
                .expect("sign")
        })
    });
    g.finish();
}

fn revocation(c: &mut Criterion) {
    const N: usize = 1_000_000;
    let key = ed_key();
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let ids: Vec<[u8; 16]> = (0..N)
        .map(|_| {
            let mut id = [0u8; 16];
            rand_core::Rng::fill_bytes(&mut rng, &mut id);
            id
        })
        .collect();
    let build = |ids: &[[u8; 16]]| {
        let mut b = RevocationListBuilder::new(1, NOW, NOW + 86_400);
        for id in ids {
            b.revoke_token(*id);
        }
        b.sign(&key).expect("sign")
    };
    let list = build(&ids);
    println!(
        "revocation list: {N} entries, {} bytes, {:.2} bytes per entry",
        list.len(),
        list.len() as f64 / N as f64
    );
    let keys = [key.public_key().clone()];
    let verified = RevocationList::verify(&list, &keys[..], None).expect("list");
    let mut g = c.benchmark_group("revocation_1m");
    g.bench_function("contains_hit", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 7919) % N;
            verified.contains_token(black_box(&ids[i]))
        })
    });
    g.bench_function("contains_miss", |b| {
        let miss = [0x42u8; 16];
        b.iter(|| verified.contains_token(black_box(&miss)))
    });
    g.sample_size(10);
    g.bench_function("verify_list", |b| {
        b.iter(|| {
            RevocationList::verify(black_box(&list), &keys[..], None).map(|l| l.token_count())
        })
    });
    g.bench_function("build_and_sign", |b| {
        b.iter_batched(|| ids.clone(), |ids| build(&ids), BatchSize::LargeInput)
    });
    g.finish();
}

criterion_group!(benches, ed25519_verify, rsa_verify, issue, revocation);
criterion_main!(benches);
