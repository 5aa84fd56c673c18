//! The vendor's public keys: the trust anchors tokens are checked with.

use std::sync::Arc;

use licet_verifier::PublicKey;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::error::{Failure, invalid};
use crate::value::fixed;

/// A set of public keys (Ed25519, or RSA of 2048 to 4096 bits). A token names its key; only a
/// key of the set verifies it. Build it once, from the keys compiled into the application.
#[pyclass(frozen, module = "licet")]
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) keys: Arc<[PublicKey]>,
}

impl Keys {
    fn of(keys: Vec<PublicKey>) -> Keys {
        Keys { keys: keys.into() }
    }
}

#[pymethods]
impl Keys {
    /// Every `PUBLIC KEY` block of a PEM text (blank space and CRLF line ends are fine); one
    /// unreadable block refuses the whole text.
    #[staticmethod]
    fn from_pem(pem: &str) -> PyResult<Keys> {
        Ok(Keys::of(
            PublicKey::all_from_pem(pem).map_err(Failure::from)?,
        ))
    }

    /// A key as DER SubjectPublicKeyInfo.
    #[staticmethod]
    fn from_spki_der(der: &[u8]) -> PyResult<Keys> {
        Ok(Keys::of(vec![
            PublicKey::from_spki_der(der).map_err(Failure::from)?,
        ]))
    }

    /// A raw Ed25519 public key (32 bytes).
    #[staticmethod]
    fn ed25519(raw: &[u8]) -> PyResult<Keys> {
        let raw: [u8; 32] = fixed(raw, "an Ed25519 key")?;
        Ok(Keys::of(vec![
            PublicKey::ed25519(&raw).map_err(Failure::from)?,
        ]))
    }

    /// A key as a COSE_Key (RFC 9052), as a licet server's `/v1/keys` publishes it.
    #[staticmethod]
    fn from_cose_key(cose: &[u8]) -> PyResult<Keys> {
        Ok(Keys::of(vec![
            PublicKey::from_cose_key(cose).map_err(Failure::from)?,
        ]))
    }

    /// The keys of both sets.
    fn __add__(&self, other: &Keys) -> Keys {
        Keys::of(self.keys.iter().chain(other.keys.iter()).cloned().collect())
    }

    fn __len__(&self) -> usize {
        self.keys.len()
    }

    /// The key ids (8 bytes each) tokens name their key by, in order.
    #[getter]
    fn kids<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.keys
            .iter()
            .map(|k| PyBytes::new(py, k.kid().as_bytes()))
            .collect()
    }

    /// The keys as one PEM text.
    fn to_pem(&self) -> String {
        self.keys.iter().map(PublicKey::to_spki_pem).collect()
    }

    fn __repr__(&self) -> String {
        let kids: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{}:{}", k.algorithm().name(), hex(k.kid().as_bytes())))
            .collect();
        format!("Keys([{}])", kids.join(", "))
    }
}

/// A `Keys`, or a PEM text of one or more keys.
pub(crate) fn keys_of(v: &Bound<'_, PyAny>) -> PyResult<Keys> {
    if let Ok(k) = v.cast::<Keys>() {
        return Ok(k.get().clone());
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Keys::from_pem(&s.to_cow()?);
    }
    Err(invalid("keys must be a licet.Keys or a PEM text"))
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
