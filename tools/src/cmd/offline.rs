//! `licet offline request|install|deactivate` and `licet borrow`: this machine's side of
//! air-gapped activation, with no network (`borrow` excepted), through the same client library
//! an application embeds (`licet_client::online::Client`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use licet_verifier::offline::{LABEL_RECEIPT, LABEL_REQUEST, LABEL_RESPONSE};
use licet_verifier::text::encode_armor;

use super::client::{client, keys_from_pem, report, stored};
use crate::io;

#[derive(Debug, Subcommand)]
pub enum Offline {
    /// Write an activation request (signed with a new device key kept on this machine).
    Request(RequestArgs),
    /// Install the vendor's response to the pending request.
    Install(InstallArgs),
    /// Erase this machine's license and write a receipt that gives the seat back.
    Deactivate(DeactivateArgs),
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The product code.
    #[arg(long)]
    product: String,
    /// The license key.
    #[arg(long)]
    key: String,
    /// A note for the vendor (who asks, where the machine is).
    #[arg(long)]
    note: Option<String>,
    /// Write the request here (armored; with `--qr` and a `.png` name, a QR image) instead
    /// of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the request as a QR code in the terminal.
    #[arg(long)]
    qr: bool,
    /// The vendor's public keys (SPKI PEM file), the trust anchor the response is checked
    /// with at install [also `LICET_PUBKEY`].
    #[arg(long, env = "LICET_PUBKEY")]
    pubkey: Option<PathBuf>,
    /// Base directory of license state.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The response file (armor, base64url, `LICET:` Base45 or binary; `-` for stdin).
    response: String,
    /// The product code.
    #[arg(long)]
    product: String,
    /// The vendor's public keys (SPKI PEM file), the trust anchor tokens are checked with.
    /// Never read from the license state, which whoever runs as this user can rewrite.
    #[arg(long, env = "LICET_PUBKEY")]
    pubkey: Option<PathBuf>,
    /// Base directory of license state.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DeactivateArgs {
    /// The product code.
    #[arg(long)]
    product: String,
    /// Write the receipt here (armored, or a QR image for a `.png` name with `--qr`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the receipt as a QR code in the terminal.
    #[arg(long)]
    qr: bool,
    /// Base directory of license state.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The vendor's public keys (SPKI PEM file), the trust anchor tokens are checked with.
    /// Never read from the license state, which whoever runs as this user can rewrite.
    #[arg(long, env = "LICET_PUBKEY")]
    pubkey: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BorrowArgs {
    /// The product code.
    #[arg(long)]
    product: String,
    /// When the seat comes back: RFC 3339 or a date (`2026-12-24`, midnight UTC).
    #[arg(long)]
    until: String,
    /// The license key [default: the one this machine activated with].
    #[arg(long)]
    key: Option<String>,
    /// Base directory of license state.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The vendor's public keys (SPKI PEM file), the trust anchor tokens are checked with.
    /// Never read from the license state, which whoever runs as this user can rewrite.
    #[arg(long, env = "LICET_PUBKEY")]
    pubkey: Option<PathBuf>,
}

pub fn run(o: Offline) -> Result<ExitCode> {
    match o {
        Offline::Request(a) => request(a),
        Offline::Install(a) => install(a),
        Offline::Deactivate(a) => deactivate(a),
    }
}

fn read_pem(p: &PathBuf) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))
}

/// A client of the product's state with no server, checking with the keys given (none for a
/// request, which checks nothing).
fn offline_client(
    product: &str,
    dir: &Option<PathBuf>,
    pem: Option<&str>,
) -> Result<licet_client::online::Client> {
    client(
        "",
        product,
        pem.map(keys_from_pem).unwrap_or_default(),
        dir,
        None,
    )
}

/// Writes an artefact: armored to `out` or standard output, and as a QR code with `qr` (in the
/// terminal, or as a PNG image when `out` ends in `.png`).
fn emit(bytes: &[u8], label: &str, out: &Option<PathBuf>, qr: bool) -> Result<()> {
    let png = out
        .as_ref()
        .is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")));
    let text = licet_api::offline::qr_text(bytes);
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| anyhow!("no QR code holds this ({e})"))?;
    match out {
        Some(p) if qr && png => {
            code.render::<image::Luma<u8>>()
                .quiet_zone(true)
                .min_dimensions(400, 400)
                .build()
                .save(p)
                .with_context(|| format!("{}: cannot write", p.display()))?;
        }
        Some(p) => io::write_atomic(p, encode_armor(bytes, label).as_bytes())?,
        None if !qr => io::print(&encode_armor(bytes, label))?,
        None => {}
    }
    if qr && !png {
        let art = code
            .render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build();
        io::print(&format!("{art}\n"))?;
    }
    let version = match code.version() {
        qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
    };
    eprintln!(
        "{label}: {} bytes, QR version {version} (error correction M)",
        bytes.len()
    );
    Ok(())
}

fn request(a: RequestArgs) -> Result<ExitCode> {
    let pem = a.pubkey.as_ref().map(read_pem).transpose()?;
    let c = offline_client(&a.product, &a.state_dir, pem.as_deref())?;
    let bytes = c
        .offline_request(&a.key, a.note.as_deref())
        .map_err(|e| anyhow!("{e}"))?;
    emit(&bytes, LABEL_REQUEST, &a.out, a.qr)?;
    Ok(ExitCode::SUCCESS)
}

fn install(a: InstallArgs) -> Result<ExitCode> {
    let pem = match &a.pubkey {
        Some(p) => read_pem(p)?,
        None => {
            return Err(anyhow!(
                "--pubkey (or LICET_PUBKEY): the vendor's public key file is required; keys are never taken from the license state"
            ));
        }
    };
    let c = offline_client(&a.product, &a.state_dir, Some(&pem))?;
    let input = io::read_input(&a.response)?;
    let bytes = licet_api::offline::decode(&input, LABEL_RESPONSE).map_err(|e| anyhow!(e))?;
    match c.offline_install(&bytes) {
        Ok(s) => report(&s, false),
        Err(e) => {
            io::print(&format!("not installed: {}\n", refusal(&e)))?;
            Ok(ExitCode::from(1))
        }
    }
}

/// A client error's stable code where it has one.
fn refusal(e: &licet_client::online::ClientError) -> String {
    match e {
        licet_client::online::ClientError::Untrusted(v) => v.code().to_owned(),
        other => other.to_string(),
    }
}

fn deactivate(a: DeactivateArgs) -> Result<ExitCode> {
    let c = stored(&a.product, &a.state_dir, &a.pubkey)?;
    let receipt = c.offline_deactivate().map_err(|e| anyhow!("{e}"))?;
    // The license is erased already: a failure to write the receipt loses only the receipt
    // (the seat then comes back with the lease), never leaves a license next to one.
    emit(&receipt, LABEL_RECEIPT, &a.out, a.qr)?;
    Ok(ExitCode::SUCCESS)
}

pub fn borrow(a: BorrowArgs) -> Result<ExitCode> {
    let until = crate::time::parse("--until", &a.until)?;
    let c = stored(&a.product, &a.state_dir, &a.pubkey)?;
    match c.borrow(a.key.as_deref(), until) {
        Ok(s) => report(&s, false),
        Err(e) => {
            io::print(&format!("{e}\n"))?;
            Ok(ExitCode::from(1))
        }
    }
}
