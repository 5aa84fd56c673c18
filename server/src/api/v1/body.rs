//! The native API's answers about stored objects: `licet_api::answers`, made from the
//! records (`licet_core::model`) by the conversions of licet-api's `core` feature. The test
//! below pins their wire format with literal answers.

pub use licet_api::answers::*;

#[cfg(test)]
mod tests {
    use super::*;
    use licet_core::model::{License, Machine, Product};

    /// The bodies say what the API said when it answered with the records themselves (the
    /// wire format the OpenAPI document and the clients know), and never a product's secret.
    /// Literal answers, not the records' serialization: a stored field may now change.
    #[test]
    fn bodies_keep_the_api_s_wire_format() {
        let p: Product = serde_json::from_value(serde_json::json!({
            "id": "prd_1", "numeric_id": 7, "code": "app", "name": "App", "key_format": "XXXX",
            "key_prefix": "A-", "default_policy_id": null, "token_lifetime": 60,
            "owner_id": "u_1", "created_at": 5, "sealed_secret": "sealed",
        }))
        .expect("product");
        assert_eq!(
            serde_json::to_value(ProductBody::from(&p)).expect("json"),
            serde_json::json!({
                "id": "prd_1", "numeric_id": 7, "code": "app", "name": "App",
                "key_format": "XXXX", "key_prefix": "A-", "default_policy_id": null,
                "token_lifetime": 60, "is_active": true, "owner_id": "u_1", "block_vm": false,
                "block_debug": false, "created_at": 5,
                "compat": { "faxstore": true, "wemx": true, "verify": true, "licensecm": true },
            })
        );
        let l: License = serde_json::from_value(serde_json::json!({
            "id": "lic_1", "key": "K", "product_id": "prd_1", "policy_id": "pol_1",
            "status": "active", "kind": "subscription", "expires_at": 10, "seats": 2,
            "domains": ["a.example"], "entitlements": ["pro"], "metadata": {"x": 1},
            "numeric_id": 3, "order_id": 4, "created_at": 1, "updated_at": 2,
        }))
        .expect("license");
        assert_eq!(
            serde_json::to_value(LicenseBody::of(&l, 11)).expect("json"),
            serde_json::json!({
                "id": "lic_1", "key": "K", "product_id": "prd_1", "policy_id": "pol_1",
                "status": "expired", "kind": "subscription", "expires_at": 10, "seats": 2,
                "domains": ["a.example"], "entitlements": ["pro"], "metadata": {"x": 1},
                "ip": null, "product_name": null, "owner_active": true, "numeric_id": 3,
                "order_id": 4, "created_at": 1, "updated_at": 2,
            }),
            "the status as of the answer"
        );
        let m: Machine = serde_json::from_value(serde_json::json!({
            "id": "mch_1", "license_id": "lic_1", "fingerprint": "domain:a.example",
            "hostname": "a.example", "platform": null, "ip": "203.0.113.1", "first_seen": 1,
            "last_seen": 2, "last_heartbeat": 2, "token_id": "", "numeric_id": 9,
            "domain_type": "production", "parts": ["00"],
        }))
        .expect("machine");
        assert_eq!(
            serde_json::to_value(MachineBody::from(&m)).expect("json"),
            serde_json::json!({
                "id": "mch_1", "license_id": "lic_1", "fingerprint": "domain:a.example",
                "hostname": "a.example", "platform": null, "ip": "203.0.113.1",
                "first_seen": 1, "last_seen": 2, "last_heartbeat": 2, "token_id": "",
                "numeric_id": 9, "domain_type": "production", "parts": ["00"],
            })
        );
    }
}
