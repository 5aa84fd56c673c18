//! Products and policies, and the signing keys with the revocation list.

use axum::extract::Query;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use super::api::{Desk, Posted};
use super::page::{self, text, when};
use super::templates::{self, KeyRow, PolicyRow, ProductRow};
use super::{Flash, refusal_page};

fn seconds(v: &Value) -> String {
    match v.as_u64() {
        None => "—".into(),
        Some(s) if s % 86_400 == 0 => format!("{} d", s / 86_400),
        Some(s) if s % 3600 == 0 => format!("{} h", s / 3600),
        Some(s) => format!("{s} s"),
    }
}

/// `GET /admin/products`.
pub async fn list(d: Desk, Query(flash): Query<Flash>) -> Response {
    let v = &d.v;
    let products = match d.send(Method::GET, "/v1/products", None).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e),
    };
    let policies = match d.send(Method::GET, "/v1/policies", None).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e),
    };
    let rows = products["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let id = text(&p["id"]);
            let families: Vec<&str> = ["faxstore", "wemx", "verify", "licensecm"]
                .into_iter()
                .filter(|f| p["compat"][*f].as_bool() == Some(true))
                .collect();
            ProductRow {
                code: text(&p["code"]),
                name: text(&p["name"]),
                lifetime: seconds(&p["token_lifetime"]),
                families: if families.is_empty() {
                    "licet's own API only".into()
                } else {
                    format!("licet and {}", families.join(", "))
                },
                policies: policies["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|q| q["product_id"] == p["id"])
                    .map(|q| PolicyRow {
                        id: text(&q["id"]),
                        name: text(&q["name"]),
                        seats: format!(
                            "{}{}",
                            text(&q["max_machines"]),
                            if q["floating"].as_bool() == Some(true) {
                                " floating"
                            } else {
                                ""
                            }
                        ),
                        offline: format!(
                            "lease {}, window {}, borrow {}{}",
                            match q["offline_lease"].as_u64() {
                                Some(_) => seconds(&q["offline_lease"]),
                                None => "= token lifetime".into(),
                            },
                            seconds(&q["offline_window"]),
                            match q["max_borrow"].as_u64() {
                                Some(0) | None => "off".into(),
                                Some(_) => seconds(&q["max_borrow"]),
                            },
                            if q["require_device_key"].as_bool() == Some(true) {
                                ", device key required"
                            } else {
                                ""
                            }
                        ),
                        default: p["default_policy_id"] == q["id"],
                    })
                    .collect(),
                id,
            }
        })
        .collect();
    let t = templates::Products {
        chrome: v.chrome("products"),
        notice: flash.notice(&d),
        products: rows,
    };
    page::render(StatusCode::OK, &t)
}

/// `POST /admin/products` (`POST /v1/products`).
pub async fn create_product(Posted { d, form }: Posted) -> Response {
    let body = json!({
        "code": form.get("code").unwrap_or(""),
        "name": form.get("name").unwrap_or(""),
        "compat": {
            "faxstore": form.ticked("faxstore"),
            "wemx": form.ticked("wemx"),
            "verify": form.ticked("verify"),
            "licensecm": form.ticked("licensecm"),
        },
    });
    let result = d
        .send(Method::POST, "/v1/products", Some(body))
        .await
        .map(|p| format!("Product {} created: add a policy next.", text(&p["code"])));
    page::see_other(&format!("/admin/products?{}", Flash::of(&d, &result)))
}

/// `POST /admin/policies` (`POST /v1/policies`).
pub async fn create_policy(Posted { d, form }: Posted) -> Response {
    let number = |name: &str| -> Result<Option<u64>, String> {
        form.get(name)
            .map(|t| {
                t.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{name}: a whole number (invalid_field)"))
            })
            .transpose()
    };
    let fields = (
        number("max_machines"),
        number("offline_lease"),
        number("max_borrow"),
    );
    let (max_machines, offline_lease, max_borrow) = match fields {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return page::see_other(&format!("/admin/products?{}", Flash::refusal(&d, &e)));
        }
    };
    let mut body = json!({
        "product_id": form.get("product_id").unwrap_or(""),
        "name": form.get("name").unwrap_or(""),
        "floating": form.ticked("floating"),
        "require_device_key": form.ticked("require_device_key"),
        "default": form.ticked("default"),
        "max_borrow": max_borrow.unwrap_or(0),
    });
    if let Some(n) = max_machines {
        body["max_machines"] = json!(n);
    }
    if let Some(n) = offline_lease {
        body["offline_lease"] = json!(n);
    }
    let result = d
        .send(Method::POST, "/v1/policies", Some(body))
        .await
        .map(|p| format!("Policy {} added.", text(&p["name"])));
    page::see_other(&format!("/admin/products?{}", Flash::of(&d, &result)))
}

/// `GET /admin/revocations`: the current list and the signing keys.
pub async fn revocations(d: Desk, Query(flash): Query<Flash>) -> Response {
    let (s, v) = (&d.s, &d.v);
    let now = s.clock.now();
    let list = match d
        .send(Method::GET, "/v1/revocations?format=json", None)
        .await
    {
        Ok(l) => l,
        Err(e) => return refusal_page(&e),
    };
    let keys = match d.send(Method::GET, "/v1/keys", None).await {
        Ok(k) => k,
        Err(e) => return refusal_page(&e),
    };
    let size = list["list"].as_str().map_or(0, |b| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b)
            .map_or(0, |v| v.len())
    });
    let t = templates::Revocations {
        chrome: v.chrome("revocations"),
        notice: flash.notice(&d),
        sequence: text(&list["sequence"]),
        size,
        licenses: list["revoked_licenses"].as_u64().unwrap_or(0) as usize,
        tokens: list["revoked_tokens"].as_u64().unwrap_or(0) as usize,
        issued: list["issued_at"]
            .as_i64()
            .map_or_else(String::new, |t| when(t, now)),
        next_update: list["next_update"]
            .as_i64()
            .map_or_else(String::new, |t| when(t, now)),
        keys: keys["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| KeyRow {
                kid: text(&k["kid"]),
                alg: text(&k["alg"]),
                use_: text(&k["use"]),
                status: text(&k["status"]),
                until: k["valid_until"]
                    .as_i64()
                    .map_or_else(|| "—".into(), |t| when(t, now)),
            })
            .collect(),
    };
    page::render(StatusCode::OK, &t)
}

/// A whole number typed into field `name`: `None` when left empty.
fn whole(form: &page::Form, name: &str) -> Result<Option<u64>, String> {
    form.get(name)
        .map(|t| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("{name}: a whole number (invalid_field)"))
        })
        .transpose()
}

/// A number as a form shows it: empty when unset.
fn shown(v: &Value) -> String {
    v.as_u64().map(|n| n.to_string()).unwrap_or_default()
}

/// `GET /admin/products/{id}`: the product's edit form.
pub async fn edit_product(
    axum::extract::Path(id): axum::extract::Path<String>,
    d: Desk,
    Query(flash): Query<Flash>,
) -> Response {
    let p = match d.get(&format!("/v1/products/{}", page::q(&id))).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e),
    };
    let policies = match d
        .get(&format!("/v1/policies?product_id={}", page::q(&id)))
        .await
    {
        Ok(p) => p,
        Err(e) => return refusal_page(&e),
    };
    let t = templates::ProductEdit {
        chrome: d.v.chrome("products"),
        notice: flash.notice(&d),
        id: text(&p["id"]),
        code: text(&p["code"]),
        name: text(&p["name"]),
        key_prefix: text(&p["key_prefix"]),
        key_format: text(&p["key_format"]),
        token_lifetime: shown(&p["token_lifetime"]),
        policies: policies["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|q| {
                (
                    text(&q["id"]),
                    text(&q["name"]),
                    p["default_policy_id"] == q["id"],
                )
            })
            .collect(),
        families: FAMILIES
            .iter()
            .map(|(f, label)| (*f, *label, p["compat"][*f].as_bool() == Some(true)))
            .collect(),
    };
    page::render(StatusCode::OK, &t)
}

/// The compatibility families, as forms name and label them.
const FAMILIES: [(&str, &str); 4] = [
    ("faxstore", "FaxStore"),
    ("wemx", "WemX"),
    ("verify", "Verify API"),
    ("licensecm", "LicenseCM"),
];

/// `POST /admin/products/{id}` (`PATCH /v1/products/{id}`): every field of the form.
pub async fn update_product(
    axum::extract::Path(id): axum::extract::Path<String>,
    Posted { d, form }: Posted,
) -> Response {
    let back = format!("/admin/products/{}", page::q(&id));
    let lifetime = match whole(&form, "token_lifetime") {
        Ok(n) => n,
        Err(e) => return page::see_other(&format!("{back}?{}", Flash::refusal(&d, &e))),
    };
    let mut compat = serde_json::Map::new();
    for (f, _) in FAMILIES {
        compat.insert(f.to_owned(), json!(form.ticked(f)));
    }
    let mut body = json!({
        "name": form.get("name").unwrap_or(""),
        "key_prefix": form.get("key_prefix").unwrap_or(""),
        "key_format": form.get("key_format").unwrap_or(""),
        "compat": compat,
    });
    if let Some(n) = lifetime {
        body["token_lifetime"] = json!(n);
    }
    if let Some(p) = form.get("default_policy_id") {
        body["default_policy_id"] = json!(p);
    }
    let result = d
        .send(
            Method::PATCH,
            &format!("/v1/products/{}", page::q(&id)),
            Some(body),
        )
        .await
        .map(|p| format!("Product {} saved.", text(&p["code"])));
    match result {
        Ok(_) => page::see_other(&format!("/admin/products?{}", Flash::of(&d, &result))),
        Err(_) => page::see_other(&format!("{back}?{}", Flash::of(&d, &result))),
    }
}

/// `GET /admin/policies/{id}`: the policy's edit form.
pub async fn edit_policy(
    axum::extract::Path(id): axum::extract::Path<String>,
    d: Desk,
    Query(flash): Query<Flash>,
) -> Response {
    let q = match d.get(&format!("/v1/policies/{}", page::q(&id))).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e),
    };
    let flag = |name: &str| q[name].as_bool() == Some(true);
    let t = templates::PolicyEdit {
        chrome: d.v.chrome("products"),
        notice: flash.notice(&d),
        id: text(&q["id"]),
        product_id: text(&q["product_id"]),
        name: text(&q["name"]),
        max_machines: shown(&q["max_machines"]),
        floating: flag("floating"),
        duration: shown(&q["duration"]),
        heartbeat_interval: shown(&q["heartbeat_interval"]),
        heartbeat_ttl: shown(&q["heartbeat_ttl"]),
        offline_grace: shown(&q["offline_grace"]),
        refresh_after: shown(&q["refresh_after"]),
        entitlements: q["entitlements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        hwid_locked: flag("hwid_locked"),
        require_device_key: flag("require_device_key"),
        offline_lease: shown(&q["offline_lease"]),
        offline_window: shown(&q["offline_window"]),
        max_borrow: shown(&q["max_borrow"]),
    };
    page::render(StatusCode::OK, &t)
}

/// `POST /admin/policies/{id}` (`PATCH /v1/policies/{id}`): every field of the form, an
/// empty optional one unset.
pub async fn update_policy(
    axum::extract::Path(id): axum::extract::Path<String>,
    Posted { d, form }: Posted,
) -> Response {
    let back = format!("/admin/policies/{}", page::q(&id));
    let mut body = json!({
        "name": form.get("name").unwrap_or(""),
        "floating": form.ticked("floating"),
        "hwid_locked": form.ticked("hwid_locked"),
        "require_device_key": form.ticked("require_device_key"),
        "entitlements": form
            .get("entitlements")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect::<Vec<_>>(),
    });
    // Required numbers are sent only when typed (the API keeps what is stored otherwise);
    // optional ones are sent as null when left empty, which unsets them.
    for (name, optional) in [
        ("max_machines", false),
        ("duration", true),
        ("heartbeat_interval", false),
        ("heartbeat_ttl", false),
        ("refresh_after", false),
        ("offline_grace", false),
        ("offline_lease", true),
        ("offline_window", false),
        ("max_borrow", false),
    ] {
        match whole(&form, name) {
            Ok(Some(n)) => body[name] = json!(n),
            Ok(None) if optional => body[name] = Value::Null,
            Ok(None) => {}
            Err(e) => return page::see_other(&format!("{back}?{}", Flash::refusal(&d, &e))),
        }
    }
    let result = d
        .send(
            Method::PATCH,
            &format!("/v1/policies/{}", page::q(&id)),
            Some(body),
        )
        .await
        .map(|p| format!("Policy {} saved.", text(&p["name"])));
    match result {
        Ok(_) => page::see_other(&format!("/admin/products?{}", Flash::of(&d, &result))),
        Err(_) => page::see_other(&format!("{back}?{}", Flash::of(&d, &result))),
    }
}

/// `POST /admin/keys/rotate` (`POST /v1/keys/rotate`), after a confirmation.
pub async fn rotate_keys(Posted { d, form }: Posted) -> Response {
    if form.get("confirm") != Some("yes") {
        return super::confirm(
            &d.v,
            "revocations",
            super::Ask {
                question: "Rotate the token signing key?",
                consequence: "Every product's tokens are signed with a new key from now on. Tokens signed before keep verifying until they expire, but a verifier that only has the old public key built in will not accept new tokens until it has the new one.",
                verb: "Rotate",
                action: "/admin/keys/rotate".to_owned(),
                back: "/admin/revocations".to_owned(),
                fields: Vec::new(),
            },
        );
    }
    let result = d
        .send(Method::POST, "/v1/keys/rotate", Some(json!({})))
        .await
        .map(|k| {
            format!(
                "Rotated: key {} signs from now on (generation {}).",
                text(&k["kid"]),
                text(&k["generation"])
            )
        });
    page::see_other(&format!("/admin/revocations?{}", Flash::of(&d, &result)))
}
