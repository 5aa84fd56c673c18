//! The client's check of signed answers (`licet_client::answer`) against the real server's
//! signatures: a genuine answer passes; a changed byte, another key, a missing nonce or a far
//! server time do not.

use crate::common;

use axum::body::Body;
use axum::http::Request;
use common::{T0, TestApp};
use http_body_util::BodyExt;
use licet_client::answer::{check_freshness, verify_answer};
use serde_json::json;
use tower::ServiceExt;

#[tokio::test]
async fn answers_are_checked_before_they_are_trusted() {
    let app = TestApp::new().await;
    let (product, _) = app.product("acme-pro", json!({ "max_machines": 1 })).await;
    let lic = app.license(&product, json!({})).await;
    let req = Request::post("/v1/client/activate")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({ "key": lic["key"], "fingerprint": "fp-1", "nonce": "n-42" }).to_string(),
        ))
        .expect("request");
    let resp = licet_server::app(app.state.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    assert_eq!(resp.status(), 201);
    let header = resp
        .headers()
        .get("licet-signature")
        .and_then(|v| v.to_str().ok())
        .expect("signed")
        .to_owned();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let keys = app.state.tokens.keys();
    let key = keys.token.public_key();
    assert_eq!(verify_answer(key, &header, &body), Ok(()));
    let answer: licet_api::client::TokenAnswer =
        serde_json::from_slice(&body).expect("a token answer");
    assert_eq!(check_freshness(&answer, "n-42", T0, 300), Ok(()));
    assert!(
        check_freshness(&answer, "n-43", T0, 300).is_err(),
        "another request's answer"
    );
    assert!(
        check_freshness(&answer, "n-42", T0 + 3600, 300).is_err(),
        "an old answer"
    );

    let mut changed = body.to_vec();
    let at = changed.iter().position(|&b| b == b'1').expect("a digit");
    changed[at] = b'2';
    assert_eq!(
        verify_answer(key, &header, &changed),
        Err(licet_verifier::Error::BadSignature)
    );
    let other = licet_issuer::SigningKey::generate(licet_issuer::KeySpec::Ed25519).expect("key");
    assert_eq!(
        verify_answer(other.public_key(), &header, &body),
        Err(licet_verifier::Error::UnknownKey)
    );
    assert!(verify_answer(key, "sig=abc", &body).is_err());
}
