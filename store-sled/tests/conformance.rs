//! licet-core's storage conformance suite, on sled: a fresh database in a temporary directory
//! per check, and two handles (clones of one `Db`) on it.

use std::sync::Arc;

use licet_core::conformance::Fixture;
use licet_store_sled::SledStore;

fn open() -> std::pin::Pin<Box<dyn std::future::Future<Output = Fixture> + Send>> {
    Box::pin(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(&dir.path().join("db")).expect("open");
        Fixture {
            a: Arc::new(store.clone()),
            b: Arc::new(store),
            keep: Box::new(dir),
        }
    })
}

licet_core::conformance_tests!(open);
