//! The storage traits: what the licensing core asks of a backend.
//!
//! A backend is a struct that implements a handful of small traits, one per concern (the
//! catalogue, licenses, seats, identities, …), gathered by [`Store`]; the server holds it as an
//! `Arc<dyn Store>`. Every method is a whole operation: it keeps its own invariants (unique
//! codes, seat counts, once-only ids) without any lock held by the caller, so that the same
//! guarantees hold when several processes share one database.
//!
//! Errors are [`StoreError`]s: a backend never decides an HTTP status. Filters and cursors are
//! data ([`LicenseFilter`], [`PageRequest`]), so that a SQL backend can turn them into a query.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{
    ApiKey, AuditEvent, BlacklistEntry, BlacklistType, Customer, Delivery, Download, DownloadGrant,
    License, LicenseRow, LicenseStatus, Machine, Notification, Order, Policy, Price, Product,
    SecurityEvent, Session, Severity, User, Webhook,
};
use crate::seats::{Recognised, SeatClaim, SeatError, SeatRule, Seated};

/// What went wrong in a store operation. Nothing was written when an operation fails.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The object the operation is about does not exist.
    NotFound,
    /// The operation would break a rule the store keeps: a unique key, or an object still in
    /// use. `detail` is a message for people.
    Conflict {
        /// Which rule.
        constraint: Constraint,
        /// What collided, for people.
        detail: String,
    },
    /// The backend failed (I/O, a corrupt record). Internal: logged, never shown to a client
    /// in detail.
    Backend(String),
    /// The backend cannot be reached now (a database that is down or restarting, no free
    /// connection within the wait): nothing was written, and the same operation may succeed
    /// later. `detail` is for the log.
    Unavailable(String),
}

/// The rules a store keeps, named so that the edge can answer each with its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Constraint {
    /// Product codes are unique.
    ProductCode,
    /// Product numeric ids are unique.
    ProductNumber,
    /// Names of products that answer by name (WemX, the Verify API) are unique among them.
    ProductName,
    /// License keys are unique.
    LicenseKey,
    /// Price ids are unique.
    PriceId,
    /// A product's download names are unique.
    DownloadName,
    /// User e-mail addresses are unique.
    UserEmail,
    /// A product's download files (their paths) are unique, and never replaced.
    DownloadFile,
    /// The object is still used by others (a product by licenses, a policy by licenses, a
    /// price by orders).
    InUse,
}

impl Constraint {
    /// The stable machine code of a violation.
    pub fn code(self) -> &'static str {
        match self {
            Constraint::ProductName => "duplicate_name",
            Constraint::InUse => "in_use",
            _ => "duplicate",
        }
    }
}

impl StoreError {
    /// A conflict with `constraint`.
    pub fn conflict(constraint: Constraint, detail: impl Into<String>) -> StoreError {
        StoreError::Conflict {
            constraint,
            detail: detail.into(),
        }
    }

    /// A backend failure.
    pub fn backend(e: impl std::fmt::Display) -> StoreError {
        StoreError::Backend(e.to_string())
    }

    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound => "not_found",
            StoreError::Conflict { constraint, .. } => constraint.code(),
            StoreError::Backend(_) => "store_error",
            StoreError::Unavailable(_) => "store_unavailable",
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("not found"),
            StoreError::Conflict { detail, .. } => f.write_str(detail),
            StoreError::Backend(e) => write!(f, "storage: {e}"),
            StoreError::Unavailable(e) => write!(f, "storage unavailable: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

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

impl RevocationState {
    /// Adds token ids (empty ones are no token): whether any was new.
    pub fn add_tokens(&mut self, token_ids: &[String]) -> bool {
        let before = self.token_ids.len();
        self.token_ids
            .extend(token_ids.iter().filter(|t| !t.is_empty()).cloned());
        self.token_ids.len() != before
    }
}

/// A page of results and the cursor of the next page.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page with nothing on it, and no next page.
    pub fn empty() -> Page<T> {
        Page {
            items: Vec::new(),
            next: None,
        }
    }

    /// The same page, each item made into another by `f`; the same cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// Which page: after the cursor `after` (exclusive), at most `limit` items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// At most this many items.
    pub limit: usize,
}

/// Which licenses a listing returns; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseFilter {
    /// Of this product.
    pub product_id: Option<String>,
    /// Of this policy.
    pub policy_id: Option<String>,
    /// With this status at the given time (an active license past its expiry is expired).
    pub status_at: Option<(LicenseStatus, i64)>,
    /// Matching what a support person types (see [`LicenseSearch`]).
    pub search: Option<LicenseSearch>,
}

/// What a support person searches licenses by: a license key in full or its last four
/// characters, a license id, a customer (found by e-mail first) or a metadata value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseSearch {
    /// The text typed, trimmed.
    pub text: String,
    /// The customer whose e-mail the text is, if there is one.
    pub customer_id: Option<u64>,
}

impl LicenseSearch {
    /// A search for `text` (trimmed), by e-mail too when `customer_id` is the customer whose
    /// e-mail it is.
    pub fn new(text: &str, customer_id: Option<u64>) -> LicenseSearch {
        LicenseSearch {
            text: text.trim().to_owned(),
            customer_id,
        }
    }

    /// Whether `l` matches. Four characters match the end of a key, regardless of case
    /// (keys are shown in groups, and read out over the phone); anything else must be a whole
    /// key, id or metadata value.
    pub fn matches(&self, l: &License) -> bool {
        let t = self.text.as_str();
        if t.is_empty() {
            return true;
        }
        let last4 = t.chars().count() == 4
            && l.key.len() >= 4
            && l.key.is_char_boundary(l.key.len() - 4)
            && l.key[l.key.len() - 4..].eq_ignore_ascii_case(t);
        last4
            || l.key == t
            || l.id == t
            || self.customer_id.is_some_and(|c| l.customer_id == Some(c))
            || l.metadata.values().any(|v| match v {
                serde_json::Value::String(s) => s == t,
                serde_json::Value::Number(n) => n.to_string() == t,
                _ => false,
            })
    }
}

impl LicenseFilter {
    /// Whether a license with row `r` passes, when the row is enough to tell: `None` for a
    /// filter with a search, which needs the whole license.
    pub fn admits_row(&self, r: &LicenseRow) -> Option<bool> {
        if self.search.is_some() {
            return None;
        }
        Some(
            self.product_id.as_deref().is_none_or(|p| r.product_id == p)
                && self.policy_id.as_deref().is_none_or(|p| r.policy_id == p)
                && self
                    .status_at
                    .is_none_or(|(st, now)| r.status_at(now) == st),
        )
    }

    /// Whether `l` passes.
    pub fn admits(&self, l: &License) -> bool {
        self.product_id.as_deref().is_none_or(|p| l.product_id == p)
            && self.policy_id.as_deref().is_none_or(|p| l.policy_id == p)
            && self
                .status_at
                .is_none_or(|(st, now)| l.status_at(now) == st)
            && self.search.as_ref().is_none_or(|s| s.matches(l))
    }
}

/// Which audit entries a listing returns; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Entries about this product only (what a product-limited key may read).
    pub product_id: Option<String>,
    /// This action, or, ending in `.`, actions starting with it (`license.`).
    pub action: Option<String>,
    /// About this subject.
    pub subject: Option<String>,
    /// By this actor.
    pub actor: Option<String>,
    /// About this license: the license itself, or anything whose detail names it as
    /// `license_id` (its machines' activations and deactivations).
    pub license: Option<String>,
    /// At or after this time.
    pub since: Option<i64>,
    /// Before this time.
    pub until: Option<i64>,
    /// Newest first (a page's `next` then reads on towards older entries); oldest first if
    /// not.
    pub newest_first: bool,
}

impl AuditFilter {
    /// Whether `e` passes.
    pub fn admits(&self, e: &AuditEvent) -> bool {
        self.product_id
            .as_deref()
            .is_none_or(|p| e.product_id.as_deref() == Some(p))
            && self
                .action
                .as_deref()
                .is_none_or(|a| e.action == a || (a.ends_with('.') && e.action.starts_with(a)))
            && self.subject.as_deref().is_none_or(|x| e.subject == x)
            && self.actor.as_deref().is_none_or(|x| e.actor == x)
            && self.license.as_deref().is_none_or(|x| {
                e.subject == x || e.detail.get("license_id").and_then(|v| v.as_str()) == Some(x)
            })
            && self.since.is_none_or(|t| e.at >= t)
            && self.until.is_none_or(|t| e.at < t)
    }
}

/// Which security events a listing returns; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityEventFilter {
    /// Of this type.
    pub event_type: Option<String>,
    /// Of this severity.
    pub severity: Option<Severity>,
    /// About this license.
    pub license_id: Option<String>,
    /// From this address.
    pub ip_address: Option<String>,
    /// From this hardware id.
    pub hwid: Option<String>,
    /// Blocked or not.
    pub is_blocked: Option<bool>,
    /// At or after this time.
    pub since: Option<i64>,
    /// At or before this time.
    pub until: Option<i64>,
}

impl SecurityEventFilter {
    /// Whether `e` passes.
    pub fn admits(&self, e: &SecurityEvent) -> bool {
        self.event_type.as_deref().is_none_or(|t| e.event_type == t)
            && self.severity.is_none_or(|v| e.severity == v)
            && self
                .license_id
                .as_deref()
                .is_none_or(|l| e.license_id.as_deref() == Some(l))
            && self
                .ip_address
                .as_deref()
                .is_none_or(|i| e.ip_address.as_deref() == Some(i))
            && self
                .hwid
                .as_deref()
                .is_none_or(|h| e.hwid.as_deref() == Some(h))
            && self.is_blocked.is_none_or(|b| e.is_blocked == b)
            && self.since.is_none_or(|t| e.created_at >= t)
            && self.until.is_none_or(|t| e.created_at <= t)
    }
}

/// Signs a revocation list for a state (the core's signer, handed to [`Revocations::revoke`]
/// so that the list published is the one stored, in the same operation).
pub type SignList<'a> = &'a (dyn Fn(&RevocationState) -> StoreResult<Vec<u8>> + Send + Sync);

/// Makes the record of a revocation from the state it published.
pub type TellRevocation<'a> = &'a (dyn Fn(&RevocationState) -> Record + Send + Sync);

/// Makes the record of a security event once it has its sequence number.
pub type TellSecurity<'a> = &'a (dyn Fn(&SecurityEvent) -> Record + Send + Sync);

/// Sequences and durability. There is no `commit`: every write operation of every trait is
/// durable when it returns (a backend may share one flush among concurrent operations, as
/// sled's group commit does, but never returns before its own writes are durable).
#[async_trait]
pub trait Durability: Send + Sync {
    /// The next number of a named sequence (`license`, `machine`, `price`, `customer`,
    /// `order`, `download`): 1, 2, 3, … never reused.
    async fn next_number(&self, sequence: &str) -> StoreResult<u64>;
    /// Makes durable the writes the backend took without waiting for the disk
    /// ([`Identity::count_usage`]); cheap when there are none. The server calls it on its
    /// periodic tick, which bounds what a crash can forget.
    async fn settle(&self) -> StoreResult<()> {
        Ok(())
    }
    /// How many times the backend made writes durable so far (sled: flushes), for metrics; 0
    /// where it does not count.
    fn flush_count(&self) -> u64 {
        0
    }
    /// Whether the backend answers now (`/healthz`): `Unavailable` when it does not. Cheap
    /// enough to call per request (a backend may answer from a recent probe).
    async fn health(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Whether this handle leads background `task` now (the outbox drain, the expiry sweep,
    /// culling, pruning), so that work which must happen once runs on one process at a time.
    /// Asked before each round. Of the processes sharing a store, at most one leads a task at a
    /// time, and a leader that dies gives it up. An embedded store has one process: it always
    /// leads.
    async fn lead(&self, task: &str) -> StoreResult<bool> {
        let _ = task;
        Ok(true)
    }
}

/// Products and policies.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// The next free product number.
    async fn next_product_number(&self) -> StoreResult<u64>;
    /// Adds a product; its code, number and (where it answers by name) name must be free.
    async fn insert_product(&self, p: &Product) -> StoreResult<()>;
    /// Replaces a product, keeping its code and number unique.
    async fn update_product(&self, p: &Product) -> StoreResult<()>;
    /// Removes a product that has no licenses, with its policies.
    async fn delete_product(&self, p: &Product) -> StoreResult<()>;
    /// A product by id.
    async fn product(&self, id: &str) -> StoreResult<Option<Product>>;
    /// A product by its code.
    async fn product_by_code(&self, code: &str) -> StoreResult<Option<Product>>;
    /// A product by its number.
    async fn product_by_number(&self, n: u64) -> StoreResult<Option<Product>>;
    /// Every product.
    async fn products(&self) -> StoreResult<Vec<Product>>;
    /// The products of one LicenseCM user.
    async fn products_of_owner(&self, owner: &str) -> StoreResult<Vec<Product>>;
    /// Adds or replaces a policy.
    async fn put_policy(&self, p: &Policy) -> StoreResult<()>;
    /// A policy by id.
    async fn policy(&self, id: &str) -> StoreResult<Option<Policy>>;
    /// Policies, of one product or all.
    async fn policies(&self, product_id: Option<&str>) -> StoreResult<Vec<Policy>>;
    /// Removes a policy no license uses.
    async fn delete_policy(&self, id: &str) -> StoreResult<()>;
}

/// Licenses.
#[async_trait]
pub trait Licenses: Send + Sync {
    /// Adds a license, with its record; its key must be free.
    async fn insert_license(&self, l: &License, record: Record) -> StoreResult<()>;
    /// Adds licenses with their record, all or none.
    async fn insert_licenses(&self, ls: &[License], record: Record) -> StoreResult<()>;
    /// Replaces a license.
    async fn update_license(&self, l: &License) -> StoreResult<()>;
    /// Reads license `id` and stores what `change` makes of it, as one operation that no other
    /// change of the license interleaves with (no lost update between two writers). The
    /// license as stored after; `None` when there is no such license.
    async fn change_license(
        &self,
        id: &str,
        change: ChangeLicense<'_>,
    ) -> StoreResult<Option<License>>;
    /// Removes a license with its machines, in one operation with the seat changes of the
    /// license: no seat is taken on a license being deleted.
    async fn delete_license(&self, l: &License, record: Record) -> StoreResult<()>;
    /// A license by id.
    async fn license(&self, id: &str) -> StoreResult<Option<License>>;
    /// A license by its key.
    async fn license_by_key(&self, key: &str) -> StoreResult<Option<License>>;
    /// Licenses in id order that pass `filter`, one page.
    async fn licenses(
        &self,
        filter: &LicenseFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<License>>;
    /// [`Licenses::licenses`] as rows: the same licenses, pages and cursors. A backend that
    /// keeps rows apart reads a page without the whole licenses (a filter with a search still
    /// reads them).
    async fn license_rows(
        &self,
        filter: &LicenseFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<LicenseRow>> {
        Ok(self
            .licenses(filter, page)
            .await?
            .map(|l| LicenseRow::of(&l)))
    }
    /// Every license of one product.
    async fn licenses_of(&self, product_id: &str) -> StoreResult<Vec<License>>;
    /// How many licenses there are.
    async fn license_count(&self) -> StoreResult<usize>;
    /// Licenses whose recorded expiry is at or before `now`: (expiry, license id). Entries
    /// may be stale (the license was renewed); the sweep checks and forgets them.
    async fn expiry_candidates(&self, now: i64) -> StoreResult<Vec<(i64, String)>>;
    /// Forgets one expiry candidate.
    async fn forget_expiry(&self, at: i64, license_id: &str) -> StoreResult<()>;
    /// Entries of the expiry index after `from` and at or before `to`, soonest first, at
    /// most `limit`: (expiry, license id). Read from the sweep's index, never by walking the
    /// licenses; entries may be stale like [`Licenses::expiry_candidates`]' (the caller reads
    /// each license).
    async fn expiring(&self, from: i64, to: i64, limit: usize) -> StoreResult<Vec<(i64, String)>>;
    /// How many times an operation walked every license since the store was opened: what no
    /// request of a registered user or an anonymous caller may cost. A diagnostic
    /// for tests; 0 where the backend does not count.
    fn license_scans(&self) -> u64 {
        0
    }
}

/// Builds the machine to store once the seat rule has admitted a claim, from the stored machine
/// the claim is (if any, with the parts its token may bind), and the audit entries to write with
/// it. Called inside [`Seats::take_seat`]'s atomic operation, at most once; an error writes
/// nothing.
pub type MakeSeat<'a> =
    &'a (dyn Fn(Option<&Recognised>) -> StoreResult<(Machine, Record)> + Send + Sync);

/// [`MakeSeat`] for one of several claims, by its index.
pub type MakeSeats<'a> =
    &'a (dyn Fn(usize, Option<&Recognised>) -> StoreResult<(Machine, Record)> + Send + Sync);

/// What a change writes besides itself, in the same store operation: the audit entries that
/// record it and the webhook deliveries that announce its events. A change and its record are
/// durable together or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// Audit entries (their sequence numbers are given by the store).
    pub audit: Vec<AuditEvent>,
    /// Deliveries to queue in the outbox (their ids are given by the store).
    pub deliveries: Vec<Delivery>,
}

impl Record {
    /// Nothing to record.
    pub fn none() -> Record {
        Record::default()
    }

    /// This record and `other`'s entries.
    pub fn and(mut self, other: Record) -> Record {
        self.audit.extend(other.audit);
        self.deliveries.extend(other.deliveries);
        self
    }
}

impl From<Vec<AuditEvent>> for Record {
    fn from(audit: Vec<AuditEvent>) -> Record {
        Record {
            audit,
            deliveries: Vec::new(),
        }
    }
}

impl From<AuditEvent> for Record {
    fn from(e: AuditEvent) -> Record {
        Record::from(vec![e])
    }
}

/// A value that a store operation's closure hands back to its caller. The closures are `Fn`
/// (a backend may call them on another thread, at most once per operation), so what they
/// make besides their answer goes here.
#[derive(Debug)]
pub struct Slot<T>(std::sync::Mutex<Option<T>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot(std::sync::Mutex::new(None))
    }
}

impl<T> Slot<T> {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `v` in, replacing what was there.
    pub fn put(&self, v: T) {
        *self.lock() = Some(v);
    }

    /// Takes what is there.
    pub fn take(&self) -> Option<T> {
        self.lock().take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<T>> {
        // What a panicking holder left is a plain value.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What [`Seats::change_seat`] does to the machine a claim names.
#[derive(Debug, Clone, PartialEq)]
pub enum SeatChange {
    /// Leave it (or its absence) as it is.
    Keep,
    /// Store this machine in its place: the same machine (id, license and fingerprint) with new
    /// facts, as a heartbeat makes it.
    Update(Box<Machine>),
    /// Give its seat back.
    Remove,
}

/// Decides a [`Seats::change_seat`] from the machine the claim is as stored now (`None`: the
/// license has no such machine), with the audit entries to write with the change. Called
/// inside the atomic operation, at most once; an error writes nothing.
pub type ChangeSeat<'a> =
    &'a (dyn Fn(Option<&Recognised>) -> StoreResult<(SeatChange, Record)> + Send + Sync);

/// Decides a [`Licenses::change_license`] from the license as stored now: the license to store
/// in its place and the audit entries to write with it, or `None` to leave it. Called inside
/// the atomic operation, at most once; an error writes nothing.
pub type ChangeLicense<'a> =
    &'a (dyn Fn(&License) -> StoreResult<Option<(License, Record)>> + Send + Sync);

/// Machines: the seats of licenses.
#[async_trait]
pub trait Seats: Send + Sync {
    /// Takes seats for `claims` (all of one license) under `rule` at `now`, as one operation
    /// that no concurrent seat change of the license (through any handle) can interleave with:
    /// reads the license's machines, applies [`seats::plan_all`](crate::seats::plan_all),
    /// removes the dead floating machines it names, stores the machines `make` builds (called
    /// with each claim's index) and their audit entries. All or none; durable when it returns.
    async fn take_seats(
        &self,
        claims: &[SeatClaim],
        rule: &SeatRule,
        now: i64,
        make: MakeSeats<'_>,
    ) -> Result<Vec<Seated>, SeatError>;

    /// [`Seats::take_seats`] for one claim.
    async fn take_seat(
        &self,
        claim: &SeatClaim,
        rule: &SeatRule,
        now: i64,
        make: MakeSeat<'_>,
    ) -> Result<Seated, SeatError> {
        let mut seated = self
            .take_seats(std::slice::from_ref(claim), rule, now, &|_, found| {
                make(found)
            })
            .await?;
        seated
            .pop()
            .ok_or_else(|| SeatError::Store(StoreError::backend("take_seats returned nothing")))
    }
    /// Changes the machine `claim` names (by fingerprint, or by its parts under the
    /// hardware-parts rule, [`seats::recognise`](crate::seats::recognise)) as one operation that
    /// no other seat change of the license interleaves with: `change` sees it as stored now and
    /// says what to do, and its audit entries are written with the change. Durable when it
    /// returns. The machine as it was before, if the license had it.
    ///
    /// Heartbeats, deactivations and culls go through it, so that a heartbeat cannot revive a
    /// machine a cull just removed, nor a cull remove one a heartbeat just renewed.
    async fn change_seat(
        &self,
        claim: &SeatClaim,
        change: ChangeSeat<'_>,
    ) -> Result<Option<Recognised>, SeatError>;
    /// Gives back every seat of a license in one operation, with its record; the
    /// machines removed.
    async fn clear_seats(&self, license_id: &str, record: Record) -> StoreResult<Vec<Machine>>;
    /// The machines of a license.
    async fn machines(&self, license_id: &str) -> StoreResult<Vec<Machine>>;
    /// The machine of a license with this fingerprint.
    async fn machine(&self, license_id: &str, fingerprint: &str) -> StoreResult<Option<Machine>>;
    /// A machine by id.
    async fn machine_by_id(&self, id: &str) -> StoreResult<Option<Machine>>;
    /// How many machines a license has.
    async fn machine_count(&self, license_id: &str) -> StoreResult<u64>;
    /// How many machines there are.
    async fn machine_total(&self) -> StoreResult<usize>;
    /// How many machines each license has, for the licenses that have any: (license id,
    /// count), in license id order. Read from the counts the store keeps with the machines.
    async fn seat_counts(&self) -> StoreResult<Vec<(String, u64)>>;
    /// Adds or replaces a machine, keeping the license's count.
    async fn put_machine(&self, m: &Machine) -> StoreResult<()>;
    /// Replaces a machine that exists.
    async fn update_machine(&self, m: &Machine) -> StoreResult<()>;
    /// Removes a machine; whether it existed.
    async fn remove_machine(&self, m: &Machine) -> StoreResult<bool>;
    /// Marks every license of a floating policy for culling.
    async fn recheck_floating(&self) -> StoreResult<()>;
    /// Licenses that have had floating machines.
    async fn floating_licenses(&self) -> StoreResult<Vec<String>>;
    /// Stops culling a license.
    async fn unmark_floating(&self, license_id: &str) -> StoreResult<()>;
}

/// The store's prices, customers and orders (the WemX-compatible shop).
#[async_trait]
pub trait Shop: Send + Sync {
    /// Adds a price; its id must be free.
    async fn insert_price(&self, p: &Price) -> StoreResult<()>;
    /// The next free price id.
    async fn next_price_id(&self) -> StoreResult<u64>;
    /// A price.
    async fn price(&self, id: u64) -> StoreResult<Option<Price>>;
    /// Prices, of one product or all.
    async fn prices(&self, product_id: Option<&str>) -> StoreResult<Vec<Price>>;
    /// Removes a price no order uses.
    async fn delete_price(&self, id: u64) -> StoreResult<()>;
    /// A customer.
    async fn customer(&self, id: u64) -> StoreResult<Option<Customer>>;
    /// A customer by e-mail.
    async fn customer_by_email(&self, email: &str) -> StoreResult<Option<Customer>>;
    /// Adds a customer unless one has the e-mail: (the customer stored, whether it is new).
    async fn insert_customer_if_new(&self, c: &Customer) -> StoreResult<(Customer, bool)>;
    /// Replaces a customer.
    async fn update_customer(&self, c: &Customer) -> StoreResult<()>;
    /// Customers after id `after`, at most `limit`.
    async fn customers(&self, after: u64, limit: usize) -> StoreResult<Page<Customer>>;
    /// An order.
    async fn order(&self, id: u64) -> StoreResult<Option<Order>>;
    /// A customer's orders.
    async fn orders_of_customer(&self, customer_id: u64) -> StoreResult<Vec<Order>>;
    /// Adds an order with its new license, machines and record, all or none.
    async fn insert_order(
        &self,
        o: &Order,
        l: &License,
        machines: &[Machine],
        record: Record,
    ) -> StoreResult<()>;
    /// Replaces an order, and its license with what `change` makes of it as stored now,
    /// together (one operation, as [`Licenses::change_license`]). The license as stored.
    async fn update_order(
        &self,
        o: &Order,
        change: ChangeLicense<'_>,
    ) -> StoreResult<Option<License>>;
}

/// Product downloads and their one-time grants.
#[async_trait]
pub trait Downloads: Send + Sync {
    /// Adds a download; its name must be free in its product.
    async fn insert_download(&self, d: &Download) -> StoreResult<()>;
    /// A download.
    async fn download(&self, id: u64) -> StoreResult<Option<Download>>;
    /// A product's download by name.
    async fn download_by_name(&self, product_id: &str, name: &str)
    -> StoreResult<Option<Download>>;
    /// Downloads, of one product or all.
    async fn downloads(&self, product_id: Option<&str>) -> StoreResult<Vec<Download>>;
    /// Removes a download.
    async fn delete_download(&self, d: &Download) -> StoreResult<()>;
    /// Stores a grant.
    async fn put_grant(&self, id: &[u8; 16], g: &DownloadGrant) -> StoreResult<()>;
    /// A grant.
    async fn grant(&self, id: &[u8; 16]) -> StoreResult<Option<DownloadGrant>>;
    /// Spends a grant once: whether this call was the one that spent it.
    async fn use_grant(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
    /// Forgets grants that expired before `before`; how many.
    async fn prune_grants(&self, before: i64) -> StoreResult<usize>;
}

/// Users, sessions and API keys.
#[async_trait]
pub trait Identity: Send + Sync {
    /// Adds a user; the e-mail must be free.
    async fn insert_user(&self, u: &User) -> StoreResult<User>;
    /// Replaces a user.
    async fn update_user(&self, u: &User) -> StoreResult<()>;
    /// A user.
    async fn user(&self, id: &str) -> StoreResult<Option<User>>;
    /// A user by e-mail.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Every user.
    async fn users(&self) -> StoreResult<Vec<User>>;
    /// Stores a session, reachable by each of the token hashes.
    async fn put_session(&self, s: &Session, token_hashes: &[&str]) -> StoreResult<()>;
    /// Stores `next` in place of its session only if the stored session's `token_hash` is
    /// still `expected_hash` (no concurrent rotation came first), pointing `token_hashes` to it
    /// and making `forget` lead nowhere, in one operation. Whether it was stored.
    async fn rotate_session(
        &self,
        next: &Session,
        expected_hash: &str,
        token_hashes: &[&str],
        forget: &[String],
    ) -> StoreResult<bool>;
    /// The sessions of a license.
    async fn sessions_of(&self, license_id: &str) -> StoreResult<Vec<Session>>;
    /// Makes token hashes lead nowhere.
    async fn forget_session_tokens(&self, token_hashes: &[String]) -> StoreResult<()>;
    /// The session of a token hash.
    async fn session_by_token(&self, token_hash: &str) -> StoreResult<Option<Session>>;
    /// A session.
    async fn session(&self, id: &str) -> StoreResult<Option<Session>>;
    /// Every session.
    async fn sessions(&self) -> StoreResult<Vec<Session>>;
    /// Adds or replaces an API key record.
    async fn put_api_key(&self, k: &ApiKey) -> StoreResult<()>;
    /// An API key record.
    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>>;
    /// Every API key record.
    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    /// Whether any API key exists.
    async fn has_api_keys(&self) -> StoreResult<bool>;
    /// Counts one use of a key on a day; the day's count so far.
    ///
    /// Unlike every other write, the count need not be durable when this returns (it is
    /// taken on every keyed request, reads included): a backend may leave it for its next
    /// flush or for [`Durability::settle`]. A crash can then forget the last seconds of
    /// counts, letting a key with a daily quota make that many requests more that day.
    async fn count_usage(&self, key_id: &str, day: u64) -> StoreResult<u64>;
    /// A key's use by day: (day, count).
    async fn usage(&self, key_id: &str) -> StoreResult<Vec<(u64, u64)>>;
}

/// The blacklist and the security log.
#[async_trait]
pub trait Security: Send + Sync {
    /// Adds or replaces a blacklist entry.
    async fn put_blacklist(&self, e: &BlacklistEntry) -> StoreResult<()>;
    /// A blacklist entry.
    async fn blacklist_entry(&self, id: &str) -> StoreResult<Option<BlacklistEntry>>;
    /// The whole blacklist.
    async fn blacklist(&self) -> StoreResult<Vec<BlacklistEntry>>;
    /// Removes a blacklist entry; whether it existed.
    async fn delete_blacklist(&self, id: &str) -> StoreResult<bool>;
    /// The entries that match any of the probes (type, value), in force or not.
    async fn blacklist_matches(
        &self,
        probes: &[(BlacklistType, &str)],
    ) -> StoreResult<Vec<BlacklistEntry>>;
    /// Appends a security event, with the record `tell` makes of it once it has its sequence
    /// number, in one operation.
    async fn append_security_event(
        &self,
        e: SecurityEvent,
        tell: TellSecurity<'_>,
    ) -> StoreResult<SecurityEvent>;
    /// Security events that pass `filter`, oldest first.
    async fn security_events(
        &self,
        filter: &SecurityEventFilter,
    ) -> StoreResult<Vec<SecurityEvent>>;
}

/// Webhooks, their outbox, and LicenseCM notifications.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds or replaces a webhook.
    async fn put_webhook(&self, w: &Webhook) -> StoreResult<()>;
    /// A webhook.
    async fn webhook(&self, id: &str) -> StoreResult<Option<Webhook>>;
    /// Every webhook.
    async fn webhooks(&self) -> StoreResult<Vec<Webhook>>;
    /// Removes a webhook; whether it existed.
    async fn delete_webhook(&self, id: &str) -> StoreResult<bool>;
    /// Queues deliveries; each gets its id.
    async fn enqueue(&self, ds: &mut [Delivery]) -> StoreResult<()>;
    /// Every queued delivery, oldest first.
    async fn deliveries(&self) -> StoreResult<Vec<Delivery>>;
    /// A queued delivery.
    async fn delivery(&self, id: u64) -> StoreResult<Option<Delivery>>;
    /// Replaces a queued delivery (after an attempt).
    async fn update_delivery(&self, d: &Delivery) -> StoreResult<()>;
    /// Removes a delivery from the queue, forgotten (its webhook is gone).
    async fn remove_delivery(&self, id: u64) -> StoreResult<()>;
    /// Takes a delivery out of the queue into the delivery log, as it was settled (delivered
    /// or given up). The log keeps the newest [`DELIVERY_LOG`] of each webhook.
    async fn settle_delivery(&self, d: &Delivery) -> StoreResult<()>;
    /// A webhook's deliveries, queued and settled, newest first, at most `limit`.
    async fn deliveries_of(&self, webhook_id: &str, limit: usize) -> StoreResult<Vec<Delivery>>;
    /// Adds or replaces a notification.
    async fn put_notification(&self, n: &Notification) -> StoreResult<()>;
    /// A notification of a user.
    async fn notification(&self, user_id: &str, id: &str) -> StoreResult<Option<Notification>>;
    /// The notifications of a user.
    async fn notifications(&self, user_id: &str) -> StoreResult<Vec<Notification>>;
}

/// Settled deliveries the log keeps per webhook.
pub const DELIVERY_LOG: usize = 100;

/// Ids that may be used once.
#[async_trait]
pub trait OneTime: Send + Sync {
    /// Claims a WemX `transaction_id` for a license: whether this call claimed it.
    async fn claim_transaction(&self, id: &str, license_id: &str) -> StoreResult<bool>;
    /// Whether a `transaction_id` was claimed.
    async fn transaction_seen(&self, id: &str) -> StoreResult<bool>;
    /// Accepts an encrypted request's MAC once: whether it is new. Entries older than
    /// `forget_before_ms` are forgotten.
    async fn accept_envelope(
        &self,
        mac: &str,
        ts_ms: i64,
        forget_before_ms: i64,
    ) -> StoreResult<bool>;
    /// Spends a challenge nonce once: whether this call spent it. Nonces that expired before
    /// `forget_before` are forgotten.
    async fn spend_challenge(
        &self,
        nonce: &[u8],
        expires_at: i64,
        forget_before: i64,
    ) -> StoreResult<bool>;
    /// Whether a nonce was spent with this `expires_at` (and not forgotten yet).
    async fn challenge_spent(&self, nonce: &[u8], expires_at: i64) -> StoreResult<bool>;
}

/// The audit log.
#[async_trait]
pub trait Audit: Send + Sync {
    /// Appends an entry; its sequence number.
    async fn append_audit(&self, e: AuditEvent) -> StoreResult<u64>;
    /// The entries about one subject, newest first: `skip` then at most `limit`, and the total.
    async fn audit_of(
        &self,
        subject: &str,
        skip: usize,
        limit: usize,
    ) -> StoreResult<(Vec<AuditEvent>, usize)>;
    /// Entries that pass `filter`, oldest first, one page (the cursor is a sequence number).
    async fn audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>>;
    /// Forgets audit and security entries older than `before`, and the oldest beyond
    /// `max_entries` of each, at most `budget` in this call: (audit, security) removed.
    async fn prune_logs(
        &self,
        before: i64,
        max_entries: u64,
        budget: usize,
    ) -> StoreResult<(usize, usize)>;
}

/// The published revocation list.
#[async_trait]
pub trait Revocations: Send + Sync {
    /// The revoked ids published so far.
    async fn revocation_state(&self) -> StoreResult<RevocationState>;
    /// The signed list last published.
    async fn revocation_list(&self) -> StoreResult<Option<Vec<u8>>>;
    /// Stores a state and its signed list.
    async fn put_revocations(&self, state: &RevocationState, list: &[u8]) -> StoreResult<()>;
    /// Revokes a license and its tokens in one operation: the license's status, the next
    /// state (sequence + 1) and its list as `sign` signs it, and the record `tell` makes of
    /// the new state, all or none. The new state.
    async fn revoke_license(
        &self,
        l: &License,
        token_ids: &[String],
        sign: SignList<'_>,
        tell: TellRevocation<'_>,
    ) -> StoreResult<RevocationState>;
    /// Revokes tokens (a seat given back before its long-lived token expired): the next state
    /// (sequence + 1) holding `token_ids`, its list as `sign` signs it, and the record `tell`
    /// makes, all or none. Tokens already listed are not listed twice; if every one is, nothing
    /// is written and the current state is returned.
    async fn revoke_tokens(
        &self,
        token_ids: &[String],
        sign: SignList<'_>,
        tell: TellRevocation<'_>,
    ) -> StoreResult<RevocationState>;
}

/// One day's count of one thing for one product: what the dashboard's overview charts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CountKey {
    /// Days since 1970-01-01, UTC.
    pub day: i64,
    /// What is counted: `activation`, `validation`, or `refusal:<code>` with the stable code
    /// of a refused activation or validation. Names come from the server's code, never from
    /// a request, so there are as many as there are codes.
    pub name: String,
    /// The product, or `""` when the request named no license the server knows.
    pub product_id: String,
}

/// Daily counts, added to by every instance that shares the store: each keeps its own tally
/// in memory and adds it now and then ([`crate::tally::Tally`]), so that counting costs a
/// request nothing and a chart costs one read, not a walk over the audit log.
#[async_trait]
pub trait Counters: Send + Sync {
    /// Adds each count to its key's total, as one operation: all or none. Additions, never
    /// overwrites, so that instances flushing at once lose nothing.
    async fn add_counts(&self, counts: &[(CountKey, u64)]) -> StoreResult<()>;
    /// The totals of the days `from..=to`, in key order.
    async fn counts(&self, from: i64, to: i64) -> StoreResult<Vec<(CountKey, u64)>>;
    /// Removes the days before `before`; how many totals went.
    async fn prune_counts(&self, before: i64) -> StoreResult<u64>;
}

/// The server's signing keys, as the server seals them: a backend stores bytes it cannot read.
/// Where several instances share one store, the first to start creates the keys and the others
/// load them.
#[async_trait]
pub trait KeyVault: Send + Sync {
    /// A sealed key by name.
    async fn sealed_key(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Stores a sealed key under `name` unless one is stored already, as one operation: the key
    /// stored after it (this one, or the one another handle stored first).
    async fn insert_sealed_key(&self, name: &str, sealed: &[u8]) -> StoreResult<Vec<u8>>;
}

/// The contents of download files, for a store shared by several instances: a file must not
/// live on one instance's disk. A backend that keeps files (PostgreSQL) stores them in chunks;
/// one that does not (sled, whose server keeps them in its data directory) keeps the defaults,
/// and the server never calls the rest.
///
/// An upload is written as chunks under an upload id no one else knows, then made a file by
/// [`FileVault::commit_file`] in one step: a broken upload leaves only chunks no file names,
/// which [`FileVault::prune_uploads`] removes.
#[async_trait]
pub trait FileVault: Send + Sync {
    /// Whether download files live in the store.
    fn keeps_files(&self) -> bool {
        false
    }
    /// Stores chunk `n` (from 0) of upload `upload`, durably.
    async fn put_upload_chunk(
        &self,
        _upload: &str,
        _n: u32,
        _bytes: &[u8],
        _now: i64,
    ) -> StoreResult<()> {
        Err(StoreError::backend("this store keeps no files"))
    }
    /// Makes upload `upload` the file `file` of `product_id`, unless that file exists
    /// ([`Constraint::DownloadFile`]).
    async fn commit_file(&self, _upload: &str, _product_id: &str, _file: &str) -> StoreResult<()> {
        Err(StoreError::backend("this store keeps no files"))
    }
    /// Whether `product_id` has the file `file`.
    async fn has_file(&self, _product_id: &str, _file: &str) -> StoreResult<bool> {
        Ok(false)
    }
    /// Chunk `n` of a file; `None` past its end (or if there is no such file).
    async fn file_chunk(
        &self,
        _product_id: &str,
        _file: &str,
        _n: u32,
    ) -> StoreResult<Option<Vec<u8>>> {
        Ok(None)
    }
    /// Removes a file and its chunks (an upload whose registration failed).
    async fn delete_file(&self, _product_id: &str, _file: &str) -> StoreResult<()> {
        Ok(())
    }
    /// Removes chunks of uploads begun before `before` that never became a file; how many.
    async fn prune_uploads(&self, _before: i64) -> StoreResult<u64> {
        Ok(0)
    }
}

/// What a validation reads ([`crate::rules::validate`]), read together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationFacts {
    /// The blacklist entries that match the probes, in force or not, by id.
    pub blacklist: Vec<BlacklistEntry>,
    /// The license of the key.
    pub license: Option<License>,
    /// Its product.
    pub product: Option<Product>,
    /// Its policy.
    pub policy: Option<Policy>,
    /// Its machine of the fingerprint asked about.
    pub machine: Option<Machine>,
}

/// Reads that answer one request together. A validation is the hottest path of a license
/// server, and on a database each read is a round trip: a backend answers this in one where it
/// can ([`facts_one_by_one`] is the same, read by read).
#[async_trait]
pub trait Lookups: Send + Sync {
    /// The blacklist entries matching `probes`, and the license of `key` with its product,
    /// its policy and its machine of `fingerprint`.
    async fn validation_facts(
        &self,
        probes: &[(BlacklistType, &str)],
        key: &str,
        fingerprint: Option<&str>,
    ) -> StoreResult<ValidationFacts>;
}

/// [`Lookups::validation_facts`] read by read, through the other traits.
pub async fn facts_one_by_one<S: Catalog + Licenses + Seats + Security + ?Sized>(
    s: &S,
    probes: &[(BlacklistType, &str)],
    key: &str,
    fingerprint: Option<&str>,
) -> StoreResult<ValidationFacts> {
    let mut blacklist = s.blacklist_matches(probes).await?;
    blacklist.sort_by(|a, b| a.id.cmp(&b.id));
    let Some(license) = s.license_by_key(key).await? else {
        return Ok(ValidationFacts {
            blacklist,
            ..ValidationFacts::default()
        });
    };
    let product = s.product(&license.product_id).await?;
    let policy = s.policy(&license.policy_id).await?;
    let machine = match fingerprint {
        Some(fp) => s.machine(&license.id, fp).await?,
        None => None,
    };
    Ok(ValidationFacts {
        blacklist,
        license: Some(license),
        product,
        policy,
        machine,
    })
}

/// What moving a store to another backend needs besides the other traits' reads and writes:
/// the raw state of the sequences, the spent WemX transaction ids, API keys' daily counts and
/// the key vault (see [`crate::transfer`]).
#[async_trait]
pub trait Transfer: Send + Sync {
    /// The last number a sequence gave (0 if none), or a number past it.
    async fn last_number(&self, sequence: &str) -> StoreResult<u64>;
    /// Makes a sequence give only numbers above `at_least` from now on; never lowers it.
    async fn raise_number(&self, sequence: &str, at_least: u64) -> StoreResult<()>;
    /// Every claimed WemX `transaction_id`, with its license.
    async fn transactions(&self) -> StoreResult<Vec<(String, String)>>;
    /// Sets an API key's count of one day.
    async fn set_usage(&self, key_id: &str, day: u64, count: u64) -> StoreResult<()>;
    /// Every entry of the key vault: (name, bytes).
    async fn sealed_keys(&self) -> StoreResult<Vec<(String, Vec<u8>)>>;
}

/// A storage backend: every concern, in one object the server holds as `Arc<dyn Store>`.
pub trait Store:
    Durability
    + Catalog
    + Licenses
    + Seats
    + Shop
    + Downloads
    + Identity
    + Security
    + Outbox
    + OneTime
    + Audit
    + Revocations
    + KeyVault
    + FileVault
    + Transfer
    + Lookups
    + Counters
    + std::fmt::Debug
{
}

impl<T> Store for T where
    T: Durability
        + Catalog
        + Licenses
        + Seats
        + Shop
        + Downloads
        + Identity
        + Security
        + Outbox
        + OneTime
        + Audit
        + Revocations
        + KeyVault
        + FileVault
        + Transfer
        + Lookups
        + Counters
        + std::fmt::Debug
{
}
