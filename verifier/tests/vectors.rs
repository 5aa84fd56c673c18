//! Conformance: the verifier, as built by this test run (default `no_std` without an allocator,
//! or with `alloc`), against every golden vector in `test-vectors/vectors/`.
//!
//! Without `alloc` the verifier does not understand RSA keys: RSA cases must then fail to load
//! their key with `invalid_key`, which this test asserts rather than skipping them.

use std::path::{Path, PathBuf};

use licet_verifier::text::{self, LABEL_LICENSE};
use licet_verifier::{Context, PublicKey, RevocationList, UnverifiedToken};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/vectors")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn der_from_pem(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let std = body.replace('+', "-").replace('/', "_");
    let trimmed = std.trim_end_matches('=');
    let mut out = vec![0u8; trimmed.len()];
    let n = text::decode_text(trimmed, &mut out)
        .expect("pem body")
        .len();
    out.truncate(n);
    out
}

/// The public keys named in `names`, as `expected.json` describes them.
fn load_keys(names: &Value, expected: &Value) -> Result<Vec<PublicKey>, licet_verifier::Error> {
    let mut keys = Vec::new();
    for name in names.as_array().expect("keys") {
        let info = &expected["keys"][name.as_str().expect("name")];
        let pem = String::from_utf8(read(info["spki_pem"].as_str().expect("pem"))).expect("utf8");
        let key = PublicKey::from_spki_der(&der_from_pem(&pem))?;
        assert_eq!(
            key.kid().to_string(),
            info["kid"].as_str().expect("kid"),
            "kid derivation"
        );
        keys.push(key);
    }
    Ok(keys)
}

fn outcome(case: &Value, expected: &Value) -> Result<String, licet_verifier::Error> {
    let keys = load_keys(&case["keys"], expected)?;
    let token = read(case["token"].as_str().expect("token"));
    let c = &case["context"];
    let list_bytes = c["revocations"].as_str().map(read);
    let list = match &list_bytes {
        Some(b) => Some(RevocationList::verify(
            b,
            &keys[..],
            c["last_seen_sequence"].as_u64(),
        )?),
        None => None,
    };
    let ents: Vec<&str> = c["entitlements"]
        .as_array()
        .expect("ents")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let now = c["now"].as_i64().expect("now");
    let mut ctx = match c["product"].as_str() {
        Some(p) => Context::new(now, p),
        None => Context::any_product(now),
    }
    .entitlements(&ents)
    .leeway(c["leeway"].as_u64().unwrap_or(0));
    if let Some(f) = c["fingerprint"].as_str() {
        ctx = ctx.fingerprint(f);
    }
    let parts: Vec<[u8; 8]> = c["hwid_parts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    let h = h.as_str().expect("hex part");
                    let mut p = [0u8; 8];
                    for (i, b) in p.iter_mut().enumerate() {
                        *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("hex");
                    }
                    p
                })
                .collect()
        })
        .unwrap_or_default();
    if !parts.is_empty() {
        ctx = ctx.hwid_parts(&parts);
    }
    if let Some(d) = c["domain"].as_str() {
        ctx = ctx.domain(d);
    }
    let device: Option<[u8; 32]> = c["device_key"].as_str().map(|h| {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("hex");
        }
        k
    });
    if let Some(k) = &device {
        ctx = ctx.device_key(k);
    }
    if c["require_device_binding"].as_bool() == Some(true) {
        ctx = ctx.require_device_binding();
    }
    if let Some(l) = &list {
        ctx = ctx.revocations(l);
        if c["require_fresh"].as_bool() == Some(true) {
            ctx = ctx.require_fresh_revocations();
        }
    }
    let license = UnverifiedToken::decode(&token)?.verify(&keys[..], &ctx)?;
    // The text form decodes to the same bytes.
    let txt = String::from_utf8(read(case["token_text"].as_str().expect("txt"))).expect("utf8");
    let mut buf = vec![0u8; txt.len()];
    assert_eq!(
        text::decode_text(&txt, &mut buf).expect("text form"),
        &token[..]
    );
    // A valid case lists the claims its license carries.
    if let Some(want) = case.get("claims") {
        let c = license.claims();
        let hex: String = c.token_id.iter().map(|b| format!("{b:02x}")).collect();
        let got = serde_json::json!({
            "license_id": c.license_id,
            "product": c.product,
            "issued_at": c.issued_at,
            "expires_at": c.expires_at,
            "token_id": hex,
            "entitlements": c.entitlements.iter().collect::<Vec<_>>(),
        });
        assert_eq!(&got, want, "{}: the claims", case["name"]);
    }
    Ok(license.claims().license_id.to_owned())
}

#[test]
fn every_vector_gives_its_expected_outcome() {
    let expected: Value = serde_json::from_slice(&read("expected.json")).expect("expected.json");
    let cases = expected["cases"].as_array().expect("cases");
    assert!(cases.len() >= 30, "the vector set shrank");
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let uses_rsa = case["keys"].as_array().expect("keys").iter().any(|k| {
            matches!(
                expected["keys"][k.as_str().expect("k")]["alg"].as_str(),
                Some("PS256" | "RS256")
            )
        });
        let want = if uses_rsa && cfg!(not(feature = "rsa")) {
            "invalid_key"
        } else {
            case["expected"].as_str().expect("expected")
        };
        let got = match outcome(case, &expected) {
            Ok(_) => "valid".to_owned(),
            Err(e) => e.code().to_owned(),
        };
        if got != want {
            failures.push(format!("{name}: expected {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn armored_vector_decodes_to_the_binary_one() {
    let armored = String::from_utf8(read("tokens/valid-ed25519.armor")).expect("utf8");
    let mut buf = [0u8; 1024];
    let bin = text::decode_armor(&armored, LABEL_LICENSE, &mut buf).expect("armor");
    assert_eq!(bin, &read("tokens/valid-ed25519.cbor")[..]);
}

fn unhex32(h: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    assert_eq!(h.len(), 64, "a device key is 32 bytes");
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

/// Checks one air-gapped artefact as its reader would: the vendor for requests and receipts,
/// the machine for responses, with the functions the server and the client call.
fn offline_outcome(
    case: &Value,
    offline: &Value,
    expected: &Value,
) -> Result<(), licet_verifier::Error> {
    use licet_verifier::offline::{
        ActivationRequest, ActivationResponse, LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE,
        TokenHolder, UnverifiedReceipt,
    };
    let bytes = read(case["file"].as_str().expect("file"));
    let c = &case["context"];
    let now = c["now"].as_i64().expect("now");
    let kind = case["kind"].as_str().expect("kind");
    // The armored file carries the same bytes.
    let label = match kind {
        "request" => LABEL_REQUEST,
        "response" => LABEL_RESPONSE,
        _ => LABEL_RECEIPT,
    };
    let armored = String::from_utf8(read(case["armor"].as_str().expect("armor"))).expect("utf8");
    let mut buf = vec![0u8; armored.len()];
    assert_eq!(
        text::decode_armor(&armored, label, &mut buf).expect("armor"),
        &bytes[..],
        "{}: armor",
        case["name"]
    );
    match kind {
        "request" => {
            let req = ActivationRequest::verify(&bytes)?;
            req.check_age(now, c["window"].as_u64().expect("window"))
        }
        "response" => {
            let keys = load_keys(&c["keys"], expected)?;
            let pending = read(c["pending_request"].as_str().expect("pending"));
            let req = ActivationRequest::verify(&pending).expect("the pending request is valid");
            let answer = ActivationResponse::verify(&bytes, &keys[..])?;
            let ctx = Context::new(now, c["product"].as_str().expect("product"))
                .fingerprint(c["fingerprint"].as_str().expect("fingerprint"));
            let license = answer.verify_token(&keys[..], &req, ctx)?;
            assert_eq!(
                license.claims().device_key,
                Some(req.device_key),
                "an installed token binds the pending device key"
            );
            Ok(())
        }
        "receipt" => {
            let receipt = UnverifiedReceipt::decode(&bytes)?;
            let key = c["holder_device_key"]
                .as_str()
                .map(|n| unhex32(offline["device_keys"][n].as_str().expect("device key")));
            let holder = match c["holder"].as_str().expect("holder") {
                "machine" => TokenHolder::Machine(key.as_ref()),
                "revoked" => TokenHolder::Revoked,
                "replaced" => TokenHolder::Replaced,
                other => panic!("unknown holder {other}"),
            };
            let said = receipt.check(holder)?;
            assert_eq!(
                said,
                *receipt.unverified(),
                "a checked receipt says what it said"
            );
            Ok(())
        }
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn every_offline_vector_gives_its_expected_outcome() {
    let expected: Value = serde_json::from_slice(&read("expected.json")).expect("expected.json");
    let offline: Value = serde_json::from_slice(&read("offline.json")).expect("offline.json");
    let cases = offline["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20, "the offline vector set shrank");
    let mut failures = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let want = case["expected"].as_str().expect("expected");
        let got = match offline_outcome(case, &offline, &expected) {
            Ok(()) => "valid".to_owned(),
            Err(e) => e.code().to_owned(),
        };
        if got != want {
            failures.push(format!("{name}: expected {want}, got {got}"));
        }
        kinds.insert((case["kind"].as_str().expect("kind"), want == "valid"));
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Each artefact has valid cases and refused ones.
    assert_eq!(kinds.len(), 6, "{kinds:?}");
}
