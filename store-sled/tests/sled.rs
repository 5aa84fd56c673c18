//! The store's own guarantees, on a real sled database in a temporary directory.

use licet_core::model::AuditEvent;
use licet_core::store::Audit;
use licet_store_sled::SledStore as Store;

fn event(n: u64) -> AuditEvent {
    AuditEvent {
        seq: 0,
        at: 1_800_000_000 + i64::try_from(n).expect("small"),
        actor: "server".into(),
        action: "test.event".into(),
        subject: format!("subject-{}", n % 2),
        ip: None,
        detail: serde_json::json!({ "n": n }),
        product_id: None,
    }
}

/// Opens the store at `path`. sled releases its file lock when its I/O threads let go of the
/// database, which can be a moment after the last handle is dropped; wait for that.
fn reopen(path: &std::path::Path) -> Store {
    let mut last = None;
    for _ in 0..100 {
        match Store::open(path) {
            Ok(s) => return s,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("cannot reopen the store: {last:?}");
}

/// The database at `path` opened with sled itself, as an older server or a crash left it (once
/// the store's handle has let go of it).
fn raw_db(path: &std::path::Path) -> sled::Db {
    (0..100)
        .find_map(|_| {
            sled::open(path)
                .map_err(|_| std::thread::sleep(std::time::Duration::from_millis(50)))
                .ok()
        })
        .expect("sled")
}

/// Audit sequence numbers increase and are never reused across restarts, although they are
/// handed out from reserved blocks; the log reads back in order, and by subject.
#[tokio::test]
async fn sequences_survive_restarts_without_reuse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let mut seen = Vec::new();
    for round in 0..3u64 {
        let store = reopen(&path);
        for i in 0..5 {
            // Through the trait: durable when it returns.
            seen.push(
                Audit::append_audit(&store, event(round * 10 + i))
                    .await
                    .expect("append"),
            );
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "increasing across restarts: {seen:?}"
    );
    let store = reopen(&path);
    let page = licet_core::store::PageRequest {
        after: None,
        limit: 100,
    };
    let all = store
        .audit(&licet_core::store::AuditFilter::default(), &page)
        .expect("audit");
    let seqs: Vec<u64> = all.items.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, seen, "every entry, in order");
    let details: Vec<u64> = all
        .items
        .iter()
        .map(|e| e.detail["n"].as_u64().expect("n"))
        .collect();
    assert_eq!(
        details,
        [0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24]
    );
    let (odd, total) = store.audit_of("subject-1", 0, 100).expect("by subject");
    assert_eq!(total, 6);
    assert!(odd.iter().all(|e| e.subject == "subject-1"));
}

/// Group commit never strands a committer: in bursts of concurrent writes, each durable when it
/// returns, every one of them returns (a lost wake-up left the last waiter of a burst asleep
/// until some later commit).
/// The timeout only detects a hang; it says nothing about speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_concurrent_commit_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("db")).expect("open");
    for round in 0..300u64 {
        let tasks: Vec<_> = (0..8u64)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    Audit::append_audit(&store, event(round * 8 + i))
                        .await
                        .map(|_| ())
                })
            })
            .collect();
        let all = futures_join(tasks);
        match tokio::time::timeout(std::time::Duration::from_secs(60), all).await {
            Ok(results) => assert!(results.iter().all(Result::is_ok), "round {round}"),
            Err(_) => panic!("a commit of round {round} never returned"),
        }
    }
    assert!(store.flush_count() >= 300, "every burst was flushed");
}

async fn futures_join(
    tasks: Vec<tokio::task::JoinHandle<licet_core::StoreResult<()>>>,
) -> Vec<licet_core::StoreResult<()>> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

fn machine(license: &str, fp: &str, n: u64) -> licet_core::model::Machine {
    serde_json::from_value(serde_json::json!({
        "id": format!("mch_{fp}"), "license_id": license, "fingerprint": fp,
        "hostname": null, "platform": null, "ip": null, "first_seen": 0, "last_seen": 0,
        "last_heartbeat": 0, "token_id": "", "numeric_id": n,
    }))
    .expect("machine")
}

/// Machine writes are not transactions, so a crash can leave a license's seat count ahead of
/// its machines; a store opened after a crash recounts, one opened after `close` trusts the
/// counts. The crash is made by editing the count with sled itself between two opens.
#[tokio::test]
async fn seat_counts_are_recounted_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let set_count = |n: u64| {
        let db = raw_db(&path);
        db.open_tree("machine_counts")
            .expect("tree")
            .insert("lic_a", &n.to_be_bytes())
            .expect("insert");
        db.flush().expect("flush");
    };
    {
        let store = reopen(&path);
        for (i, fp) in ["one", "two", "three"].iter().enumerate() {
            store
                .put_machine(&machine("lic_a", fp, i as u64))
                .expect("put");
        }
        store
            .remove_machine(&machine("lic_a", "two", 1))
            .expect("remove");
        assert_eq!(store.machine_count("lic_a").expect("count"), 2);
        store.close().expect("close");
    }
    // A clean shutdown: the count is trusted as stored.
    set_count(7);
    assert_eq!(reopen(&path).machine_count("lic_a").expect("count"), 7);
    // No `close` this time (a crash): the count is rebuilt from the machines.
    set_count(7);
    let store = reopen(&path);
    assert_eq!(store.machine_count("lic_a").expect("count"), 2);
    assert_eq!(store.machines("lic_a").expect("machines").len(), 2);
}

/// A key's usage count is taken without a flush (every keyed request counts, reads too), and
/// `settle` flushes exactly when such a count may not be on the disk yet: once after counts,
/// not again with nothing new, and after the next count again.
#[tokio::test]
async fn usage_counts_wait_for_settle_not_for_a_flush_of_their_own() {
    use licet_core::store::{Durability, Identity};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("db")).expect("open");
    let before = store.flush_count();
    for n in 1..=5 {
        assert_eq!(
            Identity::count_usage(&store, "key-a", 7)
                .await
                .expect("count"),
            n
        );
    }
    assert_eq!(store.flush_count(), before, "counting flushed");
    Durability::settle(&store).await.expect("settle");
    assert_eq!(
        store.flush_count(),
        before + 1,
        "settle did not flush the counts"
    );
    Durability::settle(&store).await.expect("settle");
    assert_eq!(
        store.flush_count(),
        before + 1,
        "settle flushed with nothing new"
    );
    Identity::count_usage(&store, "key-a", 7)
        .await
        .expect("count");
    Durability::settle(&store).await.expect("settle");
    assert_eq!(store.flush_count(), before + 2);
    assert_eq!(
        Identity::usage(&store, "key-a").await.expect("usage"),
        vec![(7, 6)]
    );
}

/// A database written before licenses kept their rows in front holds each license as its
/// JSON alone. Such a license reads as before, and the store rewrites it once, when opened,
/// into the format whose row a list page reads alone: the rows then say what the licenses say.
#[tokio::test]
async fn licenses_stored_without_rows_are_read_and_rewritten_once() {
    use licet_core::model::{License, LicenseRow};
    use licet_core::store::{LicenseFilter, PageRequest};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let license = |id: &str, status: &str| -> License {
        serde_json::from_value(serde_json::json!({
            "id": id, "key": format!("KEY-{id}"), "product_id": "prd_a",
            "policy_id": "pol_a", "status": status, "kind": "lifetime", "expires_at": null,
            "seats": null, "domains": [], "entitlements": [], "metadata": {"plan": "gold"},
            "numeric_id": 1, "created_at": 5, "updated_at": 5,
        }))
        .expect("license")
    };
    let old = [license("lic_a", "active"), license("lic_b", "suspended")];
    let raw = || raw_db(&path);
    {
        reopen(&path).close().expect("close");
    }
    {
        // As an older server left it: JSON values, and no marker of the rewrite.
        let db = raw();
        let licenses = db.open_tree("licenses").expect("tree");
        for l in &old {
            licenses
                .insert(l.id.as_bytes(), serde_json::to_vec(l).expect("json"))
                .expect("insert");
        }
        db.open_tree("meta")
            .expect("meta")
            .remove("license_rows_v1")
            .expect("remove");
        db.flush().expect("flush");
    }
    {
        let store = reopen(&path);
        assert_eq!(store.license("lic_b").expect("read"), Some(old[1].clone()));
        let rows = store
            .license_rows(
                &LicenseFilter::default(),
                &PageRequest {
                    after: None,
                    limit: 10,
                },
            )
            .expect("rows");
        assert_eq!(
            rows.items,
            old.iter().map(LicenseRow::of).collect::<Vec<_>>()
        );
        store.close().expect("close");
    }
    let db = raw();
    let licenses = db.open_tree("licenses").expect("tree");
    for l in &old {
        let v = licenses.get(l.id.as_bytes()).expect("get").expect("stored");
        assert_ne!(
            v.first(),
            Some(&b'{'),
            "{} was rewritten with its row",
            l.id
        );
    }
}

/// A database written before machines were indexed by seat end and parts gets both indexes
/// built once when it is opened, and a stale entry (what a crash between a machine's writes
/// leaves) is checked against the machine and skipped.
#[tokio::test]
async fn seat_indexes_are_built_for_an_older_database_and_stale_entries_skipped() {
    use licet_core::seats::{SeatRule, part_hex};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let floating = SeatRule {
        max: 1,
        floating: true,
        heartbeat_ttl: 60,
        bound_to_first: false,
    };
    let parts: Vec<[u8; 8]> = (1..=4u8).map(|i| [i; 8]).collect();
    let mut dead = machine("lic_a", "dead", 1);
    dead.last_heartbeat = 1_000;
    dead.parts = parts.iter().map(part_hex).collect();
    let mut live = machine("lic_a", "live", 2);
    live.last_heartbeat = 2_000;
    {
        let store = reopen(&path);
        store.put_machine(&dead).expect("put");
        store.put_machine(&live).expect("put");
        store.close().expect("close");
    }
    let raw = || raw_db(&path);
    {
        // As an older server left it: no index trees and no marker.
        let db = raw();
        for tree in ["seat_ends", "machine_parts"] {
            db.drop_tree(tree).expect("drop");
        }
        db.open_tree("meta")
            .expect("meta")
            .remove("seat_indexes_v1")
            .expect("remove");
        db.flush().expect("flush");
    }
    {
        let store = reopen(&path);
        let ended = store
            .ended_machines("lic_a", &floating, 2_030, 10, &[])
            .expect("ended");
        assert_eq!(
            ended,
            [dead.clone()],
            "the rebuilt index finds the dead seat"
        );
        assert_eq!(
            store
                .machines_sharing_parts("lic_a", &parts[..1])
                .expect("parts"),
            [dead.clone()]
        );
        store.close().expect("close");
    }
    {
        // A crash after a heartbeat's new entry and machine, before its old entry went: the
        // old entry names a machine that is now alive.
        let store = reopen(&path);
        let mut beat = dead.clone();
        beat.last_heartbeat = 2_020;
        store.update_machine(&beat).expect("heartbeat");
        store.close().expect("close");
        drop(store);
        let db = raw();
        let mut stale = b"lic_a\0h".to_vec();
        stale.extend_from_slice(&(1_000i64.cast_unsigned() ^ (1 << 63)).to_be_bytes());
        stale.extend_from_slice(b"dead");
        db.open_tree("seat_ends")
            .expect("tree")
            .insert(stale, &[])
            .expect("insert");
        db.flush().expect("flush");
    }
    let store = reopen(&path);
    assert_eq!(
        store
            .ended_machines("lic_a", &floating, 2_030, 10, &[])
            .expect("ended"),
        [],
        "the stale entry is skipped: the machine it names is alive"
    );
    assert_eq!(
        store
            .ended_machines("lic_a", &floating, 2_081, 10, &[])
            .expect("ended")
            .into_iter()
            .map(|m| m.fingerprint)
            .collect::<Vec<_>>(),
        ["live", "dead"],
        "each machine once, by its current entry, longest silent first"
    );
}
