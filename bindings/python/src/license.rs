//! Token verification: the context a token is checked in, and the license it gives.

use licet_verifier::claims::{Claims, MetaValue};
use licet_verifier::text::LABEL_LICENSE;
use licet_verifier::{Algorithm, Error, OwnedContext, UnverifiedToken, VerifiedLicense};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::error::{Failure, invalid};
use crate::keys::{hex, keys_of};
use crate::revocations::RevocationList;
use crate::value::{bytes_of, fixed, seconds};

/// Binds a check to this machine: its fingerprint and parts for the context's product, as
/// licet's client sends them on activation.
pub(crate) fn this_machine(ctx: &mut OwnedContext) -> PyResult<()> {
    let product = ctx
        .product
        .as_deref()
        .ok_or_else(|| invalid("this_machine needs a product"))?;
    let fp = licet_client::fingerprint::Fingerprint::collect(product);
    ctx.fingerprint = Some(fp.id());
    ctx.hwid_parts = fp.parts();
    Ok(())
}

/// A metadata value.
#[derive(Debug, Clone)]
enum Meta {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// A license: the claims of a verified token (or, from `inspect`, of one that was not
/// verified: `verified` is then false). Times are unix seconds.
#[pyclass(frozen, module = "licet")]
#[derive(Debug, Clone)]
pub(crate) struct License {
    #[pyo3(get)]
    license_id: String,
    #[pyo3(get)]
    product: String,
    #[pyo3(get)]
    issuer: Option<String>,
    #[pyo3(get)]
    subject: Option<String>,
    #[pyo3(get)]
    audience: Option<String>,
    #[pyo3(get)]
    issued_at: i64,
    #[pyo3(get)]
    expires_at: Option<i64>,
    #[pyo3(get)]
    not_before: Option<i64>,
    #[pyo3(get)]
    refresh_after: Option<i64>,
    #[pyo3(get)]
    offline_grace: Option<u64>,
    #[pyo3(get)]
    seats: Option<u32>,
    #[pyo3(get)]
    kind: Option<&'static str>,
    #[pyo3(get)]
    domains: Vec<String>,
    #[pyo3(get)]
    entitlements: Vec<String>,
    #[pyo3(get)]
    algorithm: &'static str,
    #[pyo3(get)]
    verified: bool,
    #[pyo3(get)]
    revocations_stale: bool,
    #[pyo3(get)]
    device_key_required: bool,
    #[pyo3(get)]
    hwid_threshold: Option<usize>,
    token_id: [u8; 16],
    kid: [u8; 8],
    hwid: Option<[u8; 16]>,
    hwid_parts: Vec<[u8; 8]>,
    device_key: Option<[u8; 32]>,
    metadata: Vec<(String, Meta)>,
}

fn algorithm_name(a: Result<Algorithm, Error>) -> &'static str {
    a.map_or("unknown", Algorithm::name)
}

impl License {
    pub(crate) fn of(
        c: &Claims<'_>,
        kid: [u8; 8],
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
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            not_before: c.not_before,
            refresh_after: c.refresh_after,
            offline_grace: c.offline_grace,
            seats: c.seats,
            kind: c.kind.map(|k| k.as_str()),
            domains: c.domains.iter().map(str::to_owned).collect(),
            entitlements: c.entitlements.iter().map(str::to_owned).collect(),
            algorithm,
            verified,
            revocations_stale: stale,
            device_key_required: c.device_key_required,
            hwid_threshold: c.hwid_parts.as_ref().map(|p| p.threshold()),
            token_id: c.token_id,
            kid,
            hwid: c.hwid,
            hwid_parts: c
                .hwid_parts
                .as_ref()
                .map(|p| p.parts().to_vec())
                .unwrap_or_default(),
            device_key: c.device_key,
            metadata: c
                .metadata
                .iter()
                .filter_map(|(k, v)| {
                    let v = match v {
                        MetaValue::Text(t) => Meta::Text(t.to_owned()),
                        MetaValue::Int(i) => Meta::Int(i),
                        MetaValue::Bool(b) => Meta::Bool(b),
                        // A kind of value a newer verifier knows is left out.
                        _ => return None,
                    };
                    Some((k.to_owned(), v))
                })
                .collect(),
        }
    }

    pub(crate) fn verified(v: &VerifiedLicense<'_>) -> License {
        License::of(
            v.claims(),
            *v.kid().as_bytes(),
            v.algorithm().name(),
            true,
            v.revocations_stale(),
        )
    }
}

#[pymethods]
impl License {
    /// The 16-byte token id (`cti`).
    #[getter]
    fn token_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.token_id)
    }

    /// The id (8 bytes) of the key that signed the token.
    #[getter]
    fn kid<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.kid)
    }

    /// The 16-byte hardware binding, if the token is bound to one machine.
    #[getter]
    fn hwid<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.hwid.as_ref().map(|h| PyBytes::new(py, h))
    }

    /// The hardware parts (8 bytes each) a k-of-n binding names; empty without one.
    #[getter]
    fn hwid_parts<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.hwid_parts
            .iter()
            .map(|p| PyBytes::new(py, p))
            .collect()
    }

    /// The Ed25519 device key (32 bytes) the token is bound to, if any.
    #[getter]
    fn device_key<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.device_key.as_ref().map(|k| PyBytes::new(py, k))
    }

    /// The metadata the issuer put in the token: `str`, `int` or `bool` values.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.metadata {
            match v {
                Meta::Text(t) => d.set_item(k, t)?,
                Meta::Int(i) => d.set_item(k, i)?,
                Meta::Bool(b) => d.set_item(k, b)?,
            }
        }
        Ok(d)
    }

    /// Whether the license grants `name`.
    fn has_entitlement(&self, name: &str) -> bool {
        self.entitlements.iter().any(|e| e == name)
    }

    fn __repr__(&self) -> String {
        format!(
            "License(license_id={:?}, product={:?}, expires_at={}, token_id={}, verified={})",
            self.license_id,
            self.product,
            self.expires_at
                .map_or_else(|| "None".to_owned(), |e| e.to_string()),
            hex(&self.token_id),
            if self.verified { "True" } else { "False" },
        )
    }
}

/// The context arguments `verify` and `verify_offline_response` share.
#[allow(clippy::too_many_arguments)]
pub(crate) fn context(
    product: Option<String>,
    fingerprint: Option<String>,
    hwid_parts: Option<Vec<Vec<u8>>>,
    device_key: Option<Vec<u8>>,
    require_device_binding: bool,
    domain: Option<String>,
    entitlements: Vec<String>,
    leeway: u64,
    require_fresh: bool,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<OwnedContext> {
    let hwid_parts = hwid_parts
        .unwrap_or_default()
        .iter()
        .map(|p| fixed::<8>(p, "a hardware part"))
        .collect::<PyResult<Vec<_>>>()?;
    let device_key = device_key
        .map(|k| fixed::<32>(&k, "a device key"))
        .transpose()?;
    Ok(OwnedContext {
        now: seconds(now)?,
        product,
        fingerprint,
        hwid_parts,
        device_key,
        require_device_binding,
        domain,
        entitlements,
        leeway,
        require_fresh_revocations: require_fresh,
    })
}

/// Verifies a token (binary, base64url text, or the armored `LICET LICENSE` file) with `keys`
/// for `product` at `now`, and returns its license; a refusal raises `licet.Refused` whose
/// `code` is the verifier's (`expired`, `wrong_product`, `hwid_mismatch`, …).
#[pyfunction]
#[pyo3(signature = (
    token, keys, *, product, fingerprint=None, hwid_parts=None, device_key=None,
    require_device_binding=false, domain=None, entitlements=Vec::new(), leeway=0,
    revocations=None, require_fresh=false, this_machine=false, now=None,
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn verify(
    py: Python<'_>,
    token: &Bound<'_, PyAny>,
    keys: &Bound<'_, PyAny>,
    product: Option<String>,
    fingerprint: Option<String>,
    hwid_parts: Option<Vec<Vec<u8>>>,
    device_key: Option<Vec<u8>>,
    require_device_binding: bool,
    domain: Option<String>,
    entitlements: Vec<String>,
    leeway: u64,
    revocations: Option<Py<RevocationList>>,
    require_fresh: bool,
    this_machine: bool,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<License> {
    let input = bytes_of(token, "token")?;
    let keys = keys_of(keys)?;
    let mut ctx = context(
        product,
        fingerprint,
        hwid_parts,
        device_key,
        require_device_binding,
        domain,
        entitlements,
        leeway,
        require_fresh,
        now,
    )?;
    if this_machine {
        crate::license::this_machine(&mut ctx)?;
    }
    let list = revocations.as_ref().map(|l| l.get());
    py.detach(|| {
        let raw = licet_verifier::text::decode(&input, LABEL_LICENSE)?;
        ctx.with(list.map(RevocationList::list), |c| {
            UnverifiedToken::decode(&raw)?
                .verify(&keys.keys[..], &c)
                .map(|v| License::verified(&v))
        })
    })
    .map_err(|e: Error| Failure::from(e).into())
}

/// Reads a token's claims **without verifying it**: for support tools and diagnostics, never
/// to decide whether an application runs (the license's `verified` is false).
#[pyfunction]
pub(crate) fn inspect(token: &Bound<'_, PyAny>) -> PyResult<License> {
    let input = bytes_of(token, "token")?;
    let read = || -> Result<License, Error> {
        let raw = licet_verifier::text::decode(&input, LABEL_LICENSE)?;
        let t = UnverifiedToken::decode(&raw)?;
        let header = t.header();
        let kid: [u8; 8] = header.kid.try_into().unwrap_or_default();
        Ok(License::of(
            &t.unverified_claims()?,
            kid,
            algorithm_name(header.algorithm()),
            false,
            false,
        ))
    };
    read().map_err(|e| Failure::from(e).into())
}
