//! Golden vectors of the air-gapped artefacts: activation requests, activation responses and
//! deactivation receipts (`docs/token-format.md`, "Offline activation"), each with the state
//! its check needs (the vendor's window, the pending request, what the vendor knows of the
//! token a receipt names) and the expected outcome. Written as `vectors/offline/` and
//! `vectors/offline.json`.

use licet_client::device::DeviceKey;
use licet_issuer::{SigningKey, TokenBuilder, sign_activation_response};
use licet_verifier::Algorithm;
use licet_verifier::cose::encode;
use licet_verifier::offline::encode::{
    RequestFields, receipt_payload, request_payload, response_payload,
};
use licet_verifier::offline::{
    DeactivationReceipt, LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE, TYP_ACTIVATION_REQUEST,
    TYP_DEACTIVATION_RECEIPT,
};
use licet_verifier::text;
use serde::{Deserialize, Serialize};

use crate::{DAY, DIR, FINGERPRINT, Files, Keys, NOW, PRODUCT, hex, sign_raw};

/// The description of the offline set, written as `vectors/offline.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OfflineExpected {
    /// How the file was made.
    pub generated_by: String,
    /// The device keys of the set: name → raw Ed25519 public key, hex.
    pub device_keys: std::collections::BTreeMap<String, String>,
    /// The cases.
    pub cases: Vec<OfflineCase>,
}

/// One offline case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OfflineCase {
    /// Short name.
    pub name: String,
    /// What the case covers.
    pub description: String,
    /// `request`, `response` or `receipt`.
    pub kind: String,
    /// The binary artefact, relative to `vectors/`.
    pub file: String,
    /// The same artefact armored, relative to `vectors/`.
    pub armor: String,
    /// The state of the check.
    pub context: OfflineContext,
    /// `valid` or the expected error code of `licet_verifier::Error::code`.
    pub expected: String,
    /// Whose signature an independent COSE implementation checks: a device key's name from
    /// `device_keys`, or a vendor key's name from `expected.json`.
    pub signer: String,
    /// Whether that signature must verify.
    pub signature_valid: bool,
}

/// The state an offline artefact is checked in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OfflineContext {
    /// Unix seconds.
    pub now: i64,
    /// Requests: the vendor policy's `offline_window`, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u64>,
    /// Responses: the vendor key set (names from `expected.json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Responses: the request pending on the machine, relative to `vectors/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_request: Option<String>,
    /// Responses: the machine's product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Responses: the machine's fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Receipts: what the vendor knows of the token named: `machine` (a machine holds it),
    /// `revoked` (given back already) or `replaced` (a newer token replaced it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// Receipts held by a machine: the device key recorded for it (a name of `device_keys`;
    /// none: the machine has no device key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_device_key: Option<String>,
}

const LICENSE_KEY: &str = "ACME-7Q2K-9M4X-VT3C";
const LICENSE_ID: &str = "LIC-0001";
const WINDOW: u64 = 7 * DAY as u64;
const REQUEST_ID: [u8; 16] = [0x5e; 16];
const TOKEN_ID: [u8; 16] = [0x31; 16];
/// When the request was made: an hour before the vendor answers it.
const CREATED: i64 = NOW - 3600;
/// The lease of the answered token.
const LEASE_END: i64 = NOW + 30 * DAY;

fn device(seed: u8) -> DeviceKey {
    DeviceKey::from_seed(&[seed; 32])
}

fn fields(device: &DeviceKey, request_id: [u8; 16], created_at: i64) -> RequestFields<'static> {
    RequestFields {
        product: PRODUCT,
        license_key: LICENSE_KEY,
        fingerprint: FINGERPRINT,
        parts: &[],
        device_key: device.public(),
        request_id,
        created_at,
        note: Some("line 3, cell 2"),
    }
}

fn request(signer: &DeviceKey, carried: &DeviceKey, request_id: [u8; 16], at: i64) -> Vec<u8> {
    signer.sign_artefact(
        TYP_ACTIVATION_REQUEST,
        &request_payload(&fields(carried, request_id, at)),
    )
}

/// The token a vendor answers the typical request with, issued a lease before `exp`.
fn lease_token(vendor: &SigningKey, device: Option<&DeviceKey>, exp: i64) -> Vec<u8> {
    let mut b = TokenBuilder::new(PRODUCT, LICENSE_ID, exp - (LEASE_END - NOW))
        .issuer("licet")
        .expires_at(exp)
        .token_id(TOKEN_ID)
        .hwid(FINGERPRINT)
        .entitlement("pro");
    if let Some(d) = device {
        b = b.device_key(d.public());
    }
    b.sign(vendor).expect("token")
}

fn response(vendor: &SigningKey, request_id: &[u8; 16], token: &[u8]) -> Vec<u8> {
    // Ed25519 signatures draw no randomness: the response is the same bytes every run.
    sign_activation_response(vendor, request_id, token).expect("response")
}

fn receipt(signer: &DeviceKey) -> Vec<u8> {
    let r = DeactivationReceipt {
        product: PRODUCT,
        license_id: LICENSE_ID,
        token_id: TOKEN_ID,
        request_id: Some(REQUEST_ID),
        at: NOW,
    };
    signer.sign_artefact(TYP_DEACTIVATION_RECEIPT, &receipt_payload(&r))
}

/// Flips the lowest bit of the first byte of `needle` inside `bytes`.
fn tamper(bytes: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = crate::find(&out, needle);
    out[at] ^= 0x01;
    out
}

/// Adds the offline vectors to `files` and returns the manifest.
pub(crate) fn generate(files: &mut Files, keys: &Keys, other_vendor: &SigningKey) {
    let vendor = &keys.ed_a;
    let (a, b) = (device(0xd1), device(0xd2));
    let mut cases = Vec::new();
    let mut add = |name: &str,
                   description: &str,
                   kind: &str,
                   bytes: &[u8],
                   context: OfflineContext,
                   expected: &str,
                   signer: &str,
                   signature_valid: bool| {
        let label = match kind {
            "request" => LABEL_REQUEST,
            "response" => LABEL_RESPONSE,
            _ => LABEL_RECEIPT,
        };
        let file = format!("offline/{name}.cbor");
        let armor = format!("offline/{name}.armor");
        files.insert(format!("{DIR}/{file}"), bytes.to_vec());
        files.insert(
            format!("{DIR}/{armor}"),
            text::encode_armor(bytes, label).into_bytes(),
        );
        cases.push(OfflineCase {
            name: name.into(),
            description: description.into(),
            kind: kind.into(),
            file,
            armor,
            context,
            expected: expected.into(),
            signer: signer.into(),
            signature_valid,
        });
    };

    // Requests, checked by the vendor at NOW with a seven-day window.
    let at_vendor = OfflineContext {
        now: NOW,
        window: Some(WINDOW),
        ..OfflineContext::default()
    };
    let valid_request = request(&a, &a, REQUEST_ID, CREATED);
    add(
        "request-valid",
        "made an hour ago on machine A, signed by the device key it carries",
        "request",
        &valid_request,
        at_vendor.clone(),
        "valid",
        "device-a",
        true,
    );
    add(
        "request-cloned-machine",
        "a copy of machine A (same fingerprint) with its own device key B",
        "request",
        &request(&b, &b, [0xc1; 16], CREATED),
        at_vendor.clone(),
        "valid",
        "device-b",
        true,
    );
    add(
        "request-expired",
        "made eight days ago: past the seven-day window",
        "request",
        &request(&a, &a, [0x0e; 16], NOW - 8 * DAY),
        at_vendor.clone(),
        "request_expired",
        "device-a",
        true,
    );
    add(
        "request-from-future",
        "dated an hour ahead of the vendor's clock (five minutes are allowed)",
        "request",
        &request(&a, &a, [0xf0; 16], NOW + 3600),
        at_vendor.clone(),
        "request_from_future",
        "device-a",
        true,
    );
    add(
        "request-wrong-device-key",
        "carries device key A but is signed by device key B",
        "request",
        &request(&b, &a, REQUEST_ID, CREATED),
        at_vendor.clone(),
        "bad_signature",
        "device-a",
        false,
    );
    add(
        "request-tampered",
        "one bit of the license key changed after signing",
        "request",
        &tamper(&valid_request, LICENSE_KEY.as_bytes()),
        at_vendor.clone(),
        "bad_signature",
        "device-a",
        false,
    );
    let valid_receipt = receipt(&a);
    add(
        "request-is-a-receipt",
        "a deactivation receipt offered as a request (domain separation by typ)",
        "request",
        &valid_receipt,
        at_vendor,
        "wrong_type",
        "device-a",
        true,
    );

    // Responses, checked by machine A before it installs one.
    let on_machine = |pending: &str| OfflineContext {
        now: NOW,
        keys: vec!["ed25519-a".into()],
        pending_request: Some(format!("offline/{pending}.cbor")),
        product: Some(PRODUCT.into()),
        fingerprint: Some(FINGERPRINT.into()),
        ..OfflineContext::default()
    };
    let valid_response = response(
        vendor,
        &REQUEST_ID,
        &lease_token(vendor, Some(&a), LEASE_END),
    );
    add(
        "response-valid",
        "answers the pending request with a token bound to A's device key, leased 30 days",
        "response",
        &valid_response,
        on_machine("request-valid"),
        "valid",
        "ed25519-a",
        true,
    );
    add(
        "response-expired",
        "its lease ended at the time of the check",
        "response",
        &response(vendor, &REQUEST_ID, &lease_token(vendor, Some(&a), NOW)),
        on_machine("request-valid"),
        "expired",
        "ed25519-a",
        true,
    );
    add(
        "response-wrong-device-key",
        "A's response installed on its clone, whose pending request carries device key B",
        "response",
        &valid_response,
        on_machine("request-cloned-machine"),
        "device_key_mismatch",
        "ed25519-a",
        true,
    );
    add(
        "response-replayed",
        "a response to an earlier request of machine A, not the pending one",
        "response",
        &response(
            vendor,
            &[0x0e; 16],
            &lease_token(vendor, Some(&a), LEASE_END),
        ),
        on_machine("request-valid"),
        "request_mismatch",
        "ed25519-a",
        true,
    );
    add(
        "response-tampered",
        "one bit of the product inside the token changed after the vendor signed",
        "response",
        &tamper(&valid_response, PRODUCT.as_bytes()),
        on_machine("request-valid"),
        "bad_signature",
        "ed25519-a",
        false,
    );
    add(
        "response-unknown-vendor-key",
        "signed (response and token) by a key outside the machine's vendor key set",
        "response",
        &response(
            other_vendor,
            &REQUEST_ID,
            &lease_token(other_vendor, Some(&a), LEASE_END),
        ),
        on_machine("request-valid"),
        "unknown_key",
        "ed25519-b",
        true,
    );
    add(
        "response-without-device-key",
        "the token binds no device key, so it could be copied: refused for an offline install",
        "response",
        &response(vendor, &REQUEST_ID, &lease_token(vendor, None, LEASE_END)),
        on_machine("request-valid"),
        "device_key_required",
        "ed25519-a",
        true,
    );
    // A response whose outer envelope is valid but whose typ is a request's.
    add(
        "response-wrong-type",
        "the response payload signed by the vendor under the request's typ",
        "response",
        &sign_raw(
            &keys.ed_a_raw,
            &encode::protected_header(
                Algorithm::Ed25519,
                &vendor.kid(),
                Some(TYP_ACTIVATION_REQUEST),
            ),
            &response_payload(&REQUEST_ID, &lease_token(vendor, Some(&a), LEASE_END)),
        ),
        on_machine("request-valid"),
        "wrong_type",
        "ed25519-a",
        true,
    );

    // Receipts, checked by the vendor with what it knows of token 0x31….
    let at_desk = |holder: &str, key: Option<&str>| OfflineContext {
        now: NOW,
        holder: Some(holder.into()),
        holder_device_key: key.map(Into::into),
        ..OfflineContext::default()
    };
    add(
        "receipt-valid",
        "machine A gives back the token it holds, signed by A's device key",
        "receipt",
        &valid_receipt,
        at_desk("machine", Some("device-a")),
        "valid",
        "device-a",
        true,
    );
    add(
        "receipt-wrong-device-key",
        "names A's token but is signed by device key B",
        "receipt",
        &receipt(&b),
        at_desk("machine", Some("device-a")),
        "device_key_mismatch",
        "device-a",
        false,
    );
    add(
        "receipt-tampered",
        "one bit of the license id changed after signing",
        "receipt",
        &tamper(&valid_receipt, LICENSE_ID.as_bytes()),
        at_desk("machine", Some("device-a")),
        "bad_signature",
        "device-a",
        false,
    );
    add(
        "receipt-replayed",
        "the valid receipt again, after its token was given back and revoked",
        "receipt",
        &valid_receipt,
        at_desk("revoked", None),
        "receipt_replayed",
        "device-a",
        true,
    );
    add(
        "receipt-token-not-current",
        "the valid receipt, after a renewal replaced the token it names",
        "receipt",
        &valid_receipt,
        at_desk("replaced", None),
        "token_not_current",
        "device-a",
        true,
    );
    add(
        "receipt-machine-without-device-key",
        "the machine holding the token has no device key recorded (an online seat)",
        "receipt",
        &valid_receipt,
        at_desk("machine", None),
        "device_key_required",
        "device-a",
        true,
    );

    let expected = OfflineExpected {
        generated_by: "cargo run -p licet-test-vectors --bin regenerate".into(),
        device_keys: [("device-a", &a), ("device-b", &b)]
            .into_iter()
            .map(|(n, d)| (n.to_string(), hex(&d.public())))
            .collect(),
        cases,
    };
    let mut json = serde_json::to_vec_pretty(&expected).expect("json");
    json.push(b'\n');
    files.insert(format!("{DIR}/offline.json"), json);
    files.insert(format!("{DIR}/offline/README.md"), readme(&expected));
}

fn readme(e: &OfflineExpected) -> Vec<u8> {
    let mut s = String::from(
        "# Offline artefacts\n\n\
         Generated with the token vectors (`cargo run -p licet-test-vectors --bin regenerate`); do \
         not edit by hand. `NAME.cbor` is the artefact, `NAME.armor` the same bytes as the file a \
         customer carries. `../offline.json` gives each case's state: for requests the vendor's \
         time and `offline_window`; for responses the machine's time, product, fingerprint, vendor \
         key set and pending request; for receipts what the vendor knows of the token named (a \
         machine holds it, with or without a device key; it was revoked; it was replaced). The \
         device keys come from the seeds `[0xd1; 32]` (A) and `[0xd2; 32]` (B).\n\n\
         Checked by `verifier/tests/vectors.rs` with `ActivationRequest::verify` and `check_age`, \
         `ActivationResponse::verify` and `verify_token`, `UnverifiedReceipt::decode` and `check` \
         (the functions the client and the server use), and by the python interop test, which \
         checks each signature with pycose.\n\n\
         | case | expected | covers |\n|---|---|---|\n",
    );
    for c in &e.cases {
        s.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            c.name, c.expected, c.description
        ));
    }
    s.into_bytes()
}
