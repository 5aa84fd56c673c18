//! Errors as the package's exceptions (defined in `licet/_errors.py`): each carries the stable
//! code of the verifier, the server or the client.

use licet_client::online::ClientError;
use licet_verifier::Error;
use pyo3::prelude::*;

/// Why a call failed, before it becomes a Python exception.
#[derive(Debug)]
pub(crate) enum Failure {
    Verifier(Error),
    Client(ClientError),
    Argument(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Verifier(e)
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

/// A caller's mistake (`licet.InvalidArgument`, also a `ValueError`).
pub(crate) fn invalid(message: impl Into<String>) -> PyErr {
    Failure::Argument(message.into()).into()
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        let (class, code, message) = match f {
            Failure::Verifier(e) => ("Refused", e.code().to_owned(), e.to_string()),
            Failure::Argument(m) => ("InvalidArgument", "invalid_argument".to_owned(), m),
            Failure::Client(e) => {
                let message = e.to_string();
                match e {
                    ClientError::Unreachable(_) => ("Unreachable", "unreachable".into(), message),
                    ClientError::Refused { code, .. } => ("Refused", code, message),
                    ClientError::Untrusted(v) => ("Untrusted", v.code().to_owned(), message),
                    ClientError::NotActivated => ("StateError", "not_activated".into(), message),
                    ClientError::NoPendingRequest => {
                        ("StateError", "no_pending_request".into(), message)
                    }
                    _ => ("StateError", "state_error".into(), message),
                }
            }
        };
        Python::attach(|py| {
            let made = py
                .import("licet._errors")
                .and_then(|m| m.getattr(class))
                .and_then(|c| c.call1((code, message)));
            match made {
                Ok(e) => PyErr::from_value(e),
                Err(e) => e,
            }
        })
    }
}
