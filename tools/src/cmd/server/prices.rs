//! `licet server prices …`: Prices of products.

use anyhow::Result;
use clap::Subcommand;

use licet_api::requests::NewPrice;

use super::{Payload, Request, Shape, named};

#[derive(Debug, Subcommand)]
pub(super) enum Prices {
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

/// The request of a command.
pub(super) fn request(p: Prices) -> Result<Request> {
    Ok(match p {
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
            let b = NewPrice {
                name,
                kind: named("--kind", &kind)?,
                period_days,
                amount,
                currency,
                id,
            };
            (
                "POST",
                format!("/v1/products/{product}/prices"),
                Payload::of(&b)?,
                Shape::One,
            )
        }
        Prices::Delete { id } => (
            "DELETE",
            format!("/v1/prices/{id}"),
            Payload::None,
            Shape::Done("deleted"),
        ),
    })
}
