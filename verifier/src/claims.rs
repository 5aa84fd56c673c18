//! The CWT claims of a licet token (RFC 8392), read in place.
//!
//! Registered claims use their registered keys. licet's own claims live in one map under the
//! private-use key `-65537`, with small integer keys inside, which keeps a typical token under
//! 200 bytes (see `docs/token-format.md` for the table).

use crate::cbor::{self, Key, KeyOrder, Reader};
use crate::error::Error;

/// Registered CWT claim keys (RFC 8392 §3.1).
pub mod key {
    /// `iss`: who issued the token.
    pub const ISS: i64 = 1;
    /// `sub`: the licensee.
    pub const SUB: i64 = 2;
    /// `aud`: the intended audience.
    pub const AUD: i64 = 3;
    /// `exp`: expiry, unix seconds.
    pub const EXP: i64 = 4;
    /// `nbf`: not valid before, unix seconds.
    pub const NBF: i64 = 5;
    /// `iat`: issued at, unix seconds.
    pub const IAT: i64 = 6;
    /// `cti`: the 16-byte token id.
    pub const CTI: i64 = 7;
    /// `cnf`: the confirmation claim (RFC 8747), holding the device key as a COSE_Key.
    pub const CNF: i64 = 8;
    /// The private-use key holding licet's own claims.
    pub const LICET: i64 = -65537;

    /// Keys inside the licet claim map.
    pub mod licet {
        /// Product identifier (text).
        pub const PRODUCT: i64 = 1;
        /// License identifier (text).
        pub const LICENSE_ID: i64 = 2;
        /// Hardware binding: 16-byte hash of product and fingerprint.
        pub const HWID: i64 = 3;
        /// Domains: array of names or `*.` wildcards.
        pub const DOMAINS: i64 = 4;
        /// Entitlements: array of text.
        pub const ENTITLEMENTS: i64 = 5;
        /// License kind: 1 trial, 2 subscription, 3 lifetime.
        pub const KIND: i64 = 6;
        /// Seats (unsigned).
        pub const SEATS: i64 = 7;
        /// Offline grace in seconds (unsigned).
        pub const OFFLINE_GRACE: i64 = 8;
        /// Refresh-after: unix seconds after which an online app should check in.
        pub const REFRESH_AFTER: i64 = 9;
        /// Metadata: map of text to text, integer or boolean.
        pub const METADATA: i64 = 10;
        /// Hardware parts: `[k, part₁, …, partₙ]`, each part an 8-byte hash of one component
        /// of the machine's fingerprint; at least `k` must match.
        pub const HWID_PARTS: i64 = 11;
        /// Device key required: `true` when the license's policy demands a device binding.
        /// Such a token is refused unless it binds a device key (`cnf`), so a token issued
        /// without one (by a path that cannot bind it) unlocks nothing.
        pub const DEVICE_KEY_REQUIRED: i64 = 12;
    }
}

/// Size of a token id (`cti`).
pub const TOKEN_ID_LEN: usize = 16;
/// Size of a hardware binding hash.
pub const HWID_LEN: usize = 16;
/// Size of one hardware part hash.
pub const HWID_PART_LEN: usize = 8;
/// Most parts a token binds.
pub const MAX_HWID_PARTS: usize = 16;
/// Most bytes of any one text claim (product, license id, issuer, a domain, an entitlement…).
pub const MAX_TEXT_LEN: usize = 255;
/// Most items in the domains or the entitlements list.
pub const MAX_LIST_ITEMS: usize = 64;
/// Most encoded bytes of the metadata map.
pub const MAX_METADATA_BYTES: usize = 1024;
/// Most entries in the metadata map.
pub const MAX_METADATA_ENTRIES: usize = 32;

/// What kind of license a token carries.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LicenseKind {
    /// A time-limited evaluation.
    Trial,
    /// A recurring, renewable license.
    Subscription,
    /// A perpetual license.
    Lifetime,
}

impl LicenseKind {
    /// The wire value.
    pub const fn to_u64(self) -> u64 {
        match self {
            LicenseKind::Trial => 1,
            LicenseKind::Subscription => 2,
            LicenseKind::Lifetime => 3,
        }
    }

    /// From the wire value.
    pub const fn from_u64(v: u64) -> Option<LicenseKind> {
        match v {
            1 => Some(LicenseKind::Trial),
            2 => Some(LicenseKind::Subscription),
            3 => Some(LicenseKind::Lifetime),
            _ => None,
        }
    }

    /// Lower-case name (`trial`, `subscription`, `lifetime`).
    pub const fn as_str(self) -> &'static str {
        match self {
            LicenseKind::Trial => "trial",
            LicenseKind::Subscription => "subscription",
            LicenseKind::Lifetime => "lifetime",
        }
    }
}

impl core::str::FromStr for LicenseKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "trial" => Ok(LicenseKind::Trial),
            "subscription" => Ok(LicenseKind::Subscription),
            "lifetime" => Ok(LicenseKind::Lifetime),
            _ => Err(Error::Malformed("unknown license kind")),
        }
    }
}

/// The hardware parts a token is bound to: at least `k` of them must be among the machine's
/// (a k-of-n rule, so one replaced disk or network card does not lose the license).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwidParts {
    k: u8,
    n: u8,
    parts: [[u8; HWID_PART_LEN]; MAX_HWID_PARTS],
}

impl HwidParts {
    /// Parts and their threshold; `None` unless `1 ≤ k ≤ n ≤ 16`.
    pub fn new(k: usize, parts: &[[u8; HWID_PART_LEN]]) -> Option<HwidParts> {
        if parts.is_empty() || parts.len() > MAX_HWID_PARTS || k == 0 || k > parts.len() {
            return None;
        }
        let mut out = HwidParts {
            k: k as u8,
            n: parts.len() as u8,
            parts: [[0; HWID_PART_LEN]; MAX_HWID_PARTS],
        };
        out.parts[..parts.len()].copy_from_slice(parts);
        Some(out)
    }

    /// How many parts must match.
    pub fn threshold(&self) -> usize {
        usize::from(self.k)
    }

    /// The parts.
    pub fn parts(&self) -> &[[u8; HWID_PART_LEN]] {
        &self.parts[..usize::from(self.n)]
    }

    /// How many of the token's parts are among `machine` (each counted once).
    pub fn matching(&self, machine: &[[u8; HWID_PART_LEN]]) -> usize {
        self.parts()
            .iter()
            .enumerate()
            .filter(|(i, p)| machine.contains(p) && !self.parts()[..*i].contains(p))
            .count()
    }

    /// Whether `machine` has enough of the parts.
    pub fn accepts(&self, machine: &[[u8; HWID_PART_LEN]]) -> bool {
        self.matching(machine) >= self.threshold()
    }

    fn parse(r: &mut Reader<'_>) -> Result<HwidParts, Error> {
        let len = r.array()?;
        if !(2..=MAX_HWID_PARTS + 1).contains(&len) {
            return Err(Error::Malformed(
                "hwid parts: 1 to 16 parts and a threshold",
            ));
        }
        let k = usize::try_from(r.uint()?).unwrap_or(usize::MAX);
        let mut parts = [[0u8; HWID_PART_LEN]; MAX_HWID_PARTS];
        for p in parts.iter_mut().take(len - 1) {
            *p = fixed::<HWID_PART_LEN>(r, "hwid part is not 8 bytes")?;
        }
        HwidParts::new(k, &parts[..len - 1])
            .ok_or(Error::Malformed("hwid parts: threshold out of range"))
    }
}

/// A list of text items (domains, entitlements), iterated in place.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextList<'a> {
    raw: &'a [u8],
    len: usize,
}

impl<'a> TextList<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<TextList<'a>, Error> {
        let len = r.array()?;
        if len > MAX_LIST_ITEMS {
            return Err(Error::Malformed("list has too many items"));
        }
        let start = r.position();
        for _ in 0..len {
            text(r)?;
        }
        Ok(TextList {
            raw: r.since(start),
            len,
        })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items in token order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut r = Reader::new(self.raw);
        // Validated when parsed, so reading cannot fail; `ok()` ends iteration if it somehow did.
        (0..self.len).map_while(move |_| r.text().ok())
    }

    /// Whether `item` is in the list (exact match).
    pub fn contains(&self, item: &str) -> bool {
        self.iter().any(|i| i == item)
    }
}

/// A metadata value.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaValue<'a> {
    /// Text.
    Text(&'a str),
    /// A signed integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// The metadata map, iterated in place.
#[derive(Debug, Clone, Copy, Default)]
pub struct Metadata<'a> {
    raw: &'a [u8],
    len: usize,
}

impl<'a> Metadata<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<Metadata<'a>, Error> {
        let start = r.position();
        let len = r.map()?;
        if len > MAX_METADATA_ENTRIES {
            return Err(Error::Malformed("metadata has too many entries"));
        }
        let mut order = KeyOrder::default();
        for _ in 0..len {
            let key_start = r.position();
            text(r)?;
            order.next(r.since(key_start))?;
            meta_value(r)?;
        }
        let raw = r.since(start);
        if raw.len() > MAX_METADATA_BYTES {
            return Err(Error::Malformed("metadata too large"));
        }
        Ok(Metadata { raw, len })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, MetaValue<'a>)> + 'a {
        let mut r = Reader::new(self.raw);
        let _ = r.map();
        (0..self.len).map_while(move |_| Some((r.text().ok()?, meta_value(&mut r).ok()?)))
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<MetaValue<'a>> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

fn meta_value<'a>(r: &mut Reader<'a>) -> Result<MetaValue<'a>, Error> {
    Ok(match r.peek_major()? {
        cbor::TEXT => MetaValue::Text(text(r)?),
        cbor::UINT | cbor::NINT => MetaValue::Int(r.int()?),
        cbor::SIMPLE => MetaValue::Bool(r.bool()?),
        _ => {
            return Err(Error::Malformed(
                "metadata value is not text, integer or boolean",
            ));
        }
    })
}

fn text<'a>(r: &mut Reader<'a>) -> Result<&'a str, Error> {
    let s = r.text()?;
    if s.len() > MAX_TEXT_LEN {
        return Err(Error::Malformed("text claim too long"));
    }
    Ok(s)
}

fn time(r: &mut Reader<'_>) -> Result<i64, Error> {
    match r.peek_major()? {
        cbor::UINT | cbor::NINT => r.int(),
        _ => Err(Error::Malformed("time claim is not an integer")),
    }
}

fn fixed<const N: usize>(r: &mut Reader<'_>, what: &'static str) -> Result<[u8; N], Error> {
    let b = r.bytes()?;
    let mut out = [0u8; N];
    if b.len() != N {
        return Err(Error::Malformed(what));
    }
    out.copy_from_slice(b);
    Ok(out)
}

/// The claims of a token. Borrowed from the token bytes; nothing is copied.
#[derive(Debug, Clone, Copy)]
pub struct Claims<'a> {
    /// `iss`.
    pub issuer: Option<&'a str>,
    /// `sub`: the licensee, if the issuer named one.
    pub subject: Option<&'a str>,
    /// `aud`.
    pub audience: Option<&'a str>,
    /// `exp`: the token must not be accepted at or after this time.
    pub expires_at: Option<i64>,
    /// `nbf`: the token must not be accepted before this time.
    pub not_before: Option<i64>,
    /// `iat`: when the token was issued (required).
    pub issued_at: i64,
    /// `cti`: the 16-byte token id (required).
    pub token_id: [u8; TOKEN_ID_LEN],
    /// `cnf`: the Ed25519 device key the token is bound to, if any; only the holder of its
    /// secret half can prove possession ([`Claims::verify_possession`]).
    pub device_key: Option<[u8; crate::device::DEVICE_KEY_LEN]>,
    /// Product identifier (required).
    pub product: &'a str,
    /// License identifier (required).
    pub license_id: &'a str,
    /// Hardware binding hash, if the token is machine-bound.
    pub hwid: Option<[u8; HWID_LEN]>,
    /// Hardware parts with a k-of-n rule, if the token is bound to fingerprint components.
    pub hwid_parts: Option<HwidParts>,
    /// Domains the token is bound to (empty: not domain-bound).
    pub domains: TextList<'a>,
    /// Entitlements.
    pub entitlements: TextList<'a>,
    /// License kind.
    pub kind: Option<LicenseKind>,
    /// Seats.
    pub seats: Option<u32>,
    /// Offline grace, seconds.
    pub offline_grace: Option<u64>,
    /// Unix seconds after which an online application should check in.
    pub refresh_after: Option<i64>,
    /// Metadata.
    pub metadata: Metadata<'a>,
    /// Whether the license's policy requires a device binding: then the token is valid only
    /// if it binds a device key (`cnf`).
    pub device_key_required: bool,
}

impl<'a> Claims<'a> {
    /// Parses a claims map. Unknown registered claims are skipped (RFC 8392); unknown licet
    /// claims are refused with [`Error::UnsupportedClaim`].
    pub(crate) fn parse(payload: &'a [u8]) -> Result<Claims<'a>, Error> {
        let mut r = Reader::new(payload);
        let n = r.map()?;
        let mut order = KeyOrder::default();
        let (mut iss, mut sub, mut aud, mut exp, mut nbf, mut iat, mut cti) =
            (None, None, None, None, None, None, None);
        let mut cnf = None;
        let mut licet = None;
        for _ in 0..n {
            let (k, encoded) = r.key()?;
            order.next(encoded)?;
            match k {
                Key::Int(key::ISS) => iss = Some(text(&mut r)?),
                Key::Int(key::SUB) => sub = Some(text(&mut r)?),
                Key::Int(key::AUD) => aud = Some(text(&mut r)?),
                Key::Int(key::EXP) => exp = Some(time(&mut r)?),
                Key::Int(key::NBF) => nbf = Some(time(&mut r)?),
                Key::Int(key::IAT) => iat = Some(time(&mut r)?),
                Key::Int(key::CTI) => {
                    cti = Some(fixed::<TOKEN_ID_LEN>(&mut r, "cti is not 16 bytes")?)
                }
                Key::Int(key::CNF) => cnf = Some(crate::device::read_cnf(&mut r)?),
                Key::Int(key::LICET) => licet = Some(LicetClaims::parse(&mut r)?),
                _ => r.skip()?,
            }
        }
        r.finish()?;
        let l = licet.ok_or(Error::Malformed("missing licet claims"))?;
        Ok(Claims {
            issuer: iss,
            subject: sub,
            audience: aud,
            expires_at: exp,
            not_before: nbf,
            issued_at: iat.ok_or(Error::Malformed("missing iat"))?,
            token_id: cti.ok_or(Error::Malformed("missing cti"))?,
            device_key: cnf,
            product: l.product.ok_or(Error::Malformed("missing product"))?,
            license_id: l.license_id.ok_or(Error::Malformed("missing license id"))?,
            hwid: l.hwid,
            hwid_parts: l.hwid_parts,
            domains: l.domains,
            entitlements: l.entitlements,
            kind: l.kind,
            seats: l.seats,
            offline_grace: l.offline_grace,
            refresh_after: l.refresh_after,
            metadata: l.metadata,
            device_key_required: l.device_key_required,
        })
    }
}

#[derive(Default)]
struct LicetClaims<'a> {
    product: Option<&'a str>,
    license_id: Option<&'a str>,
    hwid: Option<[u8; HWID_LEN]>,
    hwid_parts: Option<HwidParts>,
    domains: TextList<'a>,
    entitlements: TextList<'a>,
    kind: Option<LicenseKind>,
    seats: Option<u32>,
    offline_grace: Option<u64>,
    refresh_after: Option<i64>,
    metadata: Metadata<'a>,
    device_key_required: bool,
}

impl<'a> LicetClaims<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<LicetClaims<'a>, Error> {
        use key::licet as k;
        let n = r.map()?;
        let mut order = KeyOrder::default();
        let mut c = LicetClaims::default();
        for _ in 0..n {
            let (key, encoded) = r.key()?;
            order.next(encoded)?;
            match key {
                Key::Int(k::PRODUCT) => c.product = Some(text(r)?),
                Key::Int(k::LICENSE_ID) => c.license_id = Some(text(r)?),
                Key::Int(k::HWID) => c.hwid = Some(fixed::<HWID_LEN>(r, "hwid is not 16 bytes")?),
                Key::Int(k::DOMAINS) => c.domains = TextList::parse(r)?,
                Key::Int(k::ENTITLEMENTS) => c.entitlements = TextList::parse(r)?,
                Key::Int(k::KIND) => {
                    c.kind = Some(
                        LicenseKind::from_u64(r.uint()?)
                            .ok_or(Error::Malformed("unknown license kind"))?,
                    )
                }
                Key::Int(k::SEATS) => {
                    c.seats = Some(
                        u32::try_from(r.uint()?)
                            .map_err(|_| Error::Malformed("seats out of range"))?,
                    )
                }
                Key::Int(k::OFFLINE_GRACE) => c.offline_grace = Some(r.uint()?),
                Key::Int(k::REFRESH_AFTER) => c.refresh_after = Some(time(r)?),
                Key::Int(k::METADATA) => c.metadata = Metadata::parse(r)?,
                Key::Int(k::HWID_PARTS) => c.hwid_parts = Some(HwidParts::parse(r)?),
                Key::Int(k::DEVICE_KEY_REQUIRED) => {
                    // Only `true` is written: one encoding per meaning (absent is `false`).
                    if !r.bool()? {
                        return Err(Error::Malformed("device key required is not true"));
                    }
                    c.device_key_required = true;
                }
                _ => return Err(Error::UnsupportedClaim),
            }
        }
        Ok(c)
    }
}

/// A token's device binding (`cnf`) is the device module's to check; the claims only say
/// which key they bind. (This method lives with the claims so that `device` needs nothing
/// from here.)
impl Claims<'_> {
    /// Checks a proof of possession against the device key the token binds
    /// ([`crate::device::verify_possession`]): [`Error::DeviceKeyRequired`] if it binds none.
    pub fn verify_possession(&self, challenge: &[u8], signature: &[u8]) -> Result<(), Error> {
        let key = self.device_key.as_ref().ok_or(Error::DeviceKeyRequired)?;
        crate::device::verify_possession(key, challenge, signature)
    }
}
