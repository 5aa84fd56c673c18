//! The token builder.

use std::collections::{BTreeMap, BTreeSet};

use licet_verifier::binding::{hwid_binding, is_valid_domain_pattern};
use licet_verifier::claims::{self, key};
use licet_verifier::{HwidParts, LicenseKind, MAX_TOKEN_BYTES, Writer};
use rand_core::CryptoRng;

use crate::error::Error;
use crate::keys::SigningKey;

/// A metadata value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaValue {
    /// Text.
    Text(String),
    /// A signed integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// Builds the claims of a license token and signs them.
///
/// Every claim of the licet profile has a setter. Lists are kept sorted and free of duplicates
/// and map keys are written in deterministic order, so the same claims and key always give the
/// same bytes (for RSA-PSS, given the same random number generator).
#[derive(Debug, Clone)]
pub struct TokenBuilder {
    product: String,
    license_id: String,
    issued_at: i64,
    issuer: Option<String>,
    subject: Option<String>,
    audience: Option<String>,
    expires_at: Option<i64>,
    not_before: Option<i64>,
    token_id: Option<[u8; 16]>,
    hwid: Option<[u8; 16]>,
    hwid_parts: Option<HwidParts>,
    hwid_parts_invalid: bool,
    domains: BTreeSet<String>,
    entitlements: BTreeSet<String>,
    kind: Option<LicenseKind>,
    seats: Option<u32>,
    offline_grace: Option<u64>,
    refresh_after: Option<i64>,
    metadata: BTreeMap<String, MetaValue>,
    device_key: Option<[u8; 32]>,
    device_key_required: bool,
}

impl TokenBuilder {
    /// A token for `license_id` of `product`, issued at `issued_at` (unix seconds). The issuer
    /// never reads a clock; the caller supplies the time.
    pub fn new(product: impl Into<String>, license_id: impl Into<String>, issued_at: i64) -> Self {
        TokenBuilder {
            product: product.into(),
            license_id: license_id.into(),
            issued_at,
            issuer: None,
            subject: None,
            audience: None,
            expires_at: None,
            not_before: None,
            token_id: None,
            hwid: None,
            hwid_parts: None,
            hwid_parts_invalid: false,
            domains: BTreeSet::new(),
            entitlements: BTreeSet::new(),
            kind: None,
            seats: None,
            offline_grace: None,
            refresh_after: None,
            metadata: BTreeMap::new(),
            device_key: None,
            device_key_required: false,
        }
    }

    /// Marks the token as one whose license requires a device binding (licet claim 12): a
    /// verifier refuses it unless it binds a device key. Signing fails without
    /// [`TokenBuilder::device_key`].
    pub fn device_key_required(mut self) -> Self {
        self.device_key_required = true;
        self
    }

    /// `cnf` (RFC 8747): binds the token to a device's Ed25519 public key, as a COSE_Key. The
    /// key must be a valid point (small-order keys are refused when signing).
    pub fn device_key(mut self, key: [u8; 32]) -> Self {
        self.device_key = Some(key);
        self
    }

    /// `iss`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// `sub`: the licensee.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// `aud`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// `exp`, unix seconds.
    pub fn expires_at(mut self, t: i64) -> Self {
        self.expires_at = Some(t);
        self
    }

    /// `nbf`, unix seconds.
    pub fn not_before(mut self, t: i64) -> Self {
        self.not_before = Some(t);
        self
    }

    /// The 16-byte token id (`cti`). If unset, a random one is drawn when signing.
    pub fn token_id(mut self, id: [u8; 16]) -> Self {
        self.token_id = Some(id);
        self
    }

    /// Binds the token to the machine with this fingerprint. Only the hash goes into the token.
    pub fn hwid(mut self, fingerprint: &str) -> Self {
        self.hwid = Some(hwid_binding(&self.product, fingerprint));
        self
    }

    /// Binds the token to an already computed hardware binding hash.
    pub fn hwid_binding(mut self, binding: [u8; 16]) -> Self {
        self.hwid = Some(binding);
        self
    }

    /// Binds the token to fingerprint parts ([`licet_verifier::binding::hwid_part`] of each
    /// component): the verifier accepts a machine that has at least `k` of them. Fails at
    /// signing unless `1 ≤ k ≤ parts ≤ 16`.
    pub fn hwid_parts(mut self, k: usize, parts: &[[u8; 8]]) -> Self {
        self.hwid_parts = HwidParts::new(k, parts);
        self.hwid_parts_invalid = self.hwid_parts.is_none();
        self
    }

    /// Adds a domain (`example.com`) or wildcard (`*.example.com`). Names are lower-cased.
    pub fn domain(mut self, domain: impl AsRef<str>) -> Self {
        self.domains.insert(domain.as_ref().to_ascii_lowercase());
        self
    }

    /// Adds an entitlement.
    pub fn entitlement(mut self, entitlement: impl Into<String>) -> Self {
        self.entitlements.insert(entitlement.into());
        self
    }

    /// The license kind.
    pub fn kind(mut self, kind: LicenseKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Seats.
    pub fn seats(mut self, seats: u32) -> Self {
        self.seats = Some(seats);
        self
    }

    /// Offline grace in seconds.
    pub fn offline_grace(mut self, seconds: u64) -> Self {
        self.offline_grace = Some(seconds);
        self
    }

    /// When an online application should check in (unix seconds).
    pub fn refresh_after(mut self, t: i64) -> Self {
        self.refresh_after = Some(t);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: MetaValue) -> Self {
        self.metadata.insert(key.into(), value);
        self
    }

    /// The product.
    pub fn product(&self) -> &str {
        &self.product
    }

    /// The license id.
    pub fn license_id(&self) -> &str {
        &self.license_id
    }

    /// Checks every claim against the profile's rules without signing.
    pub fn validate(&self) -> Result<(), Error> {
        let text = |name: &str, v: &str| {
            if v.is_empty() {
                Err(Error::InvalidClaim(format!("{name} is empty")))
            } else if v.len() > claims::MAX_TEXT_LEN {
                Err(Error::InvalidClaim(format!(
                    "{name} is longer than {} bytes",
                    claims::MAX_TEXT_LEN
                )))
            } else {
                Ok(())
            }
        };
        text("product", &self.product)?;
        text("license id", &self.license_id)?;
        for (name, v) in [
            ("issuer", &self.issuer),
            ("subject", &self.subject),
            ("audience", &self.audience),
        ] {
            if let Some(v) = v {
                text(name, v)?;
            }
        }
        for d in &self.domains {
            if !is_valid_domain_pattern(d) {
                return Err(Error::InvalidClaim(format!(
                    "domain {d:?} is not a domain name or *.wildcard (use the ASCII/punycode form)"
                )));
            }
        }
        for e in &self.entitlements {
            text("entitlement", e)?;
        }
        for (list, n) in [
            ("domains", self.domains.len()),
            ("entitlements", self.entitlements.len()),
        ] {
            if n > claims::MAX_LIST_ITEMS {
                return Err(Error::InvalidClaim(format!(
                    "more than {} {list}",
                    claims::MAX_LIST_ITEMS
                )));
            }
        }
        if self.device_key_required && self.device_key.is_none() {
            // Such a token would be refused by every verifier: a bug of the caller's, not a
            // token to hand out.
            return Err(Error::InvalidClaim(
                "a device key is required but none is bound".into(),
            ));
        }
        if self.metadata.len() > claims::MAX_METADATA_ENTRIES {
            return Err(Error::InvalidClaim(format!(
                "more than {} metadata entries",
                claims::MAX_METADATA_ENTRIES
            )));
        }
        for (k, v) in &self.metadata {
            text("metadata key", k)?;
            if let MetaValue::Text(t) = v
                && t.len() > claims::MAX_TEXT_LEN
            {
                return Err(Error::InvalidClaim(format!(
                    "metadata value of {k:?} is too long"
                )));
            }
        }
        if let (Some(exp), Some(nbf)) = (self.expires_at, self.not_before)
            && exp <= nbf
        {
            return Err(Error::InvalidClaim("expiry is not after not-before".into()));
        }
        if let Some(exp) = self.expires_at
            && exp <= self.issued_at
        {
            return Err(Error::InvalidClaim(
                "expiry is not after the issue time".into(),
            ));
        }
        Ok(())
    }

    /// The CWT claims map in deterministic CBOR, with this token id.
    pub fn payload(&self, token_id: [u8; 16]) -> Result<Vec<u8>, Error> {
        self.validate()?;
        let mut w = Writer::new();
        if let Some(k) = &self.device_key {
            licet_verifier::PublicKey::ed25519(k)
                .map_err(|_| Error::InvalidClaim("device key: not a valid Ed25519 key".into()))?;
        }
        let top = 3 // iat, cti, licet
            + usize::from(self.device_key.is_some())
            + usize::from(self.issuer.is_some())
            + usize::from(self.subject.is_some())
            + usize::from(self.audience.is_some())
            + usize::from(self.expires_at.is_some())
            + usize::from(self.not_before.is_some());
        w.map(top);
        // Keys in deterministic order: 1..8 encode as 0x01..0x08, then -65537 (0x3a…).
        if let Some(v) = &self.issuer {
            w.int(key::ISS).text(v);
        }
        if let Some(v) = &self.subject {
            w.int(key::SUB).text(v);
        }
        if let Some(v) = &self.audience {
            w.int(key::AUD).text(v);
        }
        if let Some(v) = self.expires_at {
            w.int(key::EXP).int(v);
        }
        if let Some(v) = self.not_before {
            w.int(key::NBF).int(v);
        }
        w.int(key::IAT).int(self.issued_at);
        w.int(key::CTI).bytes(&token_id);
        if let Some(k) = &self.device_key {
            w.int(key::CNF)
                .map(1)
                .int(1)
                .raw(&licet_verifier::device::cose_key(k));
        }
        w.int(key::LICET);
        self.write_licet(&mut w)?;
        Ok(w.into_bytes())
    }

    fn write_licet(&self, w: &mut Writer) -> Result<(), Error> {
        use key::licet as k;
        let n = 2
            + usize::from(self.hwid.is_some())
            + usize::from(!self.domains.is_empty())
            + usize::from(!self.entitlements.is_empty())
            + usize::from(self.kind.is_some())
            + usize::from(self.seats.is_some())
            + usize::from(self.offline_grace.is_some())
            + usize::from(self.refresh_after.is_some())
            + usize::from(!self.metadata.is_empty())
            + usize::from(self.hwid_parts.is_some())
            + usize::from(self.device_key_required);
        if self.hwid_parts_invalid {
            return Err(Error::InvalidClaim(
                "hwid parts: 1 to 16 parts and a threshold k with 1 ≤ k ≤ parts".into(),
            ));
        }
        w.map(n);
        w.int(k::PRODUCT).text(&self.product);
        w.int(k::LICENSE_ID).text(&self.license_id);
        if let Some(h) = &self.hwid {
            w.int(k::HWID).bytes(h);
        }
        if !self.domains.is_empty() {
            w.int(k::DOMAINS).array(self.domains.len());
            for d in &self.domains {
                w.text(d);
            }
        }
        if !self.entitlements.is_empty() {
            w.int(k::ENTITLEMENTS).array(self.entitlements.len());
            for e in &self.entitlements {
                w.text(e);
            }
        }
        if let Some(kind) = self.kind {
            w.int(k::KIND).head(0, kind.to_u64());
        }
        if let Some(s) = self.seats {
            w.int(k::SEATS).head(0, u64::from(s));
        }
        if let Some(g) = self.offline_grace {
            w.int(k::OFFLINE_GRACE).head(0, g);
        }
        if let Some(r) = self.refresh_after {
            w.int(k::REFRESH_AFTER).int(r);
        }
        if !self.metadata.is_empty() {
            // Deterministic order of text keys: shorter first, then bytewise.
            let mut entries: Vec<_> = self.metadata.iter().collect();
            entries.sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
            let mut m = Writer::new();
            m.map(entries.len());
            for (key, value) in entries {
                m.text(key);
                match value {
                    MetaValue::Text(t) => m.text(t),
                    MetaValue::Int(i) => m.int(*i),
                    MetaValue::Bool(b) => m.bool(*b),
                };
            }
            let m = m.into_bytes();
            if m.len() > claims::MAX_METADATA_BYTES {
                return Err(Error::InvalidClaim(format!(
                    "metadata is {} bytes, more than {}",
                    m.len(),
                    claims::MAX_METADATA_BYTES
                )));
            }
            w.int(k::METADATA).raw(&m);
        }
        if let Some(p) = &self.hwid_parts {
            w.int(k::HWID_PARTS).array(p.parts().len() + 1);
            w.head(0, p.threshold() as u64);
            for part in p.parts() {
                w.bytes(part);
            }
        }
        if self.device_key_required {
            w.int(k::DEVICE_KEY_REQUIRED).bool(true);
        }
        Ok(())
    }

    /// Signs with a random token id (unless one was set) from the operating system's RNG.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        self.sign_with_rng(key, &mut crate::os_rng())
    }

    /// Signs, drawing the token id (unless set) and any RSA randomness from `rng`.
    pub fn sign_with_rng<R: CryptoRng + ?Sized>(
        &self,
        key: &SigningKey,
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        let token_id = match self.token_id {
            Some(id) => id,
            None => {
                let mut id = [0u8; 16];
                rng.fill_bytes(&mut id);
                id
            }
        };
        let payload = self.payload(token_id)?;
        let token = crate::sign_payload(key, None, &payload, rng)?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::TooLarge);
        }
        Ok(token)
    }
}
