//! Machine numbers come from the `machine_numbers` sequence, drawn inside seat operations. A
//! database upgraded from a release that counted machines in `counters` continues from that
//! count, and an instance of that release still running during a rolling upgrade draws from the
//! same sequence: no number is given twice.

use licet_core::store::Durability;
use licet_store_postgres::{Options, PgStore, testing};

/// What a release before the sequence ran to number a machine.
const OLD_RELEASE_DRAW: &str = "INSERT INTO counters (name, value) VALUES ('machine_number', 1) \
     ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value";

async fn raw(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, conn) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_database_continues_the_count_and_an_older_instance_shares_the_sequence() {
    let (_, config) = testing::schema().await;
    let store = PgStore::open(config.clone(), &Options::default())
        .await
        .expect("open");
    drop(store);
    // The database as the release before left it: its migrations only, 41 machines numbered.
    let c = raw(&config).await;
    c.batch_execute(
        "DROP TRIGGER IF EXISTS counters_machine_number ON counters;
         DROP FUNCTION licet_machine_number_from_sequence();
         DROP SEQUENCE machine_numbers;
         DELETE FROM refinery_schema_history WHERE version = 7;
         DELETE FROM counters WHERE name = 'machine_number';
         INSERT INTO counters (name, value) VALUES ('machine_number', 41);",
    )
    .await
    .expect("the older database");

    let store = PgStore::open(config.clone(), &Options::default())
        .await
        .expect("the upgrade");
    let first = store.next_number("machine").await.expect("number");
    assert_eq!(first, 42, "the count continues");
    // An instance of the release before, numbering the old way, gets the sequence's next.
    let old: i64 = c
        .query_one(OLD_RELEASE_DRAW, &[])
        .await
        .expect("the old statement")
        .get(0);
    assert_eq!(old, 43);
    let after = store.next_number("machine").await.expect("number");
    assert_eq!(after, 44, "the older instance's number is not given again");
    // Other sequences keep their counters.
    assert_eq!(store.next_number("license").await.expect("license"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_database_numbers_machines_from_one() {
    let (_, config) = testing::schema().await;
    let store = PgStore::open(config, &Options::default())
        .await
        .expect("open");
    assert_eq!(store.next_number("machine").await.expect("number"), 1);
    assert_eq!(store.next_number("machine").await.expect("number"), 2);
}
