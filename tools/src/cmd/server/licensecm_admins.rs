//! `licet server licensecm-admins …`: LicenseCM admins, made by the operator.

use anyhow::Result;
use clap::Subcommand;

use licet_api::requests::{AdminChange, NewAdmin};

use super::{Payload, Request, Shape};

#[derive(Debug, Subcommand)]
pub(super) enum LicensecmAdmins {
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

/// The request of a command.
pub(super) fn request(a: LicensecmAdmins) -> Result<Request> {
    Ok(match a {
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
            let b = NewAdmin {
                email,
                password: None,
                display_name,
                products,
            };
            (
                "POST",
                "/v1/licensecm/admins".into(),
                Payload::of(&b)?,
                Shape::One,
            )
        }
        LicensecmAdmins::Grant { id, products } => (
            "PATCH",
            format!("/v1/licensecm/admins/{id}"),
            Payload::of(&AdminChange {
                products: Some(products),
                ..AdminChange::default()
            })?,
            Shape::One,
        ),
        LicensecmAdmins::Demote { id } => (
            "PATCH",
            format!("/v1/licensecm/admins/{id}"),
            Payload::of(&AdminChange {
                role: Some(licet_api::Role::User),
                ..AdminChange::default()
            })?,
            Shape::One,
        ),
    })
}
