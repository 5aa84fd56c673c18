use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use licet_verifier::UnverifiedToken;
use licet_verifier::text::{self, LABEL_LICENSE};
use serde_json::json;

use crate::{io, json};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token: a file (binary, text or armored), `-` for standard input, or the text itself.
    token: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(a: InspectArgs) -> Result<ExitCode> {
    let input = io::read_token_arg(&a.token)?;
    let bytes =
        text::decode(&input, LABEL_LICENSE).map_err(|e| anyhow::anyhow!("{}: {e}", a.token))?;
    let token = UnverifiedToken::decode(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e} ({})", a.token, e.code()))?;
    let claims = token
        .unverified_claims()
        .map_err(|e| anyhow::anyhow!("{}: {e} ({})", a.token, e.code()))
        .context("decoding claims")?;
    let doc = json!({
        "verified": false,
        "size": bytes.len(),
        "header": json::header(token.header()),
        "claims": json::claims(&claims),
    });
    let out = if a.json {
        serde_json::to_string_pretty(&doc)? + "\n"
    } else {
        format!(
            "UNVERIFIED: decoded without checking the signature; nothing below is trusted.\n{} bytes\nheader: {}\nclaims: {}\n",
            bytes.len(),
            serde_json::to_string_pretty(&doc["header"])?,
            serde_json::to_string_pretty(&doc["claims"])?
        )
    };
    io::print(&out)?;
    Ok(ExitCode::SUCCESS)
}
