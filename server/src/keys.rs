//! The server's own signing keys, created on first start and never regenerated.
//!
//! `token-ed25519.pem` signs license tokens, revocation lists, online answers and minted JWTs;
//! `compat-rsa4096.pem` is for compatibility endpoints that need RSA signatures. Both are PKCS#8
//! PEM files with mode 0600; their public halves sit beside them as `*.pub.pem`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use licet_issuer::{KeySpec, SigningKey};

/// File name of the token signing key.
pub const TOKEN_KEY_FILE: &str = "token-ed25519.pem";
/// File name of the RSA key for compatibility endpoints.
pub const RSA_KEY_FILE: &str = "compat-rsa4096.pem";

/// The server's keys.
#[derive(Debug)]
pub struct ServerKeys {
    /// Ed25519: tokens, revocation lists, signed answers, JWTs.
    pub token: SigningKey,
    /// RSA-4096 (RS256) for compatibility endpoints.
    pub rsa: SigningKey,
    /// The token key's PKCS#8 PEM, for the JWT library (zeroized on drop).
    pub(crate) token_pem: zeroize::Zeroizing<String>,
    /// The token key as ed25519-dalek's type, for signing online answers.
    answer_signer: ed25519_dalek::SigningKey,
    /// When each key came into use (unix seconds): the key files' modification times.
    pub valid_from: (Option<i64>, Option<i64>),
}

impl ServerKeys {
    /// Wraps existing keys (tests build them once and share them).
    pub fn new(token: SigningKey, rsa: SigningKey) -> Result<ServerKeys> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let token_pem = token.to_pkcs8_pem()?;
        let answer_signer = ed25519_dalek::SigningKey::from_pkcs8_pem(&token_pem)
            .map_err(|e| anyhow::anyhow!("the token key must be Ed25519: {e}"))?;
        Ok(ServerKeys {
            token,
            rsa,
            token_pem,
            answer_signer,
            valid_from: (None, None),
        })
    }

    /// The token key as an ed25519-dalek key.
    pub fn token_dalek(&self) -> &ed25519_dalek::SigningKey {
        &self.answer_signer
    }

    /// Loads the keys from `dir`, creating any that do not exist yet. Returns the keys and
    /// whether any were created.
    pub fn load_or_create(dir: &Path) -> Result<(ServerKeys, bool)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let (token, a) = load_or_create_one(dir, TOKEN_KEY_FILE, KeySpec::Ed25519)?;
        let (rsa, b) = load_or_create_one(dir, RSA_KEY_FILE, KeySpec::RsaPkcs1(4096))?;
        let mut keys = ServerKeys::new(token, rsa)?;
        keys.valid_from = (
            modified(&dir.join(TOKEN_KEY_FILE)),
            modified(&dir.join(RSA_KEY_FILE)),
        );
        Ok((keys, a || b))
    }
}

fn modified(path: &Path) -> Option<i64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    i64::try_from(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs()).ok()
}

fn load_or_create_one(dir: &Path, name: &str, spec: KeySpec) -> Result<(SigningKey, bool)> {
    let path = dir.join(name);
    if path.exists() {
        let pem = zeroize::Zeroizing::new(
            std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?,
        );
        let key = SigningKey::from_pkcs8(&pem)
            .with_context(|| format!("{}: not a usable key", path.display()))?;
        return Ok((key, false));
    }
    tracing::info!(file = %path.display(), "creating signing key");
    let key = SigningKey::generate(spec)?;
    let pem = key.to_pkcs8_pem()?;
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    f.write_all(pem.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    let public = dir.join(name.replace(".pem", ".pub.pem"));
    std::fs::write(&public, key.public_key().to_spki_pem())
        .with_context(|| format!("{}: cannot write", public.display()))?;
    Ok((key, true))
}
