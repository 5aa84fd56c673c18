//! `licet server licenses …`: Licenses.

use anyhow::{Context, Result};
use clap::Subcommand;

use licet_api::requests::{BulkRequest, NewDomain, NewLicense, Renew};

use super::{Payload, Request, Shape, named};
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
            let mut b = NewLicense::of(product);
            b.policy_id = policy;
            if let Some(k) = kind {
                b.kind = named("--kind", &k)?;
            }
            b.expires_at = expires.map(|e| time::parse("--expires", &e)).transpose()?;
            b.seats = seats;
            b.domains = domains;
            b.entitlements = entitlements;
            b.ip = ip
                .map(|i| {
                    i.parse()
                        .with_context(|| format!("--ip: {i:?} is not an address"))
                })
                .transpose()?;
            b.key = key;
            b.extra_products = extra_products;
            match count {
                Some(count) => (
                    "POST",
                    "/v1/licenses/bulk".into(),
                    Payload::of(&BulkRequest { count, license: b })?,
                    Shape::Bulk,
                ),
                None => ("POST", "/v1/licenses".into(), Payload::of(&b)?, Shape::One),
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
            let body = match days {
                Some(d) => Payload::of(&Renew {
                    duration: Some(d * 86_400),
                })?,
                None => Payload::None,
            };
            ("POST", format!("/v1/licenses/{id}/renew"), body, Shape::One)
        }
        Licenses::AddDomain {
            id,
            domain,
            domain_type,
        } => {
            let b = NewDomain {
                domain,
                domain_type: domain_type.map(|t| named("--type", &t)).transpose()?,
            };
            (
                "POST",
                format!("/v1/licenses/{id}/domains"),
                Payload::of(&b)?,
                Shape::One,
            )
        }
    })
}
