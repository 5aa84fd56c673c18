//! Products and policies are cached by each instance and forgotten when any instance changes
//! one: a change made through one instance is seen by another within
//! `CATALOG_STALE_AT_MOST`, and an instance that loses its listening session stops answering
//! from its cache.

use std::time::{Duration, Instant};

use licet_core::model::{Policy, Product};
use licet_core::store::Catalog;
use licet_store_postgres::{CATALOG_STALE_AT_MOST, Options, PgStore, testing};
use tokio_postgres::NoTls;

fn product(id: &str, name: &str) -> Product {
    serde_json::from_value(serde_json::json!({
        "id": id, "numeric_id": 7, "code": id, "name": name, "key_format": "XXXX-XXXX",
        "key_prefix": "", "default_policy_id": null, "token_lifetime": 86_400, "created_at": 0,
    }))
    .expect("a product")
}

fn policy(id: &str, product_id: &str, max_machines: u32) -> Policy {
    serde_json::from_value(serde_json::json!({
        "id": id, "product_id": product_id, "name": "std", "floating": false,
        "max_machines": max_machines, "duration": null, "heartbeat_interval": 600,
        "heartbeat_ttl": 1800, "offline_grace": 604_800, "refresh_after": 86_400,
        "entitlements": [], "hwid_locked": false, "created_at": 0,
    }))
    .expect("a policy")
}

/// Waits until `s` answers from its cache (its listening session is up).
async fn cached(s: &PgStore) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !s.catalog_cached() {
        assert!(Instant::now() < deadline, "the cache never came up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Changes the product's name behind every instance's back: no announcement, as a change the
/// cache cannot know of. What an instance then answers tells whether it read its cache.
async fn rename_unannounced(config: &tokio_postgres::Config, id: &str, name: &str) {
    let (client, conn) = config.connect(NoTls).await.expect("connect");
    let task = tokio::spawn(conn);
    let n = client
        .execute(
            "UPDATE products SET data = jsonb_set(data, '{name}', to_jsonb($2::text)) WHERE id = $1",
            &[&id, &name],
        )
        .await
        .expect("rename");
    assert_eq!(n, 1, "the product is there");
    drop(client);
    let _ = task.await;
}

async fn name_of(s: &PgStore, id: &str) -> String {
    s.product(&id.into())
        .await
        .expect("read")
        .expect("the product")
        .name
}

async fn seats_of(s: &PgStore, id: &str) -> Option<u32> {
    s.policy(&id.into())
        .await
        .expect("read")
        .map(|p| p.max_machines)
}

/// Shows that `s` answers product `id` from its cache: renamed behind its back, it still
/// answers the name it read. The rename is tried again while a notification of an earlier
/// write may still arrive and clear the cache between the two reads; without a cache, it
/// never holds. The name `s` holds.
async fn held(s: &PgStore, config: &tokio_postgres::Config, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    for round in 0.. {
        let read = name_of(s, id).await;
        rename_unannounced(config, id, &format!("behind {round}")).await;
        if name_of(s, id).await == read {
            return read;
        }
        assert!(
            Instant::now() < deadline,
            "the instance never answered from its cache"
        );
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_instance_is_seen_by_another_within_the_bound() {
    let (_, config) = testing::schema().await;
    let a = PgStore::open(config.clone(), &Options::default())
        .await
        .expect("a");
    let b = PgStore::open(config.clone(), &Options::default())
        .await
        .expect("b");
    cached(&a).await;
    cached(&b).await;
    a.insert_product(&product("prd_c", "first"))
        .await
        .expect("insert");
    a.put_policy(&policy("pol_c", "prd_c", 3))
        .await
        .expect("policy");
    assert_eq!(seats_of(&b, "pol_c").await, Some(3));
    // b answers from its cache: a change nobody announced is not seen.
    held(&b, &config, "prd_c").await;

    // A change through a is seen by b within the bound: the product, and a policy.
    a.update_product(&product("prd_c", "second"))
        .await
        .expect("update");
    a.put_policy(&policy("pol_c", "prd_c", 9))
        .await
        .expect("policy");
    let changed = Instant::now();
    loop {
        let name = name_of(&b, "prd_c").await;
        let seats = seats_of(&b, "pol_c").await;
        if name == "second" && seats == Some(9) {
            break;
        }
        assert!(
            changed.elapsed() < CATALOG_STALE_AT_MOST,
            "b still answered {name:?} and {seats:?} {:?} after the change",
            changed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // a itself sees its own change at once.
    assert_eq!(name_of(&a, "prd_c").await, "second");

    // A deletion through a is seen by b too.
    a.delete_policy("pol_c").await.expect("delete");
    let deleted = Instant::now();
    while b.policy(&"pol_c".into()).await.expect("read").is_some() {
        assert!(
            deleted.elapsed() < CATALOG_STALE_AT_MOST,
            "b still had the deleted policy"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Another schema's changes (another deployment on the same database) do not clear this
/// one's cache, and this one's changes are not taken for another's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_another_schema_leaves_the_cache_alone() {
    let (_, config) = testing::schema().await;
    let (_, elsewhere) = testing::schema().await;
    let b = PgStore::open(config.clone(), &Options::default())
        .await
        .expect("b");
    let other = PgStore::open(elsewhere, &Options::default())
        .await
        .expect("other");
    cached(&b).await;
    b.insert_product(&product("prd_s", "mine"))
        .await
        .expect("insert");
    let mine = held(&b, &config, "prd_s").await;
    other
        .insert_product(&product("prd_s", "theirs"))
        .await
        .expect("insert elsewhere");
    other
        .update_product(&product("prd_s", "theirs, renamed"))
        .await
        .expect("update elsewhere");
    // Long enough for the other schema's notifications to reach b, which has answered a
    // ping since (a ping's answer follows the notifications sent before it).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(name_of(&b, "prd_s").await, mine, "b kept its cache");
    // b's own schema's change does clear it.
    let c = PgStore::open(config.clone(), &Options::default())
        .await
        .expect("c");
    c.put_policy(&policy("pol_s", "prd_s", 1))
        .await
        .expect("announce");
    let announced = Instant::now();
    while name_of(&b, "prd_s").await == mine {
        assert!(
            announced.elapsed() < CATALOG_STALE_AT_MOST,
            "b never forgot on its own schema's change"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(name_of(&other, "prd_s").await, "theirs, renamed");
}

/// The database goes away under an instance and comes back: the cache is off while the
/// listening session is lost, starts empty (a change made meanwhile cannot have been
/// announced to it) and is used again once the session listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listening_session_turns_the_cache_off_until_it_listens_again() {
    let cluster = testing::Cluster::start();
    let config: tokio_postgres::Config = cluster.url().parse().expect("url");
    let options = Options {
        pool_size: 4,
        wait: Duration::from_secs(2),
    };
    let b = PgStore::open(config.clone(), &options).await.expect("b");
    cached(&b).await;
    b.insert_product(&product("prd_l", "first"))
        .await
        .expect("insert");
    held(&b, &config, "prd_l").await;

    cluster.stop();
    let stopped = Instant::now();
    while b.catalog_cached() {
        assert!(
            stopped.elapsed() < CATALOG_STALE_AT_MOST,
            "the cache stayed on without its session"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.resume();
    // Changed while the instance could not have been told.
    rename_unannounced(&config, "prd_l", "while away").await;
    // Until its session listens again, and after, b reads what is stored.
    let mut name = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while name != "while away" {
        assert!(Instant::now() < deadline, "b answered {name:?}");
        name = match b.product(&"prd_l".into()).await {
            Ok(p) => p.expect("the product").name,
            Err(_) => String::new(), // the pool reconnecting
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cached(&b).await;
    assert_eq!(name_of(&b, "prd_l").await, "while away");
    rename_unannounced(&config, "prd_l", "cached again").await;
    assert_eq!(
        name_of(&b, "prd_l").await,
        "while away",
        "the cache is used again once the session listens"
    );
}
