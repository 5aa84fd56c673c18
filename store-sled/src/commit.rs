//! Durability: group commit (the first writer to need a flush performs it for everyone
//! waiting) and the internal sequences.

use async_trait::async_trait;
use licet_core::store::*;

use crate::error::{Error, Res};
use crate::{SEQUENCE_BLOCK, SledStore};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

impl SledStore {
    /// The next number of an internal sequence (audit, security events, outbox): increasing,
    /// never reused, with gaps after a restart.
    ///
    /// Numbers are handed out from blocks of [`SEQUENCE_BLOCK`] reserved in `meta` (which
    /// holds the end of the last block), so a log entry costs one store write, not two: the
    /// compare-and-swap of a shared counter was a seventh of an activation's writes (issue
    /// #7). A reservation is written before any number from it, and sled's log is flushed in
    /// order, so a number that reached the disk always has its block there too.
    pub(crate) fn next_sequence(&self, name: &'static str) -> Res<u64> {
        let mut blocks = self
            .sequences
            .lock()
            .map_err(|_| Error::backend("sequence lock poisoned"))?;
        let (next, end) = match blocks.get(name) {
            Some(b) => *b,
            None => {
                let stored = self
                    .meta
                    .get(name)?
                    .and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
                    .map_or(0, u64::from_be_bytes);
                (stored + 1, stored)
            }
        };
        let end = if next > end {
            let end = next + SEQUENCE_BLOCK - 1;
            self.meta.insert(name, &end.to_be_bytes())?;
            end
        } else {
            end
        };
        blocks.insert(name, (next + 1, end));
        Ok(next)
    }

    pub(crate) fn next_counter(&self, name: &str) -> Res<u64> {
        let v = self.meta.update_and_fetch(name, |old| {
            let n = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
            .map_or(1, u64::from_be_bytes))
    }

    /// The next number of a sequence (`license`, `machine`, `price`, `customer`, `order`,
    /// `download`): 1, 2, 3, … never reused.
    pub fn next_number(&self, sequence: &str) -> Res<u64> {
        self.next_counter(&format!("{sequence}_number"))
    }
}

#[async_trait]
impl Durability for SledStore {
    fn flush_count(&self) -> u64 {
        SledStore::flush_count(self)
    }
    async fn next_number(&self, sequence: &str) -> StoreResult<u64> {
        Ok(SledStore::next_number(self, sequence)?)
    }
    async fn settle(&self) -> StoreResult<()> {
        Ok(self.committer.settle().await?)
    }
}

/// Group commit: the first writer to need a flush performs it for everyone waiting.
#[derive(Debug)]
pub(crate) struct Committer {
    db: sled::Db,
    requested: AtomicU64,
    /// Whether a write was made without waiting for its flush (a key's usage count) and no
    /// flush has covered it yet: [`Committer::settle`] then has something to do.
    lazy: AtomicBool,
    pub(crate) flushes: AtomicU64,
    flushed: tokio::sync::watch::Sender<u64>,
    leader: tokio::sync::Mutex<()>,
}

impl Committer {
    pub(crate) fn new(db: sled::Db) -> Self {
        Committer {
            db,
            requested: AtomicU64::new(0),
            lazy: AtomicBool::new(false),
            flushes: AtomicU64::new(0),
            flushed: tokio::sync::watch::channel(0).0,
            leader: tokio::sync::Mutex::new(()),
        }
    }

    /// Notes a write left for a later flush to carry to the disk (any commit does: sled's log
    /// is flushed whole, in order).
    pub(crate) fn later(&self) {
        self.lazy.store(true, Ordering::SeqCst);
    }

    /// Flushes if a write noted by [`Committer::later`] may not be on the disk yet; nothing
    /// otherwise, so an idle server does not flush on every tick.
    pub(crate) async fn settle(&self) -> Res<()> {
        if self.lazy.swap(false, Ordering::SeqCst)
            && let Err(e) = self.commit().await
        {
            self.lazy.store(true, Ordering::SeqCst);
            return Err(e);
        }
        Ok(())
    }

    pub(crate) async fn commit(&self) -> Res<()> {
        // Subscribe first, so that a flush finishing between the checks below is not missed.
        let mut rx = self.flushed.subscribe();
        let mine = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        loop {
            if *rx.borrow_and_update() >= mine {
                return Ok(());
            }
            if let Ok(guard) = self.leader.try_lock() {
                if *self.flushed.borrow() >= mine {
                    return Ok(());
                }
                // Every write requested so far is in sled's log; one flush covers them all.
                let target = self.requested.load(Ordering::SeqCst);
                let db = self.db.clone();
                let flushed = tokio::task::spawn_blocking(move || db.flush()).await;
                // Leadership is released *before* waiters are woken: a waiter that found the
                // lock taken is then sure to hear from its holder after the holder let go.
                // (Waking them while still holding it lost wake-ups: a waiter could fail
                // `try_lock`, wait again, and hear nothing more until another commit came.)
                drop(guard);
                match flushed.map_err(Error::backend).and_then(|r| Ok(r?)) {
                    Ok(_) => {
                        self.flushes.fetch_add(1, Ordering::Relaxed);
                        self.flushed.send_replace(target);
                        return Ok(());
                    }
                    Err(e) => {
                        // Nothing was made durable; wake the waiters so one of them tries.
                        self.flushed.send_modify(|_| {});
                        return Err(e);
                    }
                }
            }
            if rx.changed().await.is_err() {
                return Err(Error::backend("committer closed"));
            }
        }
    }
}
