//! The physical limit of a durable write on this disk: raw sled writes then `flush`, as the
//! server's activations do, without HTTP, JSON, tokens or locks.
//!
//!   cargo run -p licet-benches --release --example sled_flush -- DIR [SECONDS] [THREADS]
//!
//! Prints `name writes/s` for each mode, each with one writer (every write waits for its own
//! flush) and with THREADS writers (each flushing after its write; sled lets concurrent flushes
//! share one `fsync`):
//!
//! - `insert`: one 420-byte insert per write (a machine record's size);
//! - `activation`: the store writes of one activation as the server makes them — the machine
//!   number's counter, then plain writes in crash-safe order: the machine's id index, the
//!   license's machine count, the machine, the audit entry's subject index and the audit entry
//!   — with values of the same sizes;
//! - `activation-tx`: the same writes as they were before issue #7 — two counters, a
//!   three-tree transaction (machine, id index, count) and a two-tree transaction (audit entry
//!   and index).
//!
//! `scripts/bench-server.sh` runs it on the same file system as the server's store, in the
//! same run, and reports activations as a ratio of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

#[derive(Clone, Copy)]
enum Mode {
    Insert,
    Activation,
    Transactions,
}

struct Trees {
    db: sled::Db,
    machines: sled::Tree,
    ids: sled::Tree,
    counts: sled::Tree,
    audit: sled::Tree,
    subjects: sled::Tree,
    meta: sled::Tree,
}

fn counter(meta: &sled::Tree, name: &str) -> u64 {
    let v = meta
        .update_and_fetch(name, |old| {
            let n = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes);
            Some((n + 1).to_be_bytes().to_vec())
        })
        .expect("counter");
    v.and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
        .map_or(1, u64::from_be_bytes)
}

fn write(t: &Trees, mode: Mode, w: usize, n: u64) {
    let machine = vec![b'm'; 420];
    let key = format!("lic_0000000000000000\0fp-{w}-{n}");
    match mode {
        Mode::Insert => {
            t.machines.insert(key.as_bytes(), machine).expect("insert");
        }
        Mode::Transactions => {
            let number = counter(&t.meta, "machine_number");
            let id = format!("mch_{w:04}{n:016}{number}");
            (&t.machines, &t.ids, &t.counts)
                .transaction(|(ms, ids, counts)| {
                    if ms.insert(key.as_bytes(), machine.clone())?.is_none() {
                        let c = counts
                            .get("lic_0000000000000000")?
                            .and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
                            .map_or(0, u64::from_be_bytes);
                        counts.insert("lic_0000000000000000", &(c + 1).to_be_bytes())?;
                    }
                    ids.insert(id.as_bytes(), key.as_bytes())?;
                    Ok::<_, ConflictableTransactionError<()>>(())
                })
                .expect("machine transaction");
            let seq = counter(&t.meta, "audit_seq");
            let entry = vec![b'a'; 300];
            let mut subject = b"license:lic_0000000000000000\0".to_vec();
            subject.extend_from_slice(&seq.to_be_bytes());
            (&t.audit, &t.subjects)
                .transaction(|(audit, subjects)| {
                    audit.insert(&seq.to_be_bytes(), entry.clone())?;
                    subjects.insert(subject.clone(), &[])?;
                    Ok::<_, ConflictableTransactionError<()>>(())
                })
                .expect("audit transaction");
        }
        Mode::Activation => {
            // As the server writes today: plain writes in crash-safe order, the audit number
            // from a reserved block (no write of its own).
            let number = counter(&t.meta, "machine_number");
            let id = format!("mch_{w:04}{n:016}{number}");
            t.ids.insert(id.as_bytes(), key.as_bytes()).expect("id");
            t.counts
                .fetch_and_update("lic_0000000000000000", |old| {
                    let c = old
                        .and_then(|b| <[u8; 8]>::try_from(b).ok())
                        .map_or(0, u64::from_be_bytes);
                    Some((c + 1).to_be_bytes().to_vec())
                })
                .expect("count");
            t.machines.insert(key.as_bytes(), machine).expect("machine");
            let seq = (w as u64) << 40 | n;
            let mut subject = b"license:lic_0000000000000000\0".to_vec();
            subject.extend_from_slice(&seq.to_be_bytes());
            t.subjects.insert(subject, &[]).expect("subject");
            t.audit
                .insert(seq.to_be_bytes(), vec![b'a'; 300])
                .expect("audit");
        }
    }
    t.db.flush().expect("flush");
}

fn run(dir: &std::path::Path, mode: Mode, name: &str, writers: usize, secs: u64) {
    let path = dir.join(format!("sled-flush-{name}-{writers}"));
    let _ = std::fs::remove_dir_all(&path);
    let db = sled::Config::new()
        .path(&path)
        .flush_every_ms(None)
        .open()
        .expect("open sled");
    let tree = |n: &str| db.open_tree(n).expect("tree");
    let trees = Arc::new(Trees {
        machines: tree("machines"),
        ids: tree("machine_ids"),
        counts: tree("machine_counts"),
        audit: tree("audit"),
        subjects: tree("audit_subjects"),
        meta: tree("meta"),
        db: db.clone(),
    });
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let (trees, done, count) = (trees.clone(), done.clone(), count.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !done.load(Ordering::Relaxed) {
                    write(&trees, mode, w, n);
                    n += 1;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    done.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("writer");
    }
    let rate = count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    println!("sled-{name}-{writers} {rate:.0}");
    drop((trees, db));
    let _ = std::fs::remove_dir_all(&path);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(
        args.next()
            .expect("usage: sled_flush DIR [SECONDS] [THREADS]"),
    );
    let secs: u64 = args.next().map_or(5, |s| s.parse().expect("seconds"));
    let threads: usize = args.next().map_or(64, |s| s.parse().expect("threads"));
    for (mode, name) in [
        (Mode::Insert, "insert"),
        (Mode::Activation, "activation"),
        (Mode::Transactions, "activation-tx"),
    ] {
        for writers in [1, threads] {
            run(&dir, mode, name, writers, secs);
        }
    }
}
