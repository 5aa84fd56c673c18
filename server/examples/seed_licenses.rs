//! Fills a data directory with COUNT licenses, for measuring the server with many of them
//! (`scripts/bench-memory.sh`):
//!
//!   cargo run -p licet-server --release --example seed_licenses -- DATA COUNT
//!
//! Writes through the store's own `insert_licenses` (the same transaction the admin API's bulk
//! create uses), 1,000 at a time: one product (`seed`), one policy, and COUNT licenses with
//! random keys, half of them expiring in a year. Every 1,000th key is written to
//! `DATA/seed-keys.txt` for the load generator. Also makes the server's keys. Prints the seconds
//! the licenses took.

use licet_server::SledStore as Store;
use licet_server::model::{License, Policy, Product};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let data = std::path::PathBuf::from(args.next().expect("usage: seed_licenses DATA COUNT"));
    let count: u64 = args.next().expect("COUNT").parse()?;
    std::fs::create_dir_all(&data)?;
    // The server's keys, made now so that the server's start-up time is not key generation.
    licet_server::keys::ServerKeys::load_or_create(&data)?;
    let store = Store::open(&data.join("db"))?;
    let now = chrono::Utc::now().timestamp();
    let started = std::time::Instant::now();
    let product: Product = serde_json::from_value(json!({
        "id": licet_server::ids::random_id("prd_"), "numeric_id": 900_001, "code": "seed",
        "name": "Seed", "key_format": "XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX", "key_prefix": "SD-",
        "default_policy_id": null, "token_lifetime": 86_400, "created_at": now,
    }))?;
    store
        .insert_product(&product)
        .map_err(|e| anyhow::anyhow!("product: {e}"))?;
    let policy: Policy = serde_json::from_value(json!({
        "id": licet_server::ids::random_id("pol_"), "product_id": product.id, "name": "seed",
        "floating": false, "max_machines": 3, "duration": null, "heartbeat_interval": 600,
        "heartbeat_ttl": 1800, "offline_grace": 604_800, "refresh_after": 86_400,
        "entitlements": ["pro"], "hwid_locked": false, "created_at": now,
    }))?;
    store
        .put_policy(&policy)
        .map_err(|e| anyhow::anyhow!("policy: {e}"))?;
    let mut sample = String::new();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..count {
        let key = licet_server::ids::license_key(&product.key_prefix, &product.key_format);
        if i % 1000 == 0 {
            sample.push_str(&key);
            sample.push('\n');
        }
        let license: License = serde_json::from_value(json!({
            "id": licet_server::ids::random_id("lic_"), "key": key, "product_id": product.id,
            "policy_id": policy.id, "status": "active", "kind": "subscription",
            "expires_at": (i % 2 == 0).then_some(now + 365 * 86_400), "seats": null,
            "domains": [], "entitlements": [], "metadata": { "customer": format!("c{i}") },
            "numeric_id": 1_000_000 + i, "created_at": now, "updated_at": now,
        }))?;
        batch.push(license);
        if batch.len() == 1000 || i + 1 == count {
            store
                .insert_licenses(&batch)
                .map_err(|e| anyhow::anyhow!("licenses: {e}"))?;
            batch.clear();
        }
    }
    store.flush()?;
    std::fs::write(data.join("seed-keys.txt"), sample)?;
    println!("{:.1}", started.elapsed().as_secs_f64());
    Ok(())
}
