//! License tokens: decode into an [`UnverifiedToken`], verify into a [`VerifiedLicense`].

use crate::binding::{domain_matches, hwid_binding};
use crate::claims::{Claims, HWID_PART_LEN};
use crate::cose::{ProtectedHeader, Sign1};
use crate::error::Error;
use crate::key::{Algorithm, KeyId, KeyProvider};
use crate::revocation::RevocationList;

/// Largest license token, in bytes (binary form), that licet reads.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// What the caller knows and requires: the time, the product, this machine, this domain.
///
/// The verifier never reads a clock: `now` (unix seconds) comes from the caller.
#[derive(Debug, Clone, Copy)]
pub struct Context<'c> {
    now: i64,
    product: Option<&'c str>,
    fingerprint: Option<&'c str>,
    hwid_parts: Option<&'c [[u8; HWID_PART_LEN]]>,
    device_key: Option<&'c [u8; crate::device::DEVICE_KEY_LEN]>,
    require_device_binding: bool,
    domain: Option<&'c str>,
    entitlements: &'c [&'c str],
    leeway: u64,
    revocations: Option<&'c RevocationList<'c>>,
    require_fresh_revocations: bool,
}

impl<'c> Context<'c> {
    /// A context for verifying tokens of `product` at time `now`.
    pub fn new(now: i64, product: &'c str) -> Context<'c> {
        Context {
            product: Some(product),
            ..Context::any_product(now)
        }
    }

    /// A context that accepts a token of any product. Only for tools that inspect tokens from
    /// many products: an application must use [`Context::new`], or a token for another product
    /// signed with the same key would unlock it.
    pub fn any_product(now: i64) -> Context<'c> {
        Context {
            now,
            product: None,
            fingerprint: None,
            hwid_parts: None,
            device_key: None,
            require_device_binding: false,
            domain: None,
            entitlements: &[],
            leeway: 0,
            revocations: None,
            require_fresh_revocations: false,
        }
    }

    /// This machine's fingerprint; required if the token is machine-bound.
    #[must_use]
    pub fn fingerprint(mut self, fingerprint: &'c str) -> Self {
        self.fingerprint = Some(fingerprint);
        self
    }

    /// This machine's fingerprint parts ([`crate::binding::hwid_part`] of each component);
    /// required if the token binds hardware parts, of which at least its threshold must be
    /// among these.
    #[must_use]
    pub fn hwid_parts(mut self, parts: &'c [[u8; HWID_PART_LEN]]) -> Self {
        self.hwid_parts = Some(parts);
        self
    }

    /// This machine's device public key: a token bound to another device key (`cnf`) is
    /// refused with [`Error::DeviceKeyMismatch`]. A public key alone proves nothing; check
    /// possession too ([`crate::Claims::verify_possession`]).
    #[must_use]
    pub fn device_key(mut self, key: &'c [u8; crate::device::DEVICE_KEY_LEN]) -> Self {
        self.device_key = Some(key);
        self
    }

    /// Refuses a token that binds no device key (`cnf`) with [`Error::DeviceKeyRequired`]: for
    /// an application that holds a device key, so that a token issued without one (by a path
    /// that cannot bind it, or copied from another machine's unbound seat) does not unlock it.
    /// With [`Context::device_key`], the token must bind that key.
    #[must_use]
    pub fn require_device_binding(mut self) -> Self {
        self.require_device_binding = true;
        self
    }

    /// The domain the application serves; required if the token is domain-bound.
    #[must_use]
    pub fn domain(mut self, domain: &'c str) -> Self {
        self.domain = Some(domain);
        self
    }

    /// Entitlements the token must all carry.
    #[must_use]
    pub fn entitlements(mut self, required: &'c [&'c str]) -> Self {
        self.entitlements = required;
        self
    }

    /// Seconds of clock tolerance applied to `exp` and `nbf` (default 0).
    #[must_use]
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// A verified revocation list to check the token against.
    #[must_use]
    pub fn revocations(mut self, list: &'c RevocationList<'c>) -> Self {
        self.revocations = Some(list);
        self
    }

    /// Refuse ([`Error::StaleRevocations`]) when the revocation list is past its next-update
    /// time. By default a stale list is still applied (it still names what it names) and
    /// [`VerifiedLicense::revocations_stale`] reports it.
    #[must_use]
    pub fn require_fresh_revocations(mut self) -> Self {
        self.require_fresh_revocations = true;
        self
    }

    /// The time the context was made for.
    pub fn now(&self) -> i64 {
        self.now
    }
}

/// A [`Context`]'s settings, owned: for a caller that keeps them between checks or receives
/// them as values (the C, Python and JavaScript bindings). [`OwnedContext::with`] lends the
/// borrowed [`Context`] the checks take, built the one way every binding builds it.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedContext {
    /// Unix seconds, from the caller's clock.
    pub now: i64,
    /// The product; `None` accepts any product ([`Context::any_product`]).
    pub product: Option<alloc::string::String>,
    /// This machine's fingerprint.
    pub fingerprint: Option<alloc::string::String>,
    /// This machine's hardware parts (none: not given).
    pub hwid_parts: alloc::vec::Vec<[u8; HWID_PART_LEN]>,
    /// This machine's device public key.
    pub device_key: Option<[u8; crate::device::DEVICE_KEY_LEN]>,
    /// [`Context::require_device_binding`].
    pub require_device_binding: bool,
    /// The domain the application serves.
    pub domain: Option<alloc::string::String>,
    /// Entitlements the token must all carry.
    pub entitlements: alloc::vec::Vec<alloc::string::String>,
    /// Seconds of tolerance on `exp` and `nbf`.
    pub leeway: u64,
    /// [`Context::require_fresh_revocations`], when a list is given to [`OwnedContext::with`].
    pub require_fresh_revocations: bool,
}

#[cfg(feature = "alloc")]
impl OwnedContext {
    /// Runs `f` with the [`Context`] of these settings, checking against `revocations` if
    /// given.
    pub fn with<R>(
        &self,
        revocations: Option<&RevocationList<'_>>,
        f: impl FnOnce(Context<'_>) -> R,
    ) -> R {
        let entitlements: alloc::vec::Vec<&str> = self
            .entitlements
            .iter()
            .map(alloc::string::String::as_str)
            .collect();
        let mut ctx = match &self.product {
            Some(p) => Context::new(self.now, p),
            None => Context::any_product(self.now),
        }
        .entitlements(&entitlements)
        .leeway(self.leeway);
        if let Some(f) = &self.fingerprint {
            ctx = ctx.fingerprint(f);
        }
        if !self.hwid_parts.is_empty() {
            ctx = ctx.hwid_parts(&self.hwid_parts);
        }
        if let Some(d) = &self.domain {
            ctx = ctx.domain(d);
        }
        if let Some(k) = &self.device_key {
            ctx = ctx.device_key(k);
        }
        if self.require_device_binding {
            ctx = ctx.require_device_binding();
        }
        if let Some(list) = revocations {
            ctx = ctx.revocations(list);
            if self.require_fresh_revocations {
                ctx = ctx.require_fresh_revocations();
            }
        }
        f(ctx)
    }
}

/// A decoded token whose signature has not been checked. Everything it shows is the token
/// holder's claim, not the issuer's.
#[derive(Debug, Clone, Copy)]
pub struct UnverifiedToken<'a> {
    sign1: Sign1<'a>,
}

impl<'a> UnverifiedToken<'a> {
    /// Parses the binary form. Fails on anything that is not a well-formed licet token envelope.
    pub fn decode(bytes: &'a [u8]) -> Result<UnverifiedToken<'a>, Error> {
        Ok(UnverifiedToken {
            sign1: Sign1::parse(bytes, MAX_TOKEN_BYTES)?,
        })
    }

    /// The protected header as written.
    pub fn header(&self) -> &ProtectedHeader<'a> {
        &self.sign1.header
    }

    /// The claims as written, **not verified**: for display and diagnostics only.
    pub fn unverified_claims(&self) -> Result<Claims<'a>, Error> {
        Claims::parse(self.sign1.payload)
    }

    /// The protected header bytes as received (the content of the byte string).
    pub fn protected_bytes(&self) -> &'a [u8] {
        self.sign1.protected
    }

    /// The payload bytes as received: the encoded claims, **not verified**.
    pub fn payload_bytes(&self) -> &'a [u8] {
        self.sign1.payload
    }

    /// The raw signature bytes.
    pub fn signature(&self) -> &'a [u8] {
        self.sign1.signature
    }

    /// Verifies the token. Checks run in this order, and the first failure is returned:
    ///
    /// 1. envelope and header (already done by [`UnverifiedToken::decode`]); no `typ`
    ///    ([`Error::WrongType`]); supported `alg`;
    /// 2. key lookup by `kid` ([`Error::UnknownKey`]); `alg` is the key's algorithm
    ///    ([`Error::AlgorithmMismatch`]);
    /// 3. the signature, over the bytes as received ([`Error::BadSignature`]);
    /// 4. the claims: well-formed, required claims present, no unknown licet claim;
    /// 5. product ([`Error::WrongProduct`]);
    /// 6. revocation ([`Error::Revoked`], then [`Error::StaleRevocations`] if a fresh list is
    ///    required);
    /// 7. time: `nbf` ([`Error::NotYetValid`]), then `exp` ([`Error::Expired`]), each with leeway;
    /// 8. machine ([`Error::HwidRequired`], [`Error::HwidMismatch`]), then the device key if
    ///    the context names one ([`Error::DeviceKeyMismatch`]) and a device binding if the
    ///    context or the token's own claim requires one ([`Error::DeviceKeyRequired`]);
    /// 9. domain ([`Error::DomainRequired`], [`Error::DomainMismatch`]);
    /// 10. entitlements ([`Error::MissingEntitlement`]).
    pub fn verify<K: KeyProvider + ?Sized>(
        &self,
        keys: &K,
        ctx: &Context<'_>,
    ) -> Result<VerifiedLicense<'a>, Error> {
        let key = self.sign1.verify(keys, None)?;
        let claims = checked_claims(self.sign1.payload, ctx)?;
        Ok(VerifiedLicense {
            claims,
            kid: key.kid(),
            algorithm: key.algorithm(),
            revocations_stale: ctx.revocations.is_some_and(|l| l.is_stale(ctx.now)),
        })
    }
}

/// The claims, parsed and checked in `ctx`. Not inlined into [`UnverifiedToken::verify`]: its
/// locals would otherwise sit in that frame while the signature is checked below it, the
/// deepest point of a verify (a microcontroller's stack is measured there).
#[inline(never)]
fn checked_claims<'a>(payload: &'a [u8], ctx: &Context<'_>) -> Result<Claims<'a>, Error> {
    let claims = Claims::parse(payload)?;
    check(&claims, ctx)?;
    Ok(claims)
}

fn check(c: &Claims<'_>, ctx: &Context<'_>) -> Result<(), Error> {
    if let Some(product) = ctx.product
        && c.product != product
    {
        return Err(Error::WrongProduct);
    }
    if let Some(list) = ctx.revocations {
        if list.contains_token(&c.token_id) || list.contains_license(c.license_id) {
            return Err(Error::Revoked);
        }
        if ctx.require_fresh_revocations && list.is_stale(ctx.now) {
            return Err(Error::StaleRevocations);
        }
    }
    let leeway = i64::try_from(ctx.leeway).unwrap_or(i64::MAX);
    if let Some(nbf) = c.not_before
        && ctx.now.saturating_add(leeway) < nbf
    {
        return Err(Error::NotYetValid);
    }
    if let Some(exp) = c.expires_at
        && ctx.now >= exp.saturating_add(leeway)
    {
        return Err(Error::Expired);
    }
    if let Some(bound) = c.hwid {
        let fp = ctx.fingerprint.ok_or(Error::HwidRequired)?;
        if hwid_binding(c.product, fp) != bound {
            return Err(Error::HwidMismatch);
        }
    }
    if let Some(parts) = &c.hwid_parts {
        let machine = ctx.hwid_parts.ok_or(Error::HwidRequired)?;
        if !parts.accepts(machine) {
            return Err(Error::HwidMismatch);
        }
    }
    if let (Some(bound), Some(ours)) = (&c.device_key, ctx.device_key)
        && bound != ours
    {
        return Err(Error::DeviceKeyMismatch);
    }
    if (ctx.require_device_binding || c.device_key_required) && c.device_key.is_none() {
        return Err(Error::DeviceKeyRequired);
    }
    if !c.domains.is_empty() {
        let host = ctx.domain.ok_or(Error::DomainRequired)?;
        if !c.domains.iter().any(|p| domain_matches(p, host)) {
            return Err(Error::DomainMismatch);
        }
    }
    if ctx.entitlements.iter().any(|e| !c.entitlements.contains(e)) {
        return Err(Error::MissingEntitlement);
    }
    Ok(())
}

/// A token whose signature and claims have been checked against a [`Context`].
#[derive(Debug, Clone, Copy)]
pub struct VerifiedLicense<'a> {
    claims: Claims<'a>,
    kid: KeyId,
    algorithm: Algorithm,
    revocations_stale: bool,
}

impl<'a> VerifiedLicense<'a> {
    /// The verified claims.
    pub fn claims(&self) -> &Claims<'a> {
        &self.claims
    }

    /// The key that signed the token.
    pub fn kid(&self) -> KeyId {
        self.kid
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The ids a revocation list can name for this token: its token id and its license id.
    pub fn revocation_ids(&self) -> ([u8; 16], &'a str) {
        (self.claims.token_id, self.claims.license_id)
    }

    /// Whether the revocation list it was checked against is past its next-update time.
    pub fn revocations_stale(&self) -> bool {
        self.revocations_stale
    }
}

/// Decodes and verifies a token in one call.
pub fn verify<'a, K: KeyProvider + ?Sized>(
    token: &'a [u8],
    keys: &K,
    ctx: &Context<'_>,
) -> Result<VerifiedLicense<'a>, Error> {
    UnverifiedToken::decode(token)?.verify(keys, ctx)
}
