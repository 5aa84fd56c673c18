//! licet-core's storage conformance suite, on PostgreSQL: a fresh schema of a real database per
//! check, and two handles on it, each with a pool of its own, as two server instances have.

use std::sync::Arc;

use licet_core::conformance::Fixture;
use licet_store_postgres::{Options, PgStore, testing};

fn open() -> std::pin::Pin<Box<dyn std::future::Future<Output = Fixture> + Send>> {
    Box::pin(async {
        let (_, config) = testing::schema().await;
        let a = PgStore::open(config.clone(), &Options::default())
            .await
            .expect("open a");
        // The second handle runs the migrations again and finds nothing to do.
        let b = PgStore::open(config, &Options::default())
            .await
            .expect("open b");
        Fixture {
            a: Arc::new(a),
            b: Arc::new(b),
            keep: Box::new(()),
        }
    })
}

licet_core::conformance_tests!(open);
