//! Air-gapped activation on the client (though nothing here touches the
//! network): write a request, install the response, give the seat back with a receipt; and
//! borrowing a floating seat for a while.
//!
//! The request is signed by a device key made for it and kept in the product's state; the
//! response is checked against the pending request (same request id, a token bound to the same
//! device key) and the vendor's keys before anything is stored. Deactivation erases the license
//! before it hands out the receipt, so a machine never holds a license and a receipt for it.

use std::string::ToString;
use std::vec::Vec;

use crate::device::DeviceKey;
use crate::fingerprint::hex;
use crate::online::{Client, ClientError, Status, prove_possession, rand_nonce};
use crate::state::Slot;
use licet_verifier::Error;
use licet_verifier::offline::encode::{RequestFields, receipt_payload, request_payload};
use licet_verifier::offline::{
    ActivationRequest, ActivationResponse, DeactivationReceipt, TYP_ACTIVATION_REQUEST,
    TYP_DEACTIVATION_RECEIPT,
};
use licet_verifier::{Context, UnverifiedToken};

fn request_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    if getrandom::fill(&mut id).is_err() {
        // No OS randomness: a hash of time, counter and process is still unique per machine.
        id = rand_nonce();
    }
    id
}

fn unhex16(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(std::str::from_utf8(&b[2 * i..2 * i + 2]).ok()?, 16).ok()?;
    }
    Some(out)
}

impl Client {
    /// Writes an offline activation request for `license_key` (with an optional note for the
    /// vendor) and keeps it as the pending request. The device key is this machine's for the
    /// product: made now if there is none, kept if a license is installed (a renewal keeps the
    /// seat and the binding).
    pub fn offline_request(
        &self,
        license_key: &str,
        note: Option<&str>,
    ) -> Result<Vec<u8>, ClientError> {
        let device = self.state.device_key_or_new()?;
        let parts = self.fingerprint.parts();
        let fingerprint = self.fingerprint.id();
        let fields = RequestFields {
            product: &self.config.product,
            license_key,
            fingerprint: &fingerprint,
            parts: &parts,
            device_key: device.public(),
            request_id: request_id(),
            created_at: self.now(),
            note: note.filter(|n| !n.is_empty()),
        };
        let bytes = device.sign_artefact(TYP_ACTIVATION_REQUEST, &request_payload(&fields));
        // Checked as the server will check it, so that a bad field fails here, not there.
        ActivationRequest::verify(&bytes).map_err(ClientError::Untrusted)?;
        self.state.store(Slot::Pending, &bytes)?;
        let mut m = self.meta();
        m.key = Some(license_key.to_string());
        self.store_meta(&m)?;
        Ok(bytes)
    }

    /// The pending request, if any.
    pub fn pending_request(&self) -> Option<Vec<u8>> {
        self.state.load(Slot::Pending)
    }

    /// Installs an activation response: signed by the vendor, its token valid here (product,
    /// machine, revocations) and bound to this machine's device key
    /// ([`Error::DeviceKeyMismatch`] otherwise), answering the pending request
    /// ([`Error::RequestMismatch`]: a response to another or an earlier request). Nothing is
    /// stored unless all of it checks out; then the pending request is done.
    pub fn offline_install(&self, response: &[u8]) -> Result<Status, ClientError> {
        let pending = self
            .state
            .load(Slot::Pending)
            .ok_or(ClientError::NoPendingRequest)?;
        let req = ActivationRequest::verify(&pending).map_err(ClientError::Untrusted)?;
        let device = self
            .state
            .device_key()
            .filter(|d| d.public() == req.device_key)
            .ok_or(ClientError::Untrusted(Error::DeviceKeyMismatch))?;
        let keys = self.keys();
        let answer =
            ActivationResponse::verify(response, &keys[..]).map_err(ClientError::Untrusted)?;
        let parts = self.fingerprint.parts();
        let fp = self.fingerprint.id();
        let ctx = Context::new(self.now(), &self.config.product)
            .hwid_parts(&parts)
            .fingerprint(&fp);
        let verified = answer
            .verify_token(&keys[..], &req, ctx)
            .map_err(ClientError::Untrusted)?;
        // Belt and braces: the key we hold is the one the token binds.
        prove_possession(verified.claims(), Some(&device)).map_err(ClientError::Untrusted)?;
        let mut m = self.meta();
        m.key = Some(req.license_key.to_string());
        m.last_contact = self.now();
        m.request_id = Some(hex(&req.request_id));
        self.save_token(answer.token, &mut m)?;
        self.state.clear(Slot::Pending)?;
        Ok(self.status())
    }

    /// Gives the seat back without a network: erases the license (token and pending request)
    /// and the device key, then returns the receipt, signed with that device key, naming the
    /// token, the license, the request it answered and the time. If erasing fails, no receipt
    /// is returned. Works for a seat taken online or borrowed too.
    pub fn offline_deactivate(&self) -> Result<Vec<u8>, ClientError> {
        let token = self
            .state
            .load(Slot::Token)
            .ok_or(ClientError::NotActivated)?;
        let device = self.state.device_key().ok_or(ClientError::NotActivated)?;
        let claims = UnverifiedToken::decode(&token)
            .and_then(|t| t.unverified_claims())
            .map_err(ClientError::Untrusted)?;
        if claims.device_key != Some(device.public()) {
            return Err(ClientError::Untrusted(Error::DeviceKeyMismatch));
        }
        let m = self.meta();
        let receipt = DeactivationReceipt {
            product: claims.product,
            license_id: claims.license_id,
            token_id: claims.token_id,
            request_id: m.request_id.as_deref().and_then(unhex16),
            at: self.now(),
        };
        let bytes = device.sign_artefact(TYP_DEACTIVATION_RECEIPT, &receipt_payload(&receipt));
        self.forget_token()?;
        self.state.clear(Slot::Pending)?;
        self.state.clear(Slot::DeviceKey)?;
        Ok(bytes)
    }

    /// Borrows a floating seat until `until` (unix seconds): the server answers a token valid
    /// until then that needs no check-ins. At most the policy's `max_borrow` ahead.
    pub fn borrow(&self, license_key: Option<&str>, until: i64) -> Result<Status, ClientError> {
        let key = match license_key {
            Some(k) => k.to_string(),
            None => self.meta().key.ok_or(ClientError::NotActivated)?,
        };
        let device = self.state.device_key_or_new()?;
        let a: licet_api::client::TokenAnswer =
            self.call("/v1/client/borrow", &key, Some(&device), |r| {
                r.until = Some(until)
            })?;
        self.accept_token(&a, &key)
    }

    /// The device key of this product on this machine, if one was made.
    pub fn device_key(&self) -> Option<DeviceKey> {
        self.state.device_key()
    }
}
