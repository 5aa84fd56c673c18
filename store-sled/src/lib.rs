//! licet-store-sled: licet-core's storage traits on an embedded sled database, the server's
//! default store. It is the only crate that knows sled's trees and key layout.
//!
//! One module per concern: [`layout`] (keys and records), [`commit`] (group commit and
//! sequences), [`recovery`] (indexes built once, seat counts recounted after a crash), then
//! one module per storage trait (`catalog`, `licenses`, `seats`, `shop`, `downloads`,
//! `identity`, `security`, `outbox`, `onetime`, `audit`, `revocations`).
//!
//! Values are JSON (a license with its row in front, see `licenses`). Trees:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `products` | product id | [`Product`] |
//! | `product_codes` | product code | product id (uniqueness index) |
//! | `product_numbers` | numeric id (be u64) | product id (lookup by FaxStore-style integer) |
//! | `product_names` | name, trimmed and lower-case | product id: names of products that families address by name (WemX, the Verify API) are unique among them |
//! | `policies` | policy id | [`Policy`] |
//! | `licenses` | license id | its [`LicenseRow`] (length-prefixed), then the [`License`]: a list page reads the rows alone |
//! | `license_keys` | license key | license id (uniqueness index, lookup) |
//! | `product_licenses` | product id `\0` license id | empty: the licenses of one product (written before the license, so a stale entry is skipped, never a license missed) |
//! | `owner_products` | LicenseCM user id `\0` product id | empty: the products of one user (likewise) |
//! | `machines` | license id `\0` fingerprint | [`Machine`] |
//! | `machine_ids` | machine id | license id `\0` fingerprint (lookup) |
//! | `machine_counts` | license id | number of machines (be u64), kept with `machines` in one transaction |
//! | `seat_ends` | license id `\0` `l` lease end, or `h` last heartbeat (s, be u64, offset so that negative times sort first) ‖ fingerprint | empty: the seats that may end, soonest first (written before the machine, dropped after it; a stale entry is skipped) |
//! | `machine_parts` | license id `\0` part (hex) `\0` fingerprint | empty: the machines by their indexed hardware parts (`seats::indexed_parts`; likewise) |
//! | `prices` | price id (be u64) | [`Price`] |
//! | `customers` | customer id (be u64) | [`Customer`] |
//! | `customer_emails` | e-mail (lower-case) | customer id (be u64) (uniqueness index) |
//! | `orders` | order id (be u64) | [`Order`] |
//! | `license_expiry` | expiry (s, be u64) ‖ license id | empty: candidates for the expiry sweep (stale entries are dropped by it) |
//! | `floating_licenses` | license id | empty: licenses that have had floating machines (for culling) |
//! | `transactions` | WemX `transaction_id` | license id (each id accepted once) |
//! | `downloads` | download id (be u64) | [`Download`] |
//! | `download_names` | product id `\0` name | download id (be u64) (uniqueness index) |
//! | `download_grants` | grant id (16 bytes) | [`DownloadGrant`] |
//! | `users` | user id | [`User`] (LicenseCM) |
//! | `user_emails` | e-mail (lower-case) | user id (uniqueness index) |
//! | `sessions` | SHA-256 of a session token, hex | session id (current and, in grace, previous tokens) |
//! | `session_records` | session id | [`Session`] |
//! | `license_sessions` | license id `\0` session id | empty: the sessions of one license |
//! | `blacklist` | entry id | [`BlacklistEntry`] |
//! | `security_events` | sequence (be u64) | [`SecurityEvent`], append-only |
//! | `webhooks` | webhook id | [`Webhook`] |
//! | `outbox` | delivery id (be u64) | [`Delivery`] waiting to be sent |
//! | `delivery_log` | webhook id `\0` delivery id (be u64) | [`Delivery`] settled (the newest 100 of each webhook) |
//! | `notifications` | user id `\0` notification id | [`Notification`] |
//! | `seen_envelopes` | timestamp (ms, be u64) ‖ HMAC of an accepted encrypted request | empty: replay guard |
//! | `spent_challenges` | expiry (s, be u64) ‖ nonce of an answered challenge | empty: single use |
//! | `audit_subjects` | subject `\0` sequence (be u64) | empty: the audit events of one object |
//! | `api_keys` | key id | [`ApiKey`] |
//! | `usage` | key id `\0` day number (be u64) | request count (be u64) |
//! | `counts` | day (be u64, offset so that negative days sort first) ‖ name `\0` product id | a day's count (be u64): activations, validations and refusals by code, added to by every flush |
//! | `audit` | sequence (be u64) | [`AuditEvent`], append-only |
//! | `revocations` | `state`, `list` | revoked ids; the signed list |
//! | `sealed_keys` | key name | a signing key as the server sealed it (the [`KeyVault`](licet_core::store::KeyVault); the server on sled keeps its keys in files and leaves this empty) |
//! | `meta` | counter names | be u64 |
//!
//! Durability: every write operation of the traits returns once a flush covering its writes
//! has reached the disk (there is no separate commit). Concurrent operations share one flush
//! (group commit, `commit.rs`). The inherent synchronous methods write to sled's log only;
//! they are the building blocks of the trait's operations and of tests.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use licet_core::model::{BlacklistEntry, BlacklistType};

use crate::commit::Committer;
use crate::error::Res;
use crate::layout::from_json;
use serde::de::DeserializeOwned;

mod audit;
mod catalog;
mod commit;
mod counters;
mod downloads;
mod error;
mod identity;
mod layout;
mod licenses;
mod onetime;
mod outbox;
mod recovery;
mod revocations;
mod seats;
mod security;
mod shop;
mod snapshot;

pub use error::Error;

/// `meta` key present only while the store is closed cleanly (see [`SledStore::close`]).
pub(crate) const CLEAN_SHUTDOWN: &str = "clean_shutdown";

/// The page cache when none is given: 128 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// Numbers of an internal sequence reserved at once (see [`SledStore::next_sequence`]).
pub(crate) const SEQUENCE_BLOCK: u64 = 1024;

/// Blacklist entries by what they match.
pub(crate) type BlacklistIndex =
    std::collections::HashMap<(BlacklistType, String), Vec<BlacklistEntry>>;

/// The database.
#[derive(Clone, Debug)]
pub struct SledStore {
    db: sled::Db,
    products: sled::Tree,
    product_codes: sled::Tree,
    product_numbers: sled::Tree,
    product_names: sled::Tree,
    policies: sled::Tree,
    licenses: sled::Tree,
    license_keys: sled::Tree,
    product_licenses: sled::Tree,
    owner_products: sled::Tree,
    machines: sled::Tree,
    machine_ids: sled::Tree,
    machine_counts: sled::Tree,
    seat_ends: sled::Tree,
    machine_parts: sled::Tree,
    prices: sled::Tree,
    customers: sled::Tree,
    customer_emails: sled::Tree,
    orders: sled::Tree,
    transactions: sled::Tree,
    downloads: sled::Tree,
    download_names: sled::Tree,
    download_grants: sled::Tree,
    users: sled::Tree,
    user_emails: sled::Tree,
    sessions: sled::Tree,
    session_records: sled::Tree,
    license_sessions: sled::Tree,
    blacklist: sled::Tree,
    license_expiry: sled::Tree,
    floating_licenses: sled::Tree,
    /// The blacklist by (type, value), built on first use and dropped on every change: every
    /// LicenseCM client request is checked against it.
    blacklist_index: Arc<std::sync::RwLock<Option<Arc<BlacklistIndex>>>>,
    /// Internal sequences: (next number, end of the reserved block), by name.
    sequences: Arc<std::sync::Mutex<std::collections::HashMap<&'static str, (u64, u64)>>>,
    security_events: sled::Tree,
    webhooks: sled::Tree,
    outbox: sled::Tree,
    delivery_log: sled::Tree,
    notifications: sled::Tree,
    envelopes: sled::Tree,
    spent_challenges: sled::Tree,
    audit_subjects: sled::Tree,
    api_keys: sled::Tree,
    usage: sled::Tree,
    counts: sled::Tree,
    audit: sled::Tree,
    revocations: sled::Tree,
    sealed_keys: sled::Tree,
    meta: sled::Tree,
    committer: Arc<Committer>,
    /// Walks over every license so far (see [`SledStore::license_scans`]).
    license_scans: Arc<AtomicU64>,
    /// The seat locks, sharded by license id (see `seats.rs`).
    seat_locks: Arc<Vec<std::sync::Mutex<()>>>,
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    ///
    /// sled's own periodic background flush is switched off: a write is durable when the
    /// operation that made it has flushed (group commit), and not by the luck of a timer —
    /// which also keeps the durability test honest.
    pub fn open(dir: &Path) -> sled::Result<SledStore> {
        SledStore::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens the database in `dir` with a page cache of `cache_bytes` (sled's own default is
    /// 1 GiB; the server passes `--cache-mb`).
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> sled::Result<SledStore> {
        SledStore::from_db(
            sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                .flush_every_ms(None)
                .open()?,
        )
    }

    /// A database that lives only in memory and a temporary file, for tests.
    pub fn temporary() -> sled::Result<SledStore> {
        SledStore::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> sled::Result<SledStore> {
        // Trees of earlier layouts, whose entries could never be pruned: the replay guard
        // keyed by HMAC alone, and challenges stored when handed out (now stateless).
        for old in ["envelopes", "challenges"] {
            db.drop_tree(old)?;
        }
        let t = |name: &str| db.open_tree(name);
        let store = SledStore {
            products: t("products")?,
            product_codes: t("product_codes")?,
            product_numbers: t("product_numbers")?,
            product_names: t("product_names")?,
            policies: t("policies")?,
            licenses: t("licenses")?,
            license_keys: t("license_keys")?,
            product_licenses: t("product_licenses")?,
            owner_products: t("owner_products")?,
            machines: t("machines")?,
            machine_ids: t("machine_ids")?,
            machine_counts: t("machine_counts")?,
            seat_ends: t("seat_ends")?,
            machine_parts: t("machine_parts")?,
            prices: t("prices")?,
            customers: t("customers")?,
            customer_emails: t("customer_emails")?,
            orders: t("orders")?,
            transactions: t("transactions")?,
            downloads: t("downloads")?,
            download_names: t("download_names")?,
            download_grants: t("download_grants")?,
            users: t("users")?,
            user_emails: t("user_emails")?,
            sessions: t("sessions")?,
            session_records: t("session_records")?,
            license_sessions: t("license_sessions")?,
            blacklist: t("blacklist")?,
            license_expiry: t("license_expiry")?,
            floating_licenses: t("floating_licenses")?,
            blacklist_index: Arc::default(),
            sequences: Arc::default(),
            security_events: t("security_events")?,
            webhooks: t("webhooks")?,
            outbox: t("outbox")?,
            delivery_log: t("delivery_log")?,
            notifications: t("notifications")?,
            envelopes: t("seen_envelopes")?,
            spent_challenges: t("spent_challenges")?,
            audit_subjects: t("audit_subjects")?,
            api_keys: t("api_keys")?,
            usage: t("usage")?,
            counts: t("counts")?,
            audit: t("audit")?,
            revocations: t("revocations")?,
            sealed_keys: t("sealed_keys")?,
            meta: t("meta")?,
            committer: Arc::new(Committer::new(db.clone())),
            license_scans: Arc::default(),
            seat_locks: Arc::new((0..64).map(|_| std::sync::Mutex::new(())).collect()),
            db,
        };
        store.build_indexes()?;
        store.build_name_index()?;
        store.build_owner_indexes()?;
        store.build_license_rows()?;
        store.build_seat_indexes()?;
        store.recount_after_crash()?;
        Ok(store)
    }

    /// Flushes synchronously (shutdown).
    pub fn flush(&self) -> sled::Result<usize> {
        self.db.flush()
    }

    /// Number of flushes performed so far (for tests of group commit).
    pub fn flush_count(&self) -> u64 {
        self.committer.flushes.load(Ordering::Relaxed)
    }

    fn get_json<T: DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Res<Option<T>> {
        tree.get(key)?.map(|b| from_json(&b)).transpose()
    }

    fn all_json<T: DeserializeOwned>(tree: &sled::Tree) -> Res<Vec<T>> {
        tree.iter().values().map(|v| from_json(&v?)).collect()
    }

    /// How many times every license was read, since the store was opened: what no request of
    /// a registered user or an anonymous caller may cost.
    pub fn license_scans(&self) -> u64 {
        self.license_scans.load(Ordering::Relaxed)
    }
}
