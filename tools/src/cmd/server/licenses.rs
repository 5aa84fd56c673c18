//! `licet server licenses …`: Licenses.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

use super::{Payload, Request, Shape, put};
use crate::time;

#[derive(Debug, Subcommand)]
pub(super) enum Licenses {
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

/// The request of a command.
pub(super) fn request(l: Licenses) -> Result<Request> {
    Ok(match l {
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
    })
}
