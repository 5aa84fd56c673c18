//! `licet server policies …`: Policies.

use anyhow::Result;
use clap::Subcommand;

use licet_api::requests::CreatePolicy;

use super::{Payload, Request, Shape};

#[derive(Debug, Subcommand)]
pub(super) enum Policies {
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

/// The request of a command.
pub(super) fn request(p: Policies) -> Result<Request> {
    Ok(match p {
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
            let mut b = CreatePolicy::of(product, name);
            b.floating = floating;
            b.max_machines = max_machines;
            b.entitlements = entitlements;
            b.duration = days.map(|d| d * 86_400);
            ("POST", "/v1/policies".into(), Payload::of(&b)?, Shape::One)
        }
    })
}
