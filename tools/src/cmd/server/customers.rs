//! `licet server customers …`: Customers and their orders.

use anyhow::Result;
use clap::Subcommand;

use super::{Payload, Request, Shape, encode};

#[derive(Debug, Subcommand)]
pub(super) enum Customers {
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

/// The request of a command.
pub(super) fn request(c: Customers) -> Result<Request> {
    Ok(match c {
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
    })
}
