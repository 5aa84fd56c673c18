//! `licet server api-keys …`: API keys.

use anyhow::Result;
use clap::Subcommand;

use licet_api::requests::CreateApiKey;

use super::{Payload, Request, Shape, named};

#[derive(Debug, Subcommand)]
pub(super) enum ApiKeys {
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

/// The request of a command.
pub(super) fn request(k: ApiKeys) -> Result<Request> {
    Ok(match k {
        ApiKeys::List => (
            "GET",
            "/v1/api-keys".into(),
            Payload::None,
            Shape::List(&["id", "name", "scope", "product_id", "revoked_at"]),
        ),
        ApiKeys::Create {
            name,
            scope,
            product,
            daily_quota,
        } => {
            let b = CreateApiKey {
                name,
                scope: named("--scope", &scope)?,
                product_id: product,
                daily_quota,
            };
            ("POST", "/v1/api-keys".into(), Payload::of(&b)?, Shape::One)
        }
        ApiKeys::Revoke { id } => (
            "DELETE",
            format!("/v1/api-keys/{id}"),
            Payload::None,
            Shape::Done("revoked"),
        ),
        ApiKeys::Rotate { id } => (
            "POST",
            format!("/v1/api-keys/{id}/rotate"),
            Payload::None,
            Shape::One,
        ),
    })
}
