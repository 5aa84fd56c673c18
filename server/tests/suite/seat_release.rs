//! Freeing a seat revokes what its machine still holds, on every path that frees one: after
//! each, every unexpired token the machine was given (its lease's, its online one, every
//! check-in's) is on the newest revocation list, or the seat is still held. Each path runs the
//! same history first: a borrowed seat (a lease's long-lived token), an online activation of
//! the same machine (which ends the lease, not the lease's token) and a check-in.

use axum::http::StatusCode;
use base64::Engine;
use licet_client::device::DeviceKey;
use licet_core::ids::{LicenseId, MachineId};
use serde_json::{Value, json};

use super::devices::signed;
use crate::common::TestApp;

/// A floating policy that lends seats, with heartbeats due every minute.
fn policy() -> Value {
    json!({ "floating": true, "max_machines": 1, "heartbeat_interval": 60, "heartbeat_ttl": 120, "max_borrow": 86_400 })
}

/// A token a machine was given: its id (hex) and expiry.
#[derive(Debug, Clone)]
struct Given {
    id: String,
    exp: i64,
}

fn given(v: &Value) -> Given {
    let text = v["token"].as_str().expect("token");
    let bytes = licet_verifier::text::decode(text.as_bytes(), "LICET LICENSE").expect("text");
    let t = licet_verifier::UnverifiedToken::decode(&bytes).expect("token");
    let c = t.unverified_claims().expect("claims");
    Given {
        id: licet_server::ids::hex(&c.token_id),
        exp: c.expires_at.expect("exp"),
    }
}

/// One licensed machine, with the history every path starts from.
struct Scene {
    app: TestApp,
    license: Value,
    key: String,
    device: DeviceKey,
    machine_id: String,
    tokens: Vec<Given>,
}

impl Scene {
    /// A license of a product with `policy`, no machine yet; `seed` makes its device key.
    async fn bare(policy: Value, seed: u8) -> Scene {
        let app = TestApp::new().await;
        let (p, _) = app.product("seat", policy).await;
        // A key every family reads (the Verify API takes only its own format).
        let key = "CP-AB12CD-34EF56-GH78IJ-90KLMN-XYZ123";
        let license = app.license(&p, json!({ "key": key })).await;
        let key = license["key"].as_str().expect("key").to_owned();
        Scene {
            app,
            license,
            key,
            device: DeviceKey::from_seed(&[seed; 32]),
            machine_id: String::new(),
            tokens: Vec::new(),
        }
    }

    /// The history every path starts from, on a floating policy that lends seats.
    async fn new() -> Scene {
        let mut scene = Scene::bare(policy(), 7).await;
        let until = scene.app.state.clock.now() + 86_400;
        let borrowed = scene
            .ask("/v1/client/borrow", json!({ "until": until }))
            .await;
        let online = scene.ask("/v1/client/activate", json!({})).await;
        assert_eq!(
            online["machine"]["id"], borrowed["machine"]["id"],
            "one machine"
        );
        scene.app.clock.advance(30);
        scene.ask("/v1/client/heartbeat", json!({})).await;
        scene.machine_id = online["machine"]["id"].as_str().expect("id").to_owned();
        scene
    }

    /// A signed request for the machine; the token it answers, if any, is recorded.
    async fn ask(&mut self, path: &str, extra: Value) -> Value {
        let mut body = json!({ "key": self.key, "fingerprint": "fp-a", "nonce": "n" });
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (s, v, _) = self
            .app
            .send(signed(&self.app, path, &self.device, body))
            .await;
        assert!(s.is_success(), "{path}: {s} {v}");
        if v.get("token").is_some() {
            self.tokens.push(given(&v));
        }
        v
    }

    /// The scene's machine as stored.
    async fn stored(&self) -> licet_server::model::Machine {
        self.app
            .state
            .store
            .machine_by_id(&MachineId::from(&self.machine_id))
            .await
            .expect("read")
            .expect("machine")
    }

    fn license_id(&self) -> &str {
        self.license["id"].as_str().expect("id")
    }

    /// The property: each token the machine was given is expired, on the newest list (by its
    /// id or its license's), or its machine still holds the seat.
    async fn assert_nothing_outlives_the_seat(&self, path: &str) {
        let state = &self.app.state;
        let held = state
            .store
            .machines(&LicenseId::from(self.license_id()))
            .await
            .expect("machines")
            .iter()
            .any(|m| m.id == self.machine_id);
        assert!(!held, "{path}: the seat was to be freed");
        let published = state.store.revocation_state().await.expect("state");
        let bytes = state.revocations.current_revocations().await.expect("list");
        let keys = state.tokens.keys();
        let list = licet_verifier::RevocationList::verify(&bytes, keys.token.public_key(), None)
            .expect("a list the server signed");
        assert_eq!(
            list.sequence(),
            published.sequence,
            "{path}: the newest list"
        );
        let now = state.clock.now();
        let license_revoked = list.contains_license(self.license_id());
        assert!(
            !self.tokens.is_empty(),
            "{path}: the machine was given tokens"
        );
        for t in self.tokens.iter().filter(|t| t.exp > now) {
            let id = licet_server::ids::unhex16(&t.id).expect("hex");
            assert!(
                license_revoked || list.contains_token(&id),
                "{path}: token {} (expiring {}) outlives its seat",
                t.id,
                t.exp
            );
        }
    }
}

#[tokio::test]
async fn a_signed_deactivation_revokes_the_lease_and_the_online_tokens() {
    let mut s = Scene::new().await;
    s.ask("/v1/client/deactivate", json!({})).await;
    s.assert_nothing_outlives_the_seat("deactivate").await;
}

#[tokio::test]
async fn the_culler_revokes_a_dead_floating_seat() {
    let s = Scene::new().await;
    s.app.clock.advance(121);
    let culled = licet_server::licensing::cull_dead_machines(&s.app.state)
        .await
        .expect("cull");
    assert_eq!(culled, 1);
    s.assert_nothing_outlives_the_seat("culler").await;
}

#[tokio::test]
async fn an_overdue_heartbeat_revokes_before_it_frees() {
    let s = Scene::new().await;
    s.app.clock.advance(121);
    let body = json!({ "key": s.key, "fingerprint": "fp-a", "nonce": "n" });
    let (st, v, _) = s
        .app
        .send(signed(&s.app, "/v1/client/heartbeat", &s.device, body))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (StatusCode::GONE, Some("heartbeat_dead"))
    );
    s.assert_nothing_outlives_the_seat("heartbeat_dead").await;
}

#[tokio::test]
async fn an_ended_lease_frees_its_seat_and_revokes_the_online_token_it_replaced() {
    let mut s = Scene::bare(policy(), 8).await;
    // Online first, then borrowed for an hour: the online token (30 days) is replaced.
    let online = s.ask("/v1/client/activate", json!({})).await;
    let until = s.app.state.clock.now() + 3_600;
    s.ask("/v1/client/borrow", json!({ "until": until })).await;
    s.machine_id = online["machine"]["id"].as_str().expect("id").to_owned();
    s.app.clock.advance(3_600);
    let culled = licet_server::licensing::cull_dead_machines(&s.app.state)
        .await
        .expect("cull");
    assert_eq!(culled, 1, "the lease ended");
    s.assert_nothing_outlives_the_seat("lease end").await;
}

/// The address of an operator's request about a scene.
type UriOf = fn(&Scene) -> String;

#[tokio::test]
async fn an_operator_removing_the_machine_resetting_them_all_or_deleting_the_license_revokes() {
    let paths: [(&str, UriOf); 3] = [
        ("DELETE /v1/machines/{id}", |s| {
            format!("/v1/machines/{}", s.machine_id)
        }),
        ("DELETE /v1/licenses/{id}/machines", |s| {
            format!("/v1/licenses/{}/machines", s.license_id())
        }),
        ("DELETE /v1/licenses/{id}", |s| {
            format!("/v1/licenses/{}", s.license_id())
        }),
    ];
    for (path, uri) in paths {
        let s = Scene::new().await;
        let (st, v) = s.app.admin("DELETE", &uri(&s), None).await;
        assert!(st.is_success(), "{path}: {st} {v}");
        s.assert_nothing_outlives_the_seat(path).await;
    }
}

#[tokio::test]
async fn a_dead_seat_taken_over_by_another_machine_is_revoked() {
    let s = Scene::new().await;
    s.app.clock.advance(121);
    let (st, v, _) = s.app.activate(&s.key, "fp-b").await;
    assert_eq!(st, StatusCode::CREATED, "the dead seat is given to b: {v}");
    s.assert_nothing_outlives_the_seat("reaped").await;
}

/// Every family takes seats through the one activation, which revokes what the dead seats it
/// reaps still held: a WemX install and a Verify API check that take over the dead seat of a
/// licet client leave none of its tokens alive.
#[tokio::test]
async fn a_dead_seat_taken_over_through_another_family_is_revoked() {
    type Ask = fn(&Scene) -> (&'static str, Value);
    let families: [(&str, Ask); 2] = [
        ("WemX", |s| {
            let body =
                json!({ "license": s.key, "domain": "shop.example.net", "packages": "seat" });
            ("/api/v1/licenses/public/validate", body)
        }),
        ("Verify API", |s| {
            let body =
                json!({ "license_key": s.key, "domain": "shop.example.net", "ip": "203.0.113.9" });
            ("/api/v1/licenses/verify", body)
        }),
    ];
    for (family, ask) in families {
        let s = Scene::new().await;
        s.app.clock.advance(121);
        let (path, body) = ask(&s);
        let req = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        let (st, v, _) = s.app.send(req).await;
        assert_eq!(
            st,
            StatusCode::OK,
            "{family}: the dead seat is given to the domain: {v}"
        );
        let machines = s
            .app
            .state
            .store
            .machines(&LicenseId::new(s.license_id()))
            .await
            .expect("machines");
        assert!(
            machines
                .iter()
                .all(|m| m.id != MachineId::new(&s.machine_id)),
            "{family}: the dead machine's seat was taken over"
        );
        s.assert_nothing_outlives_the_seat(family).await;
    }
}

#[tokio::test]
async fn check_ins_re_sign_one_grant_and_leases_get_their_own() {
    let mut s = Scene::new().await;
    // Borrowed, online, a check-in: the check-in re-signed the online grant.
    let ids: Vec<&str> = s.tokens.iter().map(|t| t.id.as_str()).collect();
    assert_ne!(ids[0], ids[1], "a lease and an online seat are two grants");
    assert_eq!(ids[1], ids[2], "a check-in keeps its grant's id");
    assert!(s.tokens[2].exp > s.tokens[1].exp, "with a later expiry");
    // An online activation again keeps the grant too.
    s.ask("/v1/client/activate", json!({})).await;
    assert_eq!(s.tokens[3].id, s.tokens[1].id);
    let m = s.stored().await;
    assert_eq!(
        m.live_tokens(s.app.state.clock.now()),
        [s.tokens[1].id.clone(), s.tokens[0].id.clone()],
        "the machine holds its online grant and the lease's token it replaced"
    );
}

/// Lets the scene's product answer LicenseCM's clients (an operator's product does not, until
/// its operator says so).
async fn answer_licensecm(app: &TestApp, product_id: &Value) {
    let uri = format!("/v1/products/{}", product_id.as_str().expect("id"));
    let body = json!({ "compat": { "licensecm": true } });
    let (st, v) = app.admin("PATCH", &uri, Some(body)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

/// A plain LicenseCM client request for the scene's license on `hwid`.
async fn licensecm(s: &Scene, path: &str, hwid: &str) -> (StatusCode, Value) {
    let product_id = s.license["product_id"].clone();
    let body = json!({ "license_key": s.key, "hwid": hwid, "product_id": product_id });
    let (st, v, _) = s
        .app
        .call("POST", &format!("/api/client/{path}"), None, Some(body))
        .await;
    (st, v)
}

#[tokio::test]
async fn licensecm_refuses_a_device_bound_machine_on_every_route() {
    let s = Scene::new().await;
    answer_licensecm(&s.app, &s.license["product_id"]).await;
    let before = s.stored().await;
    for path in ["activate", "heartbeat", "validate", "deactivate"] {
        let (st, v) = licensecm(&s, path, "fp-a").await;
        assert_eq!(
            (st, v["error_code"].as_str()),
            (StatusCode::FORBIDDEN, Some("DEVICE_KEY_REQUIRED")),
            "{path}: {v}"
        );
    }
    let after = s.stored().await;
    assert_eq!(after, before, "nothing about the machine changed");
}

#[tokio::test]
async fn licensecm_takes_no_seat_where_the_policy_requires_a_device_key() {
    let s = Scene::bare(json!({ "max_machines": 2, "require_device_key": true }), 9).await;
    answer_licensecm(&s.app, &s.license["product_id"]).await;
    let (st, v) = licensecm(&s, "activate", "fp-b").await;
    assert_eq!(
        (st, v["error_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("DEVICE_KEY_REQUIRED")),
        "{v}"
    );
    let machines = s
        .app
        .state
        .store
        .machines(&LicenseId::from(s.license_id()))
        .await
        .expect("m");
    assert!(machines.is_empty(), "no seat taken");
}

#[tokio::test]
async fn a_licensecm_deactivation_revokes_the_offline_token() {
    let mut s = Scene::bare(json!({ "max_machines": 1 }), 10).await;
    answer_licensecm(&s.app, &s.license["product_id"]).await;
    let mut offline_tokens = Vec::new();
    for _ in 0..2 {
        let (st, v) = licensecm(&s, "activate", "hw-1").await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(v["data"]["offline_token"].as_str().expect("offline_token"))
            .expect("base64url");
        let t = licet_verifier::UnverifiedToken::decode(&raw).expect("token");
        let c = t.unverified_claims().expect("claims");
        offline_tokens.push(Given {
            id: licet_server::ids::hex(&c.token_id),
            exp: c.expires_at.expect("exp"),
        });
    }
    assert_eq!(
        offline_tokens[0].id, offline_tokens[1].id,
        "activating again re-signs the same grant"
    );
    s.tokens = offline_tokens;
    let m = s
        .app
        .state
        .store
        .machine(s.license_id(), "hw-1")
        .await
        .expect("read")
        .expect("machine");
    s.machine_id = m.id.into();
    let (st, v) = licensecm(&s, "deactivate", "hw-1").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    s.assert_nothing_outlives_the_seat("LicenseCM deactivate")
        .await;
}
