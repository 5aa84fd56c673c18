use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use licet_issuer::{MetaValue, SigningKey, TokenBuilder};
use licet_verifier::LicenseKind;
use licet_verifier::text::{self, LABEL_LICENSE};
use serde::Deserialize;

use crate::{io, time};

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Private key (PKCS#8 PEM or DER) to sign with.
    #[arg(long)]
    key: String,
    /// Product identifier.
    #[arg(long)]
    product: Option<String>,
    /// License identifier (default: a random 8-character id).
    #[arg(long)]
    license_id: Option<String>,
    /// Issuer name (the `iss` claim).
    #[arg(long, env = "LICET_ISSUER", default_value = "licet")]
    issuer: String,
    /// Licensee (the `sub` claim).
    #[arg(long)]
    subject: Option<String>,
    /// Audience (the `aud` claim).
    #[arg(long)]
    audience: Option<String>,
    /// Bind to the machine with this fingerprint (only its hash goes into the token).
    #[arg(long)]
    hwid: Option<String>,
    /// Bind to fingerprint parts with a k-of-n rule: `K:PART,PART,…` with the hex parts that
    /// `licet hwid --product P --json` prints on the licensee's machine.
    #[arg(long)]
    hwid_parts: Option<String>,
    /// Bind to a domain (`example.com`) or wildcard (`*.example.com`); repeatable.
    #[arg(long = "domain")]
    domains: Vec<String>,
    /// Grant an entitlement; repeatable.
    #[arg(long = "entitlement")]
    entitlements: Vec<String>,
    /// Expiry: unix seconds, YYYY-MM-DD (midnight UTC) or RFC 3339.
    #[arg(long, conflicts_with = "days")]
    expires: Option<String>,
    /// Expiry in days from now.
    #[arg(long)]
    days: Option<u32>,
    /// Not valid before this time.
    #[arg(long)]
    not_before: Option<String>,
    /// License kind.
    #[arg(long, value_parser = ["trial", "subscription", "lifetime"])]
    kind: Option<String>,
    /// Number of seats.
    #[arg(long)]
    seats: Option<u32>,
    /// Offline grace period in seconds.
    #[arg(long)]
    offline_grace: Option<u64>,
    /// When an online application should check in (time, as for --expires).
    #[arg(long)]
    refresh_after: Option<String>,
    /// Metadata entry KEY=VALUE (integers and true/false are typed); repeatable.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// A JSON file with claims (same names as these options); options add to and override it.
    #[arg(long)]
    claims: Option<String>,
    /// Issue at this time instead of now.
    #[arg(long)]
    now: Option<String>,
    /// Print the armored file form instead of the base64url text form.
    #[arg(long)]
    armor: bool,
    /// Write the token to this file instead of standard output (with --batch: a directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Issue one token per row of this CSV file (header row with the claim names) into --out.
    #[arg(long, requires = "out")]
    batch: Option<String>,
}

/// Claims as written in a `--claims` JSON file or a `--batch` CSV row.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimSet {
    product: Option<String>,
    license_id: Option<String>,
    issuer: Option<String>,
    subject: Option<String>,
    audience: Option<String>,
    hwid: Option<String>,
    hwid_parts: Option<String>,
    #[serde(default, deserialize_with = "list")]
    domains: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    entitlements: Vec<String>,
    expires: Option<TimeValue>,
    days: Option<u32>,
    not_before: Option<TimeValue>,
    kind: Option<String>,
    seats: Option<u32>,
    offline_grace: Option<u64>,
    refresh_after: Option<TimeValue>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TimeValue {
    Unix(i64),
    Text(String),
}

impl TimeValue {
    fn resolve(&self, what: &str) -> Result<i64> {
        match self {
            TimeValue::Unix(t) => Ok(*t),
            TimeValue::Text(s) => time::parse(what, s),
        }
    }
}

/// A list given as a JSON array or, in CSV, as one cell separated by `;` or spaces.
fn list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum L {
        Many(Vec<String>),
        One(String),
    }
    Ok(match L::deserialize(d)? {
        L::Many(v) => v,
        L::One(s) => s
            .split([';', ' '])
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

impl ClaimSet {
    /// Overlays the command-line options on top of `self`.
    fn overlay(mut self, a: &IssueArgs) -> Result<ClaimSet> {
        macro_rules! over {
            ($($f:ident),*) => { $( if a.$f.is_some() { self.$f = a.$f.clone(); } )* };
        }
        over!(
            product,
            license_id,
            subject,
            audience,
            hwid,
            hwid_parts,
            kind,
            seats,
            offline_grace,
            days
        );
        if self.issuer.is_none() || a.issuer != "licet" {
            self.issuer = Some(a.issuer.clone());
        }
        if let Some(e) = &a.expires {
            self.expires = Some(TimeValue::Text(e.clone()));
            self.days = None;
        } else if a.days.is_some() {
            self.expires = None;
        }
        if let Some(n) = &a.not_before {
            self.not_before = Some(TimeValue::Text(n.clone()));
        }
        if let Some(r) = &a.refresh_after {
            self.refresh_after = Some(TimeValue::Text(r.clone()));
        }
        self.domains.extend(a.domains.iter().cloned());
        self.entitlements.extend(a.entitlements.iter().cloned());
        for m in &a.metadata {
            let (k, v) = m
                .split_once('=')
                .ok_or_else(|| anyhow!("--meta {m:?}: expected KEY=VALUE"))?;
            let v = match v {
                "true" => serde_json::Value::Bool(true),
                "false" => serde_json::Value::Bool(false),
                _ => v
                    .parse::<i64>()
                    .map_or_else(|_| serde_json::Value::String(v.to_owned()), Into::into),
            };
            self.metadata.insert(k.to_owned(), v);
        }
        Ok(self)
    }

    fn builder(self, now: i64) -> Result<TokenBuilder> {
        let product = self
            .product
            .ok_or_else(|| anyhow!("--product: required (or `product` in the claims)"))?;
        let license_id = self.license_id.unwrap_or_else(licet_issuer::new_license_id);
        let mut b = TokenBuilder::new(product, license_id, now);
        if let Some(v) = self.issuer {
            b = b.issuer(v);
        }
        if let Some(v) = self.subject {
            b = b.subject(v);
        }
        if let Some(v) = self.audience {
            b = b.audience(v);
        }
        if let Some(h) = &self.hwid {
            b = b.hwid(h);
        }
        if let Some(p) = &self.hwid_parts {
            let (k, parts) = parse_hwid_parts(p)?;
            b = b.hwid_parts(k, &parts);
        }
        for d in self.domains {
            b = b.domain(d);
        }
        for e in self.entitlements {
            b = b.entitlement(e);
        }
        match (self.expires, self.days) {
            (Some(t), _) => b = b.expires_at(t.resolve("--expires")?),
            (None, Some(days)) => b = b.expires_at(now + i64::from(days) * 86_400),
            (None, None) => {}
        }
        if let Some(t) = self.not_before {
            b = b.not_before(t.resolve("--not-before")?);
        }
        if let Some(k) = self.kind {
            b = b.kind(
                k.parse::<LicenseKind>()
                    .map_err(|_| anyhow!("--kind: unknown kind {k:?}"))?,
            );
        }
        if let Some(s) = self.seats {
            b = b.seats(s);
        }
        if let Some(g) = self.offline_grace {
            b = b.offline_grace(g);
        }
        if let Some(t) = self.refresh_after {
            b = b.refresh_after(t.resolve("--refresh-after")?);
        }
        for (k, v) in self.metadata {
            let v = match v {
                serde_json::Value::String(s) => MetaValue::Text(s),
                serde_json::Value::Bool(x) => MetaValue::Bool(x),
                serde_json::Value::Number(n) => MetaValue::Int(
                    n.as_i64()
                        .ok_or_else(|| anyhow!("metadata {k:?}: only integers are supported"))?,
                ),
                _ => bail!("metadata {k:?}: values must be text, integers or booleans"),
            };
            b = b.metadata(k, v);
        }
        Ok(b)
    }
}

pub fn run(a: IssueArgs) -> Result<ExitCode> {
    let key = super::read_signing_key(&a.key)?;
    let now = time::now(a.now.as_deref())?;
    if let Some(csv_path) = &a.batch {
        let out = a.out.clone().context("--out: required with --batch")?;
        return batch(&a, &key, now, csv_path, &out);
    }
    let base = match &a.claims {
        Some(path) => serde_json::from_slice::<ClaimSet>(&io::read_input(path)?)
            .with_context(|| format!("{path}: not a valid claims file"))?,
        None => ClaimSet::default(),
    };
    let token = base
        .overlay(&a)?
        .builder(now)?
        .sign(&key)
        .context("issuing the token")?;
    let text = if a.armor {
        text::encode_armor(&token, LABEL_LICENSE)
    } else {
        text::encode_text(&token) + "\n"
    };
    match &a.out {
        Some(path) => {
            io::write_atomic(path, text.as_bytes())?;
            io::print(&(confirmation(&token, path) + "\n"))?;
        }
        None => io::print(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// What `issue --out` wrote, read back from the token it signed: the file, license, product,
/// binding and expiry.
fn confirmation(token: &[u8], path: &Path) -> String {
    let Ok(c) = licet_verifier::UnverifiedToken::decode(token).and_then(|t| t.unverified_claims())
    else {
        return format!("wrote {}", path.display());
    };
    let mut s = format!(
        "wrote {}: license {} for {}",
        path.display(),
        c.license_id,
        c.product
    );
    if c.hwid.is_some() || c.hwid_parts.is_some() {
        s += ", bound to a machine";
    }
    s += &match c.expires_at {
        Some(t) => format!(", expires {}", time::display(t)),
        None => ", no expiry".into(),
    };
    s + &format!(" ({} bytes)", token.len())
}

fn batch(
    a: &IssueArgs,
    key: &SigningKey,
    now: i64,
    csv_path: &str,
    out: &Path,
) -> Result<ExitCode> {
    let data = io::read_input(csv_path)?;
    let mut rows = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(&data[..]);
    let headers = reader
        .headers()
        .with_context(|| format!("{csv_path}: no header row"))?
        .clone();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{csv_path}:{line}: unreadable row"))?;
        // Empty cells mean "not set", so that optional columns can be left blank.
        let map: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .zip(record.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(h, v)| {
                let v = match h {
                    "seats" | "offline_grace" | "days" => {
                        v.parse::<u64>().map_or_else(|_| v.into(), Into::into)
                    }
                    _ => serde_json::Value::String(v.to_owned()),
                };
                (h.to_owned(), v)
            })
            .collect();
        let set: ClaimSet = serde_json::from_value(serde_json::Value::Object(map))
            .with_context(|| format!("{csv_path}:{line}: bad row"))?;
        let builder = set
            .overlay(a)
            .and_then(|s| s.builder(now))
            .and_then(|b| b.validate().map(|()| b).map_err(Into::into))
            .with_context(|| format!("{csv_path}:{line}"))?;
        rows.push((line, builder));
    }
    // Every row is valid and has a file name of its own: only now is anything written.
    let mut seen = std::collections::BTreeSet::new();
    for (line, builder) in &rows {
        let id = builder.license_id();
        if id.contains(['/', '\\']) || id.starts_with('.') {
            bail!("{csv_path}:{line}: license id {id:?} cannot be used as a file name");
        }
        if !seen.insert(id.to_owned()) {
            bail!("{csv_path}:{line}: license id {id:?} appears twice");
        }
        let path = out.join(format!("{id}.lic"));
        if path.exists() {
            bail!(
                "{}: already exists; licet does not overwrite license files",
                path.display()
            );
        }
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create directory", out.display()))?;
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tokens {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    for (line, builder) in rows {
        let token = builder
            .sign(key)
            .with_context(|| format!("{csv_path}:{line}"))?;
        let path = out.join(format!("{}.lic", builder.license_id()));
        io::write_public_new(&path, text::encode_armor(&token, LABEL_LICENSE).as_bytes())
            .with_context(|| format!("{csv_path}:{line}"))?;
        bar.inc(1);
    }
    bar.finish();
    io::print(&format!(
        "issued {} tokens into {}\n",
        bar.position(),
        out.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `K:PART,PART,…` (hex parts of 8 bytes).
fn parse_hwid_parts(text: &str) -> Result<(usize, Vec<[u8; 8]>)> {
    let bad = || anyhow!("--hwid-parts: K:PART,PART,… with 16-hex-digit parts, 1 ≤ K ≤ parts ≤ 16");
    let (k, parts) = text.split_once(':').ok_or_else(bad)?;
    let k: usize = k.trim().parse().map_err(|_| bad())?;
    let parts = parts
        .split(',')
        .map(|p| {
            let p = p.trim();
            if p.len() != 16 {
                return Err(bad());
            }
            let mut out = [0u8; 8];
            for (i, o) in out.iter_mut().enumerate() {
                *o = u8::from_str_radix(&p[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
            }
            Ok(out)
        })
        .collect::<Result<Vec<_>>>()?;
    if k == 0 || k > parts.len() || parts.len() > 16 {
        return Err(bad());
    }
    Ok((k, parts))
}
