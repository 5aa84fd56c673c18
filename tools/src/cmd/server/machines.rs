//! `licet server machines …`: Activated machines.

use anyhow::Result;
use clap::Subcommand;

use super::{Payload, Request, Shape};

#[derive(Debug, Subcommand)]
pub(super) enum Machines {
    /// List the machines of a license.
    List { license: String },
    /// Show one machine.
    Show { id: String },
    /// Deactivate a machine (frees its seat).
    Deactivate { id: String },
}

/// The request of a command.
pub(super) fn request(m: Machines) -> Result<Request> {
    Ok(match m {
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
    })
}
