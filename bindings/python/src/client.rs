//! The application's side of the online service: activation, check-ins and the license state
//! kept on this machine, through licet-client. Every network call runs without the GIL.

use std::path::PathBuf;
use std::time::Duration;

use licet_client::fingerprint::Fingerprint;
use licet_client::online::{self, ClientError, RollbackPolicy};
use licet_client::state::Slot;
use licet_verifier::offline::{LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE};
use licet_verifier::text::encode_armor;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::{Failure, invalid};
use crate::keys::keys_of;
use crate::value::bytes_of;

/// Where a license stands on this machine. `bool(status)` is whether the application may run
/// licensed.
#[pyclass(frozen, module = "licet")]
#[derive(Debug, Clone)]
pub(crate) struct Status {
    /// `"valid"`, `"grace"`, `"grace_ended"`, `"needs_activation"`, `"revoked"`,
    /// `"suspended"`, `"expired"`, `"clock_rolled_back"`, `"invalid"` or
    /// `"state_rolled_back"`.
    #[pyo3(get)]
    state: &'static str,
    /// Whether the application may run licensed (`valid` or `grace`).
    #[pyo3(get)]
    licensed: bool,
    /// `valid`: the token's expiry; `grace`: the end of the grace (unix seconds).
    #[pyo3(get)]
    until: Option<i64>,
    /// `valid`: when the application should check in.
    #[pyo3(get)]
    refresh_after: Option<i64>,
    /// `clock_rolled_back`: by how many seconds.
    #[pyo3(get)]
    behind_by: Option<u64>,
    /// `invalid`: the verifier's code (`hwid_mismatch`, …).
    #[pyo3(get)]
    code: Option<&'static str>,
}

impl Status {
    fn of(s: &online::Status) -> Status {
        let mut out = Status {
            state: "invalid",
            licensed: s.is_licensed(),
            until: None,
            refresh_after: None,
            behind_by: None,
            code: None,
        };
        out.state = match s {
            online::Status::Valid {
                until,
                refresh_after,
            } => {
                out.until = Some(*until);
                out.refresh_after = *refresh_after;
                "valid"
            }
            online::Status::Grace { until } => {
                out.until = Some(*until);
                "grace"
            }
            online::Status::GraceEnded => "grace_ended",
            online::Status::NeedsActivation => "needs_activation",
            online::Status::Revoked => "revoked",
            online::Status::Suspended => "suspended",
            online::Status::Expired => "expired",
            online::Status::ClockRolledBack { behind_by } => {
                out.behind_by = Some(*behind_by);
                "clock_rolled_back"
            }
            online::Status::Invalid(e) => {
                out.code = Some(e.code());
                "invalid"
            }
            online::Status::StateRolledBack => "state_rolled_back",
            // A status a newer client adds reads as invalid, never as licensed.
            _ => {
                out.licensed = false;
                out.code = Some("unknown");
                "invalid"
            }
        };
        out
    }
}

#[pymethods]
impl Status {
    fn __bool__(&self) -> bool {
        self.licensed
    }

    fn __repr__(&self) -> String {
        let mut s = format!("Status({:?}", self.state);
        if let Some(u) = self.until {
            s.push_str(&format!(", until={u}"));
        }
        if let Some(r) = self.refresh_after {
            s.push_str(&format!(", refresh_after={r}"));
        }
        if let Some(b) = self.behind_by {
            s.push_str(&format!(", behind_by={b}"));
        }
        if let Some(c) = self.code {
            s.push_str(&format!(", code={c:?}"));
        }
        s.push(')');
        s
    }
}

/// The licet client for one product on this machine: activates a license key with the
/// server, keeps the signed license in a sealed local state, checks in and deactivates. Safe to
/// share between threads.
#[pyclass(frozen, module = "licet")]
#[derive(Debug)]
pub(crate) struct Client {
    client: online::Client,
}

fn status(r: Result<online::Status, ClientError>) -> PyResult<Status> {
    r.map(|s| Status::of(&s))
        .map_err(|e| Failure::from(e).into())
}

#[pymethods]
impl Client {
    /// A client of the server at `server` for `product`, trusting tokens and answers signed by
    /// `keys` (pinned in the application). `state_dir` is where the license state is kept
    /// (default: the user's data directory); `ca_certificates` the PEM of the authorities the
    /// server's TLS certificate must chain to (default: the system's roots);
    /// `clock_tolerance` the seconds the clock may go back without counting as rolled back, and
    /// `refuse_clock_rollback` whether a rolled-back clock makes the status
    /// `clock_rolled_back`.
    #[new]
    #[pyo3(signature = (
        server, product, keys, *, state_dir=None, ca_certificates=None, timeout=10.0,
        send_host_details=true, trust_server_keys=false, clock_tolerance=300,
        refuse_clock_rollback=true,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        server: &str,
        product: &str,
        keys: &Bound<'_, PyAny>,
        state_dir: Option<PathBuf>,
        ca_certificates: Option<&Bound<'_, PyAny>>,
        timeout: f64,
        send_host_details: bool,
        trust_server_keys: bool,
        clock_tolerance: u64,
        refuse_clock_rollback: bool,
    ) -> PyResult<Client> {
        let keys = keys_of(keys)?;
        if !(timeout.is_finite() && timeout > 0.0 && timeout <= 86_400.0) {
            return Err(invalid("timeout is seconds, more than 0 and at most a day"));
        }
        let mut config = online::Config::new(server, product, keys.keys.to_vec());
        config.state_dir = state_dir;
        config.ca_certificates = ca_certificates
            .map(|c| bytes_of(c, "ca_certificates"))
            .transpose()?;
        config.timeout = Duration::from_secs_f64(timeout);
        config.send_host_details = send_host_details;
        config.trust_server_keys = trust_server_keys;
        config.clock_tolerance = clock_tolerance;
        config.rollback = if refuse_clock_rollback {
            RollbackPolicy::Refuse
        } else {
            RollbackPolicy::Allow
        };
        // Opening the state collects this machine's fingerprint: no GIL needed.
        let client = py
            .detach(|| online::Client::new(config))
            .map_err(Failure::from)?;
        Ok(Client { client })
    }

    /// The status from the local state alone, without the network.
    fn status(&self, py: Python<'_>) -> Status {
        py.detach(|| Status::of(&self.client.status()))
    }

    /// The start-up call: the local status, refreshed online when the token asks for a
    /// check-in. An unreachable server is not an error here: the grace applies.
    fn ensure(&self, py: Python<'_>) -> PyResult<Status> {
        status(py.detach(|| self.client.ensure()))
    }

    /// Checks in now: the revocation list, then a heartbeat. Without a license the status is
    /// `needs_activation`.
    fn check_in(&self, py: Python<'_>) -> PyResult<Status> {
        status(py.detach(|| self.client.check_in()))
    }

    /// Activates `key` on this machine and stores the license.
    fn activate(&self, py: Python<'_>, key: &str) -> PyResult<Status> {
        status(py.detach(|| self.client.activate(key)))
    }

    /// Tells the server this machine still runs the license (a floating seat stays held).
    fn heartbeat(&self, py: Python<'_>) -> PyResult<Status> {
        status(py.detach(|| self.client.heartbeat()))
    }

    /// Frees this machine's seat and forgets the license.
    fn deactivate(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.client.deactivate())
            .map_err(|e| Failure::from(e).into())
    }

    /// The stored token (binary), to verify or pass on; raises `StateError`
    /// (`not_activated`) without one.
    fn token<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let token = self
            .client
            .state()
            .load(Slot::Token)
            .ok_or(Failure::Client(ClientError::NotActivated))?;
        Ok(PyBytes::new(py, &token))
    }

    /// An offline activation request for `key` (armored text), to carry to the vendor.
    #[pyo3(signature = (key, note=None))]
    fn offline_request(&self, py: Python<'_>, key: &str, note: Option<&str>) -> PyResult<String> {
        let request = py
            .detach(|| self.client.offline_request(key, note))
            .map_err(Failure::from)?;
        Ok(encode_armor(&request, LABEL_REQUEST))
    }

    /// Installs the vendor's response (binary or armored) to the pending request.
    fn offline_install(&self, py: Python<'_>, response: &Bound<'_, PyAny>) -> PyResult<Status> {
        let input = bytes_of(response, "response")?;
        let raw = licet_verifier::text::decode(&input, LABEL_RESPONSE).map_err(Failure::from)?;
        status(py.detach(|| self.client.offline_install(&raw)))
    }

    /// Gives an offline license back: forgets it here and returns the signed receipt (armored
    /// text) that lets the vendor free the seat.
    fn offline_deactivate(&self, py: Python<'_>) -> PyResult<String> {
        let receipt = py
            .detach(|| self.client.offline_deactivate())
            .map_err(Failure::from)?;
        Ok(encode_armor(&receipt, LABEL_RECEIPT))
    }

    fn __repr__(&self) -> String {
        format!("Client(state_dir={:?})", self.client.state().dir())
    }
}

/// This machine's fingerprint for `product` (64 hex characters), as the client sends it.
#[pyfunction]
pub(crate) fn machine_fingerprint(py: Python<'_>, product: &str) -> String {
    py.detach(|| Fingerprint::collect(product).id())
}
