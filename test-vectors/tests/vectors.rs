//! Cross-crate tests: the generator reproduces the committed vectors bit for bit, independent
//! COSE/CWT implementations accept licet tokens, and licet's streaming Ed25519 check agrees with
//! `verify_strict` on every mutation of a token.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use licet_issuer::TokenBuilder;
use licet_verifier::cose::encode;
use licet_verifier::{Context, Error, PublicKey, UnverifiedToken};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.insert(p);
        }
    }
}

#[test]
fn regenerate_is_bit_identical() {
    let files = licet_test_vectors::generate();
    let mut differ = Vec::new();
    for (path, content) in &files {
        match std::fs::read(root().join(path)) {
            Ok(on_disk) if on_disk == *content => {}
            Ok(_) => differ.push(format!("{path}: differs")),
            Err(e) => differ.push(format!("{path}: {e}")),
        }
    }
    let mut on_disk = BTreeSet::new();
    walk(&root().join(licet_test_vectors::DIR), &mut on_disk);
    let generated: BTreeSet<PathBuf> = files.keys().map(|p| root().join(p)).collect();
    for extra in on_disk.difference(&generated) {
        differ.push(format!(
            "{}: not produced by the generator",
            extra.display()
        ));
    }
    assert!(
        differ.is_empty(),
        "vectors differ from the generator; run `cargo run -p licet-test-vectors --bin regenerate` \
         and review the diff:\n{differ:#?}"
    );
    // And the generator is deterministic within one process too.
    assert_eq!(files, licet_test_vectors::generate());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Creates (once) a virtual environment under `target/` with the pinned python packages.
fn python_env() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-venv");
    let python = venv.join("bin/python");
    let requirements = root().join("test-vectors/interop/requirements.txt");
    let stamp = venv.join("installed-requirements.txt");
    let wanted = std::fs::read(&requirements).expect("requirements.txt");
    if std::fs::read(&stamp).ok().as_deref() == Some(&wanted[..]) {
        return python;
    }
    let status = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .status()
        .expect("python3 must be installed for the interop test (it is on the CI machine)");
    assert!(status.success(), "python3 -m venv failed");
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .status()
        .expect("pip runs");
    assert!(
        status.success(),
        "pip install of the pinned interop packages failed"
    );
    std::fs::write(&stamp, &wanted).expect("stamp");
    python
}

#[test]
fn python_cwt_and_pycose_accept_licet_tokens() {
    let python = python_env();
    // Fresh tokens at the real time, so that cwt's own exp/nbf checks apply to them.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let mut tokens = Vec::new();
    for (i, (name, key)) in licet_test_vectors::signing_keys().iter().enumerate() {
        let token = TokenBuilder::new("acme-pro", format!("LIC-PY-{i}"), now - 60)
            .issuer("licet")
            .expires_at(now + 3600)
            .token_id([i as u8 + 1; 16])
            .hwid("interop-machine")
            .domain("example.com")
            .entitlement("pro")
            .entitlement("export")
            .sign(key)
            .expect("sign");
        let pk = key.public_key();
        let mut raw = serde_json::Map::new();
        if let Some(x) = pk.ed25519_bytes() {
            raw.insert("x".into(), hex(x).into());
        }
        if let Some(r) = pk.rsa_key() {
            use rsa::traits::PublicKeyParts;
            raw.insert("n".into(), hex(&r.n_bytes()).into());
            raw.insert("e".into(), hex(&r.e_bytes()).into());
        }
        tokens.push(serde_json::json!({
            "alg": pk.algorithm().name(),
            "name": name,
            "token_hex": hex(&token),
            "key": { "alg": pk.algorithm().name(), "kid": pk.kid().to_string(), "raw": raw },
            "expect": {
                "iss": "licet", "iat": now - 60, "exp": now + 3600, "cti": hex(&[i as u8 + 1; 16]),
                "product": "acme-pro", "license_id": format!("LIC-PY-{i}"),
                "hwid": hex(&licet_verifier::binding::hwid_binding("acme-pro", "interop-machine")),
                "domains": ["example.com"], "entitlements": ["export", "pro"],
            }
        }));
    }
    let dir = tempfile_dir();
    let manifest = dir.join("fresh.json");
    std::fs::write(
        &manifest,
        serde_json::to_vec(&serde_json::json!({ "tokens": tokens })).expect("json"),
    )
    .expect("write manifest");
    let out = Command::new(&python)
        .arg(root().join("test-vectors/interop/verify.py"))
        .arg(root().join(licet_test_vectors::DIR))
        .arg(&manifest)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python interop failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or("");
    let passed: usize = last
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 30, "too few interop checks ran: {last}");
}

fn tempfile_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("interop-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

#[test]
fn streaming_check_agrees_with_verify_strict_on_every_mutation() {
    let token = std::fs::read(
        root()
            .join(licet_test_vectors::DIR)
            .join("tokens/valid-ed25519.cbor"),
    )
    .expect("vector");
    let (raw_key, _, now) = licet_verifier::doc_example();
    let keys = [PublicKey::ed25519(&raw_key).expect("key")];
    let dalek = ed25519_dalek::VerifyingKey::from_bytes(&raw_key).expect("key");
    let fp = licet_test_vectors::FINGERPRINT;
    let ctx = Context::new(now, "acme-pro")
        .fingerprint(fp)
        .domain("example.com");
    let mut compared = 0;
    for i in 0..token.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut t = token.clone();
            t[i] ^= flip;
            let Ok(u) = UnverifiedToken::decode(&t) else {
                continue;
            };
            let licet = match u.verify(&keys[..], &ctx) {
                Ok(_) => true,
                Err(Error::BadSignature) => false,
                // Refused before the signature (other kid, other alg) or after it (claims).
                Err(_) => continue,
            };
            let Ok(sig) = ed25519_dalek::Signature::from_slice(u.signature()) else {
                continue;
            };
            let tbs = encode::sig_structure(u.protected_bytes(), u.payload_bytes());
            let strict = dalek.verify_strict(&tbs, &sig).is_ok();
            assert_eq!(licet, strict, "byte {i} ^ {flip:#04x}");
            compared += 1;
        }
    }
    assert!(compared > 300, "only {compared} mutations compared");
    // A signature with R of small order and S = 0 under a real key: both refuse it.
    let mut t = token.clone();
    let n = t.len();
    t[n - 64..].fill(0);
    t[n - 64] = 1;
    let u = UnverifiedToken::decode(&t).expect("decodes");
    assert_eq!(u.verify(&keys[..], &ctx).err(), Some(Error::BadSignature));
}

/// A provider that hands out its one key whatever the kid says, as a careless custom
/// implementation might.
struct AnyKid(PublicKey);

impl licet_verifier::KeyProvider for AnyKid {
    fn key_for(&self, _kid: &[u8]) -> Option<&PublicKey> {
        Some(&self.0)
    }
}

#[test]
fn a_careless_key_provider_cannot_cause_a_panic_or_report_a_foreign_kid() {
    use ed25519_dalek::Signer;
    let signer = ed25519_dalek::SigningKey::from_bytes(&[0xa1; 32]);
    let key = PublicKey::ed25519(signer.verifying_key().as_bytes()).expect("key");
    // A correctly signed token whose kid is 3 bytes long.
    let mut w = licet_verifier::Writer::new();
    w.map(2).int(1).int(-8).int(4).bytes(&[1, 2, 3]);
    let protected = w.into_bytes();
    let payload = TokenBuilder::new("p", "L", 1_000)
        .payload([7; 16])
        .expect("payload");
    let sig = signer.sign(&encode::sig_structure(&protected, &payload));
    let token = encode::sign1(&protected, &payload, &sig.to_bytes());
    let ctx = Context::new(2_000, "p");
    let license = UnverifiedToken::decode(&token)
        .expect("decode")
        .verify(&AnyKid(key.clone()), &ctx);
    assert_eq!(
        license.map(|l| l.kid()).ok(),
        Some(key.kid()),
        "the kid of the key that verified"
    );
    // The built-in providers never match a kid of the wrong length.
    assert_eq!(
        UnverifiedToken::decode(&token)
            .expect("decode")
            .verify(&key, &ctx)
            .err(),
        Some(Error::UnknownKey)
    );
}
