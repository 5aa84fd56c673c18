//! The air-gapped artefacts: activation requests (the vendor's check), activation responses
//! (the machine's check before it installs one), deactivation receipts (the vendor's check),
//! and a device's proof of possession.

use licet_verifier::Error;
use licet_verifier::offline::{
    ActivationRequest, ActivationResponse, LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE,
    TokenHolder, UnverifiedReceipt,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::{Failure, invalid};
use crate::keys::keys_of;
use crate::license::{License, context};
use crate::value::{bytes_of, fixed, seconds};

self_cell::self_cell!(
    struct RequestCell {
        owner: Vec<u8>,
        #[covariant]
        dependent: ActivationRequest,
    }

    impl {Debug}
);

/// An offline activation request whose signature (by the device key it carries) verified.
#[pyclass(frozen, module = "licet")]
#[derive(Debug)]
pub(crate) struct OfflineRequest {
    cell: RequestCell,
}

impl OfflineRequest {
    fn req(&self) -> &ActivationRequest<'_> {
        self.cell.borrow_dependent()
    }
}

#[pymethods]
impl OfflineRequest {
    /// Verifies a request (binary or armored `LICET ACTIVATION REQUEST`): signed by the device
    /// key it carries (`bad_signature`), of the right type (`wrong_type`). Its age is checked
    /// apart, with `check_age`.
    #[staticmethod]
    fn verify(data: &Bound<'_, PyAny>) -> PyResult<OfflineRequest> {
        let input = bytes_of(data, "data")?;
        let raw = licet_verifier::text::decode(&input, LABEL_REQUEST).map_err(Failure::from)?;
        let cell =
            RequestCell::try_new(raw, |b| ActivationRequest::verify(b)).map_err(Failure::from)?;
        Ok(OfflineRequest { cell })
    }

    /// The vendor's check of the request's age: `request_expired` when made more than
    /// `window` seconds before `now`, `request_from_future` when dated ahead of the allowed
    /// skew.
    #[pyo3(signature = (window, *, now=None))]
    fn check_age(&self, window: u64, now: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let now = seconds(now)?;
        Ok(self.req().check_age(now, window).map_err(Failure::from)?)
    }

    #[getter]
    fn product(&self) -> &str {
        self.req().product
    }

    #[getter]
    fn license_key(&self) -> &str {
        self.req().license_key
    }

    #[getter]
    fn fingerprint(&self) -> &str {
        self.req().fingerprint
    }

    #[getter]
    fn note(&self) -> Option<&str> {
        self.req().note
    }

    #[getter]
    fn created_at(&self) -> i64 {
        self.req().created_at
    }

    /// The request's 16-byte id (a response must answer it).
    #[getter]
    fn request_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.req().request_id)
    }

    /// The machine's device key (32 bytes): the token it gets is bound to it.
    #[getter]
    fn device_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.req().device_key)
    }

    /// The machine's hardware parts (8 bytes each).
    #[getter]
    fn parts<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.req()
            .parts()
            .iter()
            .map(|p| PyBytes::new(py, p))
            .collect()
    }

    fn __repr__(&self) -> String {
        let r = self.req();
        format!(
            "OfflineRequest(product={:?}, fingerprint={:?}, created_at={})",
            r.product, r.fingerprint, r.created_at
        )
    }
}

/// The machine's check before it installs an activation response (binary or armored `LICET
/// ACTIVATION RESPONSE`): signed by `keys`, answering `pending` (`request_mismatch`), its token
/// valid here (this machine: `this_machine=True`, or the request's `fingerprint` and `parts`)
/// and bound to the pending request's device key. Returns the token's license.
#[pyfunction]
#[pyo3(signature = (
    response, keys, pending, *, product, fingerprint=None, hwid_parts=None, domain=None,
    entitlements=Vec::new(), leeway=0, this_machine=false, now=None,
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn verify_offline_response(
    py: Python<'_>,
    response: &Bound<'_, PyAny>,
    keys: &Bound<'_, PyAny>,
    pending: &Bound<'_, OfflineRequest>,
    product: Option<String>,
    fingerprint: Option<String>,
    hwid_parts: Option<Vec<Vec<u8>>>,
    domain: Option<String>,
    entitlements: Vec<String>,
    leeway: u64,
    this_machine: bool,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<License> {
    let input = bytes_of(response, "response")?;
    let keys = keys_of(keys)?;
    let mut ctx = context(
        product,
        fingerprint,
        hwid_parts,
        None,
        false,
        domain,
        entitlements,
        leeway,
        false,
        now,
    )?;
    if this_machine {
        crate::license::this_machine(&mut ctx)?;
    }
    let pending = pending.get();
    py.detach(|| {
        let raw = licet_verifier::text::decode(&input, LABEL_RESPONSE)?;
        let answer = ActivationResponse::verify(&raw, &keys.keys[..])?;
        ctx.with(None, |c| {
            answer.verify_token(&keys.keys[..], pending.req(), c)
        })
        .map(|v| License::verified(&v))
    })
    .map_err(|e: Error| Failure::from(e).into())
}

self_cell::self_cell!(
    struct ReceiptCell {
        owner: Vec<u8>,
        #[covariant]
        dependent: UnverifiedReceipt,
    }

    impl {Debug}
);

/// A deactivation receipt as the machine gave it: what it says is trusted only after
/// `check` against who holds the token now.
#[pyclass(frozen, module = "licet")]
#[derive(Debug)]
pub(crate) struct Receipt {
    cell: ReceiptCell,
}

impl Receipt {
    fn receipt(&self) -> &UnverifiedReceipt<'_> {
        self.cell.borrow_dependent()
    }
}

#[pymethods]
impl Receipt {
    /// Reads a receipt (binary or armored `LICET DEACTIVATION RECEIPT`).
    #[staticmethod]
    fn decode(data: &Bound<'_, PyAny>) -> PyResult<Receipt> {
        let input = bytes_of(data, "data")?;
        let raw = licet_verifier::text::decode(&input, LABEL_RECEIPT).map_err(Failure::from)?;
        let cell =
            ReceiptCell::try_new(raw, |b| UnverifiedReceipt::decode(b)).map_err(Failure::from)?;
        Ok(Receipt { cell })
    }

    /// The vendor's check: `holder` is who holds the token the receipt gives back now:
    /// `"machine"` (with that machine's `device_key`, or None if it has none), `"revoked"`
    /// (given back already: `receipt_replayed`) or `"replaced"` (a newer token replaced it:
    /// `token_not_current`).
    #[pyo3(signature = (holder, device_key=None))]
    fn check(&self, holder: &str, device_key: Option<Vec<u8>>) -> PyResult<()> {
        let key: Option<[u8; 32]> = device_key.map(|k| fixed(&k, "a device key")).transpose()?;
        let holder = match holder {
            "machine" => TokenHolder::Machine(key.as_ref()),
            "revoked" => TokenHolder::Revoked,
            "replaced" => TokenHolder::Replaced,
            other => {
                return Err(invalid(format!(
                    "holder is \"machine\", \"revoked\" or \"replaced\", not {other:?}"
                )));
            }
        };
        self.receipt().check(holder).map_err(Failure::from)?;
        Ok(())
    }

    #[getter]
    fn product(&self) -> &str {
        self.receipt().unverified().product
    }

    #[getter]
    fn license_id(&self) -> &str {
        self.receipt().unverified().license_id
    }

    /// The 16-byte id of the token given back.
    #[getter]
    fn token_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.receipt().unverified().token_id)
    }

    /// The offline request the token was installed from, if it was.
    #[getter]
    fn request_id<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.receipt()
            .unverified()
            .request_id
            .as_ref()
            .map(|id| PyBytes::new(py, id))
    }

    /// When the machine gave it back (unix seconds, its own clock).
    #[getter]
    fn at(&self) -> i64 {
        self.receipt().unverified().at
    }

    fn __repr__(&self) -> String {
        let r = self.receipt().unverified();
        format!(
            "Receipt(product={:?}, license_id={:?}, at={})",
            r.product, r.license_id, r.at
        )
    }
}

/// Checks a device's proof of possession: `signature` over `challenge` by the device key
/// (32 bytes) a token binds. Raises `licet.Refused` (`device_key_mismatch`) otherwise.
#[pyfunction]
pub(crate) fn verify_possession(
    device_key: &[u8],
    challenge: &[u8],
    signature: &[u8],
) -> PyResult<()> {
    let key: [u8; 32] = fixed(device_key, "a device key")?;
    licet_verifier::device::verify_possession(&key, challenge, signature).map_err(Failure::from)?;
    Ok(())
}
