//! The payloads of webhook deliveries: the wire shape of the events every family announces
//! (LicenseCM's shape, which licet's own webhooks share), apart from any family's handlers so
//! that the event stream depends on no route module.

use serde_json::{Value, json};

use licet_core::events::DomainEvent;
use licet_core::model::{Kind, License, SecurityEvent};

/// LicenseCM's timestamps: `2025-01-01T00:00:00Z`, no fractional seconds.
pub fn iso(t: i64) -> Value {
    chrono::DateTime::from_timestamp(t, 0).map_or(Value::Null, |d| {
        json!(d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    })
}

/// Drops `null` members of an object, recursively: LicenseCM clients expect absent fields to be
/// left out rather than sent as null.
pub fn compact(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, compact(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(compact).collect()),
        other => other,
    }
}

pub fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Trial => "trial",
        Kind::Subscription => "subscription",
        Kind::Lifetime => "lifetime",
    }
}

/// What webhooks are told about a license.
pub fn license(l: &License) -> Value {
    compact(json!({
        "license_id": l.id,
        "license_key": l.key,
        "product_id": l.product_id,
        "type": kind_name(l.kind),
        "expires_at": l.expires_at.map(iso),
    }))
}

/// A security event as the API shows it.
pub fn security_event(e: &SecurityEvent) -> Value {
    compact(json!({
        "id": e.seq.to_string(),
        "event_type": e.event_type,
        "severity": e.severity,
        "license_id": e.license_id,
        "product_id": e.product_id,
        "ip_address": e.ip_address,
        "hwid": e.hwid,
        "is_blocked": e.is_blocked,
        "details": e.details,
        "created_at": iso(e.created_at),
    }))
}

/// What webhooks are told of an event: the license (with the machine's fingerprint as `hwid`
/// for seat events, LicenseCM's shape) or the security event.
pub fn event(e: &DomainEvent) -> Value {
    match e {
        DomainEvent::LicenseActivated {
            license: l,
            machine,
        }
        | DomainEvent::LicenseDeactivated {
            license: l,
            machine,
        } => {
            json!({ "license": license(l), "hwid": machine.fingerprint })
        }
        DomainEvent::SecurityAlert(s) | DomainEvent::SecurityBlocked(s) => security_event(s),
        other => other.license().map_or(Value::Null, license),
    }
}
