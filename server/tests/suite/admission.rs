//! One admission rule for every family: a client whose request two rules refuse at once gets
//! the same refusal through licet's own API, FaxStore, WemX, the Verify API and LicenseCM, each
//! in its own wire shape, or the documented family exception (a family whose clients report no
//! virtual machine or debugger is not refused for one; licet's own API answers every product
//! whatever its compatibility switches). Against a real server on a loopback port.

use crate::common;
use licet_core::ids::{LicenseId, ProductId};

use common::{T0, TestApp, http, serve};
use licet_server::model::{BlacklistEntry, BlacklistType, Severity};
use serde_json::{Value, json};

/// The refusal every family should give, named by licet's own code.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Canon {
    Blacklisted,
    FamilyDisabled,
    ProductInactive,
    VmBlocked,
    DebugBlocked,
    Suspended,
    Revoked,
    Expired,
}

/// What makes a fixture refuse.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Twist {
    /// A blacklist entry on the key.
    KeyBlacklisted,
    /// The product answers no compatibility family.
    FamiliesOff,
    /// The product is switched off.
    ProductOff,
    /// The product refuses virtual machines, and the client reports one.
    Vm,
    /// The product refuses debuggers, and the client reports one.
    Debugger,
    Suspended,
    Revoked,
    Expired,
}

/// Where a request came in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    /// `POST /v1/client/activate`, with the client's report.
    NativeActivate,
    /// `POST /v1/client/validate` for the product, which carries no report.
    NativeValidate,
    FaxStore,
    WemX,
    Verify,
    /// `POST /api/client/validate`, with `client_data`.
    LicenseCm,
}

const FAMILIES: [Family; 6] = [
    Family::NativeActivate,
    Family::NativeValidate,
    Family::FaxStore,
    Family::WemX,
    Family::Verify,
    Family::LicenseCm,
];

/// Whether a family can give `c` at all: the documented exceptions, written once.
fn applies(c: Canon, f: Family) -> bool {
    match c {
        // Only these clients report their environment.
        Canon::VmBlocked | Canon::DebugBlocked => {
            matches!(f, Family::NativeActivate | Family::LicenseCm)
        }
        // licet's own API answers for every product.
        Canon::FamilyDisabled => !matches!(f, Family::NativeActivate | Family::NativeValidate),
        _ => true,
    }
}

/// A family's answer, as the test reads it.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: u16,
    /// The family's own code, status word or message.
    said: String,
}

fn answer(status: u16, said: &str) -> Answer {
    Answer {
        status,
        said: said.to_owned(),
    }
}

/// Each family's documented shape for a refusal (docs/compat.md).
fn shape(c: Canon, f: Family) -> Answer {
    use Canon::*;
    match f {
        Family::NativeActivate => {
            let code = match c {
                Blacklisted => "blacklisted",
                ProductInactive => "product_inactive",
                VmBlocked => "vm_blocked",
                DebugBlocked => "debug_blocked",
                Suspended => "suspended",
                Revoked => "revoked",
                Expired => "expired",
                FamilyDisabled => unreachable!("the native API has no family switch"),
            };
            answer(403, code)
        }
        Family::NativeValidate => {
            let code = match c {
                Blacklisted => "blacklisted",
                ProductInactive => "product_inactive",
                Suspended => "suspended",
                Revoked => "revoked",
                Expired => "expired",
                VmBlocked | DebugBlocked | FamilyDisabled => unreachable!("{c:?}"),
            };
            answer(200, code)
        }
        Family::FaxStore => answer(
            200,
            match c {
                Blacklisted => "NOT AUTHORISED",
                // A product FaxStore does not serve is not there for it.
                FamilyDisabled => "NOT FOUND (Unauthorised)",
                Suspended | Revoked => "KEY DISABLED",
                ProductInactive | Expired => "NOT ACTIVE",
                VmBlocked | DebugBlocked => unreachable!("{c:?}"),
            },
        ),
        Family::WemX => match c {
            Blacklisted => answer(403, "Access denied."),
            FamilyDisabled | ProductInactive => {
                answer(403, "This license is not valid for the requested package.")
            }
            Suspended => answer(403, "This license is suspended."),
            Revoked => answer(403, "This license has been revoked."),
            Expired => answer(403, "This license has expired."),
            VmBlocked | DebugBlocked => unreachable!("{c:?}"),
        },
        Family::Verify => match c {
            Blacklisted => answer(403, "License not found."),
            FamilyDisabled => answer(404, "License not found."),
            Expired => answer(403, "License expired."),
            ProductInactive | Suspended | Revoked => answer(403, "License has been revoked."),
            VmBlocked | DebugBlocked => unreachable!("{c:?}"),
        },
        Family::LicenseCm => match c {
            Blacklisted => answer(403, "BLACKLISTED"),
            FamilyDisabled | ProductInactive => answer(404, "PRODUCT_NOT_FOUND"),
            VmBlocked | DebugBlocked => answer(403, "SECURITY_VIOLATION"),
            Suspended | Revoked => answer(403, "LICENSE_SUSPENDED"),
            Expired => answer(403, "LICENSE_EXPIRED"),
        },
    }
}

struct Fixture {
    twists: &'static [Twist],
    /// The refusal every family gives where it applies, then the next where it does not.
    first: Canon,
    otherwise: Canon,
}

const FIXTURES: &[Fixture] = &[
    // A client in a virtual machine with an expired license.
    Fixture {
        twists: &[Twist::Vm, Twist::Expired],
        first: Canon::VmBlocked,
        otherwise: Canon::Expired,
    },
    // A switched-off product with a suspended license.
    Fixture {
        twists: &[Twist::ProductOff, Twist::Suspended],
        first: Canon::ProductInactive,
        otherwise: Canon::ProductInactive,
    },
    // A blacklisted key on a revoked license.
    Fixture {
        twists: &[Twist::KeyBlacklisted, Twist::Revoked],
        first: Canon::Blacklisted,
        otherwise: Canon::Blacklisted,
    },
    // A debugger on a suspended license.
    Fixture {
        twists: &[Twist::Debugger, Twist::Suspended],
        first: Canon::DebugBlocked,
        otherwise: Canon::Suspended,
    },
    // A switched-off product and a client in a virtual machine.
    Fixture {
        twists: &[Twist::ProductOff, Twist::Vm],
        first: Canon::ProductInactive,
        otherwise: Canon::ProductInactive,
    },
    // A product no compatibility family reaches, with an expired license.
    Fixture {
        twists: &[Twist::FamiliesOff, Twist::Expired],
        first: Canon::FamilyDisabled,
        otherwise: Canon::Expired,
    },
    // A blacklisted key, a switched-off product and a debugger.
    Fixture {
        twists: &[Twist::KeyBlacklisted, Twist::ProductOff, Twist::Debugger],
        first: Canon::Blacklisted,
        otherwise: Canon::Blacklisted,
    },
    // A revoked license past its expiry.
    Fixture {
        twists: &[Twist::Revoked, Twist::Expired],
        first: Canon::Revoked,
        otherwise: Canon::Revoked,
    },
];

struct Made {
    key: String,
    product_id: String,
    code: String,
    name: String,
    number: u64,
}

struct Server {
    app: TestApp,
    url: String,
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

impl Server {
    fn admin(&self, method: &str, path: &str, body: Value) -> Value {
        let auth = format!("Bearer {}", self.app.admin);
        let (s, t) = http(
            method,
            &format!("{}{path}", self.url),
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ],
            Some(&body.to_string()),
        );
        assert!((200..300).contains(&s), "{method} {path}: {s} {t}");
        json_of(&t)
    }

    /// A product answering every family, a policy and a license, then the twists.
    fn make(&self, n: usize, twists: &[Twist]) -> Made {
        let code = format!("fixture-{n}");
        let name = format!("Fixture {n}");
        let p = self.admin(
            "POST",
            "/v1/products",
            json!({
                "code": code, "name": name, "key_prefix": "CP-",
                "key_format": "XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX",
                "compat": { "faxstore": true, "wemx": true, "verify": true, "licensecm": true },
            }),
        );
        let product_id = p["id"].as_str().expect("id").to_owned();
        self.admin(
            "POST",
            "/v1/policies",
            json!({ "product_id": product_id, "name": "std", "max_machines": 5 }),
        );
        let l = self.admin("POST", "/v1/licenses", json!({ "product_id": product_id }));
        let license_id = l["id"].as_str().expect("id").to_owned();
        let key = l["key"].as_str().expect("key").to_owned();
        let store = &self.app.state.store;
        for t in twists {
            match t {
                Twist::Suspended => {
                    self.admin(
                        "POST",
                        &format!("/v1/licenses/{license_id}/suspend"),
                        json!({}),
                    );
                }
                Twist::Revoked => {
                    self.admin(
                        "POST",
                        &format!("/v1/licenses/{license_id}/revoke"),
                        json!({}),
                    );
                }
                Twist::FamiliesOff => {
                    self.admin(
                        "PATCH",
                        &format!("/v1/products/{product_id}"),
                        json!({ "compat": { "faxstore": false, "wemx": false, "verify": false, "licensecm": false } }),
                    );
                }
                // What the native API does not change, the store does (as LicenseCM's product
                // settings and the blacklist tools write it).
                Twist::Expired => common::block_on(async {
                    let mut l = store
                        .license(&LicenseId::from(&license_id))
                        .await
                        .expect("read")
                        .expect("l");
                    l.expires_at = Some(T0 - 86_400);
                    store.update_license(&l).await.expect("write");
                }),
                Twist::ProductOff | Twist::Vm | Twist::Debugger => common::block_on(async {
                    let mut p = store
                        .product(&ProductId::from(&product_id))
                        .await
                        .expect("read")
                        .expect("p");
                    match t {
                        Twist::ProductOff => p.is_active = false,
                        Twist::Vm => p.block_vm = true,
                        _ => p.block_debug = true,
                    }
                    store.update_product(&p).await.expect("write");
                }),
                Twist::KeyBlacklisted => common::block_on(async {
                    store
                        .put_blacklist(&BlacklistEntry {
                            id: format!("bl_fixture_{n}"),
                            kind: BlacklistType::License,
                            value: key.clone(),
                            reason: "chargeback".into(),
                            severity: Severity::High,
                            is_active: true,
                            expires_at: None,
                            created_by: None,
                            created_at: T0,
                        })
                        .await
                        .expect("write");
                }),
            }
        }
        Made {
            key,
            product_id,
            code,
            name,
            number: p["numeric_id"].as_u64().expect("numeric id"),
        }
    }

    fn post(&self, path: &str, headers: &[(&str, &str)], body: Value) -> (u16, Value) {
        let mut h = vec![
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ];
        h.extend_from_slice(headers);
        let (s, t) = http(
            "POST",
            &format!("{}{path}", self.url),
            &h,
            Some(&body.to_string()),
        );
        (s, json_of(&t))
    }

    /// What `family` answers the fixture's client.
    fn ask(&self, f: Family, m: &Made, twists: &[Twist]) -> Answer {
        let vm: Vec<&str> = if twists.contains(&Twist::Vm) {
            vec!["VBOX"]
        } else {
            vec![]
        };
        let debug: Vec<&str> = if twists.contains(&Twist::Debugger) {
            vec!["IsDebuggerPresent"]
        } else {
            vec![]
        };
        let (status, v) = match f {
            Family::NativeActivate => self.post(
                "/v1/client/activate",
                &[],
                json!({ "key": m.key, "fingerprint": "fp-1", "nonce": "n-1",
                        "client_data": { "vm_indicators": vm, "debug_indicators": debug } }),
            ),
            Family::NativeValidate => self.post(
                "/v1/client/validate",
                &[],
                json!({ "key": m.key, "product": m.code }),
            ),
            Family::FaxStore => self.post(
                &format!("/api/check/{}", m.number),
                &[("authorization", m.key.as_str())],
                json!({}),
            ),
            Family::WemX => self.post(
                "/api/v1/licenses/public/validate",
                &[],
                json!({ "license": m.key, "domain": "shop.example.net", "packages": m.name }),
            ),
            Family::Verify => self.post(
                "/api/v1/licenses/verify",
                &[],
                json!({ "license_key": m.key, "domain": "shop.example.net", "ip": "203.0.113.9" }),
            ),
            Family::LicenseCm => self.post(
                "/api/client/validate",
                &[],
                json!({ "license_key": m.key, "hwid": "hw-1", "product_id": m.product_id,
                        "client_data": { "vmIndicators": vm, "debugIndicators": debug } }),
            ),
        };
        let said = match f {
            Family::NativeActivate => &v["error"]["code"],
            Family::NativeValidate => &v["code"],
            Family::FaxStore => &v["status"],
            Family::WemX => &v["message"],
            Family::Verify => &v["reason"],
            Family::LicenseCm => &v["error_code"],
        };
        Answer {
            status,
            said: said
                .as_str()
                .unwrap_or_else(|| panic!("{f:?}: {v}"))
                .to_owned(),
        }
    }
}

#[test]
fn two_refusals_at_once_give_the_same_refusal_through_every_family() {
    let app = TestApp::blocking(licet_server::Config {
        rate_limit_ip: 0,
        rate_limit_license: 0,
        licensecm_rate_api: 0,
        licensecm_rate_validation: 0,
        ..licet_server::Config::default()
    });
    let url = serve(app.state.clone());
    let server = Server { app, url };
    let mut wrong = Vec::new();
    for (n, fx) in FIXTURES.iter().enumerate() {
        let made = server.make(n, fx.twists);
        for f in FAMILIES {
            let canon = if applies(fx.first, f) {
                fx.first
            } else {
                fx.otherwise
            };
            let want = shape(canon, f);
            let got = server.ask(f, &made, fx.twists);
            if got != want {
                wrong.push(format!(
                    "{:?} through {f:?}: want {canon:?} as {want:?}, got {got:?}",
                    fx.twists
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
