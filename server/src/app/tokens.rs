//! The token service: the server's keys (the token key's generations and the root secret,
//! rotated and taken up from other instances), the tokens it issues and their size budget, and
//! the signature on online answers.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use licet_api::client::{KeySet, PublishedKey};
use licet_core::clock::Clock;
use licet_core::model::{ApiKey, License, Policy, Product, Scope};
use licet_core::seats::SeatRule;
use licet_core::store::{Store, StoreError};
use licet_issuer::TokenBuilder;
use licet_verifier::{PublicKey, Writer};
use serde::{Deserialize, Serialize};

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::config::Config;
use crate::ids::hex;
use crate::keys::ServerKeys;
use crate::keys::ring::KeySource;

/// Header carrying the signature of an online answer.
pub const SIGNATURE_HEADER: &str = "licet-signature";
/// Domain-separation prefix of signed answers: never a COSE `Sig_structure`, never a JWT.
pub const RESPONSE_CONTEXT: &[u8] = b"licet-response-v1\0";

/// The server's keys and what is signed with them.
#[derive(Debug)]
pub struct TokenService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    /// The keys: replaced whole when the token key rotates (see [`TokenService::keys`]).
    keys: std::sync::RwLock<Arc<ServerKeys>>,
    /// Where new generations of the token key are kept; unset: the keys do not rotate.
    key_source: OnceLock<KeySource>,
    /// One rotation at a time in this process (the store orders those of several).
    rotation_lock: tokio::sync::Mutex<()>,
    /// RSA signatures made this minute, by the SHA-256 of what they sign, with that minute
    /// (see [`TokenService::rsa_signed`]).
    rsa_signatures: std::sync::Mutex<RsaSignatures>,
}

/// RSA signatures by the SHA-256 of their message: (the minute made, the signature).
type RsaSignatures = std::collections::HashMap<[u8; 32], (i64, Vec<u8>)>;

/// Most RSA signatures kept for reuse: past this, those of earlier minutes go, and if that is
/// not enough, all.
const MAX_RSA_SIGNATURES: usize = 100_000;

/// A failure of the key ring as an answer: the store's own (503 when it is away), or a 500.
fn key_error(e: anyhow::Error) -> ApiError {
    match e.downcast::<StoreError>() {
        Ok(e) => e.into(),
        Err(e) => ApiError::internal(e),
    }
}

impl TokenService {
    /// The service over `keys`, which do not rotate until a key source is set.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        keys: Arc<ServerKeys>,
    ) -> TokenService {
        TokenService {
            store,
            clock,
            config,
            keys: std::sync::RwLock::new(keys),
            key_source: OnceLock::new(),
            rotation_lock: tokio::sync::Mutex::new(()),
            rsa_signatures: std::sync::Mutex::default(),
        }
    }

    /// RSASSA-PKCS1-v1_5 with SHA-512 over `message` by the RSA key. The signature is
    /// deterministic, and an RSA-4096 signature costs ~13 ms of CPU, so the same message is
    /// signed once and its signature reused for the rest of the minute: a family that signs
    /// facts dated to the minute (LicenseCM) signs each once a minute however often it is
    /// asked.
    pub fn rsa_signed(&self, message: &[u8]) -> ApiResult<Vec<u8>> {
        use sha2::Digest;
        let minute = self.clock.now_ms().div_euclid(60_000);
        let id: [u8; 32] = sha2::Sha256::digest(message).into();
        if let Ok(memo) = self.rsa_signatures.lock()
            && let Some((_, sig)) = memo.get(&id)
        {
            return Ok(sig.clone());
        }
        let sig = self
            .keys()
            .rsa_sign_sha512(message)
            .ok_or_else(|| ApiError::internal("RSA signing failed"))?;
        if let Ok(mut memo) = self.rsa_signatures.lock() {
            if memo.len() >= MAX_RSA_SIGNATURES {
                memo.retain(|_, (m, _)| *m == minute);
                if memo.len() >= MAX_RSA_SIGNATURES {
                    memo.clear();
                }
            }
            memo.insert(id, (minute, sig.clone()));
        }
        Ok(sig)
    }

    /// Lets the token key rotate, its new generations kept in `source` (once; a second source
    /// is ignored).
    pub fn set_key_source(&self, source: KeySource) {
        let _ = self.key_source.set(source);
    }

    /// Where new generations of the token key are kept, if they can be.
    pub fn key_source(&self) -> Option<&KeySource> {
        self.key_source.get()
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
        self.key_source.get().ok_or_else(|| {
            ApiError::new(
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
        let Some(source) = self.key_source.get() else {
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
        let Some(source) = self.key_source.get() else {
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

    /// [`TokenService::check_token_fits`] for the lists themselves.
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

    /// [`TokenService::issue_token`] with a device key bound (`cnf`) and, for a lease, an expiry
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

    /// A JSON answer signed with the token key: its body and its `Licet-Signature` value,
    /// `kid=<hex>, sig=<base64url>` over `"licet-response-v1\0" || body`. The body is written
    /// with its keys sorted (through a `Value`), whatever type it comes from, so that the
    /// bytes signed are the canonical form a client re-serializing the parsed answer arrives
    /// at too.
    pub fn signed<T: serde::Serialize + ?Sized>(&self, body: &T) -> SignedAnswer {
        let bytes = serde_json::to_value(body)
            .and_then(|v| serde_json::to_vec(&v))
            .unwrap_or_default();
        let mut msg = Vec::with_capacity(RESPONSE_CONTEXT.len() + bytes.len());
        msg.extend_from_slice(RESPONSE_CONTEXT);
        msg.extend_from_slice(&bytes);
        let keys = self.keys();
        let sig = keys.token_dalek().sign(&msg);
        SignedAnswer {
            signature: format!(
                "kid={}, sig={}",
                keys.token.kid(),
                URL_SAFE_NO_PAD.encode(sig.to_bytes())
            ),
            body: bytes,
        }
    }
}

impl TokenService {
    /// The published keys (`GET /v1/keys`): the token key's generations newest first, each
    /// after the first vouched for by the one before it, then the RSA key of the
    /// compatibility endpoints.
    pub fn key_set(&self) -> KeySet {
        let keys = self.keys();
        let now = self.clock.now();
        let ring = keys.ring();
        let mut list: Vec<PublishedKey> = ring
            .iter()
            .enumerate()
            .rev()
            .map(|(i, k)| {
                let mut e = key_entry(
                    &k.public,
                    "tokens, revocation lists, signed answers, JWTs",
                    k.status(now).name(),
                    k.created_at,
                    k.valid_until,
                );
                // The generation before vouches for this one: a client that pinned it may trust
                // this key from the set.
                if let (Some(sig), Some(prev)) =
                    (&k.endorsement, i.checked_sub(1).and_then(|p| ring.get(p)))
                {
                    e.endorsed_by = Some(prev.public.kid().to_string());
                    e.endorsement = Some(URL_SAFE_NO_PAD.encode(sig));
                }
                e
            })
            .collect();
        list.push(key_entry(
            keys.rsa.public_key(),
            "compatibility endpoints",
            "active",
            keys.rsa_valid_from,
            None,
        ));
        KeySet { keys: list }
    }
}

/// A public key as a COSE_Key (RFC 9052 §7, RFC 8230) in deterministic CBOR.
fn cose_key(k: &PublicKey) -> Vec<u8> {
    let mut w = Writer::new();
    w.map(5);
    if let Some(x) = k.ed25519_bytes() {
        // kty OKP, kid, alg, crv Ed25519, x
        w.int(1)
            .int(1)
            .int(2)
            .bytes(k.kid().as_bytes())
            .int(3)
            .int(k.algorithm().cose_id());
        w.int(-1).int(6).int(-2).bytes(x);
    } else if let Some(r) = k.rsa_key() {
        use rsa::traits::PublicKeyParts;
        // kty RSA, kid, alg, n, e
        w.int(1)
            .int(3)
            .int(2)
            .bytes(k.kid().as_bytes())
            .int(3)
            .int(k.algorithm().cose_id());
        w.int(-1).bytes(&r.n_bytes()).int(-2).bytes(&r.e_bytes());
    }
    w.into_bytes()
}

fn key_entry(
    k: &PublicKey,
    purpose: &str,
    status: &str,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
) -> PublishedKey {
    PublishedKey {
        kid: k.kid().to_string(),
        alg: k.algorithm().name().to_owned(),
        purpose: purpose.to_owned(),
        status: status.to_owned(),
        valid_from,
        valid_until,
        public_key_pem: k.to_spki_pem(),
        cose_key: URL_SAFE_NO_PAD.encode(cose_key(k)),
        endorsed_by: None,
        endorsement: None,
    }
}

/// A JSON answer and the signature over it ([`TokenService::signed`]), which the HTTP layer
/// sends as the body and the [`SIGNATURE_HEADER`].
#[derive(Debug, Clone)]
pub struct SignedAnswer {
    /// The JSON body, as signed.
    pub body: Vec<u8>,
    /// The header's value.
    pub signature: String,
}

/// Claims of a JWT minted from an API key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JwtClaims {
    /// The API key id.
    pub sub: String,
    /// The key's scope.
    pub scope: Scope,
    /// The key's product limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Issuer: the server's issuer name.
    pub iss: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
}

/// The longest a JWT minted from an API key lives (`POST /v1/auth/token`'s `ttl`).
pub const MAX_JWT_TTL: u64 = 86_400;

impl TokenService {
    /// Mints a JWT for `key`, living `ttl` seconds: its token and expiry.
    pub fn mint_jwt(&self, key: &ApiKey, ttl: u64) -> ApiResult<(String, i64)> {
        let now = self.clock.now();
        let exp = now + i64::try_from(ttl).unwrap_or(900);
        let claims = JwtClaims {
            sub: key.id.clone(),
            scope: key.scope,
            product: key.product_id.clone().map(Into::into),
            iss: self.config.issuer.clone(),
            iat: now,
            exp,
        };
        let keys = self.keys();
        let token = jsonwebtoken::encode(&keys.jwt().header(), &claims, keys.jwt().encoding())
            .map_err(ApiError::internal)?;
        Ok((token, exp))
    }

    /// The claims of a JWT this server minted with a key of its ring (the current one, or one
    /// retired within its window), unexpired at the server's time and issued as this server
    /// issues them (`iat` and `exp` no further apart than the longest lifetime it gives).
    pub fn verify_jwt(&self, token: &str) -> ApiResult<JwtClaims> {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        v.set_issuer(&[&self.config.issuer]);
        v.leeway = 0;
        // Expiry is checked against the injected clock below, not the library's reading of
        // the system clock, so that one clock governs the whole server.
        v.validate_exp = false;
        v.set_required_spec_claims(&["exp", "iss", "sub", "iat"]);
        let keys = self.keys();
        let now = self.clock.now();
        let (decoding, retired_at) = keys.jwt().decoding(token, now).ok_or_else(|| {
            ApiError::unauthorized("invalid JWT: not signed by a key of this server")
        })?;
        let data = jsonwebtoken::decode::<JwtClaims>(token, decoding, &v)
            .map_err(|e| ApiError::unauthorized(format!("invalid JWT: {e}")))?;
        let longest = MAX_JWT_TTL.max(self.config.jwt_ttl);
        let (iat, exp) = (data.claims.iat, data.claims.exp);
        if !crate::keys::JwtKeys::admits(iat, exp, retired_at, now, longest) {
            return Err(ApiError::unauthorized(
                "invalid JWT: expired, or not issued as this server issues them",
            ));
        }
        Ok(data.claims)
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
