//! `licet hwid`: this machine's fingerprint for a product. Only hashes are printed: the raw
//! machine id, MAC addresses and disk sizes never leave [`Fingerprint`].

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use licet_client::fingerprint::{Fingerprint, hex};
use serde_json::json;

use crate::io;

#[derive(Debug, Args)]
pub struct HwidArgs {
    /// The product the fingerprint is for (its salt: other products see unrelated values).
    #[arg(long)]
    product: String,
    /// Also list the components and their hashed parts.
    #[arg(long)]
    components: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: HwidArgs) -> Result<ExitCode> {
    let f = Fingerprint::collect(&a.product);
    if a.json {
        let mut v = json!({
            "product": a.product,
            "fingerprint": f.id(),
            "threshold": f.default_threshold(),
            "parts": f.parts().iter().map(|p| hex(p)).collect::<Vec<_>>(),
        });
        if a.components {
            v["components"] = json!(
                f.components()
                    .iter()
                    .map(|c| json!({ "name": c.name, "label": c.label, "part": hex(&c.part) }))
                    .collect::<Vec<_>>()
            );
        }
        io::print(&(serde_json::to_string_pretty(&v)? + "\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!("{}\n", f.id());
    if a.components {
        out += &format!(
            "{} components; a token binding them should require {} (k-of-n)\n",
            f.components().len(),
            f.default_threshold()
        );
        for c in f.components() {
            out += &format!("{}\t{}\t{}\n", c.name, hex(&c.part), c.label);
        }
    }
    io::print(&out)?;
    Ok(ExitCode::SUCCESS)
}
