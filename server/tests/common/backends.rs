//! The stores the HTTP suite runs on. A test binary picks one as its `crate::backend`.

use std::sync::Arc;

use licet_server::store::Store;

/// The embedded sled store, in a temporary directory.
pub mod sled {
    use super::*;

    /// A new, empty store.
    pub async fn store() -> Arc<dyn Store> {
        Arc::new(licet_server::SledStore::temporary().expect("sled store"))
    }

    /// A place a store can be opened at again, as a restarted server opens it.
    pub struct Place(tempfile::TempDir);

    impl Place {
        pub async fn new() -> Place {
            Place(tempfile::tempdir().expect("tmp"))
        }

        /// The store at this place (the one opened before must be dropped: sled allows one
        /// process, and one open database, per directory).
        pub async fn open(&self) -> Arc<dyn Store> {
            Arc::new(licet_server::SledStore::open(&self.0.path().join("db")).expect("sled store"))
        }
    }
}

/// PostgreSQL: a fresh schema of the test database per store (see
/// `licet_store_postgres::testing`: `LICET_TEST_DATABASE_URL`, or a PostgreSQL the tests start).
pub mod postgres {
    use super::*;
    use licet_store_postgres::{Options, PgStore};

    /// Small pools (the suite runs tests side by side on one database), with a wait long enough
    /// that a busy test machine is not a 503.
    fn options() -> Options {
        Options {
            pool_size: 8,
            wait: std::time::Duration::from_secs(30),
        }
    }

    /// A new, empty store.
    pub async fn store() -> Arc<dyn Store> {
        Place::new().await.open().await
    }

    /// A schema a store can be opened on again, as a restarted server opens it.
    pub struct Place(licet_store_postgres::Config);

    impl Place {
        pub async fn new() -> Place {
            Place(licet_store_postgres::testing::schema().await.1)
        }

        pub async fn open(&self) -> Arc<dyn Store> {
            Arc::new(
                PgStore::open(self.0.clone(), &options())
                    .await
                    .expect("postgres store"),
            )
        }
    }
}
