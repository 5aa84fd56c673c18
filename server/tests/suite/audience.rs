//! Who hears what: for every kind of webhook owner (an unrestricted API key, a product-limited
//! one, a LicenseCM user, LicenseCM admins with and without granted products, a disabled admin)
//! and every event kind, the deliveries an event makes go to exactly the webhooks whose owner
//! reaches the event's product.

use std::collections::BTreeSet;

use licet_core::events::{DomainEvent, EVENT_NAMES};
use licet_server::model::{
    License, Machine, Product, Role, SecurityEvent, Severity, User, Webhook,
};
use serde_json::{Value, json};

use crate::common::{T0, TestApp};

async fn user(app: &TestApp, id: &str, role: Role, active: bool, granted: &[&str]) {
    let u = User {
        id: id.into(),
        email: format!("{id}@example.com"),
        display_name: id.into(),
        password_hash: String::new(),
        role,
        is_active: active,
        created_at: T0,
        granted_products: granted.iter().map(|g| (*g).into()).collect(),
    };
    app.state.store.insert_user(&u).await.expect("user");
}

async fn product(app: &TestApp, id: &str, owner: Option<&str>) {
    let n = app.state.store.next_product_number().await.expect("n");
    let p: Product = serde_json::from_value(json!({
        "id": id, "numeric_id": n, "code": id, "name": id, "key_format": "XXXX",
        "key_prefix": "", "default_policy_id": null, "token_lifetime": 60,
        "owner_id": owner, "created_at": T0,
    }))
    .expect("product");
    app.state.store.insert_product(&p).await.expect("insert");
}

async fn hook(app: &TestApp, id: &str, owner: &str, api: bool, product: Option<&str>) {
    let w = Webhook {
        id: id.into(),
        owner_id: owner.into(),
        url: "https://hooks.example.com/".into(),
        events: vec!["*".into()],
        sealed_secret: String::new(),
        is_active: true,
        created_at: T0,
        api,
        product_id: product.map(str::to_owned).map(Into::into),
    };
    app.state.store.put_webhook(&w).await.expect("hook");
}

fn license(product: &str) -> License {
    serde_json::from_value(json!({
        "id": "lic_x", "key": "K", "product_id": product, "policy_id": "pol",
        "status": "active", "kind": "lifetime", "expires_at": null, "seats": null,
        "domains": [], "entitlements": [], "metadata": {}, "numeric_id": 0,
        "created_at": T0, "updated_at": T0,
    }))
    .expect("license")
}

fn security(product: Option<&str>) -> SecurityEvent {
    SecurityEvent {
        seq: 0,
        event_type: "hwid_mismatch".into(),
        severity: Severity::High,
        license_id: product.map(|_| "lic_x".to_owned()).map(Into::into),
        product_id: product.map(str::to_owned).map(Into::into),
        ip_address: None,
        hwid: Some("hw".into()),
        is_blocked: true,
        details: Value::Null,
        created_at: T0,
    }
}

/// Every event kind about `product` (the security ones may name none).
fn events(product: Option<&str>) -> Vec<DomainEvent> {
    let mut out = vec![
        DomainEvent::SecurityAlert(security(product)),
        DomainEvent::SecurityBlocked(security(product)),
    ];
    if let Some(p) = product {
        let l = license(p);
        let m = Machine::new("mch_x".into(), "lic_x", "fp", 1, T0);
        out.extend([
            DomainEvent::LicenseCreated(l.clone()),
            DomainEvent::LicenseActivated {
                license: l.clone(),
                machine: m.clone(),
            },
            DomainEvent::LicenseDeactivated {
                license: l.clone(),
                machine: m,
            },
            DomainEvent::LicenseExpired(l.clone()),
            DomainEvent::LicenseSuspended(l.clone()),
            DomainEvent::LicenseReinstated(l.clone()),
            DomainEvent::LicenseRenewed(l.clone()),
            DomainEvent::LicenseRevoked(l.clone()),
            DomainEvent::LicenseDeleted(l),
        ]);
    }
    out
}

#[tokio::test]
async fn every_owner_hears_exactly_the_products_it_reaches() {
    let app = TestApp::new().await;
    user(&app, "u1", Role::User, true, &[]).await;
    user(&app, "u2", Role::User, true, &[]).await;
    user(&app, "adm", Role::Admin, true, &[]).await;
    user(&app, "adm_granted", Role::Admin, true, &["op1"]).await;
    user(&app, "adm_off", Role::Admin, false, &["op1"]).await;
    for (p, owner) in [
        ("op1", None),
        ("op2", None),
        ("p_u1", Some("u1")),
        ("p_u2", Some("u2")),
    ] {
        product(&app, p, owner).await;
    }
    hook(&app, "api_all", "key_all", true, None).await;
    hook(&app, "api_op1", "key_op1", true, Some("op1")).await;
    hook(&app, "lcm_u1", "u1", false, None).await;
    hook(&app, "lcm_adm", "adm", false, None).await;
    hook(&app, "lcm_adm_granted", "adm_granted", false, None).await;
    hook(&app, "lcm_adm_off", "adm_off", false, None).await;

    // What each owner reaches: `None` is an event that names no product.
    let reaches = |hook: &str, p: Option<&str>| match hook {
        "api_all" => true,
        "api_op1" => p == Some("op1"),
        "lcm_u1" => p == Some("p_u1"),
        "lcm_adm" => matches!(p, Some("p_u1" | "p_u2")),
        "lcm_adm_granted" => matches!(p, Some("p_u1" | "p_u2" | "op1")),
        _ => false,
    };
    let hooks = [
        "api_all",
        "api_op1",
        "lcm_u1",
        "lcm_adm",
        "lcm_adm_granted",
        "lcm_adm_off",
    ];
    let mut kinds = BTreeSet::new();
    for p in [Some("op1"), Some("op2"), Some("p_u1"), Some("p_u2"), None] {
        for event in events(p) {
            kinds.insert(event.name());
            let record = app
                .state
                .journal
                .tell(&event, Vec::new())
                .await
                .expect("tell");
            let heard: BTreeSet<&str> = record
                .deliveries
                .iter()
                .map(|d| d.webhook_id.as_str())
                .collect();
            let expected: BTreeSet<&str> =
                hooks.iter().copied().filter(|h| reaches(h, p)).collect();
            assert_eq!(heard, expected, "{} of {p:?}", event.name());
        }
    }
    assert_eq!(
        kinds,
        EVENT_NAMES.iter().copied().collect(),
        "every event kind"
    );
}
