//! `licet server keys …`: the server's signing keys (API keys are `licet server api-keys`).

use anyhow::Result;
use clap::Subcommand;

use super::{Payload, Request, Shape};

#[derive(Debug, Subcommand)]
pub(super) enum Keys {
    /// List the published keys: every generation of the token key, and the RSA key.
    List,
    /// Rotate the token key: a new key signs from now on; the old one stays published as
    /// retiring until everything it signed has expired.
    Rotate,
}

/// The request of a command.
pub(super) fn request(k: Keys) -> Result<Request> {
    Ok(match k {
        Keys::List => (
            "GET",
            "/v1/keys".into(),
            Payload::None,
            Shape::ListIn(
                "keys",
                &["kid", "alg", "status", "valid_from", "valid_until", "use"],
            ),
        ),
        Keys::Rotate => ("POST", "/v1/keys/rotate".into(), Payload::None, Shape::One),
    })
}
