//! `licet server …`: manage a licet-server over its native API (`LICET_URL`, `LICET_API_KEY`).
//!
//! Exit codes: 0 success, 1 the server refused the request (its error code is printed), 2 usage,
//! connection or I/O error.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::io;

mod api_keys;
mod customers;
mod downloads;
mod keys;
mod licensecm_admins;
mod licenses;
mod machines;
mod offline;
mod policies;
mod prices;
mod products;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Base URL of the server.
    #[arg(
        long,
        env = "LICET_URL",
        default_value = "http://127.0.0.1:47293",
        global = true
    )]
    url: String,
    /// API key (`lk_…`).
    #[arg(long, env = "LICET_API_KEY", hide_env_values = true, global = true)]
    api_key: Option<String>,
    /// Print the server's JSON answers.
    #[arg(long, global = true)]
    json: bool,
    /// The certificate authorities (PEM file) the server's TLS certificate must chain to,
    /// instead of the system's roots.
    #[arg(long, env = "LICET_CA_CERT", global = true)]
    ca_cert: Option<std::path::PathBuf>,
    #[command(subcommand)]
    what: What,
}

use api_keys::ApiKeys;
use customers::Customers;
use downloads::Downloads;
use keys::Keys;
use licensecm_admins::LicensecmAdmins;
use licenses::Licenses;
use machines::Machines;
use offline::Offline;
use policies::Policies;
use prices::Prices;
use products::Products;

#[derive(Debug, Subcommand)]
enum What {
    /// Products.
    #[command(subcommand)]
    Products(Products),
    /// Policies (how licenses may be used).
    #[command(subcommand)]
    Policies(Policies),
    /// Licenses.
    #[command(subcommand)]
    Licenses(Licenses),
    /// Activated machines.
    #[command(subcommand)]
    Machines(Machines),
    /// API keys.
    #[command(subcommand, name = "api-keys")]
    ApiKeys(ApiKeys),
    /// The server's signing keys: list, rotate.
    #[command(subcommand)]
    Keys(Keys),
    /// Prices of products (WemX's `price_id`).
    #[command(subcommand)]
    Prices(Prices),
    /// Customers and their orders.
    #[command(subcommand)]
    Customers(Customers),
    /// Files licensees may download (WemX downloads).
    #[command(subcommand)]
    Downloads(Downloads),
    /// LicenseCM admins, made by the operator (nobody becomes one by registering).
    #[command(subcommand, name = "licensecm-admins")]
    LicensecmAdmins(LicensecmAdmins),
    /// Air-gapped activation: answer requests, take receipts.
    #[command(subcommand)]
    Offline(Offline),
}

/// The compatibility families a product may answer through.
const FAMILIES: [&str; 4] = ["faxstore", "wemx", "verify", "licensecm"];

/// The change `--enable` and `--disable` name; `None` if neither.
fn families(
    enable: &[String],
    disable: &[String],
) -> Result<Option<licet_api::requests::FamiliesChange>> {
    if let Some(f) = enable.iter().find(|f| disable.contains(f)) {
        bail!("--enable and --disable both name {f}");
    }
    let mut c = licet_api::requests::FamiliesChange::default();
    for (names, on) in [(enable, true), (disable, false)] {
        for f in names {
            let slot = match f.as_str() {
                "faxstore" => &mut c.faxstore,
                "wemx" => &mut c.wemx,
                "verify" => &mut c.verify,
                "licensecm" => &mut c.licensecm,
                other => bail!("no family {other:?}"),
            };
            *slot = Some(on);
        }
    }
    Ok((!c.is_empty()).then_some(c))
}

/// What a command asks of the server: method, path, body, and how to print the answer.
type Request = (&'static str, String, Payload, Shape);

struct Client {
    agent: ureq::Agent,
    url: String,
    key: Option<String>,
}

enum Answer {
    Ok(Value),
    Refused(Value),
}

/// What a request carries.
enum Payload {
    None,
    Json(Value),
    /// A local file, streamed.
    File(std::path::PathBuf),
}

impl Payload {
    /// A request type of the API (`licet_api::requests`), as JSON.
    fn of<T: serde::Serialize>(body: &T) -> Result<Payload> {
        Ok(Payload::Json(serde_json::to_value(body)?))
    }
}

/// A value of one of the API's enums from its name on the command line (clap has checked it
/// against the names already).
fn named<T: serde::de::DeserializeOwned>(flag: &str, name: &str) -> Result<T> {
    serde_json::from_value(Value::from(name)).with_context(|| format!("{flag}: {name:?}"))
}

impl Client {
    /// A product's id from its id or its code: ids (`prd_…`) pass as they are; a code is
    /// looked up among the products this key sees.
    fn product_id(&self, given: &str) -> Result<String> {
        if given.starts_with("prd_") {
            return Ok(given.to_owned());
        }
        let v = match self.call("GET", "/v1/products", Payload::None)? {
            Answer::Ok(v) => v,
            Answer::Refused(v) => bail!(
                "looking up product {given:?}: refused: {}",
                v["error"]["code"].as_str().unwrap_or("unknown")
            ),
        };
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["code"] == given)
            .and_then(|p| p["id"].as_str())
            .map(str::to_owned)
            .with_context(|| format!("no product with the code or id {given:?}"))
    }

    fn call(&self, method: &str, path: &str, body: Payload) -> Result<Answer> {
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(key) = &self.key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let resp = match body {
            Payload::Json(b) => self.agent.run(
                req.header("content-type", "application/json")
                    .body(serde_json::to_vec(&b)?)?,
            ),
            Payload::File(p) => {
                let f = std::fs::File::open(&p)
                    .with_context(|| format!("{}: cannot open", p.display()))?;
                let len = f.metadata()?.len();
                self.agent.run(
                    req.header("content-type", "application/octet-stream")
                        .header("content-length", len.to_string())
                        .body(ureq::SendBody::from_owned_reader(f))?,
                )
            }
            Payload::None => self.agent.run(req.body(())?),
        };
        let mut resp = resp.with_context(|| format!("{url}: cannot reach the server"))?;
        let status = resp.status();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let v: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(json!({ "raw": text }))
        };
        if status.is_success() {
            Ok(Answer::Ok(v))
        } else if status.is_client_error() {
            Ok(Answer::Refused(v))
        } else {
            bail!(
                "{url}: server error {status}: {}",
                v["error"]["message"].as_str().unwrap_or("no detail")
            )
        }
    }
}

pub fn run(a: ServerArgs) -> Result<ExitCode> {
    // The published keys are public: listing and exporting them needs no API key.
    let public = matches!(a.what, What::Keys(Keys::List | Keys::Export { .. }));
    let key = match (a.api_key.clone(), public) {
        (Some(k), _) => Some(k),
        (None, true) => None,
        (None, false) => bail!("--api-key or LICET_API_KEY: required"),
    };
    let client = Client {
        agent: crate::cmd::client::agent(&a.url, a.ca_cert.as_deref(), Duration::from_secs(30))?,
        url: a.url.clone(),
        key,
    };
    if let What::Keys(Keys::Export { kid, out, pem }) = &a.what {
        let (method, path, body, _) = keys::request(Keys::Export {
            kid: kid.clone(),
            out: out.clone(),
            pem: *pem,
        })?;
        let v = match client.call(method, &path, body)? {
            Answer::Ok(v) => v,
            Answer::Refused(v) => return finish_refusal(&v, a.json),
        };
        let pem = keys::pem_of(&v, kid.as_deref())?;
        match out {
            Some(p) => {
                io::write_atomic(p, pem.as_bytes())?;
                eprintln!("wrote {}", p.display());
            }
            None => io::print(&pem)?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut what = a.what;
    for p in product_args(&mut what) {
        *p = client.product_id(p)?;
    }
    let (method, path, body, shape) = match what {
        What::Products(p) => products::request(p)?,
        What::LicensecmAdmins(a) => licensecm_admins::request(a)?,
        What::Policies(p) => policies::request(p)?,
        What::Licenses(l) => licenses::request(l)?,
        What::Machines(m) => machines::request(m)?,
        What::ApiKeys(k) => api_keys::request(k)?,
        What::Keys(k) => keys::request(k)?,
        What::Prices(p) => prices::request(p)?,
        What::Customers(c) => customers::request(c)?,
        What::Downloads(d) => downloads::request(d)?,
        What::Offline(o) => match offline::request(o)? {
            ((method, path, body, _), Some(out)) => {
                return respond(&client, method, &path, body, out, a.json);
            }
            (r, None) => r,
        },
    };
    finish(&client, method, &path, body, &shape, a.json)
}

/// The arguments of a command that name a product: each takes the product's code or its id.
fn product_args(what: &mut What) -> Vec<&mut String> {
    match what {
        What::Licenses(Licenses::List {
            product: Some(p), ..
        })
        | What::Policies(Policies::List { product: Some(p) })
        | What::Policies(Policies::Create { product: p, .. })
        | What::Prices(Prices::List { product: p })
        | What::Prices(Prices::Create { product: p, .. })
        | What::Downloads(Downloads::List { product: Some(p) })
        | What::Downloads(Downloads::Upload { product: p, .. })
        | What::Downloads(Downloads::Register { product: p, .. })
        | What::ApiKeys(ApiKeys::Create {
            product: Some(p), ..
        }) => vec![p],
        What::Licenses(Licenses::Create {
            product,
            extra_products,
            ..
        }) => std::iter::once(product).chain(extra_products).collect(),
        What::LicensecmAdmins(
            LicensecmAdmins::Create { products, .. } | LicensecmAdmins::Grant { products, .. },
        ) => products.iter_mut().collect(),
        _ => Vec::new(),
    }
}

/// An offline activation: the response to `out` (or standard output), what was done to
/// standard error.
fn respond(
    client: &Client,
    method: &str,
    path: &str,
    body: Payload,
    out: Option<std::path::PathBuf>,
    json: bool,
) -> Result<ExitCode> {
    let v = match client.call(method, path, body)? {
        Answer::Ok(v) => v,
        Answer::Refused(v) => {
            return finish_refusal(&v, json);
        }
    };
    let response = v["response"].as_str().unwrap_or_default();
    match &out {
        Some(p) => io::write_atomic(p, response.as_bytes())?,
        None => io::print(response)?,
    }
    eprintln!(
        "{} machine {}, token {}, lease until {}",
        if v["repeated"].as_bool() == Some(true) {
            "answered again (no second seat):"
        } else {
            "activated:"
        },
        v["machine_id"].as_str().unwrap_or("-"),
        v["token_id"].as_str().unwrap_or("-"),
        crate::time::display(v["lease_until"].as_i64().unwrap_or(0)),
    );
    Ok(ExitCode::SUCCESS)
}

fn finish_refusal(v: &Value, json: bool) -> Result<ExitCode> {
    if json {
        io::print(&(serde_json::to_string_pretty(v)? + "\n"))?;
    } else {
        io::print(&format!(
            "refused: {} ({})\n",
            v["error"]["code"].as_str().unwrap_or("unknown"),
            v["error"]["message"].as_str().unwrap_or("")
        ))?;
    }
    Ok(ExitCode::from(1))
}

/// Sends the request and prints the answer; the exit code says who failed.
fn finish(
    client: &Client,
    method: &str,
    path: &str,
    body: Payload,
    shape: &Shape,
    json: bool,
) -> Result<ExitCode> {
    match client.call(method, path, body)? {
        Answer::Ok(v) => {
            io::print(&render(&v, shape, json))?;
            Ok(ExitCode::SUCCESS)
        }
        Answer::Refused(v) => finish_refusal(&v, json),
    }
}

enum Shape {
    One,
    List(&'static [&'static str]),
    /// A list under another member than `items`.
    ListIn(&'static str, &'static [&'static str]),
    Bulk,
    Done(&'static str),
}

/// A query-string value, percent-encoded.
fn encode(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a field of the API's answers holds a time (unix seconds in JSON, RFC 3339 here).
fn is_time(field: &str) -> bool {
    field.ends_with("_at")
        || field.ends_with("_until")
        || matches!(
            field,
            "valid_from" | "last_seen" | "last_heartbeat" | "time" | "expires" | "not_before"
        )
}

/// A field's value for people: times as RFC 3339, a PEM key as its one base64 line.
fn shown(field: &str, v: &Value) -> String {
    match v {
        Value::Number(n) if is_time(field) => {
            n.as_i64().map_or_else(|| cell(v), crate::time::display)
        }
        _ => cell(v),
    }
}

/// A list row's cell: `public_key` is read from the PEM, on one line.
fn column(item: &Value, col: &str) -> String {
    if col == "public_key" {
        let pem = item["public_key_pem"].as_str().unwrap_or_default();
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        return if body.is_empty() { "-".into() } else { body };
    }
    shown(col, &item[col])
}

fn render(v: &Value, shape: &Shape, json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    }
    match shape {
        Shape::One => match v.as_object() {
            Some(o) => o
                .iter()
                .map(|(k, v)| format!("{k}: {}\n", shown(k, v)))
                .collect(),
            None => format!("{}\n", cell(v)),
        },
        Shape::List(cols) => render(v, &Shape::ListIn("items", cols), false),
        Shape::ListIn(member, cols) => {
            let mut out = cols.join("\t") + "\n";
            for item in v[*member].as_array().into_iter().flatten() {
                out += &cols
                    .iter()
                    .map(|c| column(item, c))
                    .collect::<Vec<_>>()
                    .join("\t");
                out.push('\n');
            }
            out
        }
        Shape::Bulk => {
            let mut out = format!("created {}\n", cell(&v["created"]));
            for item in v["items"].as_array().into_iter().flatten() {
                out += &format!("{}\t{}\n", cell(&item["id"]), cell(&item["key"]));
            }
            out
        }
        Shape::Done(what) => format!("{what}\n"),
    }
}
