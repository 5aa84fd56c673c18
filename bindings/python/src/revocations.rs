//! Signed revocation lists.

use licet_verifier::text::LABEL_REVOCATION_LIST;
use pyo3::prelude::*;

use crate::error::Failure;
use crate::keys::keys_of;
use crate::value::{bytes_of, fixed, seconds};

self_cell::self_cell!(
    /// The list's bytes and the verified view of them.
    struct ListCell {
        owner: Vec<u8>,
        #[covariant]
        dependent: RevocationListView,
    }

    impl {Debug}
);

type RevocationListView<'a> = licet_verifier::RevocationList<'a>;

/// A revocation list whose signature verified: the tokens and licenses the issuer revoked.
/// Pass it to `verify(…, revocations=list)`.
#[pyclass(frozen, module = "licet")]
#[derive(Debug)]
pub(crate) struct RevocationList {
    cell: ListCell,
}

impl RevocationList {
    pub(crate) fn list(&self) -> &licet_verifier::RevocationList<'_> {
        self.cell.borrow_dependent()
    }
}

#[pymethods]
impl RevocationList {
    /// Verifies a list (binary or armored `LICET REVOCATION LIST`) with `keys`. With
    /// `last_seen_sequence`, an older list than one already seen is refused
    /// (`revocation_rollback`).
    #[staticmethod]
    #[pyo3(signature = (data, keys, *, last_seen_sequence=None))]
    fn verify(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        keys: &Bound<'_, PyAny>,
        last_seen_sequence: Option<u64>,
    ) -> PyResult<RevocationList> {
        let input = bytes_of(data, "data")?;
        let keys = keys_of(keys)?;
        py.detach(|| {
            let raw = licet_verifier::text::decode(&input, LABEL_REVOCATION_LIST)?;
            ListCell::try_new(raw, |b| {
                licet_verifier::RevocationList::verify(b, &keys.keys[..], last_seen_sequence)
            })
        })
        .map(|cell| RevocationList { cell })
        .map_err(|e| Failure::from(e).into())
    }

    /// Each new list has a higher sequence number.
    #[getter]
    fn sequence(&self) -> u64 {
        self.list().sequence()
    }

    /// When the issuer made it (unix seconds).
    #[getter]
    fn issued_at(&self) -> i64 {
        self.list().issued_at()
    }

    /// When the issuer promises a newer one (unix seconds).
    #[getter]
    fn next_update(&self) -> i64 {
        self.list().next_update()
    }

    /// Whether the list is past its `next_update` at `now` (default: the system clock).
    #[pyo3(signature = (now=None))]
    fn is_stale(&self, now: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        Ok(self.list().is_stale(seconds(now)?))
    }

    /// Whether it revokes the token with this 16-byte id.
    fn contains_token(&self, token_id: &[u8]) -> PyResult<bool> {
        Ok(self.list().contains_token(&fixed(token_id, "a token id")?))
    }

    /// Whether it revokes this license (every token of it).
    fn contains_license(&self, license_id: &str) -> bool {
        self.list().contains_license(license_id)
    }

    /// How many token ids it names.
    #[getter]
    fn token_count(&self) -> usize {
        self.list().token_count()
    }

    /// How many licenses it names.
    #[getter]
    fn license_count(&self) -> usize {
        self.list().license_count()
    }

    fn __repr__(&self) -> String {
        format!(
            "RevocationList(sequence={}, tokens={}, licenses={})",
            self.sequence(),
            self.token_count(),
            self.license_count()
        )
    }
}
