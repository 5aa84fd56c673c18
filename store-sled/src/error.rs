//! The backend's error, turned into the core's [`StoreError`] at the trait boundary.

use licet_core::store::{Constraint, StoreError};

/// A [`StoreError`] that sled's errors convert into with `?`.
#[derive(Debug)]
pub struct Error(pub(crate) StoreError);

/// The result of the backend's own functions.
pub type Res<T> = Result<T, Error>;

impl Error {
    /// A backend failure.
    pub(crate) fn backend(e: impl std::fmt::Display) -> Error {
        Error(StoreError::backend(e))
    }

    /// A broken rule.
    pub(crate) fn conflict(constraint: Constraint, detail: impl Into<String>) -> Error {
        Error(StoreError::conflict(constraint, detail))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error(e)
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        e.0
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::backend(e)
    }
}

impl From<sled::transaction::TransactionError<Error>> for Error {
    fn from(e: sled::transaction::TransactionError<Error>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => e.into(),
        }
    }
}
