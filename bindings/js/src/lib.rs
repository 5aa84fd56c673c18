//! licet's offline verifier for JavaScript: the module wasm-bindgen turns into the npm package
//! `@licet/verifier` (Node, Electron, browsers). JavaScript values are converted at the edge;
//! every check is licet-verifier's own. Errors are thrown as `Error`s whose `code` is the
//! verifier's stable code (`expired`, `wrong_product`, …) or `invalid_argument`.

use std::collections::BTreeMap;

use js_sys::{Array, Date, Reflect, Uint8Array};
use licet_verifier::claims::{Claims, MetaValue};
use licet_verifier::offline::{
    ActivationRequest, ActivationResponse, LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE,
    TokenHolder, UnverifiedReceipt,
};
use licet_verifier::text::{LABEL_LICENSE, LABEL_REVOCATION_LIST};
use licet_verifier::{Context, Error, OwnedContext, PublicKey, UnverifiedToken, VerifiedLicense};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

// --- errors and values at the edge ----------------------------------------------------------

/// An `Error` named `LicetError` with a stable `code`.
fn fail(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("LicetError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&e, &JsValue::from_str("code"), &JsValue::from_str(code));
    e.into()
}

fn refused(e: Error) -> JsValue {
    fail(e.code(), &e.to_string())
}

fn invalid(message: &str) -> JsValue {
    fail("invalid_argument", message)
}

/// The bytes of a `Uint8Array` (a Node `Buffer` is one), an `ArrayBuffer`, or a string (its
/// UTF-8).
fn bytes_of(v: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    if let Some(s) = v.as_string() {
        return Ok(s.into_bytes());
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    if v.is_instance_of::<js_sys::ArrayBuffer>() {
        return Ok(Uint8Array::new(v).to_vec());
    }
    Err(invalid(&format!("{what} must be a Uint8Array or a string")))
}

/// Bytes given as a `Uint8Array` or as hex text.
fn hex_or_bytes(v: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    if let Some(s) = v.as_string() {
        return unhex(&s).ok_or_else(|| invalid(&format!("{what} is not hex")));
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    Err(invalid(&format!("{what} must be a Uint8Array or hex text")))
}

fn fixed<const N: usize>(v: &[u8], what: &str) -> Result<[u8; N], JsValue> {
    v.try_into()
        .map_err(|_| invalid(&format!("{what} must be {N} bytes, not {}", v.len())))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Unix seconds from `undefined`/`null` (the clock), a number of seconds, or a `Date`.
fn seconds(v: &JsValue) -> Result<i64, JsValue> {
    let s = if v.is_undefined() || v.is_null() {
        Date::now() / 1000.0
    } else if let Some(d) = v.dyn_ref::<Date>() {
        d.get_time() / 1000.0
    } else if let Some(n) = v.as_f64() {
        n
    } else {
        return Err(invalid("now is a number of seconds or a Date"));
    };
    if !s.is_finite() {
        return Err(invalid("now is not a finite time"));
    }
    // Whole seconds, rounded down, as the claims are.
    Ok(s.floor() as i64)
}

/// One form of a key as the caller gave it.
enum KeyInput {
    Pem(String),
    Bytes(Vec<u8>),
}

/// The key inputs of a PEM text (any number of blocks), a raw Ed25519 key (32 bytes), a DER
/// SubjectPublicKeyInfo, or an array of those.
fn key_inputs(v: &JsValue, out: &mut Vec<KeyInput>) -> Result<(), JsValue> {
    if let Some(list) = v.dyn_ref::<Array>() {
        for k in list.iter() {
            if k.is_instance_of::<Array>() {
                return Err(invalid("keys is a flat list"));
            }
            key_inputs(&k, out)?;
        }
        return Ok(());
    }
    if let Some(pem) = v.as_string() {
        out.push(KeyInput::Pem(pem));
        return Ok(());
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        out.push(KeyInput::Bytes(a.to_vec()));
        return Ok(());
    }
    Err(invalid(
        "keys must be a PEM string, a Uint8Array (raw Ed25519 or SPKI DER), or an array of them",
    ))
}

fn parse_keys(inputs: &[KeyInput]) -> Result<Vec<PublicKey>, Error> {
    let mut keys = Vec::new();
    for k in inputs {
        match k {
            KeyInput::Pem(pem) => keys.extend(PublicKey::all_from_pem(pem)?),
            KeyInput::Bytes(b) => keys.push(match <[u8; 32]>::try_from(&b[..]) {
                Ok(raw) => PublicKey::ed25519(&raw)?,
                Err(_) => PublicKey::from_spki_der(b)?,
            }),
        }
    }
    Ok(keys)
}

/// A key set, shared by the cache and the call that uses it.
type KeySet = std::rc::Rc<[PublicKey]>;

thread_local! {
    /// The last key set read, by the exact input it was read from. An application passes its
    /// pinned keys with every call; reading them again each time (a PEM decode and, for
    /// Ed25519, a point decompression) would cost as much as a quarter of a verify.
    static LAST_KEYS: std::cell::RefCell<Option<(Vec<u8>, KeySet)>> =
        const { std::cell::RefCell::new(None) };
}

/// The public keys `v` gives, read once per distinct input.
fn keys_of(v: &JsValue) -> Result<KeySet, JsValue> {
    let mut inputs = Vec::new();
    key_inputs(v, &mut inputs)?;
    if inputs.is_empty() {
        return Err(invalid("keys is an empty list"));
    }
    // The cache key: each input tagged with its form and length, so that no two inputs meet.
    let mut id = Vec::new();
    for k in &inputs {
        let (tag, b) = match k {
            KeyInput::Pem(p) => (b'p', p.as_bytes()),
            KeyInput::Bytes(b) => (b'b', &b[..]),
        };
        id.push(tag);
        id.extend_from_slice(&(b.len() as u64).to_le_bytes());
        id.extend_from_slice(b);
    }
    if let Some(hit) = LAST_KEYS.with_borrow(|c| {
        c.as_ref()
            .filter(|(last, _)| *last == id)
            .map(|(_, keys)| keys.clone())
    }) {
        return Ok(hit);
    }
    let keys: KeySet = parse_keys(&inputs).map_err(refused)?.into();
    LAST_KEYS.set(Some((id, keys.clone())));
    Ok(keys)
}

// --- the context ----------------------------------------------------------------------------

/// `verify`'s options. Unknown names are refused: a misspelt check must not pass silently.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Options {
    product: Option<String>,
    any_product: bool,
    fingerprint: Option<String>,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    hwid_parts: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    device_key: JsValue,
    require_device_binding: bool,
    domain: Option<String>,
    entitlements: Vec<String>,
    leeway: u64,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    revocations: JsValue,
    last_seen_sequence: Option<u64>,
    require_fresh: bool,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    now: JsValue,
}

/// The options, read and checked, owned.
struct Ctx {
    settings: OwnedContext,
    /// The revocation list's data, verified with the token's keys at each check.
    revocations: Option<Vec<u8>>,
    last_seen_sequence: Option<u64>,
}

fn context_of(v: &JsValue) -> Result<Ctx, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Err(invalid(
            "options are required: { product } (or { anyProduct: true })",
        ));
    }
    // serde-wasm-bindgen looks up only the fields it knows, so unknown ones are found here.
    const KNOWN: [&str; 13] = [
        "product",
        "anyProduct",
        "fingerprint",
        "hwidParts",
        "deviceKey",
        "requireDeviceBinding",
        "domain",
        "entitlements",
        "leeway",
        "revocations",
        "lastSeenSequence",
        "requireFresh",
        "now",
    ];
    let obj = v
        .dyn_ref::<js_sys::Object>()
        .ok_or_else(|| invalid("options must be an object"))?;
    for key in js_sys::Object::keys(obj).iter() {
        let key = key.as_string().unwrap_or_default();
        if !KNOWN.contains(&key.as_str()) {
            return Err(invalid(&format!("options: unknown option {key:?}")));
        }
    }
    let o: Options =
        serde_wasm_bindgen::from_value(v.clone()).map_err(|e| invalid(&format!("options: {e}")))?;
    if o.product.is_none() && !o.any_product {
        return Err(invalid(
            "options.product is required (or anyProduct: true, to accept any product)",
        ));
    }
    if o.product.is_some() && o.any_product {
        return Err(invalid("options name a product and anyProduct: true"));
    }
    let hwid_parts = if o.hwid_parts.is_undefined() || o.hwid_parts.is_null() {
        Vec::new()
    } else {
        let list = o
            .hwid_parts
            .dyn_ref::<Array>()
            .ok_or_else(|| invalid("hwidParts is an array"))?;
        list.iter()
            .map(|p| fixed::<8>(&hex_or_bytes(&p, "a hardware part")?, "a hardware part"))
            .collect::<Result<Vec<_>, _>>()?
    };
    let device_key = if o.device_key.is_undefined() || o.device_key.is_null() {
        None
    } else {
        Some(fixed::<32>(
            &hex_or_bytes(&o.device_key, "deviceKey")?,
            "deviceKey",
        )?)
    };
    let revocations = if o.revocations.is_undefined() || o.revocations.is_null() {
        None
    } else {
        Some(bytes_of(&o.revocations, "revocations")?)
    };
    Ok(Ctx {
        settings: OwnedContext {
            now: seconds(&o.now)?,
            product: o.product,
            fingerprint: o.fingerprint,
            hwid_parts,
            device_key,
            require_device_binding: o.require_device_binding,
            domain: o.domain,
            entitlements: o.entitlements,
            leeway: o.leeway,
            require_fresh_revocations: o.require_fresh,
        },
        revocations,
        last_seen_sequence: o.last_seen_sequence,
    })
}

impl Ctx {
    /// Runs `f` with the verifier's context; the revocation list, if given, is verified with
    /// `keys` first (its refusal is the call's).
    fn with<R>(
        &self,
        keys: &[PublicKey],
        f: impl FnOnce(Context<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let raw_list = match &self.revocations {
            Some(b) => Some(licet_verifier::text::decode(b, LABEL_REVOCATION_LIST)?),
            None => None,
        };
        let list = match &raw_list {
            Some(b) => Some(licet_verifier::RevocationList::verify(
                b,
                keys,
                self.last_seen_sequence,
            )?),
            None => None,
        };
        self.settings.with(list.as_ref(), f)
    }
}

// --- licenses -------------------------------------------------------------------------------

#[derive(Serialize)]
#[serde(untagged)]
enum Meta {
    Text(String),
    Number(f64),
    Bool(bool),
}

/// A license as a plain object. Times are numbers of unix seconds; ids are lowercase hex.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct License {
    license_id: String,
    product: String,
    issuer: Option<String>,
    subject: Option<String>,
    audience: Option<String>,
    issued_at: f64,
    expires_at: Option<f64>,
    not_before: Option<f64>,
    refresh_after: Option<f64>,
    offline_grace: Option<f64>,
    seats: Option<u32>,
    kind: Option<&'static str>,
    domains: Vec<String>,
    entitlements: Vec<String>,
    metadata: BTreeMap<String, Meta>,
    token_id: String,
    kid: String,
    algorithm: &'static str,
    hwid: Option<String>,
    hwid_parts: Vec<String>,
    hwid_threshold: Option<u32>,
    device_key: Option<String>,
    device_key_required: bool,
    verified: bool,
    revocations_stale: bool,
}

impl License {
    fn of(
        c: &Claims<'_>,
        kid: &[u8],
        algorithm: &'static str,
        verified: bool,
        stale: bool,
    ) -> License {
        License {
            license_id: c.license_id.to_owned(),
            product: c.product.to_owned(),
            issuer: c.issuer.map(str::to_owned),
            subject: c.subject.map(str::to_owned),
            audience: c.audience.map(str::to_owned),
            issued_at: c.issued_at as f64,
            expires_at: c.expires_at.map(|t| t as f64),
            not_before: c.not_before.map(|t| t as f64),
            refresh_after: c.refresh_after.map(|t| t as f64),
            offline_grace: c.offline_grace.map(|t| t as f64),
            seats: c.seats,
            kind: c.kind.map(|k| k.as_str()),
            domains: c.domains.iter().map(str::to_owned).collect(),
            entitlements: c.entitlements.iter().map(str::to_owned).collect(),
            metadata: c
                .metadata
                .iter()
                .filter_map(|(k, v)| {
                    let v = match v {
                        MetaValue::Text(t) => Meta::Text(t.to_owned()),
                        MetaValue::Int(i) => Meta::Number(i as f64),
                        MetaValue::Bool(b) => Meta::Bool(b),
                        // A kind of value a newer verifier knows is left out.
                        _ => return None,
                    };
                    Some((k.to_owned(), v))
                })
                .collect(),
            token_id: hex(&c.token_id),
            kid: hex(kid),
            algorithm,
            hwid: c.hwid.map(|h| hex(&h)),
            hwid_parts: c
                .hwid_parts
                .as_ref()
                .map(|p| p.parts().iter().map(|x| hex(x)).collect())
                .unwrap_or_default(),
            hwid_threshold: c
                .hwid_parts
                .as_ref()
                .and_then(|p| u32::try_from(p.threshold()).ok()),
            device_key: c.device_key.map(|k| hex(&k)),
            device_key_required: c.device_key_required,
            verified,
            revocations_stale: stale,
        }
    }

    fn verified(v: &VerifiedLicense<'_>) -> License {
        License::of(
            v.claims(),
            v.kid().as_bytes(),
            v.algorithm().name(),
            true,
            v.revocations_stale(),
        )
    }
}

/// A plain object of `value`: `null` for what is absent, objects (not `Map`s) for maps.
fn plain<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let s = serde_wasm_bindgen::Serializer::new()
        .serialize_missing_as_null(true)
        .serialize_maps_as_objects(true);
    value
        .serialize(&s)
        .map_err(|e| fail("internal", &e.to_string()))
}

/// Verifies a token (binary, base64url text, or the armored `LICET LICENSE` file) with `keys`
/// in the context `options` describes, and returns its license as a plain object. Throws an
/// `Error` whose `code` is the verifier's (`expired`, `wrong_product`, …) when it is refused.
#[wasm_bindgen(skip_typescript)]
pub fn verify(token: JsValue, keys: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let input = bytes_of(&token, "token")?;
    let keys = keys_of(&keys)?;
    let ctx = context_of(&options)?;
    let license = licet_verifier::text::decode(&input, LABEL_LICENSE)
        .and_then(|raw| {
            ctx.with(&keys, |c| {
                UnverifiedToken::decode(&raw)?
                    .verify(&keys[..], &c)
                    .map(|v| License::verified(&v))
            })
        })
        .map_err(refused)?;
    plain(&license)
}

/// Reads a token's claims **without verifying it** (`verified` is false): for support tools
/// and diagnostics, never to decide whether an application runs.
#[wasm_bindgen(skip_typescript)]
pub fn inspect(token: JsValue) -> Result<JsValue, JsValue> {
    let input = bytes_of(&token, "token")?;
    let read = || -> Result<License, Error> {
        let raw = licet_verifier::text::decode(&input, LABEL_LICENSE)?;
        let t = UnverifiedToken::decode(&raw)?;
        let header = t.header();
        Ok(License::of(
            &t.unverified_claims()?,
            header.kid,
            header.algorithm().map_or("unknown", |a| a.name()),
            false,
            false,
        ))
    };
    plain(&read().map_err(refused)?)
}

// --- revocation lists -----------------------------------------------------------------------

self_cell::self_cell!(
    struct ListCell {
        owner: Vec<u8>,
        #[covariant]
        dependent: ListView,
    }

    impl {Debug}
);

type ListView<'a> = licet_verifier::RevocationList<'a>;

/// A revocation list whose signature verified. To check tokens against it, pass the list's
/// data to `verify` as `options.revocations`.
#[wasm_bindgen(skip_typescript)]
#[derive(Debug)]
pub struct RevocationList {
    cell: ListCell,
}

#[wasm_bindgen]
impl RevocationList {
    /// Verifies a list (binary or armored) with `keys`; `options.lastSeenSequence` refuses an
    /// older list than one already seen (`revocation_rollback`).
    pub fn verify(
        data: JsValue,
        keys: JsValue,
        options: JsValue,
    ) -> Result<RevocationList, JsValue> {
        let input = bytes_of(&data, "data")?;
        let keys = keys_of(&keys)?;
        let seen = if options.is_undefined() || options.is_null() {
            None
        } else {
            let v = Reflect::get(&options, &JsValue::from_str("lastSeenSequence"))?;
            match v.as_f64() {
                Some(n) if n >= 0.0 && n.fract() == 0.0 => Some(n as u64),
                None if v.is_undefined() || v.is_null() => None,
                _ => return Err(invalid("lastSeenSequence is a whole number")),
            }
        };
        let raw = licet_verifier::text::decode(&input, LABEL_REVOCATION_LIST).map_err(refused)?;
        let cell = ListCell::try_new(raw, |b| {
            licet_verifier::RevocationList::verify(b, &keys[..], seen)
        })
        .map_err(refused)?;
        Ok(RevocationList { cell })
    }

    fn list(&self) -> &licet_verifier::RevocationList<'_> {
        self.cell.borrow_dependent()
    }

    #[wasm_bindgen(getter)]
    pub fn sequence(&self) -> f64 {
        self.list().sequence() as f64
    }

    #[wasm_bindgen(getter, js_name = issuedAt)]
    pub fn issued_at(&self) -> f64 {
        self.list().issued_at() as f64
    }

    #[wasm_bindgen(getter, js_name = nextUpdate)]
    pub fn next_update(&self) -> f64 {
        self.list().next_update() as f64
    }

    #[wasm_bindgen(getter, js_name = tokenCount)]
    pub fn token_count(&self) -> usize {
        self.list().token_count()
    }

    #[wasm_bindgen(getter, js_name = licenseCount)]
    pub fn license_count(&self) -> usize {
        self.list().license_count()
    }

    /// Whether the list is past its `nextUpdate` at `now` (default: the clock).
    #[wasm_bindgen(js_name = isStale)]
    pub fn is_stale(&self, now: JsValue) -> Result<bool, JsValue> {
        Ok(self.list().is_stale(seconds(&now)?))
    }

    /// Whether it revokes the token with this id (16 bytes, or 32 hex characters).
    #[wasm_bindgen(js_name = containsToken)]
    pub fn contains_token(&self, token_id: JsValue) -> Result<bool, JsValue> {
        let id = fixed::<16>(&hex_or_bytes(&token_id, "a token id")?, "a token id")?;
        Ok(self.list().contains_token(&id))
    }

    /// Whether it revokes this license (every token of it).
    #[wasm_bindgen(js_name = containsLicense)]
    pub fn contains_license(&self, license_id: &str) -> bool {
        self.list().contains_license(license_id)
    }
}

// --- offline artefacts ----------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    product: String,
    license_key: String,
    fingerprint: String,
    parts: Vec<String>,
    device_key: String,
    request_id: String,
    created_at: f64,
    note: Option<String>,
}

impl Request {
    fn of(r: &ActivationRequest<'_>) -> Request {
        Request {
            product: r.product.to_owned(),
            license_key: r.license_key.to_owned(),
            fingerprint: r.fingerprint.to_owned(),
            parts: r.parts().iter().map(|p| hex(p)).collect(),
            device_key: hex(&r.device_key),
            request_id: hex(&r.request_id),
            created_at: r.created_at as f64,
            note: r.note.map(str::to_owned),
        }
    }
}

/// The vendor's check of an offline activation request (binary or armored): signed by the
/// device key it carries, and, with `options.window` (seconds), not older than that at
/// `options.now` (`request_expired`) nor dated ahead (`request_from_future`).
#[wasm_bindgen(js_name = verifyOfflineRequest, skip_typescript)]
pub fn verify_offline_request(data: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let input = bytes_of(&data, "data")?;
    let raw = licet_verifier::text::decode(&input, LABEL_REQUEST).map_err(refused)?;
    let req = ActivationRequest::verify(&raw).map_err(refused)?;
    if !(options.is_undefined() || options.is_null()) {
        let window = Reflect::get(&options, &JsValue::from_str("window"))?;
        if let Some(w) = window.as_f64() {
            if !(w >= 0.0 && w.fract() == 0.0) {
                return Err(invalid("window is a whole number of seconds"));
            }
            let now = seconds(&Reflect::get(&options, &JsValue::from_str("now"))?)?;
            req.check_age(now, w as u64).map_err(refused)?;
        } else if !window.is_undefined() {
            return Err(invalid("window is a whole number of seconds"));
        }
    }
    plain(&Request::of(&req))
}

/// The machine's check before it installs an activation response: signed by `keys`, answering
/// the `pending` request (its data, as the machine made it), and its token valid in `options`
/// (as `verify`'s) and bound to the pending request's device key. Returns the license.
#[wasm_bindgen(js_name = verifyOfflineResponse, skip_typescript)]
pub fn verify_offline_response(
    response: JsValue,
    keys: JsValue,
    pending: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let input = bytes_of(&response, "response")?;
    let pending = bytes_of(&pending, "pending")?;
    let keys = keys_of(&keys)?;
    let ctx = context_of(&options)?;
    let check = || -> Result<License, Error> {
        let pending = licet_verifier::text::decode(&pending, LABEL_REQUEST)?;
        let req = ActivationRequest::verify(&pending)?;
        let raw = licet_verifier::text::decode(&input, LABEL_RESPONSE)?;
        let answer = ActivationResponse::verify(&raw, &keys[..])?;
        ctx.with(&keys, |c| answer.verify_token(&keys[..], &req, c))
            .map(|v| License::verified(&v))
    };
    plain(&check().map_err(refused)?)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Receipt {
    product: String,
    license_id: String,
    token_id: String,
    request_id: Option<String>,
    at: f64,
    checked: bool,
}

/// Reads a deactivation receipt (binary or armored). With `options.holder` (`"machine"`,
/// `"revoked"` or `"replaced"`: who holds the token now) and, for a machine, its
/// `options.deviceKey`, it is checked as the vendor's desk does; without, it is only read
/// (`checked` is false).
#[wasm_bindgen(js_name = readReceipt, skip_typescript)]
pub fn read_receipt(data: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let input = bytes_of(&data, "data")?;
    let raw = licet_verifier::text::decode(&input, LABEL_RECEIPT).map_err(refused)?;
    let receipt = UnverifiedReceipt::decode(&raw).map_err(refused)?;
    let mut checked = false;
    if !(options.is_undefined() || options.is_null()) {
        let holder = Reflect::get(&options, &JsValue::from_str("holder"))?;
        if !holder.is_undefined() {
            let key = Reflect::get(&options, &JsValue::from_str("deviceKey"))?;
            let key: Option<[u8; 32]> = if key.is_undefined() || key.is_null() {
                None
            } else {
                Some(fixed(&hex_or_bytes(&key, "deviceKey")?, "deviceKey")?)
            };
            let holder = match holder.as_string().as_deref() {
                Some("machine") => TokenHolder::Machine(key.as_ref()),
                Some("revoked") => TokenHolder::Revoked,
                Some("replaced") => TokenHolder::Replaced,
                _ => {
                    return Err(invalid(
                        "holder is \"machine\", \"revoked\" or \"replaced\"",
                    ));
                }
            };
            receipt.check(holder).map_err(refused)?;
            checked = true;
        }
    }
    let r = receipt.unverified();
    plain(&Receipt {
        product: r.product.to_owned(),
        license_id: r.license_id.to_owned(),
        token_id: hex(&r.token_id),
        request_id: r.request_id.map(|id| hex(&id)),
        at: r.at as f64,
        checked,
    })
}

/// Checks a device's proof of possession: `signature` over `challenge` by the device key (32
/// bytes or 64 hex characters). Throws `device_key_mismatch` otherwise.
#[wasm_bindgen(js_name = verifyPossession, skip_typescript)]
pub fn verify_possession(
    device_key: JsValue,
    challenge: JsValue,
    signature: JsValue,
) -> Result<(), JsValue> {
    let key = fixed::<32>(&hex_or_bytes(&device_key, "deviceKey")?, "deviceKey")?;
    let challenge = bytes_of(&challenge, "challenge")?;
    let signature = hex_or_bytes(&signature, "signature")?;
    licet_verifier::device::verify_possession(&key, &challenge, &signature).map_err(refused)
}

/// Whether this build verifies RSA keys (PS256 / RS256) besides Ed25519.
#[wasm_bindgen(js_name = hasRsa, skip_typescript)]
pub fn has_rsa() -> bool {
    cfg!(feature = "rsa")
}
