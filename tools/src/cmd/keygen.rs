use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use licet_issuer::{KeySpec, SigningKey};

use crate::io;

/// File name of the private key inside `--out`.
pub const PRIVATE_KEY_FILE: &str = "private-key.pem";
/// File name of the public key inside `--out`.
pub const PUBLIC_KEY_FILE: &str = "public-key.pem";

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Key algorithm: ed25519, rsa-pss-2048|3072|4096 (PS256) or rsa-pkcs1-2048|3072|4096 (RS256).
    #[arg(long, default_value = "ed25519", value_parser = clap::builder::PossibleValuesParser::new(KeySpec::NAMES))]
    alg: String,
    /// Directory to write private-key.pem (mode 0600) and public-key.pem into; created if missing.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: KeygenArgs) -> Result<ExitCode> {
    let spec =
        KeySpec::parse(&a.alg).with_context(|| format!("--alg: unknown algorithm {:?}", a.alg))?;
    let private = a.out.join(PRIVATE_KEY_FILE);
    let public = a.out.join(PUBLIC_KEY_FILE);
    for p in [&private, &public] {
        if p.exists() {
            bail!(
                "{}: already exists; licet never overwrites a key",
                p.display()
            );
        }
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("{}: cannot create directory", a.out.display()))?;
    let key = SigningKey::generate(spec).context("generating the key")?;
    let pem = key.to_pkcs8_pem()?;
    io::write_private_new(&private, pem.as_bytes())?;
    if let Err(e) = io::write_public_new(&public, key.public_key().to_spki_pem().as_bytes()) {
        // A private key without its public half is half a key pair: leave nothing behind.
        let _ = std::fs::remove_file(&private);
        return Err(e);
    }
    io::print(&format!(
        "kid {} ({})\nprivate key: {}\npublic key:  {}\n",
        key.kid(),
        key.algorithm().name(),
        private.display(),
        public.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
