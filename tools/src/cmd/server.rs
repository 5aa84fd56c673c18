//! `licet server …`: manage a licet-server over its native API (`LICET_URL`, `LICET_API_KEY`).
//!
//! Exit codes: 0 success, 1 the server refused the request (its error code is printed), 2 usage,
//! connection or I/O error.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::{io, time};

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
    #[command(subcommand)]
    what: What,
}

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
}

/// The compatibility families a product may answer through.
const FAMILIES: [&str; 4] = ["faxstore", "wemx", "verify", "licensecm"];

#[derive(Debug, Subcommand)]
enum LicensecmAdmins {
    /// List LicenseCM admins and the operator products granted to them.
    List,
    /// Make a LicenseCM admin (or promote an existing user). The server makes the password and
    /// shows it once; it is never taken on the command line.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Grant an operator product (made through `/v1`); repeatable.
        #[arg(long = "product")]
        products: Vec<String>,
    },
    /// Replace the operator products granted to an admin (none: `--product` not given).
    Grant {
        id: String,
        #[arg(long = "product")]
        products: Vec<String>,
    },
    /// Demote an admin to a plain user (their grants go with it).
    Demote { id: String },
}

#[derive(Debug, Subcommand)]
enum Prices {
    /// List a product's prices.
    List { product: String },
    /// Create a price.
    Create {
        #[arg(long)]
        product: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["single", "recurring", "free"])]
        kind: String,
        /// Days between due dates (recurring prices).
        #[arg(long)]
        period_days: Option<u32>,
        /// Amount in the smallest currency unit.
        #[arg(long, default_value_t = 0)]
        amount: u64,
        /// ISO 4217 code [default: USD].
        #[arg(long)]
        currency: Option<String>,
        /// Keep the id clients of another system already use [default: next free].
        #[arg(long)]
        id: Option<u64>,
    },
    /// Delete a price no order uses.
    Delete { id: u64 },
}

#[derive(Debug, Subcommand)]
enum Customers {
    /// List customers (or find one by e-mail).
    List {
        #[arg(long)]
        email: Option<String>,
    },
    /// Show a customer with their orders and license keys.
    Show { id: u64 },
    /// Give a customer a new random password (shown once).
    Password { id: u64 },
}

#[derive(Debug, Subcommand)]
enum Downloads {
    /// List downloads.
    List {
        #[arg(long)]
        product: Option<String>,
    },
    /// Upload a local file into the server's downloads folder and register it.
    Upload {
        #[arg(long)]
        product: String,
        /// The name clients ask for (`resource_name`).
        #[arg(long)]
        name: String,
        /// Path to store it at inside the downloads folder [default: the file's name].
        #[arg(long = "as")]
        store_as: Option<String>,
        /// The local file.
        path: std::path::PathBuf,
    },
    /// Register a file already in the server's `<data>/downloads/` folder.
    Register {
        #[arg(long)]
        product: String,
        #[arg(long)]
        name: String,
        /// Path relative to the downloads folder.
        #[arg(long)]
        file: String,
    },
    /// Unregister a download (the file stays).
    Delete { id: u64 },
}

#[derive(Debug, Subcommand)]
enum Products {
    /// List products.
    List,
    /// Show one product.
    Show { id: String },
    /// Create a product.
    Create {
        /// Identifier written into tokens (`acme-pro`).
        #[arg(long)]
        code: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// License key format (`X` = random character, `h` = random hex digit).
        #[arg(long)]
        key_format: Option<String>,
        /// License key prefix.
        #[arg(long)]
        key_prefix: Option<String>,
        /// Longest token lifetime, seconds.
        #[arg(long)]
        token_lifetime: Option<u64>,
        /// The product's number in FaxStore / WemX requests (keep the one clients already use)
        /// [default: next free].
        #[arg(long)]
        numeric_id: Option<u64>,
        /// Compatibility families to switch on (faxstore, wemx, verify, licensecm)
        /// [default: faxstore, wemx and verify].
        #[arg(long, value_delimiter = ',', value_parser = FAMILIES)]
        enable: Vec<String>,
        /// Compatibility families to switch off.
        #[arg(long, value_delimiter = ',', value_parser = FAMILIES)]
        disable: Vec<String>,
    },
    /// Switch the compatibility families a product answers through.
    Families {
        id: String,
        #[arg(long, value_delimiter = ',', value_parser = FAMILIES)]
        enable: Vec<String>,
        #[arg(long, value_delimiter = ',', value_parser = FAMILIES)]
        disable: Vec<String>,
    },
}

/// `{"wemx": true, "licensecm": false}` from `--enable` and `--disable`; `None` if neither.
fn families(enable: &[String], disable: &[String]) -> Result<Option<Value>> {
    if let Some(f) = enable.iter().find(|f| disable.contains(f)) {
        bail!("--enable and --disable both name {f}");
    }
    let mut v = json!({});
    for f in enable {
        v[f.as_str()] = json!(true);
    }
    for f in disable {
        v[f.as_str()] = json!(false);
    }
    Ok((!enable.is_empty() || !disable.is_empty()).then_some(v))
}

#[derive(Debug, Subcommand)]
enum Policies {
    /// List policies.
    List {
        #[arg(long)]
        product: Option<String>,
    },
    /// Create a policy (the first of a product becomes its default).
    Create {
        #[arg(long)]
        product: String,
        #[arg(long)]
        name: String,
        /// Floating seats (freed when heartbeats stop).
        #[arg(long)]
        floating: bool,
        #[arg(long, default_value_t = 1)]
        max_machines: u32,
        /// License duration, days.
        #[arg(long)]
        days: Option<u64>,
        /// Entitlement; repeatable.
        #[arg(long = "entitlement")]
        entitlements: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum Licenses {
    /// List licenses.
    List {
        #[arg(long)]
        product: Option<String>,
        #[arg(long)]
        status: Option<String>,
    },
    /// Show one license.
    Show { id: String },
    /// Create one license (or `--count N`).
    Create {
        #[arg(long)]
        product: String,
        #[arg(long)]
        policy: Option<String>,
        #[arg(long, value_parser = ["trial", "subscription", "lifetime"])]
        kind: Option<String>,
        /// Expiry (unix seconds, YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        expires: Option<String>,
        #[arg(long)]
        seats: Option<u32>,
        #[arg(long = "domain")]
        domains: Vec<String>,
        #[arg(long = "entitlement")]
        entitlements: Vec<String>,
        /// The one IP address the license may be used from (FaxStore checks).
        #[arg(long)]
        ip: Option<String>,
        /// Import this key instead of making one (moving from another system).
        #[arg(long)]
        key: Option<String>,
        /// A further product the license covers (WemX packages); repeatable.
        #[arg(long = "extra-product")]
        extra_products: Vec<String>,
        /// Create this many (bulk).
        #[arg(long)]
        count: Option<usize>,
    },
    /// Register a domain on a license before it is installed there.
    AddDomain {
        id: String,
        domain: String,
        #[arg(long = "type", value_parser = ["production", "development"])]
        domain_type: Option<String>,
    },
    /// Suspend a license.
    Suspend { id: String },
    /// Reinstate a suspended license.
    Reinstate { id: String },
    /// Revoke a license (final; published in the revocation list).
    Revoke { id: String },
    /// Renew a license by its policy's duration, or by `--days`.
    Renew {
        id: String,
        #[arg(long)]
        days: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
enum Machines {
    /// List the machines of a license.
    List { license: String },
    /// Show one machine.
    Show { id: String },
    /// Deactivate a machine (frees its seat).
    Deactivate { id: String },
}

#[derive(Debug, Subcommand)]
enum Keys {
    /// List API keys.
    List,
    /// Create an API key (shown once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["read_only", "read_write", "admin"])]
        scope: String,
        /// Limit the key to one product.
        #[arg(long)]
        product: Option<String>,
        #[arg(long)]
        daily_quota: Option<u64>,
    },
    /// Revoke an API key.
    Revoke { id: String },
    /// Replace an API key with a new one (the old one is revoked).
    Rotate { id: String },
}

struct Client {
    agent: ureq::Agent,
    url: String,
    key: String,
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

impl Client {
    fn call(&self, method: &str, path: &str, body: Payload) -> Result<Answer> {
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("authorization", format!("Bearer {}", self.key));
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
    let key = a
        .api_key
        .clone()
        .context("--api-key or LICET_API_KEY: required")?;
    let client = Client {
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into(),
        url: a.url.clone(),
        key,
    };
    let (method, path, body, shape): (&str, String, Payload, Shape) = match a.what {
        What::Products(p) => match p {
            Products::List => (
                "GET",
                "/v1/products".into(),
                Payload::None,
                Shape::List(&["id", "code", "name", "numeric_id"]),
            ),
            Products::Show { id } => (
                "GET",
                format!("/v1/products/{id}"),
                Payload::None,
                Shape::One,
            ),
            Products::Create {
                code,
                name,
                key_format,
                key_prefix,
                token_lifetime,
                numeric_id,
                enable,
                disable,
            } => {
                let mut b = json!({ "code": code, "name": name });
                put(&mut b, "compat", families(&enable, &disable)?);
                put(&mut b, "numeric_id", numeric_id.map(Value::from));
                put(&mut b, "key_format", key_format.map(Value::from));
                put(&mut b, "key_prefix", key_prefix.map(Value::from));
                put(&mut b, "token_lifetime", token_lifetime.map(Value::from));
                ("POST", "/v1/products".into(), Payload::Json(b), Shape::One)
            }
            Products::Families {
                id,
                enable,
                disable,
            } => {
                let Some(change) = families(&enable, &disable)? else {
                    bail!("--enable or --disable: at least one family");
                };
                (
                    "PATCH",
                    format!("/v1/products/{id}"),
                    Payload::Json(json!({ "compat": change })),
                    Shape::One,
                )
            }
        },
        What::LicensecmAdmins(a) => match a {
            LicensecmAdmins::List => (
                "GET",
                "/v1/licensecm/admins".into(),
                Payload::None,
                Shape::List(&["id", "email", "is_active", "granted_products"]),
            ),
            LicensecmAdmins::Create {
                email,
                display_name,
                products,
            } => {
                let mut b = json!({ "email": email, "products": products });
                put(&mut b, "display_name", display_name.map(Value::from));
                (
                    "POST",
                    "/v1/licensecm/admins".into(),
                    Payload::Json(b),
                    Shape::One,
                )
            }
            LicensecmAdmins::Grant { id, products } => (
                "PATCH",
                format!("/v1/licensecm/admins/{id}"),
                Payload::Json(json!({ "products": products })),
                Shape::One,
            ),
            LicensecmAdmins::Demote { id } => (
                "PATCH",
                format!("/v1/licensecm/admins/{id}"),
                Payload::Json(json!({ "role": "user" })),
                Shape::One,
            ),
        },
        What::Policies(p) => match p {
            Policies::List { product } => {
                let q = product
                    .map(|p| format!("?product_id={p}"))
                    .unwrap_or_default();
                (
                    "GET",
                    format!("/v1/policies{q}"),
                    Payload::None,
                    Shape::List(&["id", "product_id", "name", "floating", "max_machines"]),
                )
            }
            Policies::Create {
                product,
                name,
                floating,
                max_machines,
                days,
                entitlements,
            } => {
                let mut b = json!({ "product_id": product, "name": name, "floating": floating, "max_machines": max_machines, "entitlements": entitlements });
                put(&mut b, "duration", days.map(|d| Value::from(d * 86_400)));
                ("POST", "/v1/policies".into(), Payload::Json(b), Shape::One)
            }
        },
        What::Licenses(l) => match l {
            Licenses::List { product, status } => {
                let mut q = vec!["limit=100".to_owned()];
                q.extend(product.map(|p| format!("product_id={p}")));
                q.extend(status.map(|s| format!("status={s}")));
                (
                    "GET",
                    format!("/v1/licenses?{}", q.join("&")),
                    Payload::None,
                    Shape::List(&["id", "key", "status", "kind", "expires_at"]),
                )
            }
            Licenses::Show { id } => (
                "GET",
                format!("/v1/licenses/{id}"),
                Payload::None,
                Shape::One,
            ),
            Licenses::Create {
                product,
                policy,
                kind,
                expires,
                seats,
                domains,
                entitlements,
                ip,
                key,
                extra_products,
                count,
            } => {
                let mut b = json!({ "product_id": product, "domains": domains, "entitlements": entitlements, "extra_products": extra_products });
                put(&mut b, "key", key.map(Value::from));
                put(&mut b, "policy_id", policy.map(Value::from));
                put(&mut b, "kind", kind.map(Value::from));
                put(&mut b, "seats", seats.map(Value::from));
                put(&mut b, "ip", ip.map(Value::from));
                if let Some(e) = expires {
                    b["expires_at"] = json!(time::parse("--expires", &e)?);
                }
                match count {
                    Some(n) => (
                        "POST",
                        "/v1/licenses/bulk".into(),
                        Payload::Json(json!({ "count": n, "license": b })),
                        Shape::Bulk,
                    ),
                    None => ("POST", "/v1/licenses".into(), Payload::Json(b), Shape::One),
                }
            }
            Licenses::Suspend { id } => (
                "POST",
                format!("/v1/licenses/{id}/suspend"),
                Payload::None,
                Shape::One,
            ),
            Licenses::Reinstate { id } => (
                "POST",
                format!("/v1/licenses/{id}/reinstate"),
                Payload::None,
                Shape::One,
            ),
            Licenses::Revoke { id } => (
                "POST",
                format!("/v1/licenses/{id}/revoke"),
                Payload::None,
                Shape::One,
            ),
            Licenses::Renew { id, days } => {
                let body = days.map_or(Payload::None, |d| {
                    Payload::Json(json!({ "duration": d * 86_400 }))
                });
                ("POST", format!("/v1/licenses/{id}/renew"), body, Shape::One)
            }
            Licenses::AddDomain {
                id,
                domain,
                domain_type,
            } => {
                let mut b = json!({ "domain": domain });
                put(&mut b, "type", domain_type.map(Value::from));
                (
                    "POST",
                    format!("/v1/licenses/{id}/domains"),
                    Payload::Json(b),
                    Shape::One,
                )
            }
        },
        What::Machines(m) => match m {
            Machines::List { license } => (
                "GET",
                format!("/v1/licenses/{license}/machines"),
                Payload::None,
                Shape::List(&["id", "fingerprint", "hostname", "last_heartbeat"]),
            ),
            Machines::Show { id } => (
                "GET",
                format!("/v1/machines/{id}"),
                Payload::None,
                Shape::One,
            ),
            Machines::Deactivate { id } => (
                "DELETE",
                format!("/v1/machines/{id}"),
                Payload::None,
                Shape::Done("deactivated"),
            ),
        },
        What::Keys(k) => match k {
            Keys::List => (
                "GET",
                "/v1/api-keys".into(),
                Payload::None,
                Shape::List(&["id", "name", "scope", "product_id", "revoked_at"]),
            ),
            Keys::Create {
                name,
                scope,
                product,
                daily_quota,
            } => {
                let mut b = json!({ "name": name, "scope": scope });
                put(&mut b, "product_id", product.map(Value::from));
                put(&mut b, "daily_quota", daily_quota.map(Value::from));
                ("POST", "/v1/api-keys".into(), Payload::Json(b), Shape::One)
            }
            Keys::Revoke { id } => (
                "DELETE",
                format!("/v1/api-keys/{id}"),
                Payload::None,
                Shape::Done("revoked"),
            ),
            Keys::Rotate { id } => (
                "POST",
                format!("/v1/api-keys/{id}/rotate"),
                Payload::None,
                Shape::One,
            ),
        },
        What::Prices(p) => match p {
            Prices::List { product } => (
                "GET",
                format!("/v1/products/{product}/prices"),
                Payload::None,
                Shape::List(&["id", "name", "kind", "period_days", "amount", "currency"]),
            ),
            Prices::Create {
                product,
                name,
                kind,
                period_days,
                amount,
                currency,
                id,
            } => {
                let mut b = json!({ "name": name, "kind": kind, "amount": amount });
                put(&mut b, "period_days", period_days.map(Value::from));
                put(&mut b, "currency", currency.map(Value::from));
                put(&mut b, "id", id.map(Value::from));
                (
                    "POST",
                    format!("/v1/products/{product}/prices"),
                    Payload::Json(b),
                    Shape::One,
                )
            }
            Prices::Delete { id } => (
                "DELETE",
                format!("/v1/prices/{id}"),
                Payload::None,
                Shape::Done("deleted"),
            ),
        },
        What::Customers(c) => match c {
            Customers::List { email } => (
                "GET",
                match email {
                    Some(e) => format!("/v1/customers?email={}", encode(&e)),
                    None => "/v1/customers?limit=100".into(),
                },
                Payload::None,
                Shape::List(&["id", "email", "created_at"]),
            ),
            Customers::Show { id } => (
                "GET",
                format!("/v1/customers/{id}"),
                Payload::None,
                Shape::One,
            ),
            Customers::Password { id } => (
                "POST",
                format!("/v1/customers/{id}/password"),
                Payload::None,
                Shape::One,
            ),
        },
        What::Downloads(d) => match d {
            Downloads::List { product } => (
                "GET",
                match product {
                    Some(p) => format!("/v1/downloads?product_id={}", encode(&p)),
                    None => "/v1/downloads".into(),
                },
                Payload::None,
                Shape::List(&["id", "product_id", "name", "file", "size", "sha256"]),
            ),
            Downloads::Upload {
                product,
                name,
                store_as,
                path,
            } => {
                let file = match store_as {
                    Some(f) => f,
                    None => path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .context("the file has no name; give --as")?,
                };
                return finish(
                    &client,
                    "POST",
                    &format!(
                        "/v1/downloads/upload?product_id={}&name={}&file={}",
                        encode(&product),
                        encode(&name),
                        encode(&file)
                    ),
                    Payload::File(path),
                    &Shape::One,
                    a.json,
                );
            }
            Downloads::Register {
                product,
                name,
                file,
            } => (
                "POST",
                "/v1/downloads".into(),
                Payload::Json(json!({ "product_id": product, "name": name, "file": file })),
                Shape::One,
            ),
            Downloads::Delete { id } => (
                "DELETE",
                format!("/v1/downloads/{id}"),
                Payload::None,
                Shape::Done("unregistered"),
            ),
        },
    };
    finish(&client, method, &path, body, &shape, a.json)
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
        Answer::Refused(v) => {
            if json {
                io::print(&(serde_json::to_string_pretty(&v)? + "\n"))?;
            } else {
                io::print(&format!(
                    "refused: {} ({})\n",
                    v["error"]["code"].as_str().unwrap_or("unknown"),
                    v["error"]["message"].as_str().unwrap_or("")
                ))?;
            }
            Ok(ExitCode::from(1))
        }
    }
}

enum Shape {
    One,
    List(&'static [&'static str]),
    Bulk,
    Done(&'static str),
}

/// A query-string value, percent-encoded.
fn encode(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

fn put(b: &mut Value, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        b[key] = v;
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render(v: &Value, shape: &Shape, json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    }
    match shape {
        Shape::One => match v.as_object() {
            Some(o) => o
                .iter()
                .map(|(k, v)| format!("{k}: {}\n", cell(v)))
                .collect(),
            None => format!("{}\n", cell(v)),
        },
        Shape::List(cols) => {
            let mut out = cols.join("\t") + "\n";
            for item in v["items"].as_array().into_iter().flatten() {
                out += &cols
                    .iter()
                    .map(|c| cell(&item[*c]))
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
