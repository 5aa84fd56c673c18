//! Air-gapped activation end to end (issue #15): the client library writes a request with no
//! server, the vendor's server answers it (`/v1/offline/activations`), the client installs the
//! answer, and a receipt gives the seat back (`/v1/offline/deactivations`); every refusal with
//! its code, and leases on the injected clock.

use licet_core::ids::LicenseId;
use std::sync::Arc;

use axum::http::StatusCode;
use licet_client::device::DeviceKey;
use licet_client::fingerprint::Fingerprint;
use licet_client::online::{Client, ClientError, Config, Status};
use licet_verifier::Error as VError;
use licet_verifier::offline::encode::{RequestFields, receipt_payload, request_payload};
use licet_verifier::offline::{
    DeactivationReceipt, TYP_ACTIVATION_REQUEST, TYP_DEACTIVATION_RECEIPT,
};
use licet_verifier::text::encode_armor;
use serde_json::{Value, json};

use crate::common::TestApp;

pub(crate) fn machine(tag: &str) -> Fingerprint {
    let values: Vec<(&'static str, String, Vec<u8>)> = [
        ("machine-id", format!("id-{tag}")),
        ("cpu", "cpu|4".to_owned()),
        ("disk", format!("disk-{tag}")),
        ("mac", format!("mac-{tag}")),
    ]
    .into_iter()
    .map(|(n, v)| (n, n.to_owned(), v.into_bytes()))
    .collect();
    Fingerprint::from_values("air", &values)
}

pub(crate) fn client(app: &TestApp, dir: &std::path::Path, fp: Fingerprint) -> Client {
    let mut c = Config::new(
        "",
        "air",
        vec![app.state.tokens.keys().token.public_key().clone()],
    );
    c.state_dir = Some(dir.to_path_buf());
    c.fingerprint = Some(fp);
    let clock = app.state.clock.clone();
    c.clock = Arc::new(move || clock.now());
    Client::new(c).expect("client")
}

async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let (s, v, _) = app.call("POST", path, None, Some(body)).await;
    (s, v)
}

async fn answer(app: &TestApp, request: &[u8]) -> (StatusCode, Value) {
    let text = encode_armor(request, licet_verifier::offline::LABEL_REQUEST);
    post(app, "/v1/offline/activations", json!({ "request": text })).await
}

async fn give_back(app: &TestApp, receipt: &[u8]) -> (StatusCode, Value) {
    // The QR form, as a phone would read it.
    let text = licet_api::offline::qr_text(receipt);
    post(app, "/v1/offline/deactivations", json!({ "receipt": text })).await
}

fn response_bytes(v: &Value) -> Vec<u8> {
    let text = v["response"].as_str().expect("response");
    licet_api::offline::decode(text.as_bytes(), "LICET ACTIVATION RESPONSE").expect("armor")
}

async fn seats(app: &TestApp, license: &Value) -> usize {
    app.state
        .store
        .machines(&LicenseId::from(license["id"].as_str().expect("id")))
        .await
        .expect("machines")
        .len()
}

#[tokio::test]
async fn the_air_gapped_walk_and_its_refusals() {
    let app = TestApp::new().await;
    let (p, _) = app
        .product("air", json!({ "max_machines": 1, "offline_lease": 86_400 }))
        .await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let dirs = tempfile::tempdir().expect("tmp");
    let a = client(&app, &dirs.path().join("a"), machine("a"));

    // The machine writes its request with no server; the vendor answers it, twice the same.
    let request = a.offline_request(key, Some("hall 3")).expect("request");
    assert!(request.len() < 400, "a request is {} bytes", request.len());
    assert_eq!(a.status(), Status::NeedsActivation);
    let (s, first) = answer(&app, &request).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(seats(&app, &l).await, 1);
    let (s, again) = answer(&app, &request).await;
    assert_eq!(
        (s, &again["response"], again["repeated"].as_bool()),
        (StatusCode::OK, &first["response"], Some(true))
    );
    assert_eq!(seats(&app, &l).await, 1, "the same request takes one seat");

    // Another machine, with a device key and request of its own, cannot install A's answer:
    // its fingerprint is not the token's; nor can a clone of A's hardware, whose device key
    // is not the one the token binds.
    let b = client(&app, &dirs.path().join("b"), machine("b"));
    b.offline_request(key, None).expect("b's request");
    let got = b.offline_install(&response_bytes(&first));
    assert!(
        matches!(got, Err(ClientError::Untrusted(VError::HwidMismatch))),
        "{got:?}"
    );
    let clone = client(&app, &dirs.path().join("clone"), machine("a"));
    clone
        .offline_request(key, None)
        .expect("the clone's request");
    let got = clone.offline_install(&response_bytes(&first));
    assert!(
        matches!(got, Err(ClientError::Untrusted(VError::DeviceKeyMismatch))),
        "{got:?}"
    );
    assert_eq!(b.status(), Status::NeedsActivation);
    assert_eq!(clone.status(), Status::NeedsActivation);
    // A installs it and is licensed, offline, until the lease ends.
    let now = app.state.clock.now();
    match a.offline_install(&response_bytes(&first)).expect("install") {
        Status::Valid {
            until,
            refresh_after: None,
        } => assert_eq!(until, now + 86_400),
        other => panic!("{other:?}"),
    }
    // An answer to an earlier request is refused once a newer one is pending.
    a.offline_request(key, None).expect("renewal request");
    assert!(matches!(
        a.offline_install(&response_bytes(&first)),
        Err(ClientError::Untrusted(VError::RequestMismatch))
    ));
    assert!(a.status().is_licensed(), "the installed license stays");

    // A token copied with its state to a machine with the same fingerprint but its own device
    // key is no license there.
    let c_dir = dirs.path().join("c");
    let c = client(&app, &c_dir, machine("a"));
    c.offline_request(key, None).expect("c's own device key");
    for f in ["token.bin", "meta.bin"] {
        std::fs::copy(dirs.path().join("a/air").join(f), c_dir.join("air").join(f)).expect("copy");
    }
    assert_eq!(c.status(), Status::Invalid(VError::DeviceKeyMismatch));

    // A request signed by a key other than the one it carries.
    let carried = DeviceKey::from_seed(&[7; 32]);
    let signer = DeviceKey::from_seed(&[8; 32]);
    let fp = machine("d");
    let parts = fp.parts();
    let id = fp.id();
    let fields = RequestFields {
        product: "air",
        license_key: key,
        fingerprint: &id,
        parts: &parts,
        device_key: carried.public(),
        request_id: [1; 16],
        created_at: app.state.clock.now(),
        note: None,
    };
    let forged = signer.sign_artefact(TYP_ACTIVATION_REQUEST, &request_payload(&fields));
    let (s, v) = answer(&app, &forged).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_signature"))
    );
    // One older than the policy's window (7 days by default).
    let stale = carried.sign_artefact(
        TYP_ACTIVATION_REQUEST,
        &request_payload(&RequestFields {
            created_at: app.state.clock.now() - 8 * 86_400,
            ..fields.clone()
        }),
    );
    let (s, v) = answer(&app, &stale).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("request_expired"))
    );
    assert_eq!(seats(&app, &l).await, 1);

    // A receipt signed by another device, naming A's token, is refused; A's own frees the seat
    // and revokes the token; the same receipt again is a replay.
    let token_id: [u8; 16] =
        licet_server::ids::unhex16(first["token_id"].as_str().expect("id")).expect("hex");
    let claims = DeactivationReceipt {
        product: "air",
        license_id: l["id"].as_str().expect("id"),
        token_id,
        request_id: None,
        at: app.state.clock.now(),
    };
    let theirs = signer.sign_artefact(TYP_DEACTIVATION_RECEIPT, &receipt_payload(&claims));
    let (s, v) = give_back(&app, &theirs).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("device_key_mismatch"))
    );
    assert_eq!(seats(&app, &l).await, 1);
    let receipt = a.offline_deactivate().expect("receipt");
    // The sizes the documentation quotes (four fingerprint parts here; six add 18 bytes).
    eprintln!(
        "sizes: request {} B, response {} B, receipt {} B",
        request.len(),
        response_bytes(&first).len(),
        receipt.len()
    );
    assert_eq!(
        a.status(),
        Status::NeedsActivation,
        "erased before the receipt is handed out"
    );
    let (s, v) = give_back(&app, &receipt).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(seats(&app, &l).await, 0);
    let revoked = app.state.store.revocation_state().await.expect("state");
    assert!(
        revoked
            .token_ids
            .contains(first["token_id"].as_str().expect("id"))
    );
    let (s, v) = give_back(&app, &receipt).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("receipt_replayed"))
    );
    // The first request, answered and given back, cannot take the seat again.
    let (s, v) = answer(&app, &request).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("request_replayed"))
    );

    // The seat is re-used by a new request; the old receipt is still a replay.
    let renewed = a.offline_request(key, None).expect("new request");
    let (s, v) = answer(&app, &renewed).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    a.offline_install(&response_bytes(&v)).expect("install");
    let (s, e) = give_back(&app, &receipt).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("receipt_replayed"))
    );
    assert_eq!(seats(&app, &l).await, 1);
}

#[tokio::test]
async fn an_unrenewed_lease_frees_the_seat_and_a_renewal_keeps_it() {
    let app = TestApp::new().await;
    let (p, _) = app
        .product("air", json!({ "max_machines": 1, "offline_lease": 3_600 }))
        .await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let dirs = tempfile::tempdir().expect("tmp");
    let a = client(&app, dirs.path(), machine("a"));
    let (s, v) = answer(&app, &a.offline_request(key, None).expect("req")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    a.offline_install(&response_bytes(&v)).expect("install");
    let machine_id = v["machine_id"].clone();

    // Renewed before the end: the same machine, a later lease, one seat.
    app.clock.advance(3_000);
    let (s, r) = answer(&app, &a.offline_request(key, None).expect("renewal")).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["machine_id"], machine_id);
    assert_eq!(
        r["lease_until"].as_i64(),
        Some(app.state.clock.now() + 3_600)
    );
    a.offline_install(&response_bytes(&r))
        .expect("install the renewal");
    app.clock.advance(1_000);
    assert_eq!(
        licet_server::licensing::cull_dead_machines(&app.state)
            .await
            .expect("cull"),
        0
    );
    assert_eq!(
        seats(&app, &l).await,
        1,
        "the renewal kept the seat past the first lease"
    );
    assert!(a.status().is_licensed());

    // Unrenewed: at its end the token has expired and the sweep frees the seat.
    app.clock.advance(2_600);
    assert_eq!(a.status(), Status::Expired);
    assert_eq!(
        licet_server::licensing::cull_dead_machines(&app.state)
            .await
            .expect("cull"),
        1
    );
    assert_eq!(seats(&app, &l).await, 0);
}

/// Copies a product's state (one directory of files) from one base directory to another.
fn copy_state(from: &std::path::Path, to: &std::path::Path) {
    let (src, dst) = (from.join("air"), to.join("air"));
    std::fs::create_dir_all(&dst).expect("mkdir");
    for e in std::fs::read_dir(&src).expect("read state") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dst.join(e.file_name())).expect("copy");
    }
}

#[tokio::test]
async fn a_receipt_from_a_restored_backup_is_refused_after_a_renewal() {
    let app = TestApp::new().await;
    let (p, _) = app.product("air", json!({ "max_machines": 1 })).await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let dirs = tempfile::tempdir().expect("tmp");
    let (live, backup) = (dirs.path().join("live"), dirs.path().join("backup"));
    let a = client(&app, &live, machine("a"));
    let (s, v) = answer(&app, &a.offline_request(key, None).expect("req")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    a.offline_install(&response_bytes(&v)).expect("install");
    // A backup of the machine's state, holding the first token.
    copy_state(&live, &backup);
    let (s, r) = answer(&app, &a.offline_request(key, None).expect("renewal")).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    a.offline_install(&response_bytes(&r)).expect("renewed");
    assert_ne!(r["token_id"], v["token_id"], "a renewal issues a new token");

    // The restored backup gives back the replaced token: refused, and the seat stays.
    let restored = client(&app, &backup, machine("a"));
    assert!(
        restored.status().is_licensed(),
        "the backup reads on its machine"
    );
    let stale = restored.offline_deactivate().expect("receipt");
    let (s, e) = give_back(&app, &stale).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("token_not_current")),
        "{e}"
    );
    assert_eq!(seats(&app, &l).await, 1);
    // The live machine's receipt is taken.
    let (s, e) = give_back(&app, &a.offline_deactivate().expect("receipt")).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(seats(&app, &l).await, 0);
}

#[tokio::test]
async fn an_online_activation_does_not_free_an_offline_lease_s_token() {
    let app = TestApp::new().await;
    let (p, _) = app
        .product(
            "air",
            json!({ "max_machines": 1, "offline_lease": 365 * 86_400 }),
        )
        .await;
    let l = app.license(&p, json!({})).await;
    let key = l["key"].as_str().expect("key");
    let dirs = tempfile::tempdir().expect("tmp");
    let fp = machine("a");
    let a = client(&app, dirs.path(), machine("a"));
    let (s, v) = answer(&app, &a.offline_request(key, None).expect("req")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    a.offline_install(&response_bytes(&v)).expect("install");
    let offline_token = v["token_id"].as_str().expect("id").to_owned();

    // The licensee signs an online activation and a deactivation with the device key from
    // the machine's state directory.
    let device = a.state().device_key().expect("the machine's device key");
    let body = json!({ "key": key, "fingerprint": fp.id(), "nonce": "n" });
    for path in ["/v1/client/activate", "/v1/client/deactivate"] {
        let (s, v, _) = app
            .send(super::devices::signed(&app, path, &device, body.clone()))
            .await;
        assert!(s.is_success(), "{path}: {s} {v}");
    }
    // The seat is free for a second machine; the year-long offline token is revoked.
    let (s, v, _) = app.activate(key, "machine-b").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let revoked = app.state.store.revocation_state().await.expect("state");
    assert!(
        revoked.token_ids.contains(&offline_token),
        "the offline machine's token outlived its seat"
    );
}

#[tokio::test]
async fn the_dashboard_s_offline_desk_acts_as_its_signed_in_key() {
    let app = TestApp::new().await;
    let (mine, _) = app.product("air", json!({ "max_machines": 1 })).await;
    let (theirs, _) = app.product("other", json!({ "max_machines": 1 })).await;
    let (s, k) = app
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({ "name": "desk", "scope": "read_write", "product_id": mine["id"] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key_id = k["id"].as_str().expect("id").to_owned();
    let stored = app
        .state
        .store
        .api_key(&key_id)
        .await
        .expect("read")
        .expect("key");
    // The dashboard's call: the operation, with the signed-in key as its caller.
    let caller = licet_server::app::caller::Caller {
        key: stored.clone(),
        via_jwt: false,
    };
    let desk = |request: &[u8]| {
        let text = encode_armor(request, licet_verifier::offline::LABEL_REQUEST);
        let (state, caller) = (app.state.clone(), caller.clone());
        async move {
            licet_server::app::offline::activate(
                &state,
                Some(&caller),
                licet_server::net::ClientIp(None),
                &text,
            )
            .await
        }
    };
    let dirs = tempfile::tempdir().expect("tmp");
    let theirs_license = app.license(&theirs, json!({})).await;
    let mut c = Config::new(
        "",
        "other",
        vec![app.state.tokens.keys().token.public_key().clone()],
    );
    c.state_dir = Some(dirs.path().join("other"));
    c.fingerprint = Some(machine("b"));
    let other_client = Client::new(c).expect("client");
    let request = other_client
        .offline_request(theirs_license["key"].as_str().expect("key"), None)
        .expect("request");
    let refused = desk(&request).await.expect_err("refused");
    assert_eq!(
        refused.code(),
        licet_server::app::error::ErrorCode::LicenseNotFound,
        "another product's license is out of the session's reach: {refused:?}"
    );
    let machines = app
        .state
        .store
        .machines(&LicenseId::from(theirs_license["id"].as_str().expect("id")))
        .await
        .expect("m");
    assert!(machines.is_empty(), "no seat taken");

    // Its own product's: answered, and audited as the key, not as the license.
    let l = app.license(&mine, json!({})).await;
    let a = client(&app, &dirs.path().join("air"), machine("a"));
    let request = a
        .offline_request(l["key"].as_str().expect("key"), None)
        .expect("request");
    let answered = desk(&request).await.expect("answered");
    assert!(!answered.repeated, "a new seat");
    let entries = crate::common::audit_entries(&app.state).await;
    let activated = entries
        .iter()
        .find(|e| e.action == "machine.activated")
        .expect("an entry");
    assert_eq!(activated.actor, key_id);
}
