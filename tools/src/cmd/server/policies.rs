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
        /// Refuse activations without a device key.
        #[arg(long)]
        require_device_key: bool,
        /// Seconds an offline activation's lease lasts [default: the token lifetime].
        #[arg(long)]
        offline_lease: Option<u64>,
        /// Seconds an offline request may be old when it is answered [default: 7 days].
        #[arg(long)]
        offline_window: Option<u64>,
        /// Longest borrow of a floating seat, seconds [default: 0, off].
        #[arg(long, default_value_t = 0)]
        max_borrow: u64,
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
            require_device_key,
            offline_lease,
            offline_window,
            max_borrow,
        } => {
            let mut b = CreatePolicy::of(product, name);
            b.floating = floating;
            b.max_machines = max_machines;
            b.entitlements = entitlements;
            b.duration = days.map(|d| d * 86_400);
            b.require_device_key = require_device_key;
            b.offline_lease = offline_lease;
            b.max_borrow = max_borrow;
            if let Some(w) = offline_window {
                b.offline_window = w;
            }
            ("POST", "/v1/policies".into(), Payload::of(&b)?, Shape::One)
        }
    })
}
