//! Tokens the issuer builds: deterministic, verifiable, and refused when a claim breaks a rule.

use licet_issuer::{KeySpec, MetaValue, RevocationListBuilder, SigningKey, TokenBuilder};
use licet_verifier::{Context, LicenseKind, MetaValue as Read, RevocationList, UnverifiedToken};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const NOW: i64 = 1_800_000_000;

fn key() -> SigningKey {
    SigningKey::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
}

fn builder() -> TokenBuilder {
    TokenBuilder::new("acme-pro", "LIC-1", NOW)
        .expires_at(NOW + 1000)
        .token_id([1; 16])
        .entitlement("sso")
        .entitlement("pro")
        .entitlement("pro")
        .domain("Example.COM")
        .metadata("zz", MetaValue::Int(-5))
        .metadata("a", MetaValue::Text("x".into()))
        .metadata("bb", MetaValue::Bool(false))
}

#[test]
fn same_claims_same_key_same_bytes() {
    let a = builder().sign(&key()).expect("sign");
    let b = builder().sign(&key()).expect("sign");
    assert_eq!(a, b);
    // Insertion order does not matter either.
    let c = TokenBuilder::new("acme-pro", "LIC-1", NOW)
        .metadata("bb", MetaValue::Bool(false))
        .metadata("a", MetaValue::Text("x".into()))
        .metadata("zz", MetaValue::Int(-5))
        .domain("example.com")
        .entitlement("pro")
        .entitlement("sso")
        .token_id([1; 16])
        .expires_at(NOW + 1000)
        .sign(&key())
        .expect("sign");
    assert_eq!(a, c);
    // RSA-PSS is salted: the same RNG gives the same bytes, another RNG other bytes.
    let rsa =
        SigningKey::generate_with_rng(KeySpec::RsaPss(2048), &mut ChaCha20Rng::from_seed([1; 32]))
            .expect("k");
    let x = builder()
        .sign_with_rng(&rsa, &mut ChaCha20Rng::from_seed([2; 32]))
        .expect("sign");
    let y = builder()
        .sign_with_rng(&rsa, &mut ChaCha20Rng::from_seed([2; 32]))
        .expect("sign");
    let z = builder()
        .sign_with_rng(&rsa, &mut ChaCha20Rng::from_seed([3; 32]))
        .expect("sign");
    assert_eq!(x, y);
    assert_ne!(x, z);
}

#[test]
fn every_claim_reads_back() {
    let key = key();
    let token = builder()
        .issuer("acme")
        .subject("customer-9")
        .audience("desktop")
        .not_before(NOW - 10)
        .hwid("machine")
        .kind(LicenseKind::Lifetime)
        .seats(12)
        .offline_grace(3600)
        .refresh_after(NOW + 100)
        .sign(&key)
        .expect("sign");
    let ctx = Context::new(NOW, "acme-pro")
        .fingerprint("machine")
        .domain("example.com");
    let t = UnverifiedToken::decode(&token).expect("decode");
    let l = t.verify(key.public_key(), &ctx).expect("valid");
    let c = l.claims();
    assert_eq!(
        (c.issuer, c.subject, c.audience),
        (Some("acme"), Some("customer-9"), Some("desktop"))
    );
    assert_eq!(
        (c.issued_at, c.not_before, c.expires_at),
        (NOW, Some(NOW - 10), Some(NOW + 1000))
    );
    assert_eq!(c.token_id, [1; 16]);
    assert_eq!(c.kind, Some(LicenseKind::Lifetime));
    assert_eq!(
        (c.seats, c.offline_grace, c.refresh_after),
        (Some(12), Some(3600), Some(NOW + 100))
    );
    assert_eq!(c.entitlements.iter().collect::<Vec<_>>(), ["pro", "sso"]);
    assert_eq!(c.domains.iter().collect::<Vec<_>>(), ["example.com"]);
    let meta: Vec<_> = c.metadata.iter().collect();
    assert_eq!(
        meta,
        [
            ("a", Read::Text("x")),
            ("bb", Read::Bool(false)),
            ("zz", Read::Int(-5))
        ]
    );
    assert_eq!(l.revocation_ids(), ([1; 16], "LIC-1"));
}

#[test]
fn invalid_claims_are_refused_with_a_code() {
    let k = key();
    let code = |b: TokenBuilder| b.sign(&k).map(|_| ()).map_err(|e| e.code());
    assert_eq!(code(TokenBuilder::new("", "L", NOW)), Err("invalid_claim"));
    assert_eq!(code(TokenBuilder::new("p", "", NOW)), Err("invalid_claim"));
    assert_eq!(
        code(TokenBuilder::new("p", "L", NOW).domain("exa mple.com")),
        Err("invalid_claim")
    );
    assert_eq!(
        code(TokenBuilder::new("p", "L", NOW).domain("a.*.com")),
        Err("invalid_claim")
    );
    assert_eq!(
        code(TokenBuilder::new("p", "L", NOW).expires_at(NOW)),
        Err("invalid_claim")
    );
    assert_eq!(
        code(TokenBuilder::new("p", "L".repeat(256), NOW)),
        Err("invalid_claim")
    );
    let mut many = TokenBuilder::new("p", "L", NOW);
    for i in 0..65 {
        many = many.entitlement(format!("e{i}"));
    }
    assert_eq!(code(many), Err("invalid_claim"));
    let mut big = TokenBuilder::new("p", "L", NOW);
    for i in 0..8 {
        big = big.metadata(format!("k{i}"), MetaValue::Text("v".repeat(200)));
    }
    assert_eq!(code(big), Err("invalid_claim"), "metadata over 1024 bytes");
    assert_eq!(
        code(TokenBuilder::new("p", "L", NOW).device_key_required()),
        Err("invalid_claim"),
        "a device key required and none bound"
    );
    assert!(
        TokenBuilder::new("p", "L", NOW)
            .domain("*.example.com")
            .sign(&k)
            .is_ok()
    );
}

#[test]
fn successor_lists_keep_entries_and_raise_the_sequence() {
    let k = key();
    let mut first = RevocationListBuilder::new(1, NOW, NOW + 10);
    first.revoke_token([9; 16]).revoke_license("LIC-9");
    let first = first.sign(&k).expect("sign");
    let first = RevocationList::verify(&first, k.public_key(), None).expect("verify");
    let mut next = RevocationListBuilder::successor(&first, NOW + 5, NOW + 20);
    next.revoke_token([3; 16]);
    let bytes = next.sign(&k).expect("sign");
    let next =
        RevocationList::verify(&bytes, k.public_key(), Some(first.sequence())).expect("verify");
    assert_eq!(next.sequence(), 2);
    assert!(next.contains_token(&[9; 16]) && next.contains_token(&[3; 16]));
    assert!(next.contains_license("LIC-9") && !next.contains_license("LIC-8"));
    assert!(!next.is_stale(NOW + 19) && next.is_stale(NOW + 20));
    assert_eq!(
        RevocationList::verify(&bytes, k.public_key(), Some(3))
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("revocation_rollback")
    );
    assert!(
        RevocationListBuilder::new(1, NOW, NOW).sign(&k).is_err(),
        "next-update must follow issued-at"
    );
}

#[test]
fn a_context_that_requires_a_device_binding_refuses_a_token_without_one() {
    let device = [9u8; 32];
    let device = ed25519_dalek::SigningKey::from_bytes(&device)
        .verifying_key()
        .to_bytes();
    let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32])
        .verifying_key()
        .to_bytes();
    let public = key().public_key().clone();
    let keys = [public];
    let bound = TokenBuilder::new("acme-pro", "LIC-1", NOW)
        .expires_at(NOW + 1000)
        .device_key(device)
        .sign(&key())
        .expect("sign");
    let unbound = TokenBuilder::new("acme-pro", "LIC-1", NOW)
        .expires_at(NOW + 1000)
        .sign(&key())
        .expect("sign");
    let verify = |token: &[u8], ctx: &Context<'_>| {
        UnverifiedToken::decode(token)
            .expect("decode")
            .verify(&keys[..], ctx)
            .map(|_| ())
            .map_err(|e| e.code())
    };
    let lenient = Context::new(NOW, "acme-pro").device_key(&device);
    assert_eq!(
        verify(&unbound, &lenient),
        Ok(()),
        "by default, unbound is accepted"
    );
    let strict = Context::new(NOW, "acme-pro")
        .device_key(&device)
        .require_device_binding();
    assert_eq!(verify(&bound, &strict), Ok(()));
    assert_eq!(verify(&unbound, &strict), Err("device_key_required"));
    let elsewhere = Context::new(NOW, "acme-pro")
        .device_key(&other)
        .require_device_binding();
    assert_eq!(verify(&bound, &elsewhere), Err("device_key_mismatch"));
    // Without a key of its own, the requirement still refuses an unbound token.
    let any_key = Context::new(NOW, "acme-pro").require_device_binding();
    assert_eq!(verify(&bound, &any_key), Ok(()));
    assert_eq!(verify(&unbound, &any_key), Err("device_key_required"));
}

#[test]
fn a_token_whose_policy_requires_a_device_key_says_so_and_binds_one() {
    let device = ed25519_dalek::SigningKey::from_bytes(&[9; 32])
        .verifying_key()
        .to_bytes();
    let keys = [key().public_key().clone()];
    let token = TokenBuilder::new("acme-pro", "LIC-1", NOW)
        .expires_at(NOW + 1000)
        .device_key(device)
        .device_key_required()
        .sign(&key())
        .expect("sign");
    let t = UnverifiedToken::decode(&token).expect("decode");
    let v = t
        .verify(&keys[..], &Context::new(NOW, "acme-pro"))
        .expect("valid with its binding, even where the context asks for none");
    assert!(v.claims().device_key_required);
    assert_eq!(v.claims().device_key, Some(device));
}
