//! `licet server downloads …`: Downloads: files licensees may fetch.

use anyhow::{Context, Result};
use clap::Subcommand;

use licet_api::requests::RegisterDownload;

use super::{Payload, Request, Shape, encode};

#[derive(Debug, Subcommand)]
pub(super) enum Downloads {
    /// List downloads.
    List {
        #[arg(long)]
        product: Option<String>,
    },
    /// Upload a local file into the server's downloads folder and register it.
    Upload {
        #[arg(long)]
        product: String,
        /// The name clients ask for (`resource_name`).
        #[arg(long)]
        name: String,
        /// Path to store it at inside the downloads folder [default: the file's name].
        #[arg(long = "as")]
        store_as: Option<String>,
        /// The local file.
        path: std::path::PathBuf,
    },
    /// Register a file already in the server's `<data>/downloads/` folder.
    Register {
        #[arg(long)]
        product: String,
        #[arg(long)]
        name: String,
        /// Path relative to the downloads folder.
        #[arg(long)]
        file: String,
    },
    /// Unregister a download (the file stays).
    Delete { id: u64 },
}

/// The request of a command.
pub(super) fn request(d: Downloads) -> Result<Request> {
    Ok(match d {
        Downloads::List { product } => (
            "GET",
            match product {
                Some(p) => format!("/v1/downloads?product_id={}", encode(&p)),
                None => "/v1/downloads".into(),
            },
            Payload::None,
            Shape::List(&["id", "product_id", "name", "file", "size", "sha256"]),
        ),
        Downloads::Upload {
            product,
            name,
            store_as,
            path,
        } => {
            let file = match store_as {
                Some(f) => f,
                None => path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .context("the file has no name; give --as")?,
            };
            (
                "POST",
                format!(
                    "/v1/downloads/upload?product_id={}&name={}&file={}",
                    encode(&product),
                    encode(&name),
                    encode(&file)
                ),
                Payload::File(path),
                Shape::One,
            )
        }
        Downloads::Register {
            product,
            name,
            file,
        } => (
            "POST",
            "/v1/downloads".into(),
            Payload::of(&RegisterDownload {
                product_id: product,
                name,
                file,
            })?,
            Shape::One,
        ),
        Downloads::Delete { id } => (
            "DELETE",
            format!("/v1/downloads/{id}"),
            Payload::None,
            Shape::Done("unregistered"),
        ),
    })
}
