//! One module per subcommand.

pub mod client;
pub mod hwid;
pub mod inspect;
pub mod issue;
pub mod keygen;
pub mod offline;
pub mod revoke;
pub mod server;
pub mod verify;

use anyhow::{Context, Result};
use licet_issuer::SigningKey;

use crate::io;

/// Reads a private key file (PKCS#8 PEM or DER).
pub(crate) fn read_signing_key(path: &str) -> Result<SigningKey> {
    let bytes = zeroize::Zeroizing::new(io::read_input(path)?);
    SigningKey::from_pkcs8(&bytes).with_context(|| format!("{path}: not a licet private key"))
}
