//! `licet server offline …`: the vendor's side of air-gapped activation, over the server's
//! `/v1/offline/*` (the same seat rules, audit and events as an online activation).

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use serde_json::json;

use super::{Payload, Request, Shape};
use crate::io;

#[derive(Debug, Subcommand)]
pub(super) enum Offline {
    /// Answer an activation request; the response goes to `--out` or standard output.
    Activate {
        /// The request (a file in any form: armor, base64url, `LICET:` Base45; `-`: stdin).
        request: String,
        /// Write the response here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Take a deactivation receipt: the seat comes back, the token is revoked.
    Deactivate {
        /// The receipt (any form; `-`: stdin).
        receipt: String,
    },
}

fn text_of(arg: &str) -> Result<String> {
    let bytes = io::read_input(arg)?;
    String::from_utf8(bytes).map_err(|_| {
        anyhow!("{arg}: not text (give the armored, base64url or LICET: form, not the binary)")
    })
}

/// The request of a command, and where an activation's response goes.
pub(super) fn request(o: Offline) -> Result<(Request, Option<Option<PathBuf>>)> {
    Ok(match o {
        Offline::Activate { request, out } => (
            (
                "POST",
                "/v1/offline/activations".into(),
                Payload::Json(json!({ "request": text_of(&request)? })),
                Shape::One,
            ),
            Some(out),
        ),
        Offline::Deactivate { receipt } => (
            (
                "POST",
                "/v1/offline/deactivations".into(),
                Payload::Json(json!({ "receipt": text_of(&receipt)? })),
                Shape::One,
            ),
            None,
        ),
    })
}
