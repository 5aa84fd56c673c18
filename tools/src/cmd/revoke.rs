use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use licet_issuer::RevocationListBuilder;
use licet_verifier::RevocationList;
use licet_verifier::text::{self, LABEL_REVOCATION_LIST};

use crate::{io, time};

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Private key to sign the list with (an existing list must verify under it).
    #[arg(long)]
    key: String,
    /// The revocation list file; created if missing, otherwise extended with a higher sequence.
    #[arg(long)]
    list: String,
    /// What to revoke: a token id (32 hex digits), `token:HEX`, or a license id (`license:ID`
    /// forces a license id); repeatable.
    #[arg(long = "add", required = true, num_args = 1..)]
    add: Vec<String>,
    /// Days until the list's next-update time (when verifiers should expect a newer list).
    #[arg(long, default_value_t = 7)]
    valid_days: u32,
    /// Issue the list at this time instead of now.
    #[arg(long)]
    now: Option<String>,
}

pub fn run(a: RevokeArgs) -> Result<ExitCode> {
    let key = super::read_signing_key(&a.key)?;
    let now = time::now(a.now.as_deref())?;
    let next_update = now + i64::from(a.valid_days.max(1)) * 86_400;
    let path = Path::new(&a.list);
    let existing = if path.exists() {
        Some(
            text::decode(&io::read_input(&a.list)?, LABEL_REVOCATION_LIST)
                .map_err(|e| anyhow!("{}: {e}", a.list))?,
        )
    } else {
        None
    };
    let mut builder = match &existing {
        Some(bytes) => {
            let prev = RevocationList::verify(bytes, key.public_key(), None).map_err(|e| {
                anyhow!(
                    "{}: existing list does not verify under this key ({})",
                    a.list,
                    e.code()
                )
            })?;
            RevocationListBuilder::successor(&prev, now, next_update)
        }
        None => RevocationListBuilder::new(1, now, next_update),
    };
    for item in &a.add {
        if let Some(id) = item.strip_prefix("license:") {
            if id.is_empty() {
                bail!("--add {item:?}: empty license id");
            }
            builder.revoke_license(id);
        } else {
            let hex = item.strip_prefix("token:").unwrap_or(item);
            match parse_token_id(hex) {
                Some(id) => builder.revoke_token(id),
                None if item.starts_with("token:") => {
                    bail!("--add {item:?}: a token id is 32 hex digits")
                }
                None => builder.revoke_license(item),
            };
        }
    }
    let list = builder.sign(&key).context("signing the revocation list")?;
    io::write_atomic(
        path,
        text::encode_armor(&list, LABEL_REVOCATION_LIST).as_bytes(),
    )?;
    let verified =
        RevocationList::verify(&list, key.public_key(), None).map_err(|e| anyhow!("{e}"))?;
    io::print(&format!(
        "{}: sequence {}, {} token ids, {} license ids, next update {}\n",
        a.list,
        verified.sequence(),
        verified.token_count(),
        verified.license_count(),
        time::display(verified.next_update())
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn parse_token_id(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}
