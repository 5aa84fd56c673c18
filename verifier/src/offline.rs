//! The artefacts of air-gapped activation: the request an offline machine writes, the response
//! the vendor's server answers it with, and the receipt the machine writes when it gives its
//! seat back. Each is a COSE_Sign1 with its own `typ`, so none can be taken for another or for a
//! license token (see `docs/token-format.md`, "Offline activation").
//!
//! | artefact | `typ` | signed by | payload |
//! |---|---|---|---|
//! | request | `licet-activation-request` | the new device key it carries | product, license key, fingerprint and parts, device key, request id, time, note |
//! | response | `licet-activation-response` | a token key of the vendor | request id, the license token |
//! | receipt | `licet-deactivation-receipt` | the device key the token binds | product, license id, token id, request id, time |
//!
//! Verifying needs no allocator; building (`encode`) needs `alloc`.

use crate::cbor::{Key, KeyOrder, Reader};
use crate::claims::{HWID_PART_LEN, MAX_HWID_PARTS, MAX_TEXT_LEN, TOKEN_ID_LEN};
use crate::cose::Sign1;
use crate::device::{DEVICE_KEY_LEN, read_cose_key};
use crate::error::Error;
use crate::key::{KeyProvider, PublicKey};
use crate::token::{Context, MAX_TOKEN_BYTES, UnverifiedToken, VerifiedLicense};

/// `typ` of an offline activation request.
pub const TYP_ACTIVATION_REQUEST: &str = "licet-activation-request";
/// `typ` of an offline activation response.
pub const TYP_ACTIVATION_RESPONSE: &str = "licet-activation-response";
/// `typ` of a deactivation receipt.
pub const TYP_DEACTIVATION_RECEIPT: &str = "licet-deactivation-receipt";

/// Armor label of a request.
pub const LABEL_REQUEST: &str = "LICET ACTIVATION REQUEST";
/// Armor label of a response.
pub const LABEL_RESPONSE: &str = "LICET ACTIVATION RESPONSE";
/// Armor label of a receipt.
pub const LABEL_RECEIPT: &str = "LICET DEACTIVATION RECEIPT";

/// Largest request read, in bytes.
pub const MAX_REQUEST_BYTES: usize = 1024;
/// Largest response read, in bytes (a token and a little more).
pub const MAX_RESPONSE_BYTES: usize = MAX_TOKEN_BYTES + 256;
/// Largest receipt read, in bytes.
pub const MAX_RECEIPT_BYTES: usize = 512;
/// Size of a request id.
pub const REQUEST_ID_LEN: usize = 16;
/// Longest fingerprint a request carries.
pub const MAX_FINGERPRINT_LEN: usize = 256;
/// Longest license key a request carries.
pub const MAX_LICENSE_KEY_LEN: usize = 128;
/// How far ahead of the vendor's clock a request may be dated (seconds): an air-gapped
/// machine's clock drifts, but a request from the future would stay fresh for too long.
pub const MAX_REQUEST_SKEW: i64 = 300;

/// Payload keys.
pub mod key {
    /// Keys of a request's payload.
    pub mod request {
        /// Product code (text).
        pub const PRODUCT: i64 = 1;
        /// License key (text).
        pub const LICENSE_KEY: i64 = 2;
        /// Fingerprint id (text).
        pub const FINGERPRINT: i64 = 3;
        /// Fingerprint parts (array of 8-byte bstr; optional).
        pub const PARTS: i64 = 4;
        /// Device public key (COSE_Key).
        pub const DEVICE_KEY: i64 = 5;
        /// Request id (16-byte bstr).
        pub const REQUEST_ID: i64 = 6;
        /// Creation time (int, unix seconds).
        pub const CREATED: i64 = 7;
        /// A note for the vendor (text; optional).
        pub const NOTE: i64 = 8;
    }
    /// Keys of a response's payload.
    pub mod response {
        /// The request id answered.
        pub const REQUEST_ID: i64 = 1;
        /// The license token (bstr, its binary form).
        pub const TOKEN: i64 = 2;
    }
    /// Keys of a receipt's payload.
    pub mod receipt {
        /// Product code.
        pub const PRODUCT: i64 = 1;
        /// License id.
        pub const LICENSE_ID: i64 = 2;
        /// Token id (`cti`) of the token given back.
        pub const TOKEN_ID: i64 = 3;
        /// Request id the token answered (absent for a seat taken online).
        pub const REQUEST_ID: i64 = 4;
        /// When the license was erased (int, unix seconds).
        pub const AT: i64 = 5;
    }
}

fn text<'a>(r: &mut Reader<'a>, max: usize, what: &'static str) -> Result<&'a str, Error> {
    let s = r.text()?;
    if s.is_empty() || s.len() > max {
        return Err(Error::Malformed(what));
    }
    Ok(s)
}

fn fixed<const N: usize>(r: &mut Reader<'_>, what: &'static str) -> Result<[u8; N], Error> {
    r.bytes()?.try_into().map_err(|_| Error::Malformed(what))
}

fn time(r: &mut Reader<'_>) -> Result<i64, Error> {
    match r.peek_major()? {
        crate::cbor::UINT | crate::cbor::NINT => r.int(),
        _ => Err(Error::Malformed("time is not an integer")),
    }
}

/// The key a self-signed artefact names must be the one it carries or is checked against;
/// anything else is a signature by another key, reported as [`Error::BadSignature`].
fn self_signed(sign1: &Sign1<'_>, typ: &str, key: &PublicKey) -> Result<(), Error> {
    match sign1.verify(key, Some(typ)) {
        Ok(_) => Ok(()),
        Err(Error::UnknownKey) => Err(Error::BadSignature),
        Err(e) => Err(e),
    }
}

/// A verified offline activation request: signed by the device key it carries.
#[derive(Debug, Clone, Copy)]
pub struct ActivationRequest<'a> {
    /// Product code.
    pub product: &'a str,
    /// License key.
    pub license_key: &'a str,
    /// The machine's fingerprint id.
    pub fingerprint: &'a str,
    parts: [[u8; HWID_PART_LEN]; MAX_HWID_PARTS],
    n_parts: u8,
    /// The device public key the machine made for this activation.
    pub device_key: [u8; DEVICE_KEY_LEN],
    /// The request's random id.
    pub request_id: [u8; REQUEST_ID_LEN],
    /// When it was made (the machine's clock).
    pub created_at: i64,
    /// A note for the vendor.
    pub note: Option<&'a str>,
}

impl<'a> ActivationRequest<'a> {
    /// The fingerprint parts (possibly none).
    pub fn parts(&self) -> &[[u8; HWID_PART_LEN]] {
        &self.parts[..usize::from(self.n_parts)]
    }

    /// The vendor's check of the request's age at `now`: [`Error::RequestExpired`] if it was
    /// made more than `window` seconds ago, [`Error::RequestFromFuture`] if it is dated more
    /// than [`MAX_REQUEST_SKEW`] ahead. A request's id stays spent for `window` after it was
    /// made ([`ActivationRequest::spent_until`]), so no replay outlives the window.
    pub fn check_age(&self, now: i64, window: u64) -> Result<(), Error> {
        let window = i64::try_from(window).unwrap_or(i64::MAX);
        if now.saturating_sub(self.created_at) > window {
            return Err(Error::RequestExpired);
        }
        if self.created_at > now.saturating_add(MAX_REQUEST_SKEW) {
            return Err(Error::RequestFromFuture);
        }
        Ok(())
    }

    /// Until when the vendor must remember the request's id as spent, for a `window`.
    pub fn spent_until(&self, window: u64) -> i64 {
        self.created_at
            .saturating_add(i64::try_from(window).unwrap_or(i64::MAX))
    }

    /// Parses a request and checks its signature with the device key it carries:
    /// [`Error::BadSignature`] if another key signed it, [`Error::WrongType`] for another
    /// artefact, [`Error::Malformed`] for anything not strictly as specified.
    pub fn verify(bytes: &'a [u8]) -> Result<ActivationRequest<'a>, Error> {
        let sign1 = Sign1::parse(bytes, MAX_REQUEST_BYTES)?;
        if sign1.header.typ != Some(TYP_ACTIVATION_REQUEST) {
            return Err(Error::WrongType);
        }
        // Self-signed, like a certificate signing request: the key is in the payload, which is
        // read (strictly) before the signature is checked against it.
        let req = ActivationRequest::parse(sign1.payload)?;
        let key = PublicKey::ed25519(&req.device_key)?;
        self_signed(&sign1, TYP_ACTIVATION_REQUEST, &key)?;
        Ok(req)
    }

    fn parse(payload: &'a [u8]) -> Result<ActivationRequest<'a>, Error> {
        use key::request as k;
        let mut r = Reader::new(payload);
        let n = r.map()?;
        let mut order = KeyOrder::default();
        let mut out = ActivationRequest {
            product: "",
            license_key: "",
            fingerprint: "",
            parts: [[0; HWID_PART_LEN]; MAX_HWID_PARTS],
            n_parts: 0,
            device_key: [0; DEVICE_KEY_LEN],
            request_id: [0; REQUEST_ID_LEN],
            created_at: 0,
            note: None,
        };
        let mut seen = 0u16;
        for _ in 0..n {
            let (key, encoded) = r.key()?;
            order.next(encoded)?;
            let Key::Int(i @ 1..=8) = key else {
                return Err(Error::UnsupportedClaim);
            };
            seen |= 1 << i;
            match i {
                k::PRODUCT => out.product = text(&mut r, MAX_TEXT_LEN, "product: 1–255 bytes")?,
                k::LICENSE_KEY => {
                    out.license_key = text(&mut r, MAX_LICENSE_KEY_LEN, "license key: 1–128 bytes")?
                }
                k::FINGERPRINT => {
                    out.fingerprint = text(&mut r, MAX_FINGERPRINT_LEN, "fingerprint: 1–256 bytes")?
                }
                k::PARTS => {
                    let len = r.array()?;
                    if !(1..=MAX_HWID_PARTS).contains(&len) {
                        return Err(Error::Malformed("parts: 1 to 16"));
                    }
                    for i in 0..len {
                        let p = fixed::<HWID_PART_LEN>(&mut r, "a part is not 8 bytes")?;
                        if out.parts[..i].contains(&p) {
                            return Err(Error::Malformed("parts: duplicated"));
                        }
                        out.parts[i] = p;
                    }
                    out.n_parts = len as u8;
                }
                k::DEVICE_KEY => out.device_key = read_cose_key(&mut r)?,
                k::REQUEST_ID => {
                    out.request_id = fixed::<REQUEST_ID_LEN>(&mut r, "request id is not 16 bytes")?
                }
                k::CREATED => out.created_at = time(&mut r)?,
                _ => out.note = Some(text(&mut r, MAX_TEXT_LEN, "note: 1–255 bytes")?),
            }
        }
        r.finish()?;
        // product, license key, fingerprint, device key, request id, created: all required.
        let required = (1 << k::PRODUCT)
            | (1 << k::LICENSE_KEY)
            | (1 << k::FINGERPRINT)
            | (1 << k::DEVICE_KEY)
            | (1 << k::REQUEST_ID)
            | (1 << k::CREATED);
        if seen & required != required {
            return Err(Error::Malformed("request lacks a required field"));
        }
        Ok(out)
    }
}

/// A verified activation response: the vendor's answer to one request.
#[derive(Debug, Clone, Copy)]
pub struct ActivationResponse<'a> {
    /// The request it answers.
    pub request_id: [u8; REQUEST_ID_LEN],
    /// The license token (binary), to verify with the device key and fingerprint of the
    /// request (it is a normal token, bound to both).
    pub token: &'a [u8],
}

impl<'a> ActivationResponse<'a> {
    /// Parses a response and checks its signature against the vendor's keys. The token inside
    /// is not checked here: verify it like any token, with the pending device key in the
    /// [`crate::Context`], and compare `request_id` with the pending request's
    /// ([`Error::RequestMismatch`]).
    pub fn verify<K: KeyProvider + ?Sized>(
        bytes: &'a [u8],
        keys: &K,
    ) -> Result<ActivationResponse<'a>, Error> {
        use key::response as k;
        let sign1 = Sign1::parse(bytes, MAX_RESPONSE_BYTES)?;
        sign1.verify(keys, Some(TYP_ACTIVATION_RESPONSE))?;
        let mut r = Reader::new(sign1.payload);
        if r.map()? != 2 {
            return Err(Error::Malformed("response: request id and token"));
        }
        let mut order = KeyOrder::default();
        let (mut id, mut token) = (None, None);
        for _ in 0..2 {
            let (key, encoded) = r.key()?;
            order.next(encoded)?;
            match key {
                Key::Int(k::REQUEST_ID) => {
                    id = Some(fixed::<REQUEST_ID_LEN>(
                        &mut r,
                        "request id is not 16 bytes",
                    )?)
                }
                Key::Int(k::TOKEN) => token = Some(r.bytes()?),
                _ => return Err(Error::UnsupportedClaim),
            }
        }
        r.finish()?;
        match (id, token) {
            (Some(request_id), Some(token)) => Ok(ActivationResponse { request_id, token }),
            _ => Err(Error::Malformed("response: request id and token")),
        }
    }

    /// The machine's check before it installs the response: the token inside verified like any
    /// token in `ctx` (which names this machine's product, fingerprint and time) and bound to
    /// the pending request's device key ([`Error::DeviceKeyMismatch`] on another machine); a
    /// token that binds no device key is refused ([`Error::DeviceKeyRequired`]: it could be
    /// copied), and the response must answer the pending request ([`Error::RequestMismatch`]:
    /// an answer to another, or an earlier, request).
    pub fn verify_token<K: KeyProvider + ?Sized>(
        &self,
        keys: &K,
        pending: &ActivationRequest<'_>,
        ctx: Context<'_>,
    ) -> Result<VerifiedLicense<'a>, Error> {
        let ctx = ctx.device_key(&pending.device_key);
        let verified = UnverifiedToken::decode(self.token)?.verify(keys, &ctx)?;
        if verified.claims().device_key.is_none() {
            return Err(Error::DeviceKeyRequired);
        }
        self.answers(&pending.request_id)?;
        Ok(verified)
    }

    /// Checks that the response answers `pending` ([`Error::RequestMismatch`] otherwise).
    pub fn answers(&self, pending: &[u8; REQUEST_ID_LEN]) -> Result<(), Error> {
        // Not secret: a plain comparison.
        if &self.request_id == pending {
            Ok(())
        } else {
            Err(Error::RequestMismatch)
        }
    }
}

/// What a deactivation receipt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeactivationReceipt<'a> {
    /// Product code.
    pub product: &'a str,
    /// License id.
    pub license_id: &'a str,
    /// The token given back.
    pub token_id: [u8; TOKEN_ID_LEN],
    /// The offline request the token answered, if it was taken offline.
    pub request_id: Option<[u8; REQUEST_ID_LEN]>,
    /// When the machine erased its license.
    pub at: i64,
}

/// What the vendor knows of the token a receipt names, found by its token id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenHolder<'k> {
    /// A machine holds the token now; the device key recorded for it, if any.
    Machine(Option<&'k [u8; DEVICE_KEY_LEN]>),
    /// No machine holds it and it is revoked: it was given back already.
    Revoked,
    /// No machine holds it and it is not revoked: a newer token replaced it.
    Replaced,
}

/// A receipt whose signature has not been checked: the server reads which token it names,
/// finds the device key that token binds, and only then verifies.
#[derive(Debug, Clone, Copy)]
pub struct UnverifiedReceipt<'a> {
    sign1: Sign1<'a>,
    claims: DeactivationReceipt<'a>,
}

impl<'a> UnverifiedReceipt<'a> {
    /// Parses a receipt ([`Error::WrongType`] for another artefact).
    pub fn decode(bytes: &'a [u8]) -> Result<UnverifiedReceipt<'a>, Error> {
        use key::receipt as k;
        let sign1 = Sign1::parse(bytes, MAX_RECEIPT_BYTES)?;
        if sign1.header.typ != Some(TYP_DEACTIVATION_RECEIPT) {
            return Err(Error::WrongType);
        }
        let mut r = Reader::new(sign1.payload);
        let n = r.map()?;
        let mut order = KeyOrder::default();
        let (mut product, mut license, mut token, mut request, mut at) =
            (None, None, None, None, None);
        for _ in 0..n {
            let (key, encoded) = r.key()?;
            order.next(encoded)?;
            match key {
                Key::Int(k::PRODUCT) => {
                    product = Some(text(&mut r, MAX_TEXT_LEN, "product: 1–255 bytes")?)
                }
                Key::Int(k::LICENSE_ID) => {
                    license = Some(text(&mut r, MAX_TEXT_LEN, "license id: 1–255 bytes")?)
                }
                Key::Int(k::TOKEN_ID) => {
                    token = Some(fixed::<TOKEN_ID_LEN>(&mut r, "token id is not 16 bytes")?)
                }
                Key::Int(k::REQUEST_ID) => {
                    request = Some(fixed::<REQUEST_ID_LEN>(
                        &mut r,
                        "request id is not 16 bytes",
                    )?)
                }
                Key::Int(k::AT) => at = Some(time(&mut r)?),
                _ => return Err(Error::UnsupportedClaim),
            }
        }
        r.finish()?;
        let missing = Error::Malformed("receipt lacks a required field");
        let claims = DeactivationReceipt {
            product: product.ok_or(missing)?,
            license_id: license.ok_or(missing)?,
            token_id: token.ok_or(missing)?,
            request_id: request,
            at: at.ok_or(missing)?,
        };
        Ok(UnverifiedReceipt { sign1, claims })
    }

    /// What the receipt says, **not verified**.
    pub fn unverified(&self) -> &DeactivationReceipt<'a> {
        &self.claims
    }

    /// The vendor's whole check of a receipt, given what it knows of the token named:
    /// [`Error::ReceiptReplayed`] for a token given back already, [`Error::TokenNotCurrent`]
    /// for one a newer token replaced, [`Error::DeviceKeyRequired`] for a machine with no
    /// device key (its seat is given back online), then [`UnverifiedReceipt::verify`] with
    /// the machine's key.
    pub fn check(&self, holder: TokenHolder<'_>) -> Result<DeactivationReceipt<'a>, Error> {
        match holder {
            TokenHolder::Revoked => Err(Error::ReceiptReplayed),
            TokenHolder::Replaced => Err(Error::TokenNotCurrent),
            TokenHolder::Machine(None) => Err(Error::DeviceKeyRequired),
            TokenHolder::Machine(Some(key)) => self.verify(key),
        }
    }

    /// Verifies the receipt with the device key the named token binds:
    /// [`Error::DeviceKeyMismatch`] if another device's key signed it (its `kid` names
    /// another key), [`Error::BadSignature`] if the signature is not that key's.
    pub fn verify(
        &self,
        device_key: &[u8; DEVICE_KEY_LEN],
    ) -> Result<DeactivationReceipt<'a>, Error> {
        let key = PublicKey::ed25519(device_key).map_err(|_| Error::DeviceKeyMismatch)?;
        match self.sign1.verify(&key, Some(TYP_DEACTIVATION_RECEIPT)) {
            Ok(_) => Ok(self.claims),
            Err(Error::UnknownKey) => Err(Error::DeviceKeyMismatch),
            Err(e) => Err(e),
        }
    }
}

/// Building the payloads (the device key or the vendor's key signs them).
#[cfg(feature = "alloc")]
pub mod encode {
    use alloc::vec::Vec;

    use super::key;
    use crate::cbor::Writer;
    use crate::claims::HWID_PART_LEN;
    use crate::device::cose_key;

    /// The fields of a request.
    #[derive(Debug, Clone)]
    pub struct RequestFields<'a> {
        /// Product code.
        pub product: &'a str,
        /// License key.
        pub license_key: &'a str,
        /// Fingerprint id.
        pub fingerprint: &'a str,
        /// Fingerprint parts (none: a fingerprint-only binding).
        pub parts: &'a [[u8; HWID_PART_LEN]],
        /// Device public key.
        pub device_key: [u8; 32],
        /// Request id.
        pub request_id: [u8; 16],
        /// Creation time.
        pub created_at: i64,
        /// Note.
        pub note: Option<&'a str>,
    }

    /// A request's payload, in deterministic CBOR.
    pub fn request_payload(f: &RequestFields<'_>) -> Vec<u8> {
        use key::request as k;
        let mut w = Writer::new();
        w.map(6 + usize::from(!f.parts.is_empty()) + usize::from(f.note.is_some()));
        w.int(k::PRODUCT).text(f.product);
        w.int(k::LICENSE_KEY).text(f.license_key);
        w.int(k::FINGERPRINT).text(f.fingerprint);
        if !f.parts.is_empty() {
            w.int(k::PARTS).array(f.parts.len());
            for p in f.parts {
                w.bytes(p);
            }
        }
        w.int(k::DEVICE_KEY).raw(&cose_key(&f.device_key));
        w.int(k::REQUEST_ID).bytes(&f.request_id);
        w.int(k::CREATED).int(f.created_at);
        if let Some(n) = f.note {
            w.int(k::NOTE).text(n);
        }
        w.into_bytes()
    }

    /// A response's payload.
    pub fn response_payload(request_id: &[u8; 16], token: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        w.map(2)
            .int(key::response::REQUEST_ID)
            .bytes(request_id)
            .int(key::response::TOKEN)
            .bytes(token);
        w.into_bytes()
    }

    /// A receipt's payload.
    pub fn receipt_payload(r: &super::DeactivationReceipt<'_>) -> Vec<u8> {
        use key::receipt as k;
        let mut w = Writer::new();
        w.map(4 + usize::from(r.request_id.is_some()));
        w.int(k::PRODUCT).text(r.product);
        w.int(k::LICENSE_ID).text(r.license_id);
        w.int(k::TOKEN_ID).bytes(&r.token_id);
        if let Some(id) = &r.request_id {
            w.int(k::REQUEST_ID).bytes(id);
        }
        w.int(k::AT).int(r.at);
        w.into_bytes()
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::encode::{RequestFields, receipt_payload, request_payload, response_payload};
    use super::*;
    use ed25519_dalek::Signer;

    /// The signing half of a device key, as the tests need it (the client's `DeviceKey` is
    /// another crate's, built on this one).
    struct DeviceKey(ed25519_dalek::SigningKey);

    impl DeviceKey {
        fn from_seed(seed: &[u8; 32]) -> DeviceKey {
            DeviceKey(ed25519_dalek::SigningKey::from_bytes(seed))
        }
        fn public(&self) -> [u8; 32] {
            self.0.verifying_key().to_bytes()
        }
        fn public_key(&self) -> crate::PublicKey {
            crate::PublicKey::ed25519(&self.public()).expect("a valid point")
        }
        fn sign_artefact(&self, typ: &str, payload: &[u8]) -> alloc::vec::Vec<u8> {
            use crate::cose::encode;
            let kid = self.public_key().kid();
            let protected = encode::protected_header(crate::Algorithm::Ed25519, &kid, Some(typ));
            let tbs = encode::sig_structure(&protected, payload);
            encode::sign1(&protected, payload, &self.0.sign(&tbs).to_bytes())
        }
    }

    fn fields(device: &DeviceKey) -> RequestFields<'static> {
        RequestFields {
            product: "acme-pro",
            license_key: "ACME-1111-2222-3333",
            fingerprint: "f00d",
            parts: &[[1; 8], [2; 8], [3; 8]],
            device_key: device.public(),
            request_id: [7; 16],
            created_at: 1_800_000_000,
            note: Some("line 3"),
        }
    }

    #[test]
    fn a_request_verifies_with_the_key_it_carries_and_no_other() {
        let device = DeviceKey::from_seed(&[1; 32]);
        let bytes =
            device.sign_artefact(TYP_ACTIVATION_REQUEST, &request_payload(&fields(&device)));
        let r = ActivationRequest::verify(&bytes).expect("valid");
        assert_eq!(
            (r.product, r.license_key, r.fingerprint, r.parts().len()),
            ("acme-pro", "ACME-1111-2222-3333", "f00d", 3)
        );
        assert_eq!(
            (r.device_key, r.request_id, r.note),
            (device.public(), [7; 16], Some("line 3"))
        );
        // Signed by another key than the one it carries.
        let other = DeviceKey::from_seed(&[2; 32]);
        let forged =
            other.sign_artefact(TYP_ACTIVATION_REQUEST, &request_payload(&fields(&device)));
        assert_eq!(
            ActivationRequest::verify(&forged).err(),
            Some(Error::BadSignature)
        );
        // Any flipped byte is refused (as malformed, a signature failure or another type).
        for i in 0..bytes.len() {
            let mut t = bytes.clone();
            t[i] ^= 0x01;
            assert!(ActivationRequest::verify(&t).is_err(), "byte {i}");
        }
        // Another artefact's typ.
        let receipt =
            device.sign_artefact(TYP_DEACTIVATION_RECEIPT, &request_payload(&fields(&device)));
        assert_eq!(
            ActivationRequest::verify(&receipt).err(),
            Some(Error::WrongType)
        );
    }

    #[test]
    fn a_response_answers_one_request_and_a_receipt_needs_its_device() {
        let vendor = DeviceKey::from_seed(&[9; 32]);
        let bytes =
            vendor.sign_artefact(TYP_ACTIVATION_RESPONSE, &response_payload(&[7; 16], b"tok"));
        let r = ActivationResponse::verify(&bytes, &vendor.public_key()).expect("valid");
        assert_eq!((r.request_id, r.token), ([7; 16], &b"tok"[..]));
        assert_eq!(r.answers(&[7; 16]), Ok(()));
        assert_eq!(r.answers(&[8; 16]), Err(Error::RequestMismatch));
        let stranger = DeviceKey::from_seed(&[10; 32]);
        assert_eq!(
            ActivationResponse::verify(&bytes, &stranger.public_key()).err(),
            Some(Error::UnknownKey)
        );

        let device = DeviceKey::from_seed(&[1; 32]);
        let claims = DeactivationReceipt {
            product: "acme-pro",
            license_id: "lic_1",
            token_id: [5; 16],
            request_id: Some([7; 16]),
            at: 1_800_000_100,
        };
        let receipt = device.sign_artefact(TYP_DEACTIVATION_RECEIPT, &receipt_payload(&claims));
        let u = UnverifiedReceipt::decode(&receipt).expect("decodes");
        assert_eq!(*u.unverified(), claims);
        assert_eq!(u.verify(&device.public()), Ok(claims));
        let other = DeviceKey::from_seed(&[2; 32]);
        assert_eq!(u.verify(&other.public()), Err(Error::DeviceKeyMismatch));
        // A receipt naming the device's kid but signed by another key: a forgery.
        let mut forged = receipt.clone();
        let n = forged.len();
        forged[n - 1] ^= 1;
        assert_eq!(
            UnverifiedReceipt::decode(&forged).and_then(|u| u.verify(&device.public())),
            Err(Error::BadSignature)
        );
    }
}
