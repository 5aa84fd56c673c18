//! `licet activate`, `licet status`, `licet deactivate`: this machine's license of a product,
//! through `licet_client::online` (what an application embeds), for operators and scripts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use licet_client::online::{Client, ClientError, Config, Status, stored_server};
use licet_client::state::{LocalState, default_base_dir};
use licet_verifier::PublicKey;
use serde_json::json;

use crate::io;

#[derive(Debug, Args)]
pub struct ActivateArgs {
    /// The license server's base URL.
    #[arg(long, env = "LICET_URL", default_value = "http://127.0.0.1:47293")]
    url: String,
    /// The license key.
    #[arg(long)]
    key: String,
    /// The product code.
    #[arg(long)]
    product: String,
    /// The vendor's public keys tokens are signed with (SPKI PEM file); without it, the keys
    /// the server publishes (`/v1/keys`) are taken for this activation only: later runs check
    /// with `--pubkey` again, never with keys kept in the license state.
    #[arg(long, env = "LICET_PUBKEY")]
    pubkey: Option<PathBuf>,
    /// Base directory of license state [default: $LICET_STATE_DIR or the user's data dir].
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The certificate authorities (PEM file) the server's TLS certificate must chain to,
    /// instead of the system's roots (later check-ins read LICET_CA_CERT).
    #[arg(long, env = "LICET_CA_CERT")]
    ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The product code.
    #[arg(long)]
    product: String,
    /// Base directory of license state.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Check in with the server now (a revoked license is reported at once, exit 1; an
    /// unreachable server is exit 2).
    #[arg(long, conflicts_with = "online_if_due")]
    online: bool,
    /// Check in only if the token asks for it; an unreachable server then means the offline
    /// status (grace).
    #[arg(long)]
    online_if_due: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The vendor's public keys (SPKI PEM file), the trust anchor tokens are checked with.
    /// Never read from the license state, which whoever runs as this user can rewrite.
    #[arg(long, env = "LICET_PUBKEY")]
    pubkey: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DeactivateArgs {
    /// The product code.
    #[arg(long)]
    product: String,
    /// Base directory of license state.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The vendor's public keys (SPKI PEM file), the trust anchor tokens are checked with.
    /// Never read from the license state, which whoever runs as this user can rewrite.
    #[arg(long, env = "LICET_PUBKEY")]
    pubkey: Option<PathBuf>,
}

pub(crate) fn base(dir: &Option<PathBuf>) -> Result<PathBuf> {
    dir.clone()
        .or_else(default_base_dir)
        .ok_or_else(|| anyhow!("--state-dir: required (no per-user data directory found)"))
}

fn state(dir: &Option<PathBuf>, product: &str) -> Result<LocalState> {
    let fp = licet_client::fingerprint::Fingerprint::collect(product);
    LocalState::open(&base(dir)?, product, &fp.stable_id()).context("opening the license state")
}

pub(crate) fn keys_from_pem(pem: &str) -> Vec<PublicKey> {
    licet_client::online::parse_pems(pem)
}

/// The CA file's certificates: `ca`, else `LICET_CA_CERT`, else none (the system's roots).
fn ca_pem(ca: Option<&std::path::Path>) -> Result<Option<Vec<u8>>> {
    let path = ca
        .map(std::path::Path::to_path_buf)
        .or_else(|| std::env::var_os("LICET_CA_CERT").map(PathBuf::from));
    path.map(|p| {
        std::fs::read(&p).with_context(|| format!("{}: cannot read the CA file", p.display()))
    })
    .transpose()
}

/// An HTTP agent for the server at `url` (HTTPS checked against the system's roots or `ca`),
/// warning on stderr when `url` is plain HTTP to another machine.
pub(crate) fn agent(
    url: &str,
    ca: Option<&std::path::Path>,
    timeout: std::time::Duration,
) -> Result<ureq::Agent> {
    warn_plain_http(url);
    licet_client::online::http_agent(timeout, ca_pem(ca)?.as_deref()).map_err(|e| anyhow!("{e}"))
}

/// Says on stderr when `url` is plain HTTP to another machine.
fn warn_plain_http(url: &str) {
    if let Some(w) = licet_client::online::plain_http_warning(url) {
        eprintln!("{w}");
    }
}

pub(crate) fn client(
    url: &str,
    product: &str,
    keys: Vec<PublicKey>,
    dir: &Option<PathBuf>,
    ca: Option<&std::path::Path>,
) -> Result<Client> {
    let mut c = Config::new(url, product, keys);
    c.state_dir = Some(base(dir)?);
    c.ca_certificates = ca_pem(ca)?;
    Client::new(c).map_err(|e| anyhow!("{e}"))
}

fn describe(s: &Status) -> (String, bool) {
    let t = |t: i64| crate::time::display(t);
    match s {
        Status::Valid {
            until,
            refresh_after,
        } => (
            format!(
                "valid until {}{}",
                t(*until),
                refresh_after.map_or(String::new(), |r| format!(" (check-in due {})", t(r)))
            ),
            true,
        ),
        Status::Grace { until } => (
            format!("valid offline (server unreachable) until {}", t(*until)),
            true,
        ),
        Status::GraceEnded => ("offline grace ended: reach the server".into(), false),
        Status::NeedsActivation => ("not activated on this machine".into(), false),
        Status::Revoked => ("revoked".into(), false),
        Status::Suspended => ("suspended".into(), false),
        Status::Expired => ("expired".into(), false),
        Status::ClockRolledBack { behind_by } => {
            (format!("the clock was moved back by {behind_by} s"), false)
        }
        Status::Invalid(e) => (format!("invalid: {}", e.code()), false),
        Status::StateRolledBack => (
            "the local license state was copied back or removed: reach the server".into(),
            false,
        ),
        _ => ("unknown".into(), false),
    }
}

/// A status as data: a stable `status` code, its times in unix seconds, and the sentence.
fn status_json(s: &Status, message: &str, ok: bool) -> serde_json::Value {
    let mut v = json!({ "licensed": ok, "message": message });
    let code = match s {
        Status::Valid {
            until,
            refresh_after,
        } => {
            v["expires_at"] = json!(until);
            v["refresh_after"] = json!(refresh_after);
            "valid"
        }
        Status::Grace { until } => {
            v["grace_until"] = json!(until);
            "grace"
        }
        Status::GraceEnded => "grace_ended",
        Status::NeedsActivation => "not_activated",
        Status::Revoked => "revoked",
        Status::Suspended => "suspended",
        Status::Expired => "expired",
        Status::ClockRolledBack { behind_by } => {
            v["behind_by"] = json!(behind_by);
            "clock_rolled_back"
        }
        Status::Invalid(e) => {
            v["code"] = json!(e.code());
            "invalid"
        }
        Status::StateRolledBack => "state_rolled_back",
        _ => "unknown",
    };
    v["status"] = json!(code);
    v
}

pub(crate) fn report(s: &Status, json: bool) -> Result<ExitCode> {
    let (text, ok) = describe(s);
    if json {
        io::print(&(serde_json::to_string_pretty(&status_json(s, &text, ok))? + "\n"))?;
    } else {
        io::print(&format!("{text}\n"))?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn activate(a: ActivateArgs) -> Result<ExitCode> {
    warn_plain_http(&a.url);
    let pem = match &a.pubkey {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?
        }
        None => {
            let url = format!("{}/v1/keys", a.url.trim_end_matches('/'));
            let agent = licet_client::online::http_agent(
                std::time::Duration::from_secs(30),
                ca_pem(a.ca_cert.as_deref())?.as_deref(),
            )
            .map_err(|e| anyhow!("{e}"))?;
            let mut resp = agent
                .get(&url)
                .call()
                .with_context(|| format!("{url}: cannot reach the server"))?;
            let v: serde_json::Value = resp
                .body_mut()
                .read_json()
                .context("the key set is not JSON")?;
            v["keys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k["public_key_pem"].as_str())
                .collect::<Vec<_>>()
                .join("")
        }
    };
    let keys = keys_from_pem(&pem);
    if keys.is_empty() {
        return Err(anyhow!("no usable public key"));
    }
    let c = client(&a.url, &a.product, keys, &a.state_dir, a.ca_cert.as_deref())?;
    match c.activate(&a.key) {
        Ok(s) => report(&s, false),
        Err(e) => {
            io::print(&format!("{e}\n"))?;
            Ok(ExitCode::from(1))
        }
    }
}

/// The vendor's pinned keys from `--pubkey` (or `LICET_PUBKEY`): required, since keys kept in
/// the license state could have been written by the user it licenses.
pub(crate) fn pinned(pubkey: &Option<PathBuf>) -> Result<Vec<PublicKey>> {
    let p = pubkey.as_ref().ok_or_else(|| {
        anyhow!("--pubkey (or LICET_PUBKEY): the vendor's public key file is required; keys are never taken from the license state")
    })?;
    let pem =
        std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
    let keys = keys_from_pem(&pem);
    if keys.is_empty() {
        return Err(anyhow!("{}: no usable public key", p.display()));
    }
    Ok(keys)
}

/// A client of this machine's license of `product`, checking with the pinned keys only.
pub(crate) fn stored(
    product: &str,
    dir: &Option<PathBuf>,
    pubkey: &Option<PathBuf>,
) -> Result<Client> {
    let keys = pinned(pubkey)?;
    let st = state(dir, product)?;
    let url = stored_server(&st).unwrap_or_default();
    warn_plain_http(&url);
    client(&url, product, keys, dir, None)
}

pub fn status(a: StatusArgs) -> Result<ExitCode> {
    let c = stored(&a.product, &a.state_dir, &a.pubkey)?;
    let s = if a.online {
        match c.check_in() {
            Ok(s) => s,
            Err(e @ ClientError::Unreachable(_)) => {
                return Err(anyhow!("{e}; offline: {}", describe(&c.status()).0));
            }
            Err(e) => return Err(anyhow!("{e}")),
        }
    } else if a.online_if_due {
        c.ensure().map_err(|e| anyhow!("{e}"))?
    } else {
        c.status()
    };
    report(&s, a.json)
}

pub fn deactivate(a: DeactivateArgs) -> Result<ExitCode> {
    let c = stored(&a.product, &a.state_dir, &a.pubkey)?;
    c.deactivate().map_err(|e| anyhow!("{e}"))?;
    io::print("deactivated\n")?;
    Ok(ExitCode::SUCCESS)
}
