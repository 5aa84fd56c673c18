//! Claims and headers as JSON, for `--json` output and `inspect`.

use licet_verifier::cose::ProtectedHeader;
use licet_verifier::{Claims, MetaValue};
use serde_json::{Map, Value, json};

use crate::time;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn header(h: &ProtectedHeader<'_>) -> Value {
    json!({
        "alg": h.alg,
        "alg_name": h.algorithm().map(|a| a.name()).unwrap_or("unsupported"),
        "kid": hex(h.kid),
        "typ": h.typ,
    })
}

pub fn claims(c: &Claims<'_>) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_owned(), v);
        }
    };
    put("iss", json!(c.issuer));
    put("sub", json!(c.subject));
    put("aud", json!(c.audience));
    put("iat", json!(c.issued_at));
    put("iat_utc", json!(time::display(c.issued_at)));
    put("nbf", json!(c.not_before));
    put("exp", json!(c.expires_at));
    put("exp_utc", json!(c.expires_at.map(time::display)));
    put("token_id", json!(hex(&c.token_id)));
    put("product", json!(c.product));
    put("license_id", json!(c.license_id));
    put("hwid", json!(c.hwid.map(|h| hex(&h))));
    put(
        "hwid_parts",
        json!(c.hwid_parts.map(|p| json!({
            "k": p.threshold(),
            "parts": p.parts().iter().map(|x| hex(x)).collect::<Vec<_>>(),
        }))),
    );
    if !c.domains.is_empty() {
        put("domains", json!(c.domains.iter().collect::<Vec<_>>()));
    }
    if !c.entitlements.is_empty() {
        put(
            "entitlements",
            json!(c.entitlements.iter().collect::<Vec<_>>()),
        );
    }
    put("kind", json!(c.kind.map(|k| k.as_str())));
    put("seats", json!(c.seats));
    put("offline_grace", json!(c.offline_grace));
    put("refresh_after", json!(c.refresh_after));
    if !c.metadata.is_empty() {
        let meta: Map<String, Value> = c
            .metadata
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    MetaValue::Text(t) => json!(t),
                    MetaValue::Int(i) => json!(i),
                    MetaValue::Bool(b) => json!(b),
                    _ => Value::Null,
                };
                (k.to_owned(), v)
            })
            .collect();
        put("metadata", Value::Object(meta));
    }
    Value::Object(m)
}
