//! Shared fixtures for licet's benchmarks: the typical claim set as a licet token and as a JWT.

use licet_issuer::{SigningKey, TokenBuilder};

/// The time the fixtures are valid at.
pub const NOW: i64 = 1_800_000_000;
/// The typical machine fingerprint (64 hex digits).
pub const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The typical claim set: what `licet issue --product acme-pro --hwid <64 hex> --domain
/// example.com --entitlement pro --entitlement export --entitlement sso --days 365` produces.
pub fn typical(license_id: &str) -> TokenBuilder {
    TokenBuilder::new("acme-pro", license_id, NOW - 86_400)
        .issuer("licet")
        .expires_at(NOW + 365 * 86_400)
        .token_id([0x5a; 16])
        .hwid(FINGERPRINT)
        .domain("example.com")
        .entitlement("pro")
        .entitlement("export")
        .entitlement("sso")
}

/// The same claims as JWT claims (JSON), with the hardware binding and token id in hex.
pub fn typical_jwt_claims() -> serde_json::Value {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    serde_json::json!({
        "iss": "licet",
        "iat": NOW - 86_400,
        "exp": NOW + 365 * 86_400,
        "jti": hex(&[0x5a; 16]),
        "product": "acme-pro",
        "license_id": "K7Q2M9XA",
        "hwid": hex(&licet_verifier::binding::hwid_binding("acme-pro", FINGERPRINT)),
        "domains": ["example.com"],
        "entitlements": ["export", "pro", "sso"],
    })
}

/// A JWT (EdDSA) of the typical claims signed with the Ed25519 key `key`.
pub fn typical_jwt(key: &SigningKey) -> String {
    let pem = key.to_pkcs8_pem().expect("pem");
    let enc = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).expect("jwt key");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &typical_jwt_claims(),
        &enc,
    )
    .expect("jwt")
}

/// The Ed25519 key every benchmark signs with.
pub fn ed_key() -> SigningKey {
    SigningKey::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&[0xa1; 32]))
}

/// The typical token and everything the verification benchmarks compare it with.
#[derive(Debug)]
pub struct Ed25519Fixture {
    /// The signing key.
    pub key: SigningKey,
    /// The typical token, signed by `key`.
    pub token: Vec<u8>,
    /// The key set for licet.
    pub keys: [licet_verifier::PublicKey; 1],
    /// The COSE `Sig_structure` of `token`, contiguous: what the raw reference verifies.
    pub tbs: Vec<u8>,
    /// The token's signature.
    pub sig: ed25519_dalek::Signature,
    /// The public key, pre-parsed, for the raw reference.
    pub vk: ed25519_dalek::VerifyingKey,
    /// The same claims as a JWT.
    pub jwt: String,
    /// The JWT's key.
    pub jwt_key: jsonwebtoken::DecodingKey,
    /// JWT validation: EdDSA, no time checks (the fixture's times are in 2027), so that the
    /// comparison is of parsing and cryptography.
    pub jwt_validation: jsonwebtoken::Validation,
}

/// Entitlements the verification context requires.
pub const REQUIRED: [&str; 1] = ["pro"];

impl Ed25519Fixture {
    /// Builds the fixture.
    pub fn new() -> Self {
        use rand_core::SeedableRng;
        let key = ed_key();
        let token = typical("K7Q2M9XA")
            .sign_with_rng(&key, &mut rand_chacha::ChaCha20Rng::from_seed([1; 32]))
            .expect("sign");
        let u = licet_verifier::UnverifiedToken::decode(&token).expect("decode");
        let tbs =
            licet_verifier::cose::encode::sig_structure(u.protected_bytes(), u.payload_bytes());
        let sig = ed25519_dalek::Signature::from_slice(u.signature()).expect("sig");
        let vk =
            ed25519_dalek::VerifyingKey::from_bytes(key.public_key().ed25519_bytes().expect("ed"))
                .expect("vk");
        let jwt = typical_jwt(&key);
        let jwt_key = jsonwebtoken::DecodingKey::from_ed_der(vk.as_bytes());
        let mut jwt_validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        jwt_validation.validate_exp = false;
        jwt_validation.required_spec_claims.clear();
        let keys = [key.public_key().clone()];
        Ed25519Fixture {
            key,
            token,
            keys,
            tbs,
            sig,
            vk,
            jwt,
            jwt_key,
            jwt_validation,
        }
    }

    /// The verification context of the typical token.
    pub fn context(&self) -> licet_verifier::Context<'static> {
        licet_verifier::Context::new(NOW, "acme-pro")
            .fingerprint(FINGERPRINT)
            .domain("example.com")
            .entitlements(&REQUIRED)
    }

    /// Full licet verification.
    pub fn licet_verify(&self, ctx: &licet_verifier::Context<'_>) -> bool {
        licet_verifier::UnverifiedToken::decode(std::hint::black_box(&self.token))
            .and_then(|t| t.verify(&self.keys[..], ctx))
            .is_ok()
    }

    /// The physical limit: `verify_strict` over the same bytes with a pre-parsed key.
    pub fn raw_verify(&self) -> bool {
        self.vk
            .verify_strict(
                std::hint::black_box(&self.tbs),
                std::hint::black_box(&self.sig),
            )
            .is_ok()
    }

    /// coset's parse, then `verify_strict` (the signature only; no claims are checked).
    pub fn coset_verify(&self) -> bool {
        use coset::TaggedCborSerializable;
        coset::CoseSign1::from_tagged_slice(std::hint::black_box(&self.token))
            .map(|s| {
                s.verify_signature(b"", |sig, data| {
                    let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| ())?;
                    self.vk.verify_strict(data, &sig).map_err(|_| ())
                })
                .is_ok()
            })
            .unwrap_or(false)
    }

    /// jsonwebtoken's EdDSA decode and verify of the same claims.
    pub fn jwt_verify(&self) -> bool {
        jsonwebtoken::decode::<serde_json::Value>(
            std::hint::black_box(&self.jwt),
            &self.jwt_key,
            &self.jwt_validation,
        )
        .is_ok()
    }
}

impl Default for Ed25519Fixture {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome of [`interleaved`]: quartiles of the per-round ratios A/B, and the medians of
/// A's and B's time per call in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Interleaved {
    /// 25th, 50th and 75th percentile of the per-round ratios.
    pub ratio: [f64; 3],
    /// Median seconds per call of A.
    pub a: f64,
    /// Median seconds per call of B.
    pub b: f64,
}

/// Times two contenders in alternating short rounds (A B, B A, …) of `per_round` calls each:
/// drift in the machine's speed hits both sides of a round alike, so the per-round ratio
/// survives a noisy machine where sequential runs do not. Each call must return true.
pub fn interleaved(
    rounds: usize,
    per_round: usize,
    a: &mut dyn FnMut() -> bool,
    b: &mut dyn FnMut() -> bool,
) -> Interleaved {
    use std::hint::black_box;
    let time = |f: &mut dyn FnMut() -> bool| {
        let start = std::time::Instant::now();
        for _ in 0..per_round {
            assert!(black_box(f()));
        }
        start.elapsed().as_secs_f64() / per_round as f64
    };
    let (mut ratios, mut ta, mut tb) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (x, y) = if round % 2 == 0 {
            let x = time(a);
            (x, time(b))
        } else {
            let y = time(b);
            (time(a), y)
        };
        ratios.push(x / y);
        ta.push(x);
        tb.push(y);
    }
    for v in [&mut ratios, &mut ta, &mut tb] {
        v.sort_by(f64::total_cmp);
    }
    let q = |v: &[f64], p: f64| v[((v.len() - 1) as f64 * p) as usize];
    Interleaved {
        ratio: [q(&ratios, 0.25), q(&ratios, 0.5), q(&ratios, 0.75)],
        a: q(&ta, 0.5),
        b: q(&tb, 0.5),
    }
}
