//! `licet server products …`: Products and the compatibility families they answer through.

use anyhow::{Result, bail};
use clap::Subcommand;

use licet_api::requests::{CreateProduct, UpdateProduct};

use super::{FAMILIES, Payload, Request, Shape, families};

#[derive(Debug, Subcommand)]
pub(super) enum Products {
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

/// The request of a command.
pub(super) fn request(p: Products) -> Result<Request> {
    Ok(match p {
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
            let mut b = CreateProduct::of(code, name);
            b.compat = families(&enable, &disable)?;
            b.numeric_id = numeric_id;
            b.key_format = key_format.unwrap_or(b.key_format);
            b.key_prefix = key_prefix.unwrap_or(b.key_prefix);
            b.token_lifetime = token_lifetime.unwrap_or(b.token_lifetime);
            ("POST", "/v1/products".into(), Payload::of(&b)?, Shape::One)
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
                Payload::of(&UpdateProduct {
                    compat: Some(change),
                    ..UpdateProduct::default()
                })?,
                Shape::One,
            )
        }
    })
}
