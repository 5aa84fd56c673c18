//! Download files on disk: opening one a grant allows and streaming it. Shared by the native
//! API and WemX; no handlers.

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::http::error::{ApiError, ApiResult};
use crate::http::state::AppState;
use crate::model::Download;

/// The folder downloads are served from.
pub fn folder(s: &AppState) -> std::path::PathBuf {
    s.config.data.join("downloads")
}

/// A product's own folder: every product's files are kept apart, so a key can register only
/// files of its own product, which it could have uploaded itself (issue #12).
pub fn product_folder(s: &AppState, product_id: &str) -> std::path::PathBuf {
    folder(s).join(product_id)
}

/// Where a download's file is.
pub fn path_of(s: &AppState, d: &Download) -> std::path::PathBuf {
    if d.product_folder {
        product_folder(s, &d.product_id).join(&d.file)
    } else {
        folder(s).join(&d.file)
    }
}

/// A relative path inside the downloads folder: segments of letters, digits, `.`, `_` and `-`,
/// none of them `.` or `..`, at most 255 bytes. Nothing else can name a file outside it.
pub fn valid_file(file: &str) -> bool {
    !file.is_empty()
        && file.len() <= 255
        && file.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && !seg.starts_with(".upload-")
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// Opens a download's file for serving; a file that vanished is the server's fault (logged).
pub async fn open(s: &AppState, d: &Download) -> ApiResult<(tokio::fs::File, u64)> {
    if !valid_file(&d.file) {
        return Err(ApiError::internal(format!(
            "download {} has an invalid path",
            d.id
        )));
    }
    let path = path_of(s, d);
    let len = match tokio::fs::symlink_metadata(&path).await {
        Ok(m) if m.file_type().is_file() => m.len(),
        _ => {
            return Err(ApiError::internal(format!(
                "download {}: {} is missing",
                d.id,
                path.display()
            )));
        }
    };
    let f = tokio::fs::File::open(&path)
        .await
        .map_err(ApiError::internal)?;
    Ok((f, len))
}

/// Streams an opened file as an attachment.
pub fn stream((file, len): (tokio::fs::File, u64), d: &Download) -> Response {
    let name = d.file.rsplit('/').next().unwrap_or("download");
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    (
        [
            (header::CONTENT_TYPE, content_type(name).to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response()
}

fn content_type(name: &str) -> &'static str {
    match name
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("zip") => "application/zip",
        Some("gz" | "tgz") => "application/gzip",
        Some("tar") => "application/x-tar",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_folder() {
        assert!(valid_file("example.zip"));
        assert!(valid_file("v1/example-1.2.zip"));
        for bad in [
            "",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./x",
            "a\\b",
            "x y",
            ".upload-1",
        ] {
            assert!(!valid_file(bad), "{bad:?}");
        }
    }
}
