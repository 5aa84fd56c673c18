//! The air-gapped artefacts (activation request, activation response, deactivation receipt):
//! any bytes parse or fail with an error, nothing panics, and nothing verifies against a key
//! that did not sign it. The response's payload sits behind the vendor's signature, out of a
//! fuzzer's reach, so the input is also signed here as a payload and read back.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use licet_client::device::DeviceKey;
use licet_verifier::offline::{
    ActivationRequest, ActivationResponse, LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE,
    MAX_REQUEST_SKEW, TYP_ACTIVATION_RESPONSE, TokenHolder, UnverifiedReceipt,
};
use licet_verifier::{Context, Error, PublicKey};

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let stranger = common::key();
    let stranger_raw = *stranger.ed25519_bytes().expect("ed25519");
    // A request is self-signed: reaching Ok needs a real signature by the key it carries.
    if let Ok(req) = ActivationRequest::verify(data) {
        assert!(req.parts().len() <= 16);
        match req.check_age(NOW, 604_800) {
            Ok(()) => assert!(req.created_at <= NOW + MAX_REQUEST_SKEW),
            Err(e) => assert!(matches!(e, Error::RequestExpired | Error::RequestFromFuture)),
        }
    }
    assert!(ActivationResponse::verify(data, &[stranger.clone()][..]).is_err());
    if let Ok(r) = UnverifiedReceipt::decode(data) {
        let said = *r.unverified();
        assert!(!said.product.is_empty() && !said.license_id.is_empty());
        assert!(r.verify(&stranger_raw).is_err());
        assert_eq!(r.check(TokenHolder::Revoked).err(), Some(Error::ReceiptReplayed));
        assert_eq!(r.check(TokenHolder::Replaced).err(), Some(Error::TokenNotCurrent));
        assert!(r.check(TokenHolder::Machine(Some(&stranger_raw))).is_err());
    }
    // The input as the payload of a response signed by a vendor key of this target.
    let vendor = DeviceKey::from_seed(&[0x7e; 32]);
    let signed = vendor.sign_artefact(TYP_ACTIVATION_RESPONSE, data);
    let vendor_key = PublicKey::ed25519(&vendor.public()).expect("key");
    if let Ok(answer) = ActivationResponse::verify(&signed, &[vendor_key.clone()][..]) {
        let _ = answer.answers(&[0; 16]);
        // The token inside is checked like any token; it cannot verify under the stranger.
        if let Ok(req) = ActivationRequest::verify(data) {
            let ctx = Context::new(NOW, req.product).fingerprint(req.fingerprint);
            assert!(answer.verify_token(&[stranger.clone()][..], &req, ctx).is_err());
        }
        if let Ok(t) = licet_verifier::UnverifiedToken::decode(answer.token) {
            let _ = t.unverified_claims();
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        for label in [LABEL_REQUEST, LABEL_RESPONSE, LABEL_RECEIPT] {
            let _ = licet_verifier::text::decode(text.as_bytes(), label);
        }
    }
});
