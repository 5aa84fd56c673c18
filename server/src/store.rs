//! Storage: the only module that knows sled's trees and key layout.
//!
//! Values are JSON. Trees:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `products` | product id | [`Product`] |
//! | `product_codes` | product code | product id (uniqueness index) |
//! | `product_numbers` | numeric id (be u64) | product id (lookup by FaxStore-style integer) |
//! | `product_names` | name, trimmed and lower-case | product id: names of products that families address by name (WemX, the Verify API) are unique among them |
//! | `policies` | policy id | [`Policy`] |
//! | `licenses` | license id | [`License`] |
//! | `license_keys` | license key | license id (uniqueness index, lookup) |
//! | `product_licenses` | product id `\0` license id | empty: the licenses of one product (written before the license, so a stale entry is skipped, never a license missed) |
//! | `owner_products` | LicenseCM user id `\0` product id | empty: the products of one user (likewise) |
//! | `machines` | license id `\0` fingerprint | [`Machine`] |
//! | `machine_ids` | machine id | license id `\0` fingerprint (lookup) |
//! | `machine_counts` | license id | number of machines (be u64), kept with `machines` in one transaction |
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
//! | `notifications` | user id `\0` notification id | [`Notification`] |
//! | `seen_envelopes` | timestamp (ms, be u64) ‖ HMAC of an accepted encrypted request | empty: replay guard |
//! | `spent_challenges` | expiry (s, be u64) ‖ nonce of an answered challenge | empty: single use |
//! | `audit_subjects` | subject `\0` sequence (be u64) | empty: the audit events of one object |
//! | `api_keys` | key id | [`ApiKey`] |
//! | `usage` | key id `\0` day number (be u64) | request count (be u64) |
//! | `audit` | sequence (be u64) | [`AuditEvent`], append-only |
//! | `revocations` | `state`, `list` | revoked ids; the signed list |
//! | `meta` | counter names | be u64 |
//!
//! Durability: writes go to sled's log; [`Store::commit`] returns once a flush covering them has
//! reached the disk. Concurrent writers share one flush (group commit).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::error::{ApiError, ApiResult};
use crate::model::{
    ApiKey, AuditEvent, BlacklistEntry, BlacklistType, Customer, Delivery, Download, DownloadGrant,
    License, Machine, Notification, Order, Policy, Price, Product, SecurityEvent, Session, User,
    Webhook,
};

/// The database.
/// `meta` key present only while the store is closed cleanly (see [`Store::close`]).
const CLEAN_SHUTDOWN: &str = "clean_shutdown";

/// The page cache when none is given: 128 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// Numbers of an internal sequence reserved at once (see [`Store::next_sequence`]).
const SEQUENCE_BLOCK: u64 = 1024;

/// Blacklist entries by what they match.
type BlacklistIndex = std::collections::HashMap<(BlacklistType, String), Vec<BlacklistEntry>>;

#[derive(Clone, Debug)]
pub struct Store {
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
    notifications: sled::Tree,
    envelopes: sled::Tree,
    spent_challenges: sled::Tree,
    audit_subjects: sled::Tree,
    api_keys: sled::Tree,
    usage: sled::Tree,
    audit: sled::Tree,
    revocations: sled::Tree,
    meta: sled::Tree,
    committer: Arc<Committer>,
    /// Walks over every license so far (see [`Store::license_scans`]).
    license_scans: Arc<AtomicU64>,
}

/// The revoked ids the server has published.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RevocationState {
    /// Sequence number of the last list signed.
    pub sequence: u64,
    /// Revoked token ids, hex.
    pub token_ids: BTreeSet<String>,
    /// Revoked license ids.
    pub license_ids: BTreeSet<String>,
}

/// A page of results and the cursor of the next page.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
}

fn to_json<T: Serialize>(v: &T) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(v).map_err(ApiError::internal)
}

fn from_json<T: DeserializeOwned>(b: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(b).map_err(|e| ApiError::internal(format!("corrupt record: {e}")))
}

/// A license's key in the expiry index, if it expires.
fn expiry_key(l: &License) -> Option<Vec<u8>> {
    let at = u64::try_from(l.expires_at?).unwrap_or(0);
    let mut k = at.to_be_bytes().to_vec();
    k.extend_from_slice(l.id.as_bytes());
    Some(k)
}

/// A product's key in the name index: names are compared as WemX compares them, trimmed and
/// without regard to ASCII case.
fn name_key(name: &str) -> Vec<u8> {
    name.trim().to_ascii_lowercase().into_bytes()
}

/// 409 `duplicate_name`.
fn name_taken(name: &str) -> ConflictableTransactionError<ApiError> {
    ConflictableTransactionError::Abort(ApiError::conflict(
        "duplicate_name",
        format!(
            "a product answering by name (WemX, the Verify API) is already called {:?}",
            name.trim()
        ),
    ))
}

/// `a \0 b`: a key of an index of `b`s by `a`.
fn pair_key(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + 1 + b.len());
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

fn machine_key(license_id: &str, fingerprint: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(license_id.len() + 1 + fingerprint.len());
    k.extend_from_slice(license_id.as_bytes());
    k.push(0);
    k.extend_from_slice(fingerprint.as_bytes());
    k
}

fn machine_prefix(license_id: &str) -> Vec<u8> {
    let mut k = license_id.as_bytes().to_vec();
    k.push(0);
    k
}

impl Store {
    /// Opens (or creates) the database in `dir`.
    ///
    /// sled's own periodic background flush is switched off: a write is durable when
    /// [`Store::commit`] says so, and not by the luck of a timer — which also keeps the
    /// durability test honest.
    pub fn open(dir: &Path) -> sled::Result<Store> {
        Store::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens the database in `dir` with a page cache of `cache_bytes` (sled's own default is
    /// 1 GiB; the server passes `--cache-mb`).
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> sled::Result<Store> {
        Store::from_db(
            sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                .flush_every_ms(None)
                .open()?,
        )
    }

    /// A database that lives only in memory and a temporary file, for tests.
    pub fn temporary() -> sled::Result<Store> {
        Store::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> sled::Result<Store> {
        // Trees of earlier layouts, whose entries could never be pruned: the replay guard
        // keyed by HMAC alone, and challenges stored when handed out (now stateless).
        for old in ["envelopes", "challenges"] {
            db.drop_tree(old)?;
        }
        let t = |name: &str| db.open_tree(name);
        let store = Store {
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
            notifications: t("notifications")?,
            envelopes: t("seen_envelopes")?,
            spent_challenges: t("spent_challenges")?,
            audit_subjects: t("audit_subjects")?,
            api_keys: t("api_keys")?,
            usage: t("usage")?,
            audit: t("audit")?,
            revocations: t("revocations")?,
            meta: t("meta")?,
            committer: Arc::new(Committer::new(db.clone())),
            license_scans: Arc::default(),
            db,
        };
        store.build_indexes()?;
        store.build_name_index()?;
        store.build_owner_indexes()?;
        store.recount_after_crash()?;
        Ok(store)
    }

    /// Builds the expiry and floating-seat indexes once, for a database written before they
    /// existed: one streaming pass, then a marker in `meta`.
    fn build_indexes(&self) -> sled::Result<()> {
        const MARKER: &str = "indexes_v1";
        if self.meta.contains_key(MARKER)? {
            return Ok(());
        }
        for v in self.licenses.iter().values() {
            if let Ok(l) = serde_json::from_slice::<License>(&v?)
                && let Some(key) = expiry_key(&l)
            {
                self.license_expiry.insert(key, &[])?;
            }
        }
        // Every license with machines; the culler drops those whose policy does not float.
        self.mark_licenses_with_machines()?;
        self.meta.insert(MARKER, &[])?;
        Ok(())
    }

    /// Builds the licenses-by-product and products-by-owner indexes once, for a database
    /// written before they existed.
    fn build_owner_indexes(&self) -> sled::Result<()> {
        const MARKER: &str = "owner_indexes_v1";
        if self.meta.contains_key(MARKER)? {
            return Ok(());
        }
        for v in self.licenses.iter().values() {
            if let Ok(l) = serde_json::from_slice::<License>(&v?) {
                self.product_licenses
                    .insert(pair_key(&l.product_id, &l.id), &[])?;
            }
        }
        for v in self.products.iter().values() {
            if let Ok(p) = serde_json::from_slice::<Product>(&v?)
                && let Some(owner) = &p.owner_id
            {
                self.owner_products.insert(pair_key(owner, &p.id), &[])?;
            }
        }
        self.meta.insert(MARKER, &[])?;
        Ok(())
    }

    /// Builds the name index of name-addressed products once, for a database written before
    /// it existed. Names that two such products already share stay with the first: both keep
    /// answering as they did, but neither name can be taken again.
    fn build_name_index(&self) -> sled::Result<()> {
        const MARKER: &str = "product_names_v1";
        if self.meta.contains_key(MARKER)? {
            return Ok(());
        }
        for v in self.products.iter().values() {
            if let Ok(p) = serde_json::from_slice::<Product>(&v?)
                && p.compat.by_name()
            {
                let _ = self.product_names.compare_and_swap(
                    name_key(&p.name),
                    None as Option<&[u8]>,
                    Some(p.id.as_bytes()),
                )?;
            }
        }
        self.meta.insert(MARKER, &[])?;
        Ok(())
    }

    /// Waits until every write made before the call is on disk. Concurrent callers share flushes.
    pub async fn commit(&self) -> ApiResult<()> {
        self.committer.commit().await
    }

    /// Flushes synchronously (shutdown).
    pub fn flush(&self) -> sled::Result<usize> {
        self.db.flush()
    }

    /// Number of flushes performed so far (for tests of group commit).
    pub fn flush_count(&self) -> u64 {
        self.committer.flushes.load(Ordering::Relaxed)
    }

    /// The next number of an internal sequence (audit, security events, outbox): increasing,
    /// never reused, with gaps after a restart.
    ///
    /// Numbers are handed out from blocks of [`SEQUENCE_BLOCK`] reserved in `meta` (which
    /// holds the end of the last block), so a log entry costs one store write, not two: the
    /// compare-and-swap of a shared counter was a seventh of an activation's writes (issue
    /// #7). A reservation is written before any number from it, and sled's log is flushed in
    /// order, so a number that reached the disk always has its block there too.
    fn next_sequence(&self, name: &'static str) -> ApiResult<u64> {
        let mut blocks = self
            .sequences
            .lock()
            .map_err(|_| ApiError::internal("sequence lock poisoned"))?;
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

    fn next_counter(&self, name: &str) -> ApiResult<u64> {
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
    pub fn next_number(&self, sequence: &str) -> ApiResult<u64> {
        self.next_counter(&format!("{sequence}_number"))
    }

    // ----- products

    /// The next numeric product id not taken (numbers given explicitly are skipped).
    pub fn next_product_number(&self) -> ApiResult<u64> {
        loop {
            let n = self.next_counter("product_number")?;
            if !self.product_numbers.contains_key(n.to_be_bytes())? {
                return Ok(n);
            }
        }
    }

    /// Inserts a product; its code and numeric id must be unused, and so must its name if a
    /// family addresses it by name.
    pub fn insert_product(&self, p: &Product) -> ApiResult<()> {
        let value = to_json(p)?;
        if let Some(owner) = &p.owner_id {
            self.owner_products.insert(pair_key(owner, &p.id), &[])?;
        }
        (
            &self.products,
            &self.product_codes,
            &self.product_numbers,
            &self.product_names,
        )
            .transaction(|(products, codes, numbers, names)| {
                if p.compat.by_name() {
                    if names.get(name_key(&p.name))?.is_some() {
                        return Err(name_taken(&p.name));
                    }
                    names.insert(name_key(&p.name), p.id.as_bytes())?;
                }
                if codes.get(p.code.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(ApiError::conflict(
                        "duplicate",
                        format!("a product with code {:?} exists", p.code),
                    )));
                }
                if numbers.get(p.numeric_id.to_be_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(ApiError::conflict(
                        "duplicate",
                        format!("a product with numeric id {} exists", p.numeric_id),
                    )));
                }
                codes.insert(p.code.as_bytes(), p.id.as_bytes())?;
                numbers.insert(&p.numeric_id.to_be_bytes(), p.id.as_bytes())?;
                products.insert(p.id.as_bytes(), value.clone())?;
                Ok(())
            })?;
        Ok(())
    }

    /// A product by its numeric id.
    pub fn product_by_number(&self, n: u64) -> ApiResult<Option<Product>> {
        match self.product_numbers.get(n.to_be_bytes())? {
            Some(id) => self.product(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// Replaces a product (its code does not change). A rename or a change of families that
    /// would give two name-addressed products one name is refused (409 `duplicate_name`), in
    /// the same transaction as the write.
    pub fn update_product(&self, p: &Product) -> ApiResult<()> {
        let value = to_json(p)?;
        (&self.products, &self.product_names).transaction(|(products, names)| {
            if let Some(old) = products.get(p.id.as_bytes())? {
                let old: Product = serde_json::from_slice(&old)
                    .map_err(|e| ConflictableTransactionError::Abort(ApiError::internal(e)))?;
                if names.get(name_key(&old.name))?.as_deref() == Some(p.id.as_bytes()) {
                    names.remove(name_key(&old.name))?;
                }
            }
            if p.compat.by_name() {
                match names.get(name_key(&p.name))? {
                    Some(id) if id.as_ref() != p.id.as_bytes() => return Err(name_taken(&p.name)),
                    _ => {
                        names.insert(name_key(&p.name), p.id.as_bytes())?;
                    }
                }
            }
            products.insert(p.id.as_bytes(), value.clone())?;
            Ok(())
        })?;
        Ok(())
    }

    /// Deletes a product that has no licenses.
    pub fn delete_product(&self, p: &Product) -> ApiResult<()> {
        if self.licenses_of_product(&p.id)? > 0 {
            return Err(ApiError::conflict(
                "in_use",
                "the product still has licenses",
            ));
        }
        (
            &self.products,
            &self.product_codes,
            &self.product_numbers,
            &self.product_names,
        )
            .transaction(|(products, codes, numbers, names)| {
                products.remove(p.id.as_bytes())?;
                codes.remove(p.code.as_bytes())?;
                numbers.remove(&p.numeric_id.to_be_bytes())?;
                if names.get(name_key(&p.name))?.as_deref() == Some(p.id.as_bytes()) {
                    names.remove(name_key(&p.name))?;
                }
                Ok::<_, ConflictableTransactionError<ApiError>>(())
            })?;
        if let Some(owner) = &p.owner_id {
            self.owner_products.remove(pair_key(owner, &p.id))?;
        }
        Ok(())
    }

    /// The products of a LicenseCM user, through the index (not every product).
    pub fn products_of_owner(&self, owner: &str) -> ApiResult<Vec<Product>> {
        let prefix = pair_key(owner, "");
        let mut out = Vec::new();
        for k in self.owner_products.scan_prefix(&prefix).keys() {
            let k = k?;
            if let Some(p) = self.product(&String::from_utf8_lossy(&k[prefix.len()..]))?
                && p.owner_id.as_deref() == Some(owner)
            {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The licenses of a product, through the index (not every license).
    pub fn licenses_of(&self, product_id: &str) -> ApiResult<Vec<License>> {
        let prefix = pair_key(product_id, "");
        let mut out = Vec::new();
        for k in self.product_licenses.scan_prefix(&prefix).keys() {
            let k = k?;
            if let Some(l) = self.license(&String::from_utf8_lossy(&k[prefix.len()..]))?
                && l.product_id == product_id
            {
                out.push(l);
            }
        }
        Ok(out)
    }

    /// A product by id.
    pub fn product(&self, id: &str) -> ApiResult<Option<Product>> {
        self.products.get(id)?.map(|b| from_json(&b)).transpose()
    }

    /// A product by its code.
    pub fn product_by_code(&self, code: &str) -> ApiResult<Option<Product>> {
        match self.product_codes.get(code)? {
            Some(id) => self.product(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// All products.
    pub fn products(&self) -> ApiResult<Vec<Product>> {
        self.products
            .iter()
            .values()
            .map(|v| from_json(&v?))
            .collect()
    }

    /// Calls `f` with every license, streaming (one license in memory at a time).
    pub fn each_license(&self, mut f: impl FnMut(&License)) -> ApiResult<()> {
        self.license_scans.fetch_add(1, Ordering::Relaxed);
        for v in self.licenses.iter().values() {
            f(&from_json(&v?)?);
        }
        Ok(())
    }

    fn licenses_of_product(&self, product_id: &str) -> ApiResult<usize> {
        Ok(self.licenses_of(product_id)?.len())
    }

    // ----- policies

    /// Inserts or replaces a policy.
    pub fn put_policy(&self, p: &Policy) -> ApiResult<()> {
        self.policies.insert(p.id.as_bytes(), to_json(p)?)?;
        Ok(())
    }

    /// A policy by id.
    pub fn policy(&self, id: &str) -> ApiResult<Option<Policy>> {
        self.policies.get(id)?.map(|b| from_json(&b)).transpose()
    }

    /// All policies, optionally of one product.
    pub fn policies(&self, product_id: Option<&str>) -> ApiResult<Vec<Policy>> {
        let all: ApiResult<Vec<Policy>> = self
            .policies
            .iter()
            .values()
            .map(|v| from_json(&v?))
            .collect();
        Ok(all?
            .into_iter()
            .filter(|p| product_id.is_none_or(|id| p.product_id == id))
            .collect())
    }

    /// Deletes a policy no license uses.
    pub fn delete_policy(&self, id: &str) -> ApiResult<()> {
        for v in self.licenses.iter().values() {
            let l: License = from_json(&v?)?;
            if l.policy_id == id {
                return Err(ApiError::conflict(
                    "in_use",
                    "licenses still use the policy",
                ));
            }
        }
        self.policies.remove(id)?;
        Ok(())
    }

    // ----- licenses

    /// Inserts a license; its key must be unused.
    pub fn insert_license(&self, l: &License) -> ApiResult<()> {
        self.insert_licenses(std::slice::from_ref(l))
    }

    /// Inserts many licenses at once: all or none.
    pub fn insert_licenses(&self, ls: &[License]) -> ApiResult<()> {
        let values = ls.iter().map(to_json).collect::<ApiResult<Vec<_>>>()?;
        self.index_expiry(ls)?;
        self.index_products(ls)?;
        (&self.licenses, &self.license_keys).transaction(|(licenses, keys)| {
            for (l, value) in ls.iter().zip(&values) {
                if keys.get(l.key.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(ApiError::conflict(
                        "duplicate",
                        "a license with this key exists",
                    )));
                }
                keys.insert(l.key.as_bytes(), l.id.as_bytes())?;
                licenses.insert(l.id.as_bytes(), value.clone())?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Replaces a license (its key does not change).
    pub fn update_license(&self, l: &License) -> ApiResult<()> {
        self.index_expiry(std::slice::from_ref(l))?;
        self.licenses.insert(l.id.as_bytes(), to_json(l)?)?;
        Ok(())
    }

    /// Deletes a license, its key and its machines.
    pub fn delete_license(&self, l: &License) -> ApiResult<()> {
        let machines = self.machines(&l.id)?;
        (
            &self.licenses,
            &self.license_keys,
            &self.machines,
            &self.machine_ids,
            &self.machine_counts,
        )
            .transaction(|(licenses, keys, ms, ids, counts)| {
                licenses.remove(l.id.as_bytes())?;
                keys.remove(l.key.as_bytes())?;
                counts.remove(l.id.as_bytes())?;
                for m in &machines {
                    ms.remove(machine_key(&m.license_id, &m.fingerprint))?;
                    ids.remove(m.id.as_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<ApiError>>(())
            })?;
        self.product_licenses
            .remove(pair_key(&l.product_id, &l.id))?;
        Ok(())
    }

    /// Adds each license to its product's index, before the license is written.
    fn index_products(&self, ls: &[License]) -> ApiResult<()> {
        for l in ls {
            self.product_licenses
                .insert(pair_key(&l.product_id, &l.id), &[])?;
        }
        Ok(())
    }

    /// Adds the expiry of each license to the sweep's index. Called before the license is
    /// written, so a crash leaves at most a stale entry (which the sweep drops), never a
    /// license the sweep cannot find.
    fn index_expiry(&self, ls: &[License]) -> ApiResult<()> {
        for key in ls.iter().filter_map(expiry_key) {
            self.license_expiry.insert(key, &[])?;
        }
        Ok(())
    }

    /// Entries of the expiry index up to `now`: (index key, license id). The license may have
    /// changed since; the caller reads it and drops the entry with [`Store::forget_expiry`].
    pub fn expiry_candidates(&self, now: i64) -> ApiResult<Vec<(Vec<u8>, String)>> {
        let end = u64::try_from(now)
            .unwrap_or(0)
            .saturating_add(1)
            .to_be_bytes();
        self.license_expiry
            .range(..&end[..])
            .keys()
            .map(|k| {
                let k = k?;
                let id = String::from_utf8_lossy(&k[8..]).into_owned();
                Ok((k.to_vec(), id))
            })
            .collect()
    }

    /// Drops an entry of the expiry index.
    pub fn forget_expiry(&self, key: &[u8]) -> ApiResult<()> {
        self.license_expiry.remove(key)?;
        Ok(())
    }

    /// Makes the culler look at every license with machines again (a policy became floating).
    pub fn recheck_floating(&self) -> ApiResult<()> {
        Ok(self.mark_licenses_with_machines()?)
    }

    fn mark_licenses_with_machines(&self) -> sled::Result<()> {
        for k in self.machine_counts.iter().keys() {
            self.floating_licenses.insert(k?, &[])?;
        }
        Ok(())
    }

    /// Licenses that have had floating machines.
    pub fn floating_licenses(&self) -> ApiResult<Vec<String>> {
        self.floating_licenses
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
    }

    /// Stops culling `license_id` (no floating machines, or gone).
    pub fn unmark_floating(&self, license_id: &str) -> ApiResult<()> {
        self.floating_licenses.remove(license_id)?;
        Ok(())
    }

    /// Number of machines in the store.
    pub fn machine_total(&self) -> usize {
        self.machines.len()
    }

    /// Number of licenses.
    pub fn license_count(&self) -> usize {
        self.licenses.len()
    }

    /// A license by id.
    pub fn license(&self, id: &str) -> ApiResult<Option<License>> {
        self.licenses.get(id)?.map(|b| from_json(&b)).transpose()
    }

    /// A license by its key.
    pub fn license_by_key(&self, key: &str) -> ApiResult<Option<License>> {
        match self.license_keys.get(key)? {
            Some(id) => self.license(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// Licenses in id order after `after`, those for which `keep` holds, at most `limit`.
    pub fn licenses(
        &self,
        after: Option<&str>,
        limit: usize,
        keep: impl Fn(&License) -> bool,
    ) -> ApiResult<Page<License>> {
        let start = after.map(|a| {
            let mut k = a.as_bytes().to_vec();
            k.push(0);
            k
        });
        let iter = match start {
            Some(s) => self.licenses.range(s..),
            None => self.licenses.iter(),
        };
        page(iter, limit, keep, |l: &License| l.id.clone())
    }

    // ----- machines

    /// The machines of a license.
    pub fn machines(&self, license_id: &str) -> ApiResult<Vec<Machine>> {
        self.machines
            .scan_prefix(machine_prefix(license_id))
            .values()
            .map(|v| from_json(&v?))
            .collect()
    }

    /// The machine of a license with this fingerprint.
    pub fn machine(&self, license_id: &str, fingerprint: &str) -> ApiResult<Option<Machine>> {
        self.machines
            .get(machine_key(license_id, fingerprint))?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// A machine by id.
    pub fn machine_by_id(&self, id: &str) -> ApiResult<Option<Machine>> {
        match self.machine_ids.get(id)? {
            Some(k) => self.machines.get(k)?.map(|b| from_json(&b)).transpose(),
            None => Ok(None),
        }
    }

    /// Inserts or replaces a machine. The caller holds the license's seat lock.
    ///
    /// Three plain writes, not a transaction: sled's multi-tree transactions were most of an
    /// activation's cost (issue #7: the same writes run 4–5× faster without one). They are
    /// ordered so that whatever prefix a crash leaves, the license's count is at least its
    /// machines — never a seat too many — and [`Store::open`] recounts after a crash (see
    /// [`Store::close`]): the id index and the count first, the machine last.
    pub fn put_machine(&self, m: &Machine) -> ApiResult<()> {
        let key = machine_key(&m.license_id, &m.fingerprint);
        let value = to_json(m)?;
        let new = !self.machines.contains_key(&key)?;
        if new
            && !self
                .floating_licenses
                .contains_key(m.license_id.as_bytes())?
        {
            // A new machine: the culler looks at its license (and forgets it if its policy
            // does not float). Only the first new machine since then writes this.
            self.floating_licenses
                .insert(m.license_id.as_bytes(), &[])?;
        }
        self.machine_ids.insert(m.id.as_bytes(), key.clone())?;
        if new {
            self.add_to_count(&m.license_id, 1)?;
        }
        self.machines.insert(key, value)?;
        Ok(())
    }

    /// Rewrites a machine that exists under the same license and fingerprint (a heartbeat):
    /// its id index and the license's count do not change, so this is one write, not a
    /// transaction over three trees. The caller holds the license's seat lock.
    pub fn update_machine(&self, m: &Machine) -> ApiResult<()> {
        let key = machine_key(&m.license_id, &m.fingerprint);
        if self.machines.get(&key)?.is_none() {
            return self.put_machine(m);
        }
        self.machines.insert(key, to_json(m)?)?;
        Ok(())
    }

    /// Removes a machine; whether it existed. The caller holds the license's seat lock. Plain
    /// writes in crash-safe order, as in [`Store::put_machine`]: the machine first, then the
    /// count and the id index.
    pub fn remove_machine(&self, m: &Machine) -> ApiResult<bool> {
        let key = machine_key(&m.license_id, &m.fingerprint);
        let existed = self.machines.remove(key)?.is_some();
        if existed {
            self.add_to_count(&m.license_id, -1)?;
        }
        self.machine_ids.remove(m.id.as_bytes())?;
        Ok(existed)
    }

    fn add_to_count(&self, license_id: &str, delta: i64) -> ApiResult<()> {
        self.machine_counts
            .fetch_and_update(license_id.as_bytes(), |old| {
                let n = old
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                Some(n.saturating_add_signed(delta).to_be_bytes().to_vec())
            })?;
        Ok(())
    }

    /// Records a clean shutdown (after a last flush), so the next [`Store::open`] can skip
    /// recounting seats. Call it last: any write after it makes the marker a lie.
    pub fn close(&self) -> sled::Result<()> {
        self.db.flush()?;
        self.meta.insert(CLEAN_SHUTDOWN, &[])?;
        self.db.flush()?;
        Ok(())
    }

    /// After a crash, recounts every license's machines from the machines themselves (keys
    /// only, one pass): machine writes are not transactions, and a crash between them can
    /// leave a count one too high. After a clean shutdown there is nothing to do. Either way
    /// the marker is removed, durably, before the store is used.
    fn recount_after_crash(&self) -> sled::Result<()> {
        if self.meta.remove(CLEAN_SHUTDOWN)?.is_some() {
            self.db.flush()?;
            return Ok(());
        }
        let mut counts: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
        for k in self.machines.iter().keys() {
            let k = k?;
            let license = k.split(|b| *b == 0).next().unwrap_or(&[]).to_vec();
            *counts.entry(license).or_default() += 1;
        }
        for k in self.machine_counts.iter().keys() {
            let k = k?;
            if !counts.contains_key(k.as_ref()) {
                self.machine_counts.remove(k)?;
            }
        }
        for (license, n) in counts {
            self.machine_counts.insert(license, &n.to_be_bytes())?;
        }
        self.db.flush()?;
        Ok(())
    }

    /// Number of machines of a license, without reading them.
    pub fn machine_count(&self, license_id: &str) -> ApiResult<u64> {
        Ok(self
            .machine_counts
            .get(license_id)?
            .and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
            .map_or(0, u64::from_be_bytes))
    }

    // ----- prices, customers, orders

    /// Inserts a price; its id must be unused.
    pub fn insert_price(&self, p: &Price) -> ApiResult<()> {
        let taken = self
            .prices
            .compare_and_swap(p.id.to_be_bytes(), None::<&[u8]>, Some(to_json(p)?))?
            .is_err();
        if taken {
            return Err(ApiError::conflict(
                "duplicate",
                format!("a price with id {} exists", p.id),
            ));
        }
        Ok(())
    }

    /// The next price id not taken (ids given explicitly are skipped).
    pub fn next_price_id(&self) -> ApiResult<u64> {
        loop {
            let n = self.next_counter("price_number")?;
            if !self.prices.contains_key(n.to_be_bytes())? {
                return Ok(n);
            }
        }
    }

    /// A price by id.
    pub fn price(&self, id: u64) -> ApiResult<Option<Price>> {
        self.prices
            .get(id.to_be_bytes())?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// The prices of a product (all prices if `None`), in id order.
    pub fn prices(&self, product_id: Option<&str>) -> ApiResult<Vec<Price>> {
        let all = self
            .prices
            .iter()
            .values()
            .map(|v| from_json(&v?))
            .collect::<ApiResult<Vec<Price>>>()?;
        Ok(all
            .into_iter()
            .filter(|p| product_id.is_none_or(|id| p.product_id == id))
            .collect())
    }

    /// Deletes a price no order uses.
    pub fn delete_price(&self, id: u64) -> ApiResult<()> {
        for v in self.orders.iter().values() {
            let o: Order = from_json(&v?)?;
            if o.price_id == id {
                return Err(ApiError::conflict("in_use", "orders still use the price"));
            }
        }
        self.prices.remove(id.to_be_bytes())?;
        Ok(())
    }

    /// A customer by id.
    pub fn customer(&self, id: u64) -> ApiResult<Option<Customer>> {
        self.customers
            .get(id.to_be_bytes())?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// A customer by e-mail address (lower-case).
    pub fn customer_by_email(&self, email: &str) -> ApiResult<Option<Customer>> {
        match self.customer_emails.get(email)? {
            Some(id) => match <[u8; 8]>::try_from(&id[..]) {
                Ok(b) => self.customer(u64::from_be_bytes(b)),
                Err(_) => Err(ApiError::internal("corrupt customer index")),
            },
            None => Ok(None),
        }
    }

    /// Inserts `c` unless a customer with its e-mail exists; returns the customer that holds
    /// the address and whether it is the new one. Concurrent calls for one address agree.
    pub fn insert_customer_if_new(&self, c: &Customer) -> ApiResult<(Customer, bool)> {
        let value = to_json(c)?;
        let existing = (&self.customers, &self.customer_emails).transaction(|(cs, emails)| {
            if let Some(id) = emails.get(c.email.as_bytes())? {
                return Ok(Some(id));
            }
            emails.insert(c.email.as_bytes(), &c.id.to_be_bytes())?;
            cs.insert(&c.id.to_be_bytes(), value.clone())?;
            Ok::<_, ConflictableTransactionError<ApiError>>(None)
        })?;
        match existing {
            None => Ok((c.clone(), true)),
            Some(_) => self
                .customer_by_email(&c.email)?
                .map(|found| (found, false))
                .ok_or_else(|| ApiError::internal("customer index points nowhere")),
        }
    }

    /// Replaces a customer (its e-mail does not change).
    pub fn update_customer(&self, c: &Customer) -> ApiResult<()> {
        self.customers.insert(c.id.to_be_bytes(), to_json(c)?)?;
        Ok(())
    }

    /// Customers in id order after `after`, at most `limit`.
    pub fn customers(&self, after: u64, limit: usize) -> ApiResult<Page<Customer>> {
        page(
            self.customers.range((after + 1).to_be_bytes()..),
            limit,
            |_: &Customer| true,
            |c: &Customer| c.id.to_string(),
        )
    }

    /// An order by id.
    pub fn order(&self, id: u64) -> ApiResult<Option<Order>> {
        self.orders
            .get(id.to_be_bytes())?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// The orders of a customer.
    pub fn orders_of_customer(&self, customer_id: u64) -> ApiResult<Vec<Order>> {
        let mut out = Vec::new();
        for v in self.orders.iter().values() {
            let o: Order = from_json(&v?)?;
            if o.customer_id == customer_id {
                out.push(o);
            }
        }
        Ok(out)
    }

    /// Records a sale: the order, its license (whose key must be unused) and the license's
    /// first machines (domains), all or nothing.
    pub fn insert_order(&self, o: &Order, l: &License, machines: &[Machine]) -> ApiResult<()> {
        self.index_expiry(std::slice::from_ref(l))?;
        self.index_products(std::slice::from_ref(l))?;
        let order = to_json(o)?;
        let license = to_json(l)?;
        let ms_values = machines
            .iter()
            .map(to_json)
            .collect::<ApiResult<Vec<_>>>()?;
        (
            &self.orders,
            &self.licenses,
            &self.license_keys,
            &self.machines,
            &self.machine_ids,
            &self.machine_counts,
        )
            .transaction(|(orders, licenses, keys, ms, ids, counts)| {
                if keys.get(l.key.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(ApiError::conflict(
                        "duplicate",
                        "a license with this key exists",
                    )));
                }
                keys.insert(l.key.as_bytes(), l.id.as_bytes())?;
                licenses.insert(l.id.as_bytes(), license.clone())?;
                orders.insert(&o.id.to_be_bytes(), order.clone())?;
                for (m, value) in machines.iter().zip(&ms_values) {
                    let key = machine_key(&m.license_id, &m.fingerprint);
                    if ms.insert(key.clone(), value.clone())?.is_none() {
                        bump(counts, &m.license_id, 1)?;
                    }
                    ids.insert(m.id.as_bytes(), key)?;
                }
                Ok(())
            })?;
        Ok(())
    }

    /// Stores an order and its license together (a due date moved).
    pub fn update_order(&self, o: &Order, l: &License) -> ApiResult<()> {
        self.index_expiry(std::slice::from_ref(l))?;
        let order = to_json(o)?;
        let license = to_json(l)?;
        (&self.orders, &self.licenses).transaction(|(orders, licenses)| {
            orders.insert(&o.id.to_be_bytes(), order.clone())?;
            licenses.insert(l.id.as_bytes(), license.clone())?;
            Ok::<_, ConflictableTransactionError<ApiError>>(())
        })?;
        Ok(())
    }

    /// Accepts a transaction id once: true the first time, false ever after.
    pub fn claim_transaction(&self, id: &str, license_id: &str) -> ApiResult<bool> {
        Ok(self
            .transactions
            .compare_and_swap(id, None::<&[u8]>, Some(license_id.as_bytes()))?
            .is_ok())
    }

    /// Whether a transaction id was accepted before.
    pub fn transaction_seen(&self, id: &str) -> ApiResult<bool> {
        Ok(self.transactions.contains_key(id)?)
    }

    // ----- downloads

    fn download_name_key(product_id: &str, name: &str) -> Vec<u8> {
        let mut k = product_id.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(name.as_bytes());
        k
    }

    /// Registers a download; its name must be unused for the product.
    pub fn insert_download(&self, d: &Download) -> ApiResult<()> {
        let value = to_json(d)?;
        let name = Self::download_name_key(&d.product_id, &d.name);
        (&self.downloads, &self.download_names).transaction(|(ds, names)| {
            if names.get(&name)?.is_some() {
                return Err(ConflictableTransactionError::Abort(ApiError::conflict(
                    "duplicate",
                    "the product already has a download of this name",
                )));
            }
            names.insert(name.clone(), &d.id.to_be_bytes())?;
            ds.insert(&d.id.to_be_bytes(), value.clone())?;
            Ok(())
        })?;
        Ok(())
    }

    /// A download by id.
    pub fn download(&self, id: u64) -> ApiResult<Option<Download>> {
        self.downloads
            .get(id.to_be_bytes())?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// A product's download by name.
    pub fn download_by_name(&self, product_id: &str, name: &str) -> ApiResult<Option<Download>> {
        match self
            .download_names
            .get(Self::download_name_key(product_id, name))?
        {
            Some(id) => match <[u8; 8]>::try_from(&id[..]) {
                Ok(b) => self.download(u64::from_be_bytes(b)),
                Err(_) => Err(ApiError::internal("corrupt download index")),
            },
            None => Ok(None),
        }
    }

    /// Downloads, of one product or all.
    pub fn downloads(&self, product_id: Option<&str>) -> ApiResult<Vec<Download>> {
        let all = self
            .downloads
            .iter()
            .values()
            .map(|v| from_json(&v?))
            .collect::<ApiResult<Vec<Download>>>()?;
        Ok(all
            .into_iter()
            .filter(|d| product_id.is_none_or(|id| d.product_id == id))
            .collect())
    }

    /// Unregisters a download (the file stays).
    pub fn delete_download(&self, d: &Download) -> ApiResult<()> {
        let name = Self::download_name_key(&d.product_id, &d.name);
        (&self.downloads, &self.download_names).transaction(|(ds, names)| {
            ds.remove(&d.id.to_be_bytes())?;
            names.remove(name.clone())?;
            Ok::<_, ConflictableTransactionError<ApiError>>(())
        })?;
        Ok(())
    }

    /// Records a download grant.
    pub fn put_grant(&self, id: &[u8; 16], g: &DownloadGrant) -> ApiResult<()> {
        self.download_grants.insert(id, to_json(g)?)?;
        Ok(())
    }

    /// A download grant by id.
    pub fn grant(&self, id: &[u8; 16]) -> ApiResult<Option<DownloadGrant>> {
        self.download_grants
            .get(id)?
            .map(|b| from_json(&b))
            .transpose()
    }

    /// Marks a grant used at `now`, atomically: `Ok(true)` for the one caller that used it,
    /// `Ok(false)` if it was used already or does not exist.
    pub fn use_grant(&self, id: &[u8; 16], now: i64) -> ApiResult<bool> {
        loop {
            let Some(old) = self.download_grants.get(id)? else {
                return Ok(false);
            };
            let mut g: DownloadGrant = from_json(&old)?;
            if g.used_at.is_some() {
                return Ok(false);
            }
            g.used_at = Some(now);
            let new = to_json(&g)?;
            if self
                .download_grants
                .compare_and_swap(id, Some(old), Some(new))?
                .is_ok()
            {
                return Ok(true);
            }
        }
    }

    /// Removes grants that expired before `before` (used or not); how many.
    pub fn prune_grants(&self, before: i64) -> ApiResult<usize> {
        let mut n = 0;
        for kv in self.download_grants.iter() {
            let (k, v) = kv?;
            let g: DownloadGrant = from_json(&v)?;
            if g.expires_at < before {
                self.download_grants.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }

    // ----- LicenseCM: users, sessions, security, webhooks, notifications

    fn get_json<T: DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> ApiResult<Option<T>> {
        tree.get(key)?.map(|b| from_json(&b)).transpose()
    }

    fn all_json<T: DeserializeOwned>(tree: &sled::Tree) -> ApiResult<Vec<T>> {
        tree.iter().values().map(|v| from_json(&v?)).collect()
    }

    /// Inserts a user as given; the e-mail must be unused (checked and claimed in one
    /// transaction, so two registrations of one address cannot both win). Nobody becomes an
    /// admin by registering: admins are made by the operator (issue #12).
    pub fn insert_user(&self, u: &User) -> ApiResult<User> {
        let value = to_json(u)?;
        (&self.users, &self.user_emails).transaction(|(users, emails)| {
            if emails.get(u.email.as_bytes())?.is_some() {
                return Err(ConflictableTransactionError::Abort(ApiError::conflict(
                    "duplicate",
                    "a user with this e-mail exists",
                )));
            }
            emails.insert(u.email.as_bytes(), u.id.as_bytes())?;
            users.insert(u.id.as_bytes(), value.clone())?;
            Ok(())
        })?;
        Ok(u.clone())
    }

    /// Replaces a user (the e-mail does not change).
    pub fn update_user(&self, u: &User) -> ApiResult<()> {
        self.users.insert(u.id.as_bytes(), to_json(u)?)?;
        Ok(())
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> ApiResult<Option<User>> {
        Self::get_json(&self.users, id.as_bytes())
    }

    /// A user by e-mail (lower-case).
    pub fn user_by_email(&self, email: &str) -> ApiResult<Option<User>> {
        match self.user_emails.get(email)? {
            Some(id) => self.user(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// All users.
    pub fn users(&self) -> ApiResult<Vec<User>> {
        Self::all_json(&self.users)
    }

    /// Stores a session and points `token_hashes` at it.
    pub fn put_session(&self, s: &Session, token_hashes: &[&str]) -> ApiResult<()> {
        let value = to_json(s)?;
        let mut by_license = s.license_id.as_bytes().to_vec();
        by_license.push(0);
        by_license.extend_from_slice(s.id.as_bytes());
        (
            &self.session_records,
            &self.sessions,
            &self.license_sessions,
        )
            .transaction(|(records, tokens, index)| {
                records.insert(s.id.as_bytes(), value.clone())?;
                index.insert(by_license.clone(), &[])?;
                for h in token_hashes {
                    tokens.insert(h.as_bytes(), s.id.as_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<ApiError>>(())
            })?;
        Ok(())
    }

    /// The sessions of one license.
    pub fn sessions_of(&self, license_id: &str) -> ApiResult<Vec<Session>> {
        let mut prefix = license_id.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.license_sessions.scan_prefix(&prefix) {
            let (k, _) = kv?;
            if let Some(s) = self.session(&String::from_utf8_lossy(&k[prefix.len()..]))? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Forgets token hashes (a rotated token after its grace).
    pub fn forget_session_tokens(&self, token_hashes: &[String]) -> ApiResult<()> {
        for h in token_hashes {
            self.sessions.remove(h.as_bytes())?;
        }
        Ok(())
    }

    /// The session a token hash belongs to.
    pub fn session_by_token(&self, token_hash: &str) -> ApiResult<Option<Session>> {
        match self.sessions.get(token_hash)? {
            Some(id) => self.session(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// A session by id.
    pub fn session(&self, id: &str) -> ApiResult<Option<Session>> {
        Self::get_json(&self.session_records, id.as_bytes())
    }

    /// Every session.
    pub fn sessions(&self) -> ApiResult<Vec<Session>> {
        Self::all_json(&self.session_records)
    }

    /// Inserts or replaces a blacklist entry.
    pub fn put_blacklist(&self, e: &BlacklistEntry) -> ApiResult<()> {
        self.blacklist.insert(e.id.as_bytes(), to_json(e)?)?;
        self.forget_blacklist_index();
        Ok(())
    }

    /// A blacklist entry by id.
    pub fn blacklist_entry(&self, id: &str) -> ApiResult<Option<BlacklistEntry>> {
        Self::get_json(&self.blacklist, id.as_bytes())
    }

    /// Every blacklist entry.
    pub fn blacklist(&self) -> ApiResult<Vec<BlacklistEntry>> {
        Self::all_json(&self.blacklist)
    }

    /// Removes a blacklist entry; whether it existed.
    pub fn delete_blacklist(&self, id: &str) -> ApiResult<bool> {
        let existed = self.blacklist.remove(id)?.is_some();
        self.forget_blacklist_index();
        Ok(existed)
    }

    /// The entries (in force or not, by id) matching any of `probes`, from the index.
    ///
    /// The index is rebuilt under its write lock, and a change drops it under the same lock
    /// after writing the tree, so an index never misses a change made before it was read.
    pub fn blacklist_matches(
        &self,
        probes: &[(BlacklistType, &str)],
    ) -> ApiResult<Vec<BlacklistEntry>> {
        let cached = self.blacklist_index.read().ok().and_then(|i| i.clone());
        let index = match cached {
            Some(i) => i,
            None => {
                let mut slot = self
                    .blacklist_index
                    .write()
                    .map_err(|_| ApiError::internal("blacklist index lock poisoned"))?;
                match &*slot {
                    Some(i) => i.clone(),
                    None => {
                        let mut built = BlacklistIndex::new();
                        for e in self.blacklist()? {
                            built.entry((e.kind, e.value.clone())).or_default().push(e);
                        }
                        let built = Arc::new(built);
                        *slot = Some(built.clone());
                        built
                    }
                }
            }
        };
        let mut out: Vec<BlacklistEntry> = probes
            .iter()
            .filter_map(|(kind, value)| index.get(&(*kind, (*value).to_owned())))
            .flatten()
            .cloned()
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    fn forget_blacklist_index(&self) {
        if let Ok(mut slot) = self.blacklist_index.write() {
            *slot = None;
        }
    }

    /// Appends a security event; its `seq` is assigned here.
    pub fn append_security_event(&self, mut e: SecurityEvent) -> ApiResult<SecurityEvent> {
        e.seq = self.next_sequence("security_seq")?;
        self.security_events
            .insert(e.seq.to_be_bytes(), to_json(&e)?)?;
        Ok(e)
    }

    /// Drops the oldest entries of the audit log and the security log: those written before
    /// `before`, and beyond `max_entries` of each log; at most `budget` in one call, so a
    /// background pass stays short. Returns how many of each were dropped.
    ///
    /// Both logs are keyed by an increasing sequence, so the oldest come first, and a log's
    /// length is at most its last sequence minus its first plus one (numbers a restart skipped
    /// are never written): no count is kept, none is read.
    pub fn prune_logs(
        &self,
        before: i64,
        max_entries: u64,
        budget: usize,
    ) -> ApiResult<(usize, usize)> {
        #[derive(Deserialize)]
        struct Head {
            at: Option<i64>,
            created_at: Option<i64>,
            subject: Option<String>,
        }
        let prune = |tree: &sled::Tree, index: Option<&sled::Tree>| -> ApiResult<usize> {
            let mut dropped = 0;
            while dropped < budget {
                let (Some((first, value)), Some((last, _))) = (tree.first()?, tree.last()?) else {
                    break;
                };
                let seq = |k: &[u8]| k.try_into().map(u64::from_be_bytes).unwrap_or(0);
                let len = seq(&last).saturating_sub(seq(&first)) + 1;
                let head: Head = serde_json::from_slice(&value).unwrap_or(Head {
                    at: None,
                    created_at: None,
                    subject: None,
                });
                let at = head.at.or(head.created_at).unwrap_or(i64::MIN);
                if at >= before && len <= max_entries {
                    break;
                }
                if let (Some(index), Some(subject)) = (index, head.subject) {
                    let mut k = subject.into_bytes();
                    k.push(0);
                    k.extend_from_slice(&first);
                    index.remove(k)?;
                }
                tree.remove(&first)?;
                dropped += 1;
            }
            Ok(dropped)
        };
        Ok((
            prune(&self.audit, Some(&self.audit_subjects))?,
            prune(&self.security_events, None)?,
        ))
    }

    /// Security events, newest first, for which `keep` holds.
    pub fn security_events(
        &self,
        keep: impl Fn(&SecurityEvent) -> bool,
    ) -> ApiResult<Vec<SecurityEvent>> {
        let mut out = Vec::new();
        for v in self.security_events.iter().values().rev() {
            let e: SecurityEvent = from_json(&v?)?;
            if keep(&e) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Inserts or replaces a webhook.
    pub fn put_webhook(&self, w: &Webhook) -> ApiResult<()> {
        self.webhooks.insert(w.id.as_bytes(), to_json(w)?)?;
        Ok(())
    }

    /// A webhook by id.
    pub fn webhook(&self, id: &str) -> ApiResult<Option<Webhook>> {
        Self::get_json(&self.webhooks, id.as_bytes())
    }

    /// Every webhook.
    pub fn webhooks(&self) -> ApiResult<Vec<Webhook>> {
        Self::all_json(&self.webhooks)
    }

    /// Deletes a webhook and its pending deliveries.
    pub fn delete_webhook(&self, id: &str) -> ApiResult<bool> {
        for d in self.deliveries()? {
            if d.webhook_id == id {
                self.outbox.remove(d.id.to_be_bytes())?;
            }
        }
        Ok(self.webhooks.remove(id)?.is_some())
    }

    /// Queues deliveries (their ids assigned here).
    pub fn enqueue(&self, ds: &mut [Delivery]) -> ApiResult<()> {
        for d in ds.iter_mut() {
            d.id = self.next_sequence("outbox_seq")?;
            self.outbox.insert(d.id.to_be_bytes(), to_json(d)?)?;
        }
        Ok(())
    }

    /// Every queued delivery, oldest first.
    pub fn deliveries(&self) -> ApiResult<Vec<Delivery>> {
        Self::all_json(&self.outbox)
    }

    /// One queued delivery, if it is still queued.
    pub fn delivery(&self, id: u64) -> ApiResult<Option<Delivery>> {
        Self::get_json(&self.outbox, &id.to_be_bytes())
    }

    /// Replaces a queued delivery (after a failed attempt).
    pub fn update_delivery(&self, d: &Delivery) -> ApiResult<()> {
        self.outbox.insert(d.id.to_be_bytes(), to_json(d)?)?;
        Ok(())
    }

    /// Removes a delivery (sent, or given up).
    pub fn remove_delivery(&self, id: u64) -> ApiResult<()> {
        self.outbox.remove(id.to_be_bytes())?;
        Ok(())
    }

    fn notification_key(user_id: &str, id: &str) -> Vec<u8> {
        let mut k = user_id.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(id.as_bytes());
        k
    }

    /// Inserts or replaces a notification.
    pub fn put_notification(&self, n: &Notification) -> ApiResult<()> {
        self.notifications
            .insert(Self::notification_key(&n.user_id, &n.id), to_json(n)?)?;
        Ok(())
    }

    /// A user's notification.
    pub fn notification(&self, user_id: &str, id: &str) -> ApiResult<Option<Notification>> {
        Self::get_json(&self.notifications, &Self::notification_key(user_id, id))
    }

    /// A user's notifications, newest first.
    pub fn notifications(&self, user_id: &str) -> ApiResult<Vec<Notification>> {
        let mut prefix = user_id.as_bytes().to_vec();
        prefix.push(0);
        let mut out: Vec<Notification> = self
            .notifications
            .scan_prefix(prefix)
            .values()
            .map(|v| from_json(&v?))
            .collect::<ApiResult<_>>()?;
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// Accepts an encrypted request once: false if the same envelope (`mac`, sent at `ts_ms`)
    /// was accepted before. Envelopes sent before `forget_before_ms` are forgotten; the caller
    /// refuses those as stale anyway.
    pub fn accept_envelope(&self, mac: &str, ts_ms: i64, forget_before_ms: i64) -> ApiResult<bool> {
        Self::spend_once(&self.envelopes, ts_ms, mac.as_bytes(), forget_before_ms)
    }

    /// Spends an answered challenge (its `nonce`, valid until `expires_at`) once: false if it
    /// was spent before. Challenges that expired before `forget_before` are forgotten.
    pub fn spend_challenge(
        &self,
        nonce: &[u8],
        expires_at: i64,
        forget_before: i64,
    ) -> ApiResult<bool> {
        Self::spend_once(&self.spent_challenges, expires_at, nonce, forget_before)
    }

    /// Records `id` at time `at` in `tree` unless it is there already (whether it was new), and
    /// removes the entries older than `forget_before`. Keys are `at ‖ id`, so the check is one
    /// compare-and-swap and the pruning a range at the front of the tree: the cost does not
    /// grow with how many entries the window holds.
    fn spend_once(tree: &sled::Tree, at: i64, id: &[u8], forget_before: i64) -> ApiResult<bool> {
        let mut key = u64::try_from(at).unwrap_or(0).to_be_bytes().to_vec();
        key.extend_from_slice(id);
        let fresh = tree
            .compare_and_swap(key, None::<&[u8]>, Some(&[][..]))?
            .is_ok();
        let cutoff = u64::try_from(forget_before).unwrap_or(0).to_be_bytes();
        for k in tree.range(..&cutoff[..]).keys() {
            tree.remove(k?)?;
        }
        Ok(fresh)
    }

    /// Every license (statistics, the expiry sweeper).
    pub fn all_licenses(&self) -> ApiResult<Vec<License>> {
        self.license_scans.fetch_add(1, Ordering::Relaxed);
        Self::all_json(&self.licenses)
    }

    /// How many times every license was read, since the store was opened: what no request of
    /// a registered user or an anonymous caller may cost (issue #12).
    pub fn license_scans(&self) -> u64 {
        self.license_scans.load(Ordering::Relaxed)
    }

    // ----- API keys

    /// Inserts or replaces an API key record.
    pub fn put_api_key(&self, k: &ApiKey) -> ApiResult<()> {
        self.api_keys.insert(k.id.as_bytes(), to_json(k)?)?;
        Ok(())
    }

    /// An API key record by id.
    pub fn api_key(&self, id: &str) -> ApiResult<Option<ApiKey>> {
        self.api_keys.get(id)?.map(|b| from_json(&b)).transpose()
    }

    /// All API key records.
    pub fn api_keys(&self) -> ApiResult<Vec<ApiKey>> {
        self.api_keys
            .iter()
            .values()
            .map(|v| from_json(&v?))
            .collect()
    }

    /// Counts one request of `key_id` on `day` (days since the epoch); returns the new count.
    pub fn count_usage(&self, key_id: &str, day: u64) -> ApiResult<u64> {
        let mut k = key_id.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&day.to_be_bytes());
        let v = self.usage.update_and_fetch(k, |old| {
            let n = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Request counts of `key_id`: (day, count), oldest first.
    pub fn usage(&self, key_id: &str) -> ApiResult<Vec<(u64, u64)>> {
        let mut prefix = key_id.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.usage.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let day = <[u8; 8]>::try_from(&k[prefix.len()..])
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            let n = <[u8; 8]>::try_from(&v[..])
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            out.push((day, n));
        }
        Ok(out)
    }

    /// Whether any API key exists (the first start creates the bootstrap key).
    pub fn has_api_keys(&self) -> bool {
        !self.api_keys.is_empty()
    }

    // ----- audit

    /// Appends an event; its `seq` is assigned here. The event is also indexed by its subject.
    pub fn append_audit(&self, mut e: AuditEvent) -> ApiResult<u64> {
        e.seq = self.next_sequence("audit_seq")?;
        let mut subject = e.subject.as_bytes().to_vec();
        subject.push(0);
        subject.extend_from_slice(&e.seq.to_be_bytes());
        let value = to_json(&e)?;
        // Two plain writes, the index first: a crash between them leaves an index entry
        // without its event, which `audit_of` skips, never an event it cannot find. (A
        // transaction here cost more than the writes themselves; issue #7.)
        self.audit_subjects.insert(subject, &[])?;
        self.audit.insert(e.seq.to_be_bytes(), value)?;
        Ok(e.seq)
    }

    /// The audit events about one subject, newest first: `skip` then at most `limit`, and the
    /// total.
    pub fn audit_of(
        &self,
        subject: &str,
        skip: usize,
        limit: usize,
    ) -> ApiResult<(Vec<AuditEvent>, usize)> {
        let mut prefix = subject.as_bytes().to_vec();
        prefix.push(0);
        let mut total = 0;
        let mut out = Vec::new();
        for kv in self.audit_subjects.scan_prefix(&prefix).rev() {
            let (k, _) = kv?;
            total += 1;
            if total > skip
                && out.len() < limit
                && let Some(v) = self.audit.get(&k[prefix.len()..])?
            {
                out.push(from_json(&v)?);
            }
        }
        Ok((out, total))
    }

    /// Events after `after` (exclusive) for which `keep` holds, oldest first, at most `limit`.
    pub fn audit(
        &self,
        after: u64,
        limit: usize,
        keep: impl Fn(&AuditEvent) -> bool,
    ) -> ApiResult<Page<AuditEvent>> {
        page(
            self.audit.range((after + 1).to_be_bytes()..),
            limit,
            keep,
            |e: &AuditEvent| e.seq.to_string(),
        )
    }

    // ----- revocations

    /// The revocation state.
    pub fn revocation_state(&self) -> ApiResult<RevocationState> {
        Ok(self
            .revocations
            .get("state")?
            .map(|b| from_json(&b))
            .transpose()?
            .unwrap_or_default())
    }

    /// Stores the state and the list signed from it, together.
    pub fn put_revocations(&self, state: &RevocationState, list: &[u8]) -> ApiResult<()> {
        let state = to_json(state)?;
        self.revocations.transaction(|t| {
            t.insert("state", state.clone())?;
            t.insert("list", list)?;
            Ok::<_, ConflictableTransactionError<ApiError>>(())
        })?;
        Ok(())
    }

    /// Stores `l` (revoked) and publishes a list that holds it and `token_ids`, in one
    /// transaction: a crash leaves both or neither, never a license marked revoked that no
    /// list holds (issue #12). `sign` signs the new state, its sequence already raised.
    pub fn revoke_license(
        &self,
        l: &License,
        token_ids: &[String],
        sign: impl Fn(&RevocationState) -> ApiResult<Vec<u8>>,
    ) -> ApiResult<RevocationState> {
        self.index_expiry(std::slice::from_ref(l))?;
        let value = to_json(l)?;
        let state = (&self.licenses, &self.revocations).transaction(|(licenses, revs)| {
            let abort = ConflictableTransactionError::Abort;
            let mut state: RevocationState = match revs.get("state")? {
                Some(b) => from_json(&b).map_err(abort)?,
                None => RevocationState::default(),
            };
            state
                .token_ids
                .extend(token_ids.iter().filter(|t| !t.is_empty()).cloned());
            state.license_ids.insert(l.id.clone());
            state.sequence += 1;
            let list = sign(&state).map_err(abort)?;
            revs.insert("state", to_json(&state).map_err(abort)?)?;
            revs.insert("list", list)?;
            licenses.insert(l.id.as_bytes(), value.clone())?;
            Ok(state)
        })?;
        Ok(state)
    }

    /// The current signed revocation list.
    pub fn revocation_list(&self) -> ApiResult<Option<Vec<u8>>> {
        Ok(self.revocations.get("list")?.map(|v| v.to_vec()))
    }
}

/// Up to `limit` records of `iter` for which `keep` holds, and the cursor of the next page if
/// one more matching record exists.
fn page<T: DeserializeOwned>(
    iter: sled::Iter,
    limit: usize,
    keep: impl Fn(&T) -> bool,
    cursor: impl Fn(&T) -> String,
) -> ApiResult<Page<T>> {
    let mut items = Vec::new();
    for kv in iter {
        let (_, v) = kv?;
        let x: T = from_json(&v)?;
        if keep(&x) {
            if items.len() == limit {
                let next = items.last().map(&cursor);
                return Ok(Page { items, next });
            }
            items.push(x);
        }
    }
    Ok(Page { items, next: None })
}

/// Adds `delta` to a license's machine count inside a transaction.
fn bump(
    counts: &sled::transaction::TransactionalTree,
    license_id: &str,
    delta: i64,
) -> Result<(), ConflictableTransactionError<ApiError>> {
    let n = counts
        .get(license_id.as_bytes())?
        .and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
        .map_or(0, u64::from_be_bytes);
    let n = n.saturating_add_signed(delta);
    counts.insert(license_id.as_bytes(), &n.to_be_bytes())?;
    Ok(())
}

/// Group commit: the first writer to need a flush performs it for everyone waiting.
#[derive(Debug)]
struct Committer {
    db: sled::Db,
    requested: AtomicU64,
    flushes: AtomicU64,
    flushed: tokio::sync::watch::Sender<u64>,
    leader: tokio::sync::Mutex<()>,
}

impl Committer {
    fn new(db: sled::Db) -> Self {
        Committer {
            db,
            requested: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            flushed: tokio::sync::watch::channel(0).0,
            leader: tokio::sync::Mutex::new(()),
        }
    }

    async fn commit(&self) -> ApiResult<()> {
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
                match flushed.map_err(ApiError::internal).and_then(|r| Ok(r?)) {
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
                return Err(ApiError::internal("committer closed"));
            }
        }
    }
}
