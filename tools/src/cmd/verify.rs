use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use licet_issuer::read_public_key;
use licet_verifier::text::{self, LABEL_LICENSE, LABEL_REVOCATION_LIST};
use licet_verifier::{Context as VerifyContext, Error, PublicKey, RevocationList, UnverifiedToken};
use serde_json::json;

use crate::{io, json, time};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Public key (SPKI PEM or DER); repeat for a key set.
    #[arg(long = "pubkey", required = true)]
    pubkeys: Vec<String>,
    /// The product the token must be for (without it, any product is accepted).
    #[arg(long)]
    product: Option<String>,
    /// This machine's fingerprint, for machine-bound tokens.
    #[arg(long)]
    hwid: Option<String>,
    /// Check a machine-bound token against this machine: its fingerprint (as `licet hwid`
    /// prints it) and its fingerprint parts (needs --product, the fingerprint's salt).
    #[arg(long, requires = "product", conflicts_with = "hwid")]
    this_machine: bool,
    /// This domain, for domain-bound tokens.
    #[arg(long)]
    domain: Option<String>,
    /// An entitlement the token must carry; repeatable.
    #[arg(long = "entitlement")]
    entitlements: Vec<String>,
    /// Verify as of this time (unix seconds, YYYY-MM-DD or RFC 3339) instead of now.
    #[arg(long)]
    now: Option<String>,
    /// Seconds of clock tolerance for expiry and not-before.
    #[arg(long, default_value_t = 0)]
    leeway: u64,
    /// A signed revocation list to check the token against.
    #[arg(long)]
    revocations: Option<String>,
    /// Fail if the revocation list is past its next-update time.
    #[arg(long, requires = "revocations")]
    require_fresh: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The token: a file (binary, text or armored), `-` for standard input, or the text itself.
    token: String,
}

pub fn run(a: VerifyArgs) -> Result<ExitCode> {
    let keys = a
        .pubkeys
        .iter()
        .map(|p| {
            read_public_key(&io::read_input(p)?).with_context(|| format!("{p}: not a public key"))
        })
        .collect::<Result<Vec<PublicKey>>>()?;
    let now = time::now(a.now.as_deref())?;
    let input = io::read_token_arg(&a.token)?;
    let bytes = text::decode(&input, LABEL_LICENSE).map_err(|e| anyhow!("{}: {e}", a.token))?;

    let list_bytes = match &a.revocations {
        Some(path) => Some(
            text::decode(&io::read_input(path)?, LABEL_REVOCATION_LIST)
                .map_err(|e| anyhow!("{path}: {e}"))?,
        ),
        None => None,
    };
    let list = match &list_bytes {
        Some(b) => match RevocationList::verify(b, &keys, None) {
            Ok(l) => Some(l),
            Err(e) => return report(&a, None, Err(e), Some("revocation list")),
        },
        None => None,
    };

    let entitlements: Vec<&str> = a.entitlements.iter().map(String::as_str).collect();
    let machine = match (&a.product, a.this_machine) {
        (Some(p), true) => Some(licet_client::fingerprint::Fingerprint::collect(p)),
        _ => None,
    };
    let machine_parts = machine.as_ref().map(|m| m.parts()).unwrap_or_default();
    let machine_id = machine.as_ref().map(|m| m.id());
    let mut ctx = match &a.product {
        Some(p) => VerifyContext::new(now, p),
        None => VerifyContext::any_product(now),
    }
    .entitlements(&entitlements)
    .leeway(a.leeway);
    if let Some(h) = a.hwid.as_deref().or(machine_id.as_deref()) {
        ctx = ctx.fingerprint(h);
    }
    if a.this_machine {
        ctx = ctx.hwid_parts(&machine_parts);
    }
    if let Some(d) = &a.domain {
        ctx = ctx.domain(d);
    }
    if let Some(l) = &list {
        ctx = ctx.revocations(l);
        if a.require_fresh {
            ctx = ctx.require_fresh_revocations();
        }
    }
    let token = UnverifiedToken::decode(&bytes);
    let result = token.and_then(|t| t.verify(&keys, &ctx));
    // An expired or not-yet-valid refusal comes after the signature check, so the token's own
    // dates can be named.
    let when = match (&result, token.and_then(|t| t.unverified_claims())) {
        (Err(Error::Expired), Ok(c)) => c.expires_at.map(|t| ("expires_at", t)),
        (Err(Error::NotYetValid), Ok(c)) => c.not_before.map(|t| ("not_before", t)),
        _ => None,
    };
    report(
        &a,
        when,
        result.map(|l| {
            (
                json::claims(l.claims()),
                l.kid().to_string(),
                l.algorithm().name(),
                l.revocations_stale(),
            )
        }),
        None,
    )
}

type Verified = (serde_json::Value, String, &'static str, bool);

fn report(
    a: &VerifyArgs,
    when: Option<(&str, i64)>,
    result: Result<Verified, Error>,
    subject: Option<&str>,
) -> Result<ExitCode> {
    let (text, code) = match result {
        Ok((claims, kid, alg, stale)) => {
            let text = if a.json {
                serde_json::to_string_pretty(&json!({
                    "valid": true, "kid": kid, "alg": alg, "revocations_stale": stale, "claims": claims
                }))? + "\n"
            } else {
                let mut s = format!(
                    "valid: license {} for {} (kid {kid}, {alg})",
                    claims["license_id"].as_str().unwrap_or(""),
                    claims["product"].as_str().unwrap_or("")
                );
                if let Some(exp) = claims["exp_utc"].as_str() {
                    s += &format!(", expires {exp}");
                }
                if stale {
                    s += "; warning: the revocation list is stale";
                }
                s + "\n"
            };
            (text, ExitCode::SUCCESS)
        }
        Err(e) => {
            let text = if a.json {
                let mut v = json!({
                    "valid": false, "code": e.code(), "message": e.to_string(), "in": subject.unwrap_or("token")
                });
                if let Some((field, t)) = when {
                    v[field] = json!(t);
                }
                serde_json::to_string_pretty(&v)? + "\n"
            } else {
                let date = match when {
                    Some(("expires_at", t)) => format!("; it expired {}", time::display(t)),
                    Some((_, t)) => format!("; it is valid from {}", time::display(t)),
                    None => String::new(),
                };
                match subject {
                    Some(s) => format!("invalid: {} ({s}: {e})\n", e.code()),
                    None => format!("invalid: {} ({e}{date})\n", e.code()),
                }
            };
            (text, ExitCode::from(1))
        }
    };
    io::print(&text)?;
    Ok(code)
}
