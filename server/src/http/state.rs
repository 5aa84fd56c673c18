//! The application state shared by every handler, and the operations several routes share:
//! issuing tokens, publishing revocation lists, signing answers, writing the audit log.

use crate::http::error::ErrorCode;
use licet_core::audit::AuditAction;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use licet_issuer::{RevocationListBuilder, TokenBuilder};

use crate::config::Config;
use crate::http::error::{ApiError, ApiResult};
use crate::keys::ServerKeys;
use licet_core::clock::Clock;
use licet_core::model::{AuditEvent, License, Machine, Policy, Product};
use licet_core::seats::{SeatClaim, SeatError, SeatRule, Seated};
use licet_core::store::{Halted, Record, RevocationState, Seat, SeatsWith, Store, StoreError};

/// Builds a seat's machine for [`AppState::take_seat`]: from the seat the claim takes (the
/// stored machine, or a new one's number, drawn inside the operation), at the operation's time;
/// with the audit entries to write with it and what the caller wants back (`T`), or the
/// caller's reason to decline (`E`), which it gets back as given.
pub type MakeSeatAt<'a, T, E> =
    &'a (dyn for<'s> Fn(Seat<'s>, i64) -> Result<(Machine, Record, T), E> + Send + Sync);

/// [`MakeSeatAt`] for one of several claims, by its index.
pub type MakeSeatsAt<'a, T, E> =
    &'a (dyn for<'s> Fn(usize, Seat<'s>, i64) -> Result<(Machine, Record, T), E> + Send + Sync);

/// Header carrying the signature of an online answer.
pub const SIGNATURE_HEADER: &str = "licet-signature";
/// Domain-separation prefix of signed answers: never a COSE `Sig_structure`, never a JWT.
pub const RESPONSE_CONTEXT: &[u8] = b"licet-response-v1\0";

/// Everything a handler needs.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The server's keys: replaced whole when the token key rotates (see [`AppState::keys`]).
    keys: Arc<std::sync::RwLock<Arc<ServerKeys>>>,
    /// Where new generations of the token key are kept; `None`: the keys do not rotate.
    key_source: Option<crate::keys::ring::KeySource>,
    /// One rotation at a time in this process (the store orders those of several).
    rotation_lock: Arc<tokio::sync::Mutex<()>>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Rate limiters.
    pub limits: Arc<crate::http::limits::Limits>,
    /// Metrics.
    pub metrics: Arc<crate::http::metrics::Metrics>,
    /// The overview's daily counts and summary (see `crate::stats`).
    pub stats: Arc<crate::http::figures::Stats>,
    revocation_lock: Arc<tokio::sync::Mutex<()>>,
    /// LicenseCM's signed facts of the current minute, by facts (see
    /// `compat::licensecm::client`): an RSA-4096 signature costs ~13 ms, facts change rarely.
    pub(crate) signed_facts: Arc<std::sync::Mutex<SignedFacts>>,
    /// Webhook deliveries in flight (see `events::drain_outbox`).
    pub dispatch: Arc<crate::dispatch::Dispatch>,
    /// What was logged this minute (see [`AppState::first_this_minute`]).
    logged: Arc<std::sync::Mutex<Logged>>,
    /// Holds every writer back while a backup copies the store (see `crate::backup`).
    pub gate: Arc<crate::backup::Gate>,
}

/// A failure of the key ring as an answer: the store's own (503 when it is away), or a 500.
fn key_error(e: anyhow::Error) -> ApiError {
    match e.downcast::<StoreError>() {
        Ok(e) => e.into(),
        Err(e) => ApiError::internal(e),
    }
}

/// Most entries [`AppState::first_this_minute`] remembers; it forgets them all past this, so
/// the worst case is one extra log entry per key, never a missing refusal.
const MAX_LOGGED: usize = 200_000;

/// What was let through once a minute, by the SHA-256 of its parts: (minute, times passed over
/// since).
type Logged = std::collections::HashMap<[u8; 32], (i64, u64)>;

/// Signed facts by the SHA-256 of their content: (minute, data, signature).
pub(crate) type SignedFacts = std::collections::HashMap<[u8; 32], (i64, String, String)>;

impl AppState {
    /// Builds the state.
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<ServerKeys>,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> anyhow::Result<AppState> {
        Ok(AppState {
            store,
            keys: Arc::new(std::sync::RwLock::new(keys)),
            key_source: None,
            rotation_lock: Arc::default(),
            clock,
            config: Arc::new(config.clone()),
            limits: Arc::new(crate::http::limits::Limits::new(&config)),
            metrics: Arc::default(),
            stats: Arc::default(),
            revocation_lock: Arc::new(tokio::sync::Mutex::new(())),
            signed_facts: Arc::default(),
            dispatch: Arc::default(),
            logged: Arc::default(),
            gate: Arc::default(),
        })
    }

    /// Lets the token key rotate, its new generations kept in `source`.
    #[must_use]
    pub fn with_key_source(mut self, source: crate::keys::ring::KeySource) -> AppState {
        self.key_source = Some(source);
        self
    }

    /// Where new generations of the token key are kept, if they can be.
    pub fn key_source(&self) -> Option<&crate::keys::ring::KeySource> {
        self.key_source.as_ref()
    }

    /// The keys as they are now. A handler takes them once and signs with what it took, so
    /// that a rotation in between cannot mix two generations in one answer.
    pub fn keys(&self) -> Arc<ServerKeys> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn set_keys(&self, keys: Arc<ServerKeys>) {
        match self.keys.write() {
            Ok(mut k) => *k = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    /// How long anything the signing generation signed may be presented (seconds): the longest
    /// token lifetime of any product, offline lease and borrow of any policy, the revocation
    /// list's validity, the JWTs' lifetimes.
    async fn signed_for(&self) -> ApiResult<i64> {
        let tokens = self
            .store
            .products()
            .await?
            .iter()
            .map(|p| p.token_lifetime)
            .max()
            .unwrap_or(0);
        let leases = self
            .store
            .policies(None)
            .await?
            .iter()
            .map(|p| p.offline_lease.unwrap_or(0).max(p.max_borrow))
            .max()
            .unwrap_or(0);
        let c = &self.config;
        let longest = tokens
            .max(leases)
            .max(c.revocation_validity)
            .max(c.jwt_ttl)
            .max(c.user_jwt_ttl);
        Ok(i64::try_from(longest).unwrap_or(i64::MAX))
    }

    /// Where rotated keys go, or why there is nowhere (a server given fixed keys).
    fn rotatable(&self) -> ApiResult<&crate::keys::ring::KeySource> {
        self.key_source.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::KeysNotRotatable,
                "this server's keys cannot be rotated (they were given to it, not stored by it)",
            )
        })
    }

    /// Rotates the token key: a new generation signs from now on; the one before verifies
    /// until what it signed has expired. Returns the keys after.
    pub async fn rotate_keys(&self) -> ApiResult<Arc<ServerKeys>> {
        let source = self.rotatable()?;
        let _one = self.rotation_lock.lock().await;
        let window = self.signed_for().await?;
        let keys =
            crate::keys::ring::rotate(self.keys(), &*self.store, source, self.clock.now(), window)
                .await
                .map_err(key_error)?;
        self.set_keys(Arc::clone(&keys));
        Ok(keys)
    }

    /// Takes up any generation of the token key, or version of the root secret, another
    /// instance made; whether there was one.
    pub async fn refresh_keys(&self) -> ApiResult<bool> {
        let Some(source) = &self.key_source else {
            return Ok(false);
        };
        let _one = self.rotation_lock.lock().await;
        let before = self.keys();
        let after = crate::keys::ring::load_newer(Arc::clone(&before), &*self.store, source)
            .await
            .map_err(key_error)?;
        let after = crate::keys::root::load_newer(after, &*self.store, source)
            .await
            .map_err(key_error)?;
        if after.generation() != before.generation() {
            tracing::info!(
                generation = after.generation(),
                "took up a rotated token key"
            );
        }
        if after.root_version() != before.root_version() {
            tracing::info!(
                version = after.root_version(),
                "took up a rotated root secret"
            );
        }
        let changed = !Arc::ptr_eq(&before, &after);
        if changed {
            self.set_keys(after);
        }
        Ok(changed)
    }

    /// Takes up the root secret where the keys are kept, making its first version if there is
    /// none (then sealing again what the first token key's seed sealed). A server without a
    /// key source keeps deriving from its token key. Called once at start.
    pub async fn take_up_root(&self) -> anyhow::Result<()> {
        let Some(source) = &self.key_source else {
            return Ok(());
        };
        let _one = self.rotation_lock.lock().await;
        let (keys, made) =
            crate::keys::root::load_or_create(self.keys(), &*self.store, source).await?;
        self.set_keys(Arc::clone(&keys));
        if made {
            let n = crate::keys::root::reseal(&keys, &*self.store).await?;
            tracing::info!(resealed = n, "made the root secret");
        }
        Ok(())
    }

    /// Makes the next version of the root secret and seals every stored secret again under it;
    /// the new version and how many secrets were sealed again. Dashboard sessions, download
    /// URLs and challenges made before end at once (their keys derive from the root).
    pub async fn rotate_root(&self) -> ApiResult<(u32, usize)> {
        let source = self.rotatable()?;
        let _one = self.rotation_lock.lock().await;
        let keys = crate::keys::root::rotate(self.keys(), &*self.store, source)
            .await
            .map_err(key_error)?;
        self.set_keys(Arc::clone(&keys));
        let n = crate::keys::root::reseal(&keys, &*self.store)
            .await
            .map_err(key_error)?;
        Ok((keys.root_version(), n))
    }

    /// Whether the event `what` (its parts) is new this minute; it is remembered if so.
    ///
    /// Repeated successful checks of one license from one machine and address are logged once
    /// a minute rather than once per request: the log keeps who checked and when, to the
    /// minute, and a validation stops costing store writes. Refusals are always
    /// logged.
    pub(crate) fn first_this_minute(&self, what: &[&str]) -> bool {
        self.once_a_minute(what).is_some()
    }

    /// [`AppState::first_this_minute`], counting: `Some(n)` when `what` is new this minute,
    /// with `n` the times it was passed over since it was last let through; `None` (and one
    /// more passed over) otherwise. Events anyone can cause without a credential are recorded
    /// this way, so that they cost one log entry a minute, not one a request.
    pub(crate) fn once_a_minute(&self, what: &[&str]) -> Option<u64> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for part in what {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let id: [u8; 32] = h.finalize().into();
        let minute = self.clock.now().div_euclid(60);
        let Ok(mut seen) = self.logged.lock() else {
            return Some(0);
        };
        if let Some((m, skipped)) = seen.get_mut(&id) {
            if *m == minute {
                *skipped += 1;
                return None;
            }
            let n = *skipped;
            *m = minute;
            *skipped = 0;
            return Some(n);
        }
        if seen.len() >= MAX_LOGGED {
            seen.clear();
        }
        seen.insert(id, (minute, 0));
        Some(0)
    }

    /// Whether this instance does background `task` this round (the store's leadership: on
    /// PostgreSQL one instance at a time, on sled always). A store that cannot tell is taken as
    /// not leading, and logged.
    pub async fn leads(&self, task: &str) -> bool {
        match self.store.lead(task).await {
            Ok(lead) => lead,
            Err(e) => {
                tracing::warn!(
                    task,
                    code = e.code(),
                    "cannot tell whether this instance leads"
                );
                false
            }
        }
    }

    /// Takes a seat through the store's seat operation (the one seat rule, `licet_core::seats`):
    /// `make` gets the seat the claim takes (the stored machine, or the number the operation
    /// drew for a new one) and the time. What the reaped seats still held is revoked after.
    pub async fn take_seat<T, E>(
        &self,
        claim: &SeatClaim,
        rule: &SeatRule,
        make: MakeSeatAt<'_, T, E>,
    ) -> Result<(Seated, T), Halted<E, SeatError>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        self.take_seats(std::slice::from_ref(claim), rule, &|_, seat, now| {
            make(seat, now)
        })
        .await?
        .pop()
        .ok_or_else(|| Halted::Failed(SeatError::Store(StoreError::backend("no seat taken"))))
    }

    /// [`AppState::take_seat`] for several claims of one license, all or none
    /// (`Seats::take_seats`); `make` gets each claim's index.
    pub async fn take_seats<T, E>(
        &self,
        claims: &[SeatClaim],
        rule: &SeatRule,
        make: MakeSeatsAt<'_, T, E>,
    ) -> Result<Vec<(Seated, T)>, Halted<E, SeatError>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let now = self.clock.now();
        let seated = self
            .store
            .take_seats_with(claims, rule, now, &|i, seat| make(i, seat, now))
            .await?;
        self.revoke_reaped(seated.iter().map(|(s, _)| s))
            .await
            .map_err(Halted::Failed)?;
        Ok(seated)
    }

    /// Revokes what the dead seats a seat operation gave back still held: their machines'
    /// unexpired tokens (a floating seat's current token lives on after its heartbeats stop).
    /// Done after the operation, which alone knows which seats it reaped: a crash in between
    /// leaves those tokens unrevoked until they expire.
    async fn revoke_reaped<'a>(
        &self,
        seated: impl Iterator<Item = &'a Seated>,
    ) -> Result<(), SeatError> {
        let now = self.clock.now();
        for dead in seated.flat_map(|s| &s.reaped) {
            let tokens = dead.live_tokens(now);
            if tokens.is_empty() {
                continue;
            }
            let Some(l) = self.store.license(&dead.license_id).await? else {
                continue;
            };
            self.revoke_held(&l, dead, &tokens, "server", None)
                .await
                .map_err(|e| SeatError::Store(StoreError::backend(e.message())))?;
        }
        Ok(())
    }

    /// Puts `tokens` (what machine `m` of `l` holds) on a newly published revocation list,
    /// with a `token.revoked` entry, unless every one is listed already.
    pub async fn revoke_held(
        &self,
        l: &License,
        m: &Machine,
        tokens: &[String],
        actor: &str,
        ip: Option<String>,
    ) -> ApiResult<()> {
        if tokens.is_empty() {
            return Ok(());
        }
        self.revoke_tokens(tokens, &|state| {
            Record::from(self.audit_entry(
                actor,
                AuditAction::TokenRevoked,
                &m.id,
                ip.clone(),
                serde_json::json!({
                    "license_id": l.id,
                    "token_ids": tokens,
                    "reason": "seat_given_back",
                    "revocation_sequence": state.sequence,
                }),
                Some(l.product_id.clone()),
            ))
        })
        .await?;
        Ok(())
    }

    /// An audit entry about an object of `product_id`, to be written with the change it records
    /// (in the same store operation).
    pub fn audit_entry(
        &self,
        actor: &str,
        action: AuditAction,
        subject: &str,
        ip: Option<String>,
        detail: serde_json::Value,
        product_id: Option<String>,
    ) -> AuditEvent {
        AuditEvent {
            seq: 0,
            at: self.clock.now(),
            actor: actor.to_owned(),
            action: action.as_str().to_owned(),
            subject: subject.to_owned(),
            ip,
            detail,
            product_id,
        }
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: AuditAction,
        subject: &str,
        ip: Option<String>,
        detail: serde_json::Value,
    ) -> ApiResult<()> {
        let product_id = self.product_of(subject, &detail).await?;
        self.store
            .append_audit(self.audit_entry(actor, action, subject, ip, detail, product_id))
            .await?;
        Ok(())
    }

    /// The product an audit entry is about: named in its detail, or found through its subject
    /// or the license its detail names. `None` for what spans products (API keys, customers,
    /// users), which only unrestricted keys see.
    async fn product_of(
        &self,
        subject: &str,
        detail: &serde_json::Value,
    ) -> ApiResult<Option<String>> {
        if let Some(p) = detail.get("product_id").and_then(|v| v.as_str()) {
            return Ok(Some(p.to_owned()));
        }
        if subject.starts_with("prd_") {
            return Ok(Some(subject.to_owned()));
        }
        if subject.starts_with("pol_") {
            return Ok(self.store.policy(subject).await?.map(|p| p.product_id));
        }
        let machine_license;
        let license = if subject.starts_with("lic_") {
            Some(subject)
        } else if let Some(l) = detail.get("license_id").and_then(|v| v.as_str()) {
            Some(l)
        } else if subject.starts_with("mch_") {
            machine_license = self
                .store
                .machine_by_id(subject)
                .await?
                .map(|m| m.license_id);
            machine_license.as_deref()
        } else {
            None
        };
        match license {
            Some(id) => Ok(self.store.license(id).await?.map(|l| l.product_id)),
            None => Ok(None),
        }
    }

    /// Fails (400 `invalid_field`) unless every token of `license` under `policy` can be
    /// issued: at most 64 entitlements (the policy's and the license's together) and lists
    /// that leave a token within [`licet_verifier::MAX_TOKEN_BYTES`] whatever else it binds.
    /// Checked when either is written, so that an activation never fails on them.
    pub fn check_token_fits(&self, policy: &Policy, license: &License) -> ApiResult<()> {
        self.check_lists_fit(
            &policy.entitlements,
            &license.entitlements,
            &license.domains,
        )
    }

    /// [`AppState::check_token_fits`] for the lists themselves.
    pub fn check_lists_fit(
        &self,
        policy_entitlements: &[String],
        license_entitlements: &[String],
        domains: &[String],
    ) -> ApiResult<()> {
        use licet_verifier::claims::MAX_LIST_ITEMS;
        let entitlements: std::collections::BTreeSet<&str> = policy_entitlements
            .iter()
            .chain(license_entitlements)
            .map(String::as_str)
            .collect();
        if entitlements.len() > MAX_LIST_ITEMS {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                format!(
                    "entitlements: at most {MAX_LIST_ITEMS} for the policy and the license together ({} here)",
                    entitlements.len()
                ),
            ));
        }
        // Each text costs its bytes and at most 3 bytes of CBOR header.
        let lists: usize = entitlements
            .iter()
            .map(|e| e.len())
            .chain(domains.iter().map(String::len))
            .map(|n| n + 3)
            .sum();
        let budget = token_list_budget(&self.config.issuer);
        if lists > budget {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                format!(
                    "entitlements and domains: {lists} bytes, but a token has room for {budget}; use fewer or shorter ones"
                ),
            ));
        }
        Ok(())
    }

    /// Issues a token for a machine of `license`: bound to its fingerprint parts with a k-of-n
    /// rule if it has parts, else to the fingerprint; expiring at the earlier of the license
    /// expiry and now + the product's token lifetime.
    pub fn issue_token(
        &self,
        product: &Product,
        policy: &Policy,
        license: &License,
        fingerprint: &str,
        parts: &[[u8; 8]],
    ) -> ApiResult<IssuedToken> {
        self.issue_token_with(
            product,
            policy,
            license,
            fingerprint,
            parts,
            &TokenTerms::default(),
        )
    }

    /// [`AppState::issue_token`] with a device key bound (`cnf`) and, for a lease, an expiry
    /// of its own and no check-in time (a leased seat needs no heartbeats).
    pub fn issue_token_with(
        &self,
        product: &Product,
        policy: &Policy,
        license: &License,
        fingerprint: &str,
        parts: &[[u8; 8]],
        terms: &TokenTerms,
    ) -> ApiResult<IssuedToken> {
        if policy.require_device_key && terms.device_key.is_none() {
            // The token would say so and bind nothing, and every verifier would refuse it; a
            // seat taken before the policy required device keys is re-activated with one.
            return Err(ApiError::forbidden_code(
                ErrorCode::DeviceKeyRequired,
                "the license's policy requires a device key: use a client that makes one",
            ));
        }
        let now = self.clock.now();
        let lifetime = i64::try_from(product.token_lifetime).unwrap_or(i64::MAX);
        let until = terms.until.unwrap_or(now.saturating_add(lifetime));
        let exp = license.expires_at.map_or(until, |e| e.min(until));
        let token_id = terms
            .token_id
            .unwrap_or_else(crate::ids::random_bytes::<16>);
        let mut b = TokenBuilder::new(&product.code, &license.id, now)
            .issuer(&self.config.issuer)
            .expires_at(exp)
            .token_id(token_id)
            .kind(license.kind.into())
            .seats(u32::try_from(SeatRule::of(license, policy).max).unwrap_or(u32::MAX))
            .offline_grace(policy.offline_grace);
        if terms.until.is_none() {
            b = b.refresh_after(
                now.saturating_add(i64::try_from(policy.refresh_after).unwrap_or(i64::MAX)),
            );
        }
        if let Some(k) = terms.device_key {
            b = b.device_key(k);
        }
        if policy.require_device_key {
            b = b.device_key_required();
        }
        b = if parts.is_empty() {
            b.hwid(fingerprint)
        } else {
            b.hwid_parts(licet_core::model::parts_threshold(parts.len()), parts)
        };
        for e in policy.entitlements.iter().chain(&license.entitlements) {
            b = b.entitlement(e);
        }
        for d in &license.domains {
            b = b.domain(d);
        }
        let token = b.sign(&self.keys().token).map_err(ApiError::internal)?;
        Ok(IssuedToken {
            token,
            token_id: hex(&token_id),
            expires_at: exp,
        })
    }

    /// The current list, re-signed (sequence + 1) if there is none or it is past half its
    /// validity, so that clients always get a list that is fresh for a while.
    pub async fn current_revocations(&self) -> ApiResult<Vec<u8>> {
        let now = self.clock.now();
        let half = i64::try_from(self.config.revocation_validity / 2).unwrap_or(i64::MAX);
        if let Some(list) = self.store.revocation_list().await?
            && let Ok(l) =
                licet_verifier::RevocationList::verify(&list, self.keys().token.public_key(), None)
            && now < l.next_update() - half
        {
            return Ok(list);
        }
        let _guard = self.revocation_lock.lock().await;
        let mut state = self.store.revocation_state().await?;
        let list = self.sign_revocations(&mut state).await?;
        Ok(list)
    }

    /// Revokes `license` for good: its status and a newly published list holding its id and
    /// `token_ids` are one durable step, so a crash cannot leave a license marked revoked that
    /// no list holds. Returns the license as stored and the published state.
    pub async fn revoke_license(
        &self,
        license: &License,
        token_ids: &[String],
        tell: licet_core::store::TellRevocation<'_>,
    ) -> ApiResult<(License, RevocationState)> {
        let mut l = license.clone();
        l.status = licet_core::model::LicenseStatus::Revoked;
        l.updated_at = self.clock.now();
        let _guard = self.revocation_lock.lock().await;
        let state = self
            .store
            .revoke_license(
                &l,
                token_ids,
                &|st| {
                    self.sign_list(st)
                        .map_err(|e| licet_core::StoreError::backend(e.message()))
                },
                tell,
            )
            .await?;
        Ok((l, state))
    }

    /// Puts tokens on a newly published list (unless every one is listed already), with the
    /// record `tell` makes: one durable step.
    pub async fn revoke_tokens(
        &self,
        token_ids: &[String],
        tell: licet_core::store::TellRevocation<'_>,
    ) -> ApiResult<RevocationState> {
        let _guard = self.revocation_lock.lock().await;
        Ok(self
            .store
            .revoke_tokens(
                token_ids,
                &|st| {
                    self.sign_list(st)
                        .map_err(|e| licet_core::StoreError::backend(e.message()))
                },
                tell,
            )
            .await?)
    }

    async fn sign_revocations(&self, state: &mut RevocationState) -> ApiResult<Vec<u8>> {
        state.sequence += 1;
        let list = self.sign_list(state)?;
        self.store.put_revocations(state, &list).await?;
        Ok(list)
    }

    /// The signed list of `state`, as it is (sequence included), valid from now.
    fn sign_list(&self, state: &RevocationState) -> ApiResult<Vec<u8>> {
        let now = self.clock.now();
        let validity = i64::try_from(self.config.revocation_validity).unwrap_or(86_400);
        let mut b = RevocationListBuilder::new(state.sequence, now, now + validity);
        for t in &state.token_ids {
            if let Some(id) = unhex16(t) {
                b.revoke_token(id);
            }
        }
        for l in &state.license_ids {
            b.revoke_license(l);
        }
        b.sign(&self.keys().token).map_err(ApiError::internal)
    }

    /// A JSON answer signed with the token key: `Licet-Signature: kid=<hex>, sig=<base64url>`
    /// over `"licet-response-v1\0" || body`. The body is written with its keys sorted (through
    /// a `Value`), whatever type it comes from, so that the bytes signed are the canonical
    /// form a client re-serializing the parsed answer arrives at too.
    pub fn signed<T: serde::Serialize + ?Sized>(&self, status: StatusCode, body: &T) -> Response {
        let bytes = serde_json::to_value(body)
            .and_then(|v| serde_json::to_vec(&v))
            .unwrap_or_default();
        let mut msg = Vec::with_capacity(RESPONSE_CONTEXT.len() + bytes.len());
        msg.extend_from_slice(RESPONSE_CONTEXT);
        msg.extend_from_slice(&bytes);
        let keys = self.keys();
        let sig = keys.token_dalek().sign(&msg);
        let header = format!(
            "kid={}, sig={}",
            keys.token.kid(),
            URL_SAFE_NO_PAD.encode(sig.to_bytes())
        );
        let mut resp = (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&header) {
            resp.headers_mut().insert(SIGNATURE_HEADER, v);
        }
        resp
    }
}

/// What a token spends on everything but its entitlements and domains, at most: the COSE
/// envelope and signature (≈ 110 bytes), a 64-byte product code, the license and token ids,
/// times, kind, seats, grace and refresh (≈ 120), 16 hardware parts (≈ 150) and a device key
/// (`cnf`, 45), with room to spare. `tests/suite/security.rs` issues a token at exactly the budget.
const TOKEN_FIXED_BYTES: usize = 700;

/// Bytes a token has for its entitlements and domains (each text plus 3 header bytes).
pub fn token_list_budget(issuer: &str) -> usize {
    licet_verifier::MAX_TOKEN_BYTES.saturating_sub(TOKEN_FIXED_BYTES + issuer.len())
}

/// What a token binds besides the license and machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenTerms {
    /// The device key (`cnf`).
    pub device_key: Option<[u8; 32]>,
    /// A lease's end: the token expires then (or with the license, if sooner) and asks for no
    /// check-in.
    pub until: Option<i64>,
    /// The id of the grant the token re-signs (`Machine::reusable_token_id`); a new random
    /// id if `None`.
    pub token_id: Option<[u8; 16]>,
}

/// A token issued to a machine.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The binary token.
    pub token: Vec<u8>,
    /// Its id, hex.
    pub token_id: String,
    /// Its expiry.
    pub expires_at: i64,
}

pub use crate::ids::{hex, unhex, unhex16};
