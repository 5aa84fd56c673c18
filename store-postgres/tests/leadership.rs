//! Background work on a shared database runs on one process at a time: the leadership of a task
//! is an advisory lock held by one store's session, and passes on when that store goes away.

use licet_core::store::Durability;
use licet_store_postgres::{Options, PgStore, testing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_leads_a_task_and_another_takes_over_when_it_goes() {
    let (_, config) = testing::schema().await;
    let a = PgStore::open(config.clone(), &Options::default())
        .await
        .expect("a");
    let b = PgStore::open(config, &Options::default()).await.expect("b");
    // The task names are the test's own: the locks are per database, not per schema.
    let (task, other) = (
        format!("outbox-{}", std::process::id()),
        format!("sweep-{}", std::process::id()),
    );
    assert!(
        a.lead(&task).await.expect("a asks"),
        "the first to ask leads"
    );
    assert!(
        !b.lead(&task).await.expect("b asks"),
        "one leader at a time"
    );
    assert!(
        a.lead(&task).await.expect("a again"),
        "a leader stays leader"
    );
    assert!(
        b.lead(&other).await.expect("b, other"),
        "tasks are led apart"
    );
    assert!(!a.lead(&other).await.expect("a, other"));
    drop(a);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if b.lead(&task).await.expect("b asks") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the leadership did not pass on when its store went away"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
