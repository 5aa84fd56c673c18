//! RSA verification through licet against the raw `rsa` crate of two release lines, side by
//! side (alternating rounds, as in `ratios`):
//!
//!   cargo run -p licet-benches --release --example rsa_releases
//!
//! For RSA-2048/3072/4096 and PS256/RS256 it signs the typical token with licet, then times:
//! licet's full verification (decode, key lookup, the signature over the `Sig_structure`
//! hashed in place, every claim); `rsa` 0.10.0 (the release licet uses, crypto-bigint) verifying
//! the same signature over the same contiguous bytes with a pre-built key; and `rsa` 0.9.10
//! (the previous line, num-bigint) doing the same. Keys are generated from a fixed seed.

use std::hint::black_box;

use licet_benches::{interleaved, typical};
use licet_issuer::{KeySpec, SigningKey};
use licet_verifier::{Context, UnverifiedToken};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const ROUNDS: usize = 101;
const PER_ROUND: usize = 20;
use licet_benches::NOW;

/// Median ratio a/b, and the medians of a and b, over alternating rounds.
fn ratio(a: &mut dyn FnMut() -> bool, b: &mut dyn FnMut() -> bool) -> (f64, f64, f64) {
    let r = interleaved(ROUNDS, PER_ROUND, a, b);
    (r.ratio[1], r.a, r.b)
}

fn main() {
    println!(
        "| key | licet | rsa 0.10.0 raw | rsa 0.9.10 raw | licet / 0.10 raw | 0.10 raw / 0.9 raw | licet / fastest raw |"
    );
    println!("|---|---|---|---|---|---|---|");
    for bits in [2048usize, 3072, 4096] {
        for (name, pss) in [("PS256", true), ("RS256", false)] {
            let spec = if pss {
                KeySpec::RsaPss(bits)
            } else {
                KeySpec::RsaPkcs1(bits)
            };
            let key = SigningKey::generate_with_rng(spec, &mut ChaCha20Rng::from_seed([7; 32]))
                .expect("keygen");
            let token = typical("K7Q2M9XA")
                .sign_with_rng(&key, &mut ChaCha20Rng::from_seed([2; 32]))
                .expect("sign");
            let keys = [key.public_key().clone()];
            let ctx = Context::new(NOW, "acme-pro")
                .fingerprint(licet_benches::FINGERPRINT)
                .domain("example.com");
            let u = UnverifiedToken::decode(&token).expect("decode");
            let tbs =
                licet_verifier::cose::encode::sig_structure(u.protected_bytes(), u.payload_bytes());
            let sig = u.signature().to_vec();
            let public = keys[0].rsa_key().expect("rsa").clone();

            let mut licet = || {
                UnverifiedToken::decode(black_box(&token))
                    .and_then(|t| t.verify(&keys[..], &ctx))
                    .is_ok()
            };
            // rsa 0.10.0, as licet uses it, over contiguous bytes.
            let mut new = {
                use rsa::signature::Verifier;
                let pss_key = rsa::pss::VerifyingKey::<sha2::Sha256>::new(public.clone());
                let pkcs_key = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public.clone());
                let pss_sig = rsa::pss::Signature::try_from(&sig[..]).expect("sig");
                let pkcs_sig = rsa::pkcs1v15::Signature::try_from(&sig[..]).expect("sig");
                let tbs = tbs.clone();
                move || {
                    if pss {
                        pss_key.verify(black_box(&tbs), &pss_sig).is_ok()
                    } else {
                        pkcs_key.verify(black_box(&tbs), &pkcs_sig).is_ok()
                    }
                }
            };
            // rsa 0.9.10, the same key from its modulus and exponent.
            let mut old = {
                use rsa::traits::PublicKeyParts;
                use rsa09::signature::Verifier;
                let k = rsa09::RsaPublicKey::new(
                    rsa09::BigUint::from_bytes_be(&public.n_bytes()),
                    rsa09::BigUint::from_bytes_be(&public.e_bytes()),
                )
                .expect("rsa 0.9 key");
                let pss_key = rsa09::pss::VerifyingKey::<rsa09::sha2::Sha256>::new(k.clone());
                let pkcs_key = rsa09::pkcs1v15::VerifyingKey::<rsa09::sha2::Sha256>::new(k);
                let pss_sig = rsa09::pss::Signature::try_from(&sig[..]).expect("sig");
                let pkcs_sig = rsa09::pkcs1v15::Signature::try_from(&sig[..]).expect("sig");
                let tbs = tbs.clone();
                move || {
                    if pss {
                        pss_key.verify(black_box(&tbs), &pss_sig).is_ok()
                    } else {
                        pkcs_key.verify(black_box(&tbs), &pkcs_sig).is_ok()
                    }
                }
            };
            let (licet_vs_new, t_licet, t_new) = ratio(&mut licet, &mut new);
            let (new_vs_old, _, t_old) = ratio(&mut new, &mut old);
            let (licet_vs_old, _, _) = ratio(&mut licet, &mut old);
            let vs_fastest = if t_new <= t_old {
                licet_vs_new
            } else {
                licet_vs_old
            };
            println!(
                "| RSA-{bits} {name} | {:.1} µs | {:.1} µs | {:.1} µs | {licet_vs_new:.3}× | {new_vs_old:.3}× | {vs_fastest:.3}× |",
                t_licet * 1e6,
                t_new * 1e6,
                t_old * 1e6
            );
        }
    }
}
