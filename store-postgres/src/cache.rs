//! Products and policies, cached per instance and invalidated across instances.
//!
//! Every request of a client reads its license's product and policy, which change rarely; on
//! a database each read is work for PostgreSQL, which shares the machine's cores with the
//! servers. So each instance keeps the ones it has read, and forgets them all when any is
//! changed, by any instance:
//!
//! - a write of a product or a policy sends `NOTIFY` in its own transaction, so the
//!   notification is delivered when, and only if, the change is committed; the writing
//!   instance also forgets at once, after its commit;
//! - each instance keeps one session of its own listening for those notifications, and pings
//!   it every [`PING`];
//! - the cache answers only while its session has answered within [`LEASE`]: a session that
//!   is lost, or stops answering, turns the cache off (every read goes to the database) until
//!   a new session listens again, and the cache starts empty then.
//!
//! A change is therefore seen by every instance as soon as its notification arrives
//! (milliseconds on one network), and at worst [`LEASE`] after its commit when an instance's
//! listening session dies without a word (a network partition) just after its last answer.
//!
//! A read that began before a change and ends after its notification must not put the old
//! record back: every forgetting advances a generation, and a record read from the database
//! is kept only if the generation it was read under is still the current one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use licet_core::model::{Policy, Product};
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel catalog changes are announced on. The payload is the schema changed, so that
/// stores in other schemas of the same database ignore it.
pub(crate) const CHANNEL: &str = "licet_catalog";

/// The statement a catalog write runs in its transaction.
pub(crate) const ANNOUNCE: &str = "SELECT pg_notify('licet_catalog', current_schema())";

/// How often the listening session is asked whether it is there.
const PING: Duration = Duration::from_secs(1);

/// How long after the listening session last answered the cache is still believed: the worst
/// delay before a change is seen, when that session dies silently.
pub const LEASE: Duration = Duration::from_secs(3);

/// How long to wait before listening again after a session was lost.
const RETRY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Entries {
    generation: u64,
    products: HashMap<String, Product>,
    policies: HashMap<String, Policy>,
}

/// The cache of one instance (shared by the clones of its store).
pub(crate) struct CatalogCache {
    entries: RwLock<Entries>,
    /// When the cache was made: the origin of `live_until`.
    origin: Instant,
    /// Until when (milliseconds since `origin`) the cache may answer; 0 while no session
    /// listens.
    live_until: AtomicU64,
}

/// A generation read under a live cache: a ticket to keep what is read now.
#[derive(Clone, Copy)]
pub(crate) struct Ticket(u64);

impl CatalogCache {
    fn new() -> Self {
        CatalogCache {
            entries: RwLock::default(),
            origin: Instant::now(),
            live_until: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn live(&self) -> bool {
        // Strictly later than 0: a cache that never listened is never live.
        self.now_ms() < self.live_until.load(Ordering::Acquire)
    }

    /// The ticket to keep a record about to be read from the database, if the cache is live.
    pub(crate) fn ticket(&self) -> Option<Ticket> {
        if !self.live() {
            return None;
        }
        self.entries.read().ok().map(|e| Ticket(e.generation))
    }

    /// The product `id`, if the cache is live and holds it.
    pub(crate) fn product(&self, id: &str) -> Option<Product> {
        if !self.live() {
            return None;
        }
        self.entries.read().ok()?.products.get(id).cloned()
    }

    /// The policy `id`, if the cache is live and holds it.
    pub(crate) fn policy(&self, id: &str) -> Option<Policy> {
        if !self.live() {
            return None;
        }
        self.entries.read().ok()?.policies.get(id).cloned()
    }

    /// Keeps `p`, read under `ticket`, unless anything was forgotten since.
    pub(crate) fn keep_product(&self, ticket: Option<Ticket>, p: &Product) {
        self.keep(ticket, |e| {
            e.products.insert(p.id.to_string(), p.clone());
        });
    }

    /// Keeps `p`, read under `ticket`, unless anything was forgotten since.
    pub(crate) fn keep_policy(&self, ticket: Option<Ticket>, p: &Policy) {
        self.keep(ticket, |e| {
            e.policies.insert(p.id.to_string(), p.clone());
        });
    }

    fn keep(&self, ticket: Option<Ticket>, put: impl FnOnce(&mut Entries)) {
        let Some(Ticket(generation)) = ticket else {
            return;
        };
        if let Ok(mut e) = self.entries.write()
            && e.generation == generation
        {
            put(&mut e);
        }
    }

    /// Forgets everything: a product or a policy changed.
    pub(crate) fn forget(&self) {
        if let Ok(mut e) = self.entries.write() {
            e.generation += 1;
            e.products.clear();
            e.policies.clear();
        }
    }

    /// The listening session answered: the cache may answer for [`LEASE`] more.
    fn renew(&self) {
        let until = self
            .now_ms()
            .saturating_add(u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX));
        self.live_until.store(until, Ordering::Release);
    }

    /// The listening session is gone: the cache is off, and empty.
    fn lost(&self) {
        self.live_until.store(0, Ordering::Release);
        self.forget();
    }
}

/// A cache for a store of `config`, with its listening session kept in a task that ends when
/// the cache is dropped.
pub(crate) fn start(config: tokio_postgres::Config) -> Arc<CatalogCache> {
    let cache = Arc::new(CatalogCache::new());
    let weak = Arc::downgrade(&cache);
    tokio::spawn(async move {
        let mut config = config;
        config.application_name("licet-catalog-listener");
        loop {
            // A session ends by an error; what it was does not change what follows.
            let _ = listen(&config, &weak).await;
            let Some(cache) = weak.upgrade() else {
                return;
            };
            cache.lost();
            drop(cache);
            tokio::time::sleep(RETRY).await;
            if weak.strong_count() == 0 {
                return;
            }
        }
    });
    cache
}

/// One listening session, until it is lost or the cache is dropped.
async fn listen(
    config: &tokio_postgres::Config,
    weak: &Weak<CatalogCache>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    // The connection is driven here, by hand, to see its notifications: a change of this
    // schema's catalog forgets the cache; the end of the connection turns the cache off.
    let schema: Arc<std::sync::OnceLock<String>> = Arc::default();
    let driver = {
        let weak = weak.clone();
        let schema = schema.clone();
        tokio::spawn(async move {
            loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        let ours = schema.get().is_none_or(|s| s == n.payload());
                        match weak.upgrade() {
                            Some(cache) if ours && n.channel() == CHANNEL => cache.forget(),
                            Some(_) => {}
                            None => return,
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        if let Some(cache) = weak.upgrade() {
                            cache.lost();
                        }
                        return;
                    }
                }
            }
        })
    };
    let run = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        let name: String = client
            .query_one("SELECT current_schema()", &[])
            .await?
            .get(0);
        let _ = schema.set(name);
        // Listening from here on: what changed before is read afresh.
        match weak.upgrade() {
            Some(cache) => {
                cache.forget();
                cache.renew();
            }
            None => return Ok(()),
        }
        loop {
            tokio::time::sleep(PING).await;
            let Some(cache) = weak.upgrade() else {
                return Ok(());
            };
            match tokio::time::timeout(PING, client.simple_query("SELECT 1")).await {
                Ok(Ok(_)) => cache.renew(),
                Ok(Err(e)) => return Err(e),
                // No answer in time: `start` turns the cache off and listens again.
                Err(_) => return Ok(()),
            }
        }
    };
    let done = run.await;
    drop(client);
    driver.abort();
    done
}
