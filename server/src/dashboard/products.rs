//! Products and policies, and the signing keys with the revocation list.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;

use super::desk::{Desk, Posted, Refusal};
use super::page::{self, when};
use super::templates::{self, KeyRow, PolicyRow, ProductRow};
use super::{Flash, refusal_page};
use crate::app::{catalog, credentials};
use licet_api::answers::{FamiliesBody, PolicyBody};
use licet_api::requests::{
    CreatePolicy, CreateProduct, FamiliesChange, PolicyChange, UpdateProduct,
};

fn seconds(v: Option<u64>) -> String {
    match v {
        None => "—".into(),
        Some(s) if s % 86_400 == 0 => format!("{} d", s / 86_400),
        Some(s) if s % 3600 == 0 => format!("{} h", s / 3600),
        Some(s) => format!("{s} s"),
    }
}

/// The families a product answers through, by the names forms give them.
fn answers(c: &FamiliesBody, family: &str) -> bool {
    match family {
        "faxstore" => c.faxstore,
        "wemx" => c.wemx,
        "verify" => c.verify,
        "licensecm" => c.licensecm,
        _ => false,
    }
}

fn policy_row(q: &PolicyBody, default: bool) -> PolicyRow {
    PolicyRow {
        id: q.id.clone(),
        name: q.name.clone(),
        seats: format!(
            "{}{}",
            q.max_machines,
            if q.floating { " floating" } else { "" }
        ),
        offline: format!(
            "lease {}, window {}, borrow {}{}",
            match q.offline_lease {
                Some(l) => seconds(Some(l)),
                None => "= token lifetime".into(),
            },
            seconds(Some(q.offline_window)),
            match q.max_borrow {
                0 => "off".into(),
                b => seconds(Some(b)),
            },
            if q.require_device_key {
                ", device key required"
            } else {
                ""
            }
        ),
        default,
    }
}

/// `GET /admin/products`.
pub async fn list(d: Desk, Query(flash): Query<Flash>) -> Response {
    let v = &d.v;
    let products = match catalog::products(&d.s, d.caller()).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e.into()),
    };
    let policies = match catalog::policies(&d.s, d.caller(), None).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e.into()),
    };
    let rows = products
        .into_iter()
        .map(|p| {
            let families: Vec<&str> = ["faxstore", "wemx", "verify", "licensecm"]
                .into_iter()
                .filter(|f| answers(&p.compat, f))
                .collect();
            ProductRow {
                lifetime: seconds(Some(p.token_lifetime)),
                families: if families.is_empty() {
                    "licet's own API only".into()
                } else {
                    format!("licet and {}", families.join(", "))
                },
                policies: policies
                    .iter()
                    .filter(|q| q.product_id == p.id)
                    .map(|q| policy_row(q, p.default_policy_id.as_deref() == Some(&q.id)))
                    .collect(),
                code: p.code,
                name: p.name,
                id: p.id,
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

/// The families as the form ticked them.
fn families_of(form: &page::Form) -> FamiliesChange {
    FamiliesChange {
        faxstore: Some(form.ticked("faxstore")),
        wemx: Some(form.ticked("wemx")),
        verify: Some(form.ticked("verify")),
        licensecm: Some(form.ticked("licensecm")),
    }
}

/// `POST /admin/products`.
pub async fn create_product(Posted { d, form }: Posted) -> Response {
    let mut new = CreateProduct::of(
        form.get("code").unwrap_or(""),
        form.get("name").unwrap_or(""),
    );
    new.compat = Some(families_of(&form));
    let result = catalog::create_product(&d.s, d.caller(), d.ip, new)
        .await
        .map(|p| format!("Product {} created: add a policy next.", p.code))
        .map_err(Refusal::from);
    page::see_other(&format!("/admin/products?{}", Flash::of(&d, &result)))
}

/// A number for a field whose type is narrower than what was typed.
fn narrow(name: &str, n: Option<u64>) -> Result<Option<u32>, String> {
    n.map(|n| u32::try_from(n).map_err(|_| format!("{name}: a whole number (invalid_field)")))
        .transpose()
}

/// `POST /admin/policies`.
pub async fn create_policy(Posted { d, form }: Posted) -> Response {
    let fields = (
        whole(&form, "max_machines").and_then(|n| narrow("max_machines", n)),
        whole(&form, "offline_lease"),
        whole(&form, "max_borrow"),
    );
    let (max_machines, offline_lease, max_borrow) = match fields {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return page::see_other(&format!("/admin/products?{}", Flash::refusal(&d, &e)));
        }
    };
    let mut new = CreatePolicy::of(
        form.get("product_id").unwrap_or(""),
        form.get("name").unwrap_or(""),
    );
    new.floating = form.ticked("floating");
    new.require_device_key = form.ticked("require_device_key");
    new.default = form.ticked("default");
    new.max_borrow = max_borrow.unwrap_or(0);
    if let Some(n) = max_machines {
        new.max_machines = n;
    }
    new.offline_lease = offline_lease;
    let result = catalog::create_policy(&d.s, d.caller(), d.ip, new)
        .await
        .map(|p| format!("Policy {} added.", p.name))
        .map_err(Refusal::from);
    page::see_other(&format!("/admin/products?{}", Flash::of(&d, &result)))
}

/// `GET /admin/revocations`: the current list and the signing keys.
pub async fn revocations(d: Desk, Query(flash): Query<Flash>) -> Response {
    let (s, v) = (&d.s, &d.v);
    let now = s.clock.now();
    let list = match s.revocations.current_body().await {
        Ok(l) => l,
        Err(e) => return refusal_page(&e.into()),
    };
    let size = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&list.list)
            .map_or(0, |v| v.len())
    };
    let t = templates::Revocations {
        chrome: v.chrome("revocations"),
        notice: flash.notice(&d),
        sequence: list.sequence.to_string(),
        size,
        licenses: list.revoked_licenses,
        tokens: list.revoked_tokens,
        issued: when(list.issued_at, now),
        next_update: when(list.next_update, now),
        keys: s
            .tokens
            .key_set()
            .keys
            .into_iter()
            .map(|k| KeyRow {
                until: k.valid_until.map_or_else(|| "—".into(), |t| when(t, now)),
                kid: k.kid,
                alg: k.alg,
                use_: k.purpose,
                status: k.status,
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
fn shown<N: ToString>(v: Option<N>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// `GET /admin/products/{id}`: the product's edit form.
pub async fn edit_product(
    axum::extract::Path(id): axum::extract::Path<String>,
    d: Desk,
    Query(flash): Query<Flash>,
) -> Response {
    let p = match catalog::product(&d.s, d.caller(), &id).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e.into()),
    };
    let policies = match catalog::policies(&d.s, d.caller(), Some(&id)).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e.into()),
    };
    let t = templates::ProductEdit {
        chrome: d.v.chrome("products"),
        notice: flash.notice(&d),
        token_lifetime: shown(Some(p.token_lifetime)),
        policies: policies
            .into_iter()
            .map(|q| {
                let default = p.default_policy_id.as_deref() == Some(&q.id);
                (q.id, q.name, default)
            })
            .collect(),
        families: FAMILIES
            .iter()
            .map(|(f, label)| (*f, *label, answers(&p.compat, f)))
            .collect(),
        id: p.id,
        code: p.code,
        name: p.name,
        key_prefix: p.key_prefix,
        key_format: p.key_format,
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

/// `POST /admin/products/{id}`: every field of the form.
pub async fn update_product(
    axum::extract::Path(id): axum::extract::Path<String>,
    Posted { d, form }: Posted,
) -> Response {
    let back = format!("/admin/products/{}", page::q(&id));
    let lifetime = match whole(&form, "token_lifetime") {
        Ok(n) => n,
        Err(e) => return page::see_other(&format!("{back}?{}", Flash::refusal(&d, &e))),
    };
    let change = UpdateProduct {
        name: Some(form.get("name").unwrap_or("").to_owned()),
        key_prefix: Some(form.get("key_prefix").unwrap_or("").to_owned()),
        key_format: Some(form.get("key_format").unwrap_or("").to_owned()),
        token_lifetime: lifetime,
        default_policy_id: form.get("default_policy_id").map(str::to_owned),
        compat: Some(families_of(&form)),
    };
    let result = catalog::update_product(&d.s, d.caller(), d.ip, &id, change)
        .await
        .map(|p| format!("Product {} saved.", p.code))
        .map_err(Refusal::from);
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
    let q = match catalog::policy(&d.s, d.caller(), &id).await {
        Ok(p) => p,
        Err(e) => return refusal_page(&e.into()),
    };
    let t = templates::PolicyEdit {
        chrome: d.v.chrome("products"),
        notice: flash.notice(&d),
        max_machines: shown(Some(q.max_machines)),
        floating: q.floating,
        duration: shown(q.duration),
        heartbeat_interval: shown(Some(q.heartbeat_interval)),
        heartbeat_ttl: shown(Some(q.heartbeat_ttl)),
        offline_grace: shown(Some(q.offline_grace)),
        refresh_after: shown(Some(q.refresh_after)),
        entitlements: q.entitlements.join(", "),
        hwid_locked: q.hwid_locked,
        require_device_key: q.require_device_key,
        offline_lease: shown(q.offline_lease),
        offline_window: shown(Some(q.offline_window)),
        max_borrow: shown(Some(q.max_borrow)),
        id: q.id,
        product_id: q.product_id,
        name: q.name,
    };
    page::render(StatusCode::OK, &t)
}

/// `POST /admin/policies/{id}`: every field of the form; a required number left empty keeps
/// what is stored, an optional one left empty is unset.
pub async fn update_policy(
    axum::extract::Path(id): axum::extract::Path<String>,
    Posted { d, form }: Posted,
) -> Response {
    let back = format!("/admin/policies/{}", page::q(&id));
    let refuse = |e: String| page::see_other(&format!("{back}?{}", Flash::refusal(&d, &e)));
    let mut change = PolicyChange {
        name: Some(form.get("name").unwrap_or("").to_owned()),
        floating: Some(form.ticked("floating")),
        hwid_locked: Some(form.ticked("hwid_locked")),
        require_device_key: Some(form.ticked("require_device_key")),
        entitlements: Some(
            form.get("entitlements")
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        ..PolicyChange::default()
    };
    let numbers = (|| -> Result<(), String> {
        change.max_machines = narrow("max_machines", whole(&form, "max_machines")?)?;
        change.duration = Some(whole(&form, "duration")?);
        change.heartbeat_interval = whole(&form, "heartbeat_interval")?;
        change.heartbeat_ttl = whole(&form, "heartbeat_ttl")?;
        change.refresh_after = whole(&form, "refresh_after")?;
        change.offline_grace = whole(&form, "offline_grace")?;
        change.offline_lease = Some(whole(&form, "offline_lease")?);
        change.offline_window = whole(&form, "offline_window")?;
        change.max_borrow = whole(&form, "max_borrow")?;
        Ok(())
    })();
    if let Err(e) = numbers {
        return refuse(e);
    }
    let result = catalog::update_policy(&d.s, d.caller(), d.ip, &id, change)
        .await
        .map(|p| format!("Policy {} saved.", p.name))
        .map_err(Refusal::from);
    match result {
        Ok(_) => page::see_other(&format!("/admin/products?{}", Flash::of(&d, &result))),
        Err(_) => page::see_other(&format!("{back}?{}", Flash::of(&d, &result))),
    }
}

/// `POST /admin/keys/rotate`, after a confirmation.
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
    let result = credentials::rotate_signing_key(&d.s, d.caller(), d.ip)
        .await
        .map(|k| {
            format!(
                "Rotated: key {} signs from now on (generation {}).",
                k.kid, k.generation
            )
        })
        .map_err(Refusal::from);
    page::see_other(&format!("/admin/revocations?{}", Flash::of(&d, &result)))
}
