//! Activation with fingerprint parts: tokens bind them with a k-of-n rule that the offline
//! verifier applies; a machine with a replaced component is still the same machine (same
//! seat, new parts); another machine is not.

use crate::common;

use base64::Engine;
use common::{T0, TestApp};
use licet_client::fingerprint::{Fingerprint, hex};
use serde_json::{Value, json};

/// Six components of one machine, some replaced (by parts named after `tag`).
fn machine_as(tag: &str, changed: &[&str]) -> Fingerprint {
    let values: Vec<(&'static str, String, Vec<u8>)> = [
        ("machine-id", "4c4c4544-0042"),
        ("cpu", "AMD EPYC 7B13|2"),
        ("memory", "8"),
        ("disk", "/dev/sda|107374182400"),
        ("mac", "02:42:ac:11:00:02"),
        ("hostname", "build-7"),
    ]
    .iter()
    .map(|(name, value)| {
        let v = if changed.contains(name) {
            format!("{value}-{tag}")
        } else {
            (*value).to_owned()
        };
        (*name, (*name).to_owned(), v.into_bytes())
    })
    .collect();
    Fingerprint::from_values("acme-pro", &values)
}

fn machine(changed: &[&str]) -> Fingerprint {
    machine_as("replaced", changed)
}

fn body(key: &str, f: &Fingerprint) -> Value {
    json!({
        "key": key,
        "fingerprint": f.id(),
        "parts": f.parts().iter().map(|p| hex(p)).collect::<Vec<_>>(),
        "nonce": "n-1",
    })
}

fn token_bytes(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v["token"].as_str().expect("token"))
        .expect("base64url")
}

fn verify(app: &TestApp, token: &[u8], on: &Fingerprint) -> Result<(), licet_verifier::Error> {
    let parts = on.parts();
    licet_verifier::verify(
        token,
        app.state.tokens.keys().token.public_key(),
        &licet_verifier::Context::new(T0, "acme-pro").hwid_parts(&parts),
    )
    .map(drop)
}

#[tokio::test]
async fn parts_survive_a_replaced_component_and_refuse_another_machine() {
    let app = TestApp::new().await;
    let (product, _) = app.product("acme-pro", json!({ "max_machines": 2 })).await;
    let lic = app.license(&product, json!({})).await;
    let key = lic["key"].as_str().expect("key");
    let here = machine(&[]);
    let (s, v, _) = app
        .call("POST", "/v1/client/activate", None, Some(body(key, &here)))
        .await;
    assert_eq!(s, 201, "{v}");
    let token = token_bytes(&v);
    let decoded = licet_verifier::UnverifiedToken::decode(&token).expect("decode");
    let claims = decoded.unverified_claims().expect("claims");
    let parts = claims.hwid_parts.expect("the token binds parts");
    assert_eq!((parts.threshold(), parts.parts().len()), (4, 6));
    assert!(
        claims.hwid.is_none(),
        "the whole-fingerprint hash would defeat the tolerance"
    );
    assert_eq!(verify(&app, &token, &here), Ok(()));
    assert_eq!(verify(&app, &token, &machine(&["disk", "mac"])), Ok(()));
    assert_eq!(
        verify(&app, &token, &machine(&["disk", "mac", "hostname"])),
        Err(licet_verifier::Error::HwidMismatch)
    );

    // A new disk: a new fingerprint id, but the same machine and seat; the token rebinds.
    let upgraded = machine(&["disk"]);
    assert_ne!(upgraded.id(), here.id());
    let (s, v, _) = app
        .call(
            "POST",
            "/v1/client/heartbeat",
            None,
            Some(body(key, &upgraded)),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(verify(&app, &token_bytes(&v), &upgraded), Ok(()));
    let (_, ms) = app
        .admin(
            "GET",
            &format!("/v1/licenses/{}/machines", lic["id"].as_str().expect("id")),
            None,
        )
        .await;
    let ms = ms["items"].as_array().expect("machines");
    assert_eq!(ms.len(), 1, "still one seat");
    assert_eq!(
        ms[0]["parts"][3],
        json!(hex(&upgraded.parts()[3])),
        "parts updated"
    );
    // Activating again after the upgrade is still that machine.
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/client/activate",
            None,
            Some(body(key, &upgraded)),
        )
        .await;
    assert_eq!(s, 201);
    // Another machine takes the second seat; a third is refused.
    let other = machine_as("other", &["machine-id", "disk", "mac", "hostname"]);
    let (s, _, _) = app
        .call("POST", "/v1/client/activate", None, Some(body(key, &other)))
        .await;
    assert_eq!(s, 201);
    let third = machine_as(
        "third",
        &["machine-id", "cpu", "memory", "disk", "mac", "hostname"],
    );
    let (s, v, _) = app
        .call("POST", "/v1/client/activate", None, Some(body(key, &third)))
        .await;
    assert_eq!(
        (s.as_u16(), &v["error"]["code"]),
        (409, &json!("too_many_machines"))
    );
    // Deactivating by parts frees the upgraded machine's seat.
    let (s, _, _) = app
        .call(
            "POST",
            "/v1/client/deactivate",
            None,
            Some(body(key, &upgraded)),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = app
        .call("POST", "/v1/client/activate", None, Some(body(key, &third)))
        .await;
    assert_eq!(s, 201);
    // Malformed parts are refused.
    let mut bad = body(key, &here);
    bad["parts"] = json!(["zz"]);
    let (s, v, _) = app
        .call("POST", "/v1/client/activate", None, Some(bad))
        .await;
    assert_eq!(
        (s.as_u16(), &v["error"]["code"]),
        (400, &json!("invalid_field"))
    );
}

/// Issue #12, item 4: the match holds both ways, and a token binds only parts the seat's
/// machine was recorded with.
#[tokio::test]
async fn two_machines_cannot_share_a_seat_through_combined_parts() {
    let app = TestApp::new().await;
    let (product, _) = app.product("acme-pro", json!({ "max_machines": 1 })).await;
    let lic = app.license(&product, json!({})).await;
    let key = lic["key"].as_str().expect("key");
    let a = machine(&[]);
    let b = machine_as(
        "b",
        &["machine-id", "cpu", "memory", "disk", "mac", "hostname"],
    );
    let (s, _, _) = app
        .call("POST", "/v1/client/activate", None, Some(body(key, &a)))
        .await;
    assert_eq!(s, 201);

    // 4 of A's 6 parts plus B's own 6: enough of A's for A's threshold, but not for its own.
    let mut combined = body(key, &b);
    let mut parts: Vec<String> = a.parts()[..4].iter().map(|p| hex(p)).collect();
    parts.extend(b.parts().iter().map(|p| hex(p)));
    combined["parts"] = json!(parts);
    let (s, v, _) = app
        .call("POST", "/v1/client/activate", None, Some(combined.clone()))
        .await;
    assert_eq!(
        (s.as_u16(), &v["error"]["code"]),
        (409, &json!("too_many_machines")),
        "the combined request is another machine, and the license is full: {v}"
    );
    let (s, _, _) = app
        .call("POST", "/v1/client/heartbeat", None, Some(combined))
        .await;
    assert_eq!(s.as_u16(), 404, "nor does it keep A's seat alive");

    // A's fingerprint with B's parts is not A.
    let mut posing = body(key, &b);
    posing["fingerprint"] = json!(a.id());
    let (s, v, _) = app
        .call("POST", "/v1/client/activate", None, Some(posing))
        .await;
    assert_eq!(
        (s.as_u16(), &v["error"]["code"]),
        (403, &json!("hwid_mismatch")),
        "{v}"
    );

    // A genuine one-component change keeps the seat, and its token binds only A's parts.
    let mut changed: Vec<String> = a.parts()[..5].iter().map(|p| hex(p)).collect();
    changed.push(hex(&b.parts()[5]));
    let mut upgraded = body(key, &machine(&["hostname"]));
    upgraded["parts"] = json!(changed);
    let (s, v, _) = app
        .call("POST", "/v1/client/activate", None, Some(upgraded))
        .await;
    assert_eq!(s, 201, "{v}");
    let token = token_bytes(&v);
    let claims = licet_verifier::UnverifiedToken::decode(&token)
        .expect("decode")
        .unverified_claims()
        .expect("claims");
    let bound = claims.hwid_parts.expect("parts");
    assert_eq!((bound.threshold(), bound.parts().len()), (3, 5));
    assert!(
        !bound.parts().contains(&b.parts()[5]),
        "B's part, which matched nothing, is not bound"
    );
    assert_eq!(verify(&app, &token, &a), Ok(()));
    assert_eq!(
        verify(&app, &token, &b),
        Err(licet_verifier::Error::HwidMismatch)
    );
}
