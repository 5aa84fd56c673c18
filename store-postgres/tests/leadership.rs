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

/// A refused connection names the server it tried (host and port), never the password.
#[tokio::test]
async fn a_refused_connection_names_the_host_and_port() {
    // A loopback port just given back: nothing listens there, so the connect is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let url = format!("postgres://licet:hunter2@127.0.0.1:{port}/licet");
    let e = match PgStore::connect(&url, &Options::default()).await {
        Ok(_) => panic!("nothing listens on {port}"),
        Err(e) => e,
    };
    let text = e.to_string();
    assert_eq!(e.code(), "store_unavailable", "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}
