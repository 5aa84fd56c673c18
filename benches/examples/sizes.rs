//! Prints the size table of BENCHMARKS.md: the typical claim set as a licet token (per
//! algorithm) and as a JWT. `cargo run -p licet-benches --release --example sizes`

use licet_benches::{typical, typical_jwt};
use licet_issuer::{KeySpec, SigningKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn main() {
    println!("| form | token bytes | text chars |");
    println!("|---|---|---|");
    let ed = SigningKey::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&[0xa1; 32]));
    let specs = [
        ("licet Ed25519", None),
        ("licet PS256 RSA-2048", Some(KeySpec::RsaPss(2048))),
        ("licet PS256 RSA-3072", Some(KeySpec::RsaPss(3072))),
        ("licet RS256 RSA-4096", Some(KeySpec::RsaPkcs1(4096))),
    ];
    for (name, spec) in specs {
        let generated;
        let key = match spec {
            None => &ed,
            Some(s) => {
                generated = SigningKey::generate_with_rng(s, &mut ChaCha20Rng::from_seed([9; 32]))
                    .expect("keygen");
                &generated
            }
        };
        let token = typical("K7Q2M9XA")
            .sign_with_rng(key, &mut ChaCha20Rng::from_seed([1; 32]))
            .expect("sign");
        let text = licet_verifier::text::encode_text(&token);
        println!("| {name} | {} | {} |", token.len(), text.len());
    }
    let jwt = typical_jwt(&ed);
    println!(
        "| JWT EdDSA, same claims (JSON) | {} | {} |",
        jwt.len(),
        jwt.len()
    );
}
