//! `licet server keys …`: the server's signing keys (API keys are `licet server api-keys`).

use anyhow::Result;
use clap::Subcommand;

use super::{Payload, Request, Shape};

#[derive(Debug, Subcommand)]
pub(super) enum Keys {
    /// List the published keys: every generation of the token key, and the RSA key, each
    /// with its public key (base64 SPKI; `export --pem` writes it as a file).
    List,
    /// Write a published public key as a PEM file for `licet verify --pubkey` and the
    /// application: the active token key, or the one `--kid` names.
    Export {
        /// Write PEM (the only form).
        #[arg(long, required = true)]
        pem: bool,
        /// The key's id (`licet server keys list`); the active token key by default.
        #[arg(long)]
        kid: Option<String>,
        /// The file to write (standard output by default).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
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
                &[
                    "kid",
                    "alg",
                    "status",
                    "valid_from",
                    "valid_until",
                    "use",
                    "public_key",
                ],
            ),
        ),
        // The key set, as `list` reads it; `run` picks the key out of it and writes its PEM.
        Keys::Export { .. } => ("GET", "/v1/keys".into(), Payload::None, Shape::One),
        Keys::Rotate => ("POST", "/v1/keys/rotate".into(), Payload::None, Shape::One),
        Keys::RotateRoot => (
            "POST",
            "/v1/keys/rotate-root".into(),
            Payload::None,
            Shape::One,
        ),
    })
}

/// The PEM of the key `kid` names (or the active token key) in a `/v1/keys` answer.
pub(super) fn pem_of(keys: &serde_json::Value, kid: Option<&str>) -> Result<String> {
    let list = keys["keys"].as_array().cloned().unwrap_or_default();
    let found = list.iter().find(|k| match kid {
        Some(kid) => k["kid"] == kid,
        // The token key's generations come first; the RSA key of the compatibility
        // endpoints is listed last and signs no licet token.
        None => {
            k["status"] == "active" && k["use"].as_str().is_some_and(|u| u.starts_with("tokens"))
        }
    });
    match found.and_then(|k| k["public_key_pem"].as_str()) {
        Some(pem) => Ok(pem.to_owned()),
        None => match kid {
            Some(kid) => anyhow::bail!("the server publishes no key {kid:?}"),
            None => anyhow::bail!("the server publishes no active token key"),
        },
    }
}
