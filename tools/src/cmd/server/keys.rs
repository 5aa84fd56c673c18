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
    /// Rotate the root secret every session, CSRF, URL and sealing key derives from: every
    /// dashboard session ends and stored secrets are sealed again under the new one. Do it
    /// after the data directory, a key file or a database copy may have leaked.
    RotateRoot,
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
        Keys::RotateRoot => (
            "POST",
            "/v1/keys/rotate-root".into(),
            Payload::None,
            Shape::One,
        ),
    })
}
