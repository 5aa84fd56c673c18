//! The golden test vectors of licet: a deterministic generator and the files it writes.
//!
//! Every key comes from a fixed seed and every token from fixed claims and times, so running
//! the generator twice gives the same bytes. `cargo run -p licet-test-vectors --bin regenerate`
//! rewrites `test-vectors/vectors/`; the test `regenerate_is_bit_identical` fails on any
//! difference between the generator and the committed files.

use std::collections::BTreeMap;

pub mod offline;

use licet_issuer::{KeySpec, RevocationListBuilder, SigningKey, TokenBuilder};
use licet_verifier::claims::key;
use licet_verifier::cose::encode;
use licet_verifier::text::{self, LABEL_LICENSE, LABEL_REVOCATION_LIST};
use licet_verifier::{Algorithm, KeyId, Writer};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

/// The time every vector is checked at: 2027-01-15T08:00:00Z.
pub const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;
/// Issue time of the vectors.
pub const IAT: i64 = NOW - DAY;
/// Expiry of the vectors that do not test expiry.
pub const EXP: i64 = NOW + 365 * DAY;
/// The machine fingerprint the vectors bind to.
pub const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
/// The product of the vectors.
pub const PRODUCT: &str = "acme-pro";

/// The description of the whole set, written as `vectors/expected.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Expected {
    /// How the file was made.
    pub generated_by: String,
    /// Public keys by name.
    pub keys: BTreeMap<String, KeyInfo>,
    /// The cases.
    pub cases: Vec<Case>,
}

/// A public key of the vectors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyInfo {
    /// `EdDSA`, `PS256` or `RS256` (or `none` for a key that must be refused).
    pub alg: String,
    /// Key id, hex.
    pub kid: String,
    /// SPKI PEM file, relative to `vectors/`.
    pub spki_pem: String,
    /// For Ed25519: the raw public key, hex; for RSA: modulus and exponent, hex.
    pub raw: BTreeMap<String, String>,
}

/// The claims a valid case's license carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExpectedClaims {
    /// The license id.
    pub license_id: String,
    /// The product code.
    pub product: String,
    /// `iat`, unix seconds.
    pub issued_at: i64,
    /// `exp`, unix seconds; none for a token that never expires.
    pub expires_at: Option<i64>,
    /// `cti`, hex.
    pub token_id: String,
    /// The entitlements, in the token's (sorted) order.
    pub entitlements: Vec<String>,
}

impl ExpectedClaims {
    /// What a token says: read from its bytes at generation time (the python interop test
    /// checks the same claims with independent COSE and CWT libraries).
    fn of(token: &[u8]) -> ExpectedClaims {
        let t = licet_verifier::UnverifiedToken::decode(token).expect("a valid case decodes");
        let c = t.unverified_claims().expect("its claims parse");
        ExpectedClaims {
            license_id: c.license_id.to_owned(),
            product: c.product.to_owned(),
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            token_id: hex(&c.token_id),
            entitlements: c.entitlements.iter().map(str::to_owned).collect(),
        }
    }
}

/// One test case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Case {
    /// Short name; also the file stem.
    pub name: String,
    /// What the case covers.
    pub description: String,
    /// The binary token, relative to `vectors/`.
    pub token: String,
    /// The same token in the text form.
    pub token_text: String,
    /// Names of the keys in the key set.
    pub keys: Vec<String>,
    /// The verification context.
    pub context: ContextSpec,
    /// `valid` or the expected error code.
    pub expected: String,
    /// For valid cases: the claims the verified license must carry, so that every binding is
    /// held to reading them alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ExpectedClaims>,
    /// Whether independent COSE implementations must accept the signature (python interop).
    pub signature_valid: bool,
}

/// A verification context, as data.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ContextSpec {
    /// Unix seconds.
    pub now: i64,
    /// Expected product (`null`: any).
    pub product: Option<String>,
    /// This machine's fingerprint.
    pub fingerprint: Option<String>,
    /// This machine's fingerprint parts (hex), for tokens bound to hardware parts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hwid_parts: Vec<String>,
    /// This domain.
    pub domain: Option<String>,
    /// Required entitlements.
    pub entitlements: Vec<String>,
    /// Clock leeway.
    pub leeway: u64,
    /// Revocation list file, relative to `vectors/`.
    pub revocations: Option<String>,
    /// Highest revocation-list sequence already seen.
    pub last_seen_sequence: Option<u64>,
    /// Whether a stale list is refused.
    pub require_fresh: bool,
    /// This machine's device public key (hex), which a `cnf` must name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    /// Whether a token must bind a device key (`Context::require_device_binding`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_device_binding: bool,
}

/// The generated files: path relative to the workspace root, and content.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Where the vectors live, relative to the workspace root.
pub const DIR: &str = "test-vectors/vectors";

struct Keys {
    ed_a: SigningKey,
    ed_a_raw: ed25519_dalek::SigningKey,
    ps256: SigningKey,
    rs256: SigningKey,
}

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn keys() -> (Keys, SigningKey) {
    let ed_a_raw = ed25519_dalek::SigningKey::from_bytes(&[0xa1; 32]);
    let ed_a = SigningKey::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&[0xa1; 32]));
    let ed_b = SigningKey::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&[0xb2; 32]));
    let ps256 = SigningKey::generate_with_rng(KeySpec::RsaPss(2048), &mut rng(3)).expect("keygen");
    let rs256 =
        SigningKey::generate_with_rng(KeySpec::RsaPkcs1(2048), &mut rng(4)).expect("keygen");
    (
        Keys {
            ed_a,
            ed_a_raw,
            ps256,
            rs256,
        },
        ed_b,
    )
}

/// The vectors' signing keys that tokens are issued with: `ed25519-a`, `ps256`, `rs256`.
pub fn signing_keys() -> Vec<(&'static str, SigningKey)> {
    let (k, _) = keys();
    vec![
        ("ed25519-a", k.ed_a),
        ("ps256", k.ps256),
        ("rs256", k.rs256),
    ]
}

fn typical() -> TokenBuilder {
    TokenBuilder::new(PRODUCT, "LIC-0001", IAT)
        .issuer("licet")
        .expires_at(EXP)
        .token_id([0x11; 16])
        .hwid(FINGERPRINT)
        .domain("example.com")
        .entitlement("pro")
        .entitlement("export")
        .entitlement("sso")
}

/// The context for the minimal claims of `raw_claims`: no machine, domain or entitlement.
fn bare() -> ContextSpec {
    ContextSpec {
        fingerprint: None,
        domain: None,
        entitlements: vec![],
        ..ctx()
    }
}

fn ctx() -> ContextSpec {
    ContextSpec {
        now: NOW,
        product: Some(PRODUCT.into()),
        fingerprint: Some(FINGERPRINT.into()),
        domain: Some("example.com".into()),
        entitlements: vec!["pro".into()],
        ..ContextSpec::default()
    }
}

/// Signs an arbitrary protected header and payload with the raw Ed25519 key, for cases the
/// issuer (rightly) refuses to build.
fn sign_raw(key: &ed25519_dalek::SigningKey, protected: &[u8], payload: &[u8]) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let sig = key.sign(&encode::sig_structure(protected, payload));
    encode::sign1(protected, payload, &sig.to_bytes())
}

/// A protected header `{1: alg, 4: kid}` with any algorithm id, supported or not.
fn raw_header(alg: i64, kid: &KeyId) -> Vec<u8> {
    let mut w = Writer::new();
    w.map(2).int(1).int(alg).int(4).bytes(kid.as_bytes());
    w.into_bytes()
}

fn ed_header(kid: &KeyId) -> Vec<u8> {
    encode::protected_header(Algorithm::Ed25519, kid, None)
}

/// A minimal valid claims map, with `extra` raw entries spliced into the licet map or the top
/// level, all in deterministic key order.
fn raw_claims(top_extra: &[(i64, &[u8])], licet_extra: &[(i64, &[u8])]) -> Vec<u8> {
    fn map(entries: Vec<(i64, Vec<u8>)>) -> Vec<u8> {
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = entries
            .into_iter()
            .map(|(k, v)| {
                let mut w = Writer::new();
                w.int(k);
                (w.into_bytes(), v)
            })
            .collect();
        entries.sort();
        let mut w = Writer::new();
        w.map(entries.len());
        for (k, v) in entries {
            w.raw(&k).raw(&v);
        }
        w.into_bytes()
    }
    let item = |f: &dyn Fn(&mut Writer)| {
        let mut w = Writer::new();
        f(&mut w);
        w.into_bytes()
    };
    let mut licet = vec![
        (
            key::licet::PRODUCT,
            item(&|w| {
                w.text(PRODUCT);
            }),
        ),
        (
            key::licet::LICENSE_ID,
            item(&|w| {
                w.text("LIC-RAW");
            }),
        ),
    ];
    licet.extend(licet_extra.iter().map(|(k, v)| (*k, v.to_vec())));
    let mut top = vec![
        (
            key::EXP,
            item(&|w| {
                w.int(EXP);
            }),
        ),
        (
            key::IAT,
            item(&|w| {
                w.int(IAT);
            }),
        ),
        (
            key::CTI,
            item(&|w| {
                w.bytes(&[0x22; 16]);
            }),
        ),
        (key::LICET, map(licet)),
    ];
    top.extend(top_extra.iter().map(|(k, v)| (*k, v.to_vec())));
    map(top)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn key_info(k: &licet_verifier::PublicKey, file: &str) -> KeyInfo {
    use rsa::traits::PublicKeyParts;
    let mut raw = BTreeMap::new();
    if let Some(b) = k.ed25519_bytes() {
        raw.insert("x".into(), hex(b));
    }
    if let Some(r) = k.rsa_key() {
        raw.insert("n".into(), hex(&r.n_bytes()));
        raw.insert("e".into(), hex(&r.e_bytes()));
    }
    KeyInfo {
        alg: k.algorithm().name().into(),
        kid: k.kid().to_string(),
        spki_pem: file.into(),
        raw,
    }
}

/// Generates every vector file.
pub fn generate() -> Files {
    let (k, ed_b) = keys();
    let mut files = Files::new();
    let mut infos = BTreeMap::new();
    for (name, key) in [
        ("ed25519-a", &k.ed_a),
        ("ed25519-b", &ed_b),
        ("ps256", &k.ps256),
        ("rs256", &k.rs256),
    ] {
        let file = format!("keys/{name}.pem");
        files.insert(
            format!("{DIR}/{file}"),
            key.public_key().to_spki_pem().into_bytes(),
        );
        infos.insert(name.to_string(), key_info(key.public_key(), &file));
    }
    // The identity point: of small order, so it must be refused as a key.
    let mut small = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, 1,
    ];
    small.extend_from_slice(&[0; 31]);
    let small_pem = pem_public(&small);
    files.insert(
        format!("{DIR}/keys/small-order.pem"),
        small_pem.into_bytes(),
    );
    let mut small_raw = BTreeMap::new();
    small_raw.insert("x".to_string(), hex(&small[12..]));
    infos.insert(
        "small-order".into(),
        KeyInfo {
            alg: "none".into(),
            kid: KeyId::from_spki_der(&small).to_string(),
            spki_pem: "keys/small-order.pem".into(),
            raw: small_raw,
        },
    );

    let mut cases = Vec::new();
    let mut add = |files: &mut Files,
                   name: &str,
                   description: &str,
                   token: Vec<u8>,
                   keys: &[&str],
                   context: ContextSpec,
                   expected: &str,
                   signature_valid: bool| {
        let bin = format!("tokens/{name}.cbor");
        let txt = format!("tokens/{name}.txt");
        files.insert(
            format!("{DIR}/{txt}"),
            (text::encode_text(&token) + "\n").into_bytes(),
        );
        let claims = (expected == "valid").then(|| ExpectedClaims::of(&token));
        files.insert(format!("{DIR}/{bin}"), token);
        cases.push(Case {
            name: name.into(),
            description: description.into(),
            token: bin,
            token_text: txt,
            keys: keys.iter().map(|s| s.to_string()).collect(),
            context,
            expected: expected.into(),
            claims,
            signature_valid,
        });
    };
    let sign = |b: TokenBuilder, key: &SigningKey, seed: u8| {
        b.sign_with_rng(key, &mut rng(seed)).expect("sign")
    };
    let a = ["ed25519-a"];

    let valid = sign(typical(), &k.ed_a, 10);
    add(
        &mut files,
        "valid-ed25519",
        "the typical claim set, Ed25519",
        valid.clone(),
        &a,
        ctx(),
        "valid",
        true,
    );
    add(
        &mut files,
        "valid-ps256",
        "the typical claim set, RSA-PSS 2048 / SHA-256",
        sign(typical(), &k.ps256, 11),
        &["ps256"],
        ctx(),
        "valid",
        true,
    );
    add(
        &mut files,
        "valid-rs256",
        "the typical claim set, RSA PKCS#1 v1.5 2048 / SHA-256",
        sign(typical(), &k.rs256, 12),
        &["rs256"],
        ctx(),
        "valid",
        true,
    );
    let full = typical()
        .subject("customer-42")
        .audience("acme-desktop")
        .not_before(IAT)
        .kind(licet_verifier::LicenseKind::Subscription)
        .seats(5)
        .offline_grace(7 * DAY as u64)
        .refresh_after(NOW + DAY)
        .metadata("plan", licet_issuer::MetaValue::Text("team".into()))
        .metadata("max_projects", licet_issuer::MetaValue::Int(20))
        .metadata("beta", licet_issuer::MetaValue::Bool(true))
        .device_key(
            ed25519_dalek::SigningKey::from_bytes(&[0xd1; 32])
                .verifying_key()
                .to_bytes(),
        )
        .device_key_required();
    add(
        &mut files,
        "valid-all-claims",
        "every claim of the profile, Ed25519",
        sign(full, &k.ed_a, 13),
        &a,
        ctx(),
        "valid",
        true,
    );
    add(
        &mut files,
        "key-set-rotation",
        "the signing key is the second of a two-key set",
        valid.clone(),
        &["ed25519-b", "ed25519-a"],
        ctx(),
        "valid",
        true,
    );

    let at = |now: i64| ContextSpec { now, ..ctx() };
    add(
        &mut files,
        "expired",
        "checked at exp (the expiry instant is already expired)",
        valid.clone(),
        &a,
        at(EXP),
        "expired",
        true,
    );
    add(
        &mut files,
        "expired-within-leeway",
        "checked after exp but within the leeway",
        valid.clone(),
        &a,
        ContextSpec {
            leeway: 60,
            ..at(EXP + 30)
        },
        "valid",
        true,
    );
    let nbf = sign(typical().not_before(NOW + DAY), &k.ed_a, 14);
    add(
        &mut files,
        "not-yet-valid",
        "nbf one day after now",
        nbf,
        &a,
        ctx(),
        "not_yet_valid",
        true,
    );
    add(
        &mut files,
        "wrong-product",
        "expected product differs",
        valid.clone(),
        &a,
        ContextSpec {
            product: Some("acme-lite".into()),
            ..ctx()
        },
        "wrong_product",
        true,
    );
    add(
        &mut files,
        "wrong-hwid",
        "another machine's fingerprint",
        valid.clone(),
        &a,
        ContextSpec {
            fingerprint: Some("another-machine".into()),
            ..ctx()
        },
        "hwid_mismatch",
        true,
    );
    add(
        &mut files,
        "hwid-required",
        "machine-bound token, no fingerprint supplied",
        valid.clone(),
        &a,
        ContextSpec {
            fingerprint: None,
            ..ctx()
        },
        "hwid_required",
        true,
    );
    add(
        &mut files,
        "wrong-domain",
        "a domain the token does not name",
        valid.clone(),
        &a,
        ContextSpec {
            domain: Some("example.org".into()),
            ..ctx()
        },
        "domain_mismatch",
        true,
    );
    // Hardware parts: six components of a machine, four of which must match.
    let machine = |changed: &[&str]| -> Vec<String> {
        [
            ("machine-id", "4c4c4544-0042-3510-8052"),
            ("cpu", "AMD EPYC 7B13|2"),
            ("memory", "8"),
            ("disk", "/dev/sda|107374182400"),
            ("mac", "02:42:ac:11:00:02"),
            ("hostname", "build-7"),
        ]
        .iter()
        .map(|(name, value)| {
            let value = if changed.contains(name) {
                format!("{value}-replaced")
            } else {
                (*value).to_owned()
            };
            hex(&licet_verifier::binding::hwid_part(
                PRODUCT,
                name,
                value.as_bytes(),
            ))
        })
        .collect()
    };
    let parts: Vec<[u8; 8]> = machine(&[])
        .iter()
        .map(|h| {
            let mut p = [0u8; 8];
            for (i, b) in p.iter_mut().enumerate() {
                *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("hex");
            }
            p
        })
        .collect();
    let bound = sign(
        TokenBuilder::new(PRODUCT, "LIC-PARTS", IAT)
            .issuer("licet")
            .expires_at(EXP)
            .token_id([0x21; 16])
            .domain("example.com")
            .entitlement("pro")
            .hwid_parts(4, &parts),
        &k.ed_a,
        30,
    );
    let on = |changed: &[&str]| ContextSpec {
        fingerprint: None,
        hwid_parts: machine(changed),
        ..ctx()
    };
    add(
        &mut files,
        "hwid-parts",
        "bound to six fingerprint parts, four required; the same machine",
        bound.clone(),
        &a,
        on(&[]),
        "valid",
        true,
    );
    add(
        &mut files,
        "hwid-parts-two-replaced",
        "two of six components replaced (a disk and the host name): still four matching",
        bound.clone(),
        &a,
        on(&["disk", "hostname"]),
        "valid",
        true,
    );
    add(
        &mut files,
        "hwid-parts-three-replaced",
        "three of six components replaced: only three matching",
        bound.clone(),
        &a,
        on(&["disk", "hostname", "mac"]),
        "hwid_mismatch",
        true,
    );
    add(
        &mut files,
        "hwid-parts-required",
        "bound to fingerprint parts, none supplied",
        bound,
        &a,
        ContextSpec {
            fingerprint: None,
            ..ctx()
        },
        "hwid_required",
        true,
    );
    let wild = sign(typical().domain("*.shop.example.net"), &k.ed_a, 15);
    add(
        &mut files,
        "wildcard-domain-match",
        "*.shop.example.net covers eu.shop.example.net",
        wild.clone(),
        &a,
        ContextSpec {
            domain: Some("eu.shop.example.net".into()),
            ..ctx()
        },
        "valid",
        true,
    );
    add(
        &mut files,
        "wildcard-domain-nonmatch",
        "*.shop.example.net does not cover shop.example.net itself",
        wild,
        &a,
        ContextSpec {
            domain: Some("shop.example.net".into()),
            ..ctx()
        },
        "domain_mismatch",
        true,
    );
    add(
        &mut files,
        "missing-entitlement",
        "requires an entitlement the token lacks",
        valid.clone(),
        &a,
        ContextSpec {
            entitlements: vec!["pro".into(), "enterprise".into()],
            ..ctx()
        },
        "missing_entitlement",
        true,
    );

    // Revocation lists.
    let mut rl = RevocationListBuilder::new(3, IAT, NOW + 7 * DAY);
    rl.revoke_token([0x11; 16])
        .revoke_token([0x99; 16])
        .revoke_license("LIC-OTHER");
    let list_tokens = rl.sign_with_rng(&k.ed_a, &mut rng(20)).expect("list");
    let mut rl = RevocationListBuilder::new(4, IAT, NOW + 7 * DAY);
    rl.revoke_license("LIC-0002");
    let list_license = rl.sign_with_rng(&k.ed_a, &mut rng(21)).expect("list");
    let mut rl = RevocationListBuilder::new(2, IAT - 30 * DAY, NOW - DAY);
    rl.revoke_token([0x99; 16]);
    let list_stale = rl.sign_with_rng(&k.ed_a, &mut rng(22)).expect("list");
    for (name, bytes) in [
        ("revoked-tokens", &list_tokens),
        ("revoked-license", &list_license),
        ("stale", &list_stale),
    ] {
        files.insert(format!("{DIR}/revocations/{name}.cbor"), bytes.clone());
        files.insert(
            format!("{DIR}/revocations/{name}.armor"),
            text::encode_armor(bytes, LABEL_REVOCATION_LIST).into_bytes(),
        );
    }
    let with_list = |file: &str| ContextSpec {
        revocations: Some(format!("revocations/{file}.cbor")),
        ..ctx()
    };
    add(
        &mut files,
        "revoked-token-id",
        "the list names the token id",
        valid.clone(),
        &a,
        with_list("revoked-tokens"),
        "revoked",
        true,
    );
    let lic2 = TokenBuilder::new(PRODUCT, "LIC-0002", IAT)
        .issuer("licet")
        .expires_at(EXP)
        .token_id([0x33; 16])
        .entitlement("pro");
    let lic2 = sign(lic2, &k.ed_a, 17);
    add(
        &mut files,
        "revoked-license-id",
        "the list names the license id",
        lic2.clone(),
        &a,
        with_list("revoked-license"),
        "revoked",
        true,
    );
    add(
        &mut files,
        "not-revoked",
        "a fresh list that names other tokens",
        lic2,
        &a,
        with_list("revoked-tokens"),
        "valid",
        true,
    );
    add(
        &mut files,
        "stale-revocation-list",
        "the list is past next-update and a fresh one is required",
        valid.clone(),
        &a,
        ContextSpec {
            require_fresh: true,
            ..with_list("stale")
        },
        "stale_revocations",
        true,
    );
    add(
        &mut files,
        "stale-revocation-list-tolerated",
        "a stale list that does not name the token, freshness not required",
        valid.clone(),
        &a,
        with_list("stale"),
        "valid",
        true,
    );
    add(
        &mut files,
        "revocation-rollback",
        "a list older than one already seen",
        valid.clone(),
        &a,
        ContextSpec {
            last_seen_sequence: Some(4),
            ..with_list("revoked-tokens")
        },
        "revocation_rollback",
        true,
    );
    add(
        &mut files,
        "revocation-list-as-token",
        "a revocation list offered as a token (domain separation)",
        list_tokens.clone(),
        &a,
        ctx(),
        "wrong_type",
        true,
    );

    // Keys and algorithms.
    add(
        &mut files,
        "unknown-kid",
        "the key set lacks the signing key",
        valid.clone(),
        &["ed25519-b"],
        ctx(),
        "unknown_key",
        true,
    );
    let mismatch_header = encode::protected_header(Algorithm::Ps256, &k.ed_a.kid(), None);
    let payload = typical().payload([0x11; 16]).expect("payload");
    add(
        &mut files,
        "alg-mismatch",
        "header says PS256, the kid names an Ed25519 key",
        sign_raw(&k.ed_a_raw, &mismatch_header, &payload),
        &a,
        ctx(),
        "alg_mismatch",
        false,
    );
    let es256 = raw_header(-7, &k.ed_a.kid());
    add(
        &mut files,
        "unsupported-alg",
        "header says ES256, which licet does not support",
        sign_raw(&k.ed_a_raw, &es256, &payload),
        &a,
        ctx(),
        "unsupported_alg",
        false,
    );
    let alg19 = raw_header(-19, &k.ed_a.kid());
    add(
        &mut files,
        "valid-alg-ed25519",
        "the fully specified Ed25519 id (-19) is accepted",
        sign_raw(&k.ed_a_raw, &alg19, &payload),
        &a,
        ctx(),
        "valid",
        true,
    );
    let crit = {
        let mut w = Writer::new();
        w.map(3)
            .int(1)
            .int(-8)
            .int(2)
            .array(1)
            .int(99)
            .int(4)
            .bytes(k.ed_a.kid().as_bytes());
        w.into_bytes()
    };
    add(
        &mut files,
        "unknown-critical-header",
        "crit names header 99, which licet does not process",
        sign_raw(&k.ed_a_raw, &crit, &payload),
        &a,
        ctx(),
        "unsupported_critical",
        true,
    );
    add(
        &mut files,
        "small-order-public-key",
        "the key set holds a small-order point (identity); signature R = identity, S = 0 would pass a non-strict check",
        small_order_token(&small[12..]),
        &["small-order"],
        ctx(),
        "invalid_key",
        false,
    );

    // Tampering.
    let mut tampered = valid.clone();
    let at_product = find(&tampered, b"acme-pro");
    tampered[at_product + 5] = b'q'; // "acme-pqo"
    add(
        &mut files,
        "tampered-payload",
        "one byte of the product changed after signing",
        tampered,
        &a,
        ctx(),
        "bad_signature",
        false,
    );
    let mut tampered = valid.clone();
    // Protected header: a2 01 27 … → alg -8 becomes -19 (0x27 → 0x32), still a supported alg.
    let at_alg = find(&tampered, &[0xa2, 0x01, 0x27]) + 2;
    tampered[at_alg] = 0x32;
    add(
        &mut files,
        "tampered-protected-header",
        "alg changed from -8 to -19 after signing",
        tampered,
        &a,
        ctx(),
        "bad_signature",
        false,
    );
    let mut tampered = sign(typical(), &k.ps256, 11);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    add(
        &mut files,
        "tampered-signature-ps256",
        "last signature byte flipped, RSA-PSS",
        tampered,
        &["ps256"],
        ctx(),
        "bad_signature",
        false,
    );
    add(
        &mut files,
        "non-canonical-signature",
        "S replaced by S + L (S >= L): malleable, refused",
        non_canonical(&valid),
        &a,
        ctx(),
        "bad_signature",
        false,
    );

    // Structure.
    add(
        &mut files,
        "truncated",
        "the last 10 bytes cut off",
        valid[..valid.len() - 10].to_vec(),
        &a,
        ctx(),
        "malformed",
        false,
    );
    let mut trailing = valid.clone();
    trailing.push(0x00);
    add(
        &mut files,
        "trailing-bytes",
        "one byte after the COSE_Sign1",
        trailing,
        &a,
        ctx(),
        "malformed",
        false,
    );
    let dup = {
        let mut w = Writer::new();
        w.map(5);
        w.int(key::EXP)
            .int(EXP)
            .int(key::IAT)
            .int(IAT)
            .int(key::IAT)
            .int(IAT);
        w.int(key::CTI).bytes(&[0x22; 16]);
        w.int(key::LICET)
            .map(2)
            .int(1)
            .text(PRODUCT)
            .int(2)
            .text("LIC-DUP");
        w.into_bytes()
    };
    add(
        &mut files,
        "duplicate-keys",
        "iat appears twice in the (signed) claims",
        sign_raw(&k.ed_a_raw, &ed_header(&k.ed_a.kid()), &dup),
        &a,
        ctx(),
        "malformed",
        true,
    );
    let mut indefinite = Vec::new();
    // 18([ … ]) with the array written with indefinite length: d2 9f … ff.
    indefinite.extend_from_slice(&[0xd2, 0x9f]);
    indefinite.extend_from_slice(&valid[2..]);
    indefinite.push(0xff);
    add(
        &mut files,
        "indefinite-length",
        "the COSE array with indefinite length",
        indefinite,
        &a,
        ctx(),
        "malformed",
        false,
    );
    let float_time = raw_claims(
        &[(
            key::NBF,
            &[0xfb, 0x41, 0xda, 0xd2, 0x74, 0x80, 0x00, 0x00, 0x00],
        )],
        &[],
    );
    add(
        &mut files,
        "non-integer-time",
        "nbf written as a float (signed)",
        sign_raw(&k.ed_a_raw, &ed_header(&k.ed_a.kid()), &float_time),
        &a,
        bare(),
        "malformed",
        true,
    );
    let unknown = raw_claims(&[], &[(63, &[0x01])]);
    add(
        &mut files,
        "unknown-licet-claim",
        "a licet claim this verifier does not know (must not be skipped)",
        sign_raw(&k.ed_a_raw, &ed_header(&k.ed_a.kid()), &unknown),
        &a,
        bare(),
        "unsupported_claim",
        true,
    );
    // Device binding: a `cnf` naming this machine's device key, and the claim (licet 12) that
    // the license's policy requires one.
    let device = |seed: u8| {
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
            .verifying_key()
            .to_bytes()
    };
    let on_device = |seed: u8| ContextSpec {
        device_key: Some(hex(&device(seed))),
        ..ctx()
    };
    let bound = sign(
        typical().device_key(device(0xd1)).device_key_required(),
        &k.ed_a,
        31,
    );
    add(
        &mut files,
        "device-bound",
        "binds this machine's device key (cnf) and says its policy requires one",
        bound.clone(),
        &a,
        on_device(0xd1),
        "valid",
        true,
    );
    add(
        &mut files,
        "device-key-mismatch",
        "binds another device key than this machine's",
        bound,
        &a,
        on_device(0xd2),
        "device_key_mismatch",
        true,
    );
    let claimed = raw_claims(&[], &[(12, &[0xf5])]);
    add(
        &mut files,
        "device-key-required-unbound",
        "says its policy requires a device key (licet 12) but binds none",
        sign_raw(&k.ed_a_raw, &ed_header(&k.ed_a.kid()), &claimed),
        &a,
        bare(),
        "device_key_required",
        true,
    );
    let falsely = raw_claims(&[], &[(12, &[0xf4])]);
    add(
        &mut files,
        "device-key-required-false",
        "licet 12 written as false, which has no encoding of its own (absent is false)",
        sign_raw(&k.ed_a_raw, &ed_header(&k.ed_a.kid()), &falsely),
        &a,
        bare(),
        "malformed",
        true,
    );
    add(
        &mut files,
        "device-binding-required-by-context",
        "an unbound token where the application requires a device binding",
        valid.clone(),
        &a,
        ContextSpec {
            require_device_binding: true,
            ..on_device(0xd1)
        },
        "device_key_required",
        true,
    );
    let mut big = vec![0x59, 0x10, 0x00];
    big.extend_from_slice(&[0u8; 4096]);
    let oversize = raw_claims(&[(8, &big)], &[]);
    add(
        &mut files,
        "oversize",
        "an (ignorable) extra claim pushes the token past 4096 bytes",
        sign_raw(&k.ed_a_raw, &ed_header(&k.ed_a.kid()), &oversize),
        &a,
        ctx(),
        "too_large",
        true,
    );

    let expected = Expected {
        generated_by: "cargo run -p licet-test-vectors --bin regenerate".into(),
        keys: infos,
        cases,
    };
    files.insert(format!("{DIR}/README.md"), readme(&expected));
    let mut json = serde_json::to_vec_pretty(&expected).expect("json");
    json.push(b'\n');
    files.insert(format!("{DIR}/expected.json"), json);
    files.insert(
        format!("{DIR}/tokens/valid-ed25519.armor"),
        text::encode_armor(&valid, LABEL_LICENSE).into_bytes(),
    );
    files.insert(
        "verifier/src/doc_example.rs".into(),
        doc_example(&k.ed_a, &valid),
    );
    files.insert("verifier/nostd-check/src/key.rs".into(), nostd_key(&k.ed_a));
    offline::generate(&mut files, &k, &ed_b);
    files
}

fn readme(e: &Expected) -> Vec<u8> {
    let mut s = String::from(
        "# licet test vectors\n\n\
         Generated by `cargo run -p licet-test-vectors --bin regenerate` from fixed seeds and fixed \
         times (`test-vectors/src/lib.rs`); do not edit by hand. The test `regenerate_is_bit_identical` \
         fails if these files differ from what the generator produces.\n\n\
         - `keys/NAME.pem`: public keys (SPKI PEM). Ed25519 keys come from fixed secret bytes, RSA-2048 \
           keys from a ChaCha20 RNG with a fixed seed. `small-order.pem` is the identity point, which a \
           verifier must refuse.\n\
         - `tokens/NAME.cbor` (binary) and `tokens/NAME.txt` (base64url text form) for every case; \
           `tokens/valid-ed25519.armor` shows the armored file form.\n\
         - `revocations/NAME.cbor` and `.armor`: signed revocation lists used by the cases.\n\
         - `offline/` and `offline.json`: the air-gapped artefacts (activation requests, responses, \
           deactivation receipts) with the state each is checked in; see `offline/README.md`.\n\
         - `expected.json`: for each case the key set, the verification context (time `now`, product, \
           fingerprint, domain, required entitlements, leeway, revocation list, last seen list sequence, \
           whether a fresh list is required) and the expected outcome: `valid` or an error code of \
           `licet_verifier::Error::code`; a valid case lists the claims its license carries (license \
           id, product, issue and expiry times, token id, entitlements). `signature_valid` says whether an independent COSE \
           implementation must accept the signature.\n\n\
         Every case is checked by `verifier/tests/vectors.rs` (in the default no-alloc build and with \
         `alloc`; without `alloc`, RSA keys are refused with `invalid_key`) and by the python \
         interop test.\n\n| case | expected | covers |\n|---|---|---|\n",
    );
    for c in &e.cases {
        s.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            c.name, c.expected, c.description
        ));
    }
    s.into_bytes()
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present")
}

/// Replaces S by S + L, where L is the order of the Ed25519 base point.
fn non_canonical(token: &[u8]) -> Vec<u8> {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = token.to_vec();
    let s_start = out.len() - 32;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(out[s_start + i]) + u16::from(L[i]) + carry;
        out[s_start + i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// A token whose signature (R = identity, S = 0) satisfies the cofactorless equation for the
/// identity public key, whatever the message.
fn small_order_token(identity: &[u8]) -> Vec<u8> {
    let kid = {
        let mut spki = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        spki.extend_from_slice(identity);
        KeyId::from_spki_der(&spki)
    };
    let header = ed_header(&kid);
    let payload = typical().payload([0x44; 16]).expect("payload");
    let mut sig = [0u8; 64];
    sig[0] = 1; // R = compressed identity (y = 1)
    encode::sign1(&header, &payload, &sig)
}

fn pem_public(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN PUBLIC KEY-----\n");
    for c in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(c).expect("ascii"));
        s.push('\n');
    }
    s + "-----END PUBLIC KEY-----\n"
}

fn nostd_key(key: &SigningKey) -> Vec<u8> {
    let bytes = key.public_key().ed25519_bytes().expect("ed25519");
    let list = bytes
        .iter()
        .map(|x| format!("0x{x:02x},"))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "// Generated by `cargo run -p licet-test-vectors --bin regenerate`; do not edit.\n\
         // The public key of the `valid-ed25519` test vector.\n\
         #[rustfmt::skip]\n\
         const KEY: [u8; 32] = [{list}];\n"
    )
    .into_bytes()
}

fn doc_example(key: &SigningKey, token: &[u8]) -> Vec<u8> {
    let bytes = |b: &[u8]| {
        b.iter()
            .map(|x| format!("0x{x:02x},"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "// Generated by `cargo run -p licet-test-vectors --bin regenerate`; do not edit.\n\
         // The `valid-ed25519` test vector and its public key, for the crate-level example.\n\
         #[rustfmt::skip]\n\
         const DOC_KEY: [u8; 32] = [{}];\n\
         #[rustfmt::skip]\n\
         const DOC_TOKEN: &[u8] = &[{}];\n",
        bytes(key.public_key().ed25519_bytes().expect("ed25519")),
        bytes(token)
    )
    .into_bytes()
}
