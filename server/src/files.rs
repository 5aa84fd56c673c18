//! Download files: opening one a grant allows and streaming it, and writing one. On sled the
//! files are in the data directory; on a store that keeps files (PostgreSQL, shared by several
//! instances) they are in the store, in chunks of [`CHUNK`] bytes, so that every instance
//! serves every file. Shared by the native API and WemX; no handlers.

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use licet_core::model::Download;
use licet_core::store::{Store, StoreError, StoreResult};

/// The folder downloads are served from.
pub fn folder(s: &AppState) -> std::path::PathBuf {
    s.config.data.join("downloads")
}

/// A product's own folder: every product's files are kept apart, so a key can register only
/// files of its own product, which it could have uploaded itself.
pub fn product_folder(s: &AppState, product_id: &str) -> std::path::PathBuf {
    folder(s).join(product_id)
}

/// Where a download's file is.
pub fn path_of(s: &AppState, d: &Download) -> std::path::PathBuf {
    path_in(&s.config.data, d)
}

/// Where a download's file is in the data directory `data`.
pub fn path_in(data: &std::path::Path, d: &Download) -> std::path::PathBuf {
    let folder = data.join("downloads");
    if d.product_folder {
        folder.join(d.product_id.as_str()).join(&d.file)
    } else {
        folder.join(&d.file)
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

/// Bytes per chunk of a file kept in the store: big enough that a file costs few round trips,
/// small enough that serving one holds little memory.
pub const CHUNK: usize = 256 * 1024;

/// A download's content, ready to stream.
#[derive(Debug)]
pub enum Content {
    /// A file of the data directory, and its length.
    Disk(tokio::fs::File, u64),
    /// A file the store keeps (its path within its product), of the size registered.
    Stored {
        product_id: String,
        file: String,
        size: u64,
    },
}

/// Opens a download's file for serving; a file that vanished is the server's fault (logged).
pub async fn open(s: &AppState, d: &Download) -> ApiResult<Content> {
    if !valid_file(&d.file) {
        return Err(ApiError::internal(format!(
            "download {} has an invalid path",
            d.id
        )));
    }
    if s.store.keeps_files() {
        if !s.store.has_file(&d.product_id, &d.file).await? {
            return Err(ApiError::internal(format!(
                "download {}: the store has no file {}",
                d.id, d.file
            )));
        }
        return Ok(Content::Stored {
            product_id: d.product_id.to_string(),
            file: d.file.clone(),
            size: d.size,
        });
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
    Ok(Content::Disk(f, len))
}

/// Streams opened content as an attachment. A stored file is read one chunk at a time, as the
/// client takes it.
pub fn stream(s: &AppState, content: Content, d: &Download) -> Response {
    let name = d.file.rsplit('/').next().unwrap_or("download");
    let (body, len) = match content {
        Content::Disk(file, len) => (
            Body::from_stream(tokio_util::io::ReaderStream::new(file)),
            len,
        ),
        Content::Stored {
            product_id,
            file,
            size,
        } => {
            let store = std::sync::Arc::clone(&s.store);
            let chunks = futures_util::stream::unfold(0u32, move |n| {
                let (store, product_id, file) = (store.clone(), product_id.clone(), file.clone());
                async move {
                    match store.file_chunk(&product_id, &file, n).await {
                        Ok(Some(bytes)) => Some((Ok(bytes), n + 1)),
                        Ok(None) => None,
                        // The answer has begun: all that is left is to cut it short, which the
                        // client sees as a body shorter than its length.
                        Err(e) => {
                            tracing::warn!(code = e.code(), file = %file, "reading a stored file failed");
                            Some((Err(std::io::Error::other(e.code())), u32::MAX))
                        }
                    }
                }
            });
            (Body::from_stream(chunks), size)
        }
    };
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

/// A file being written into the store: full chunks go out as they fill, the rest at
/// [`Upload::commit`], which makes it the product's file in one step.
#[derive(Debug)]
pub struct Upload {
    id: String,
    /// When it began (chunks of uploads that never finish are pruned by age).
    at: i64,
    next: u32,
    buf: Vec<u8>,
    size: u64,
    hash: sha2::Sha256,
}

impl Upload {
    /// An upload begun at `at`.
    pub fn new(at: i64) -> Upload {
        Upload {
            id: crate::ids::random_token(16),
            at,
            next: 0,
            buf: Vec::with_capacity(CHUNK),
            size: 0,
            hash: sha2::Digest::new(),
        }
    }

    /// Bytes so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds bytes, writing every chunk they complete.
    pub async fn push(&mut self, store: &dyn Store, mut data: &[u8]) -> StoreResult<()> {
        sha2::Digest::update(&mut self.hash, data);
        self.size += data.len() as u64;
        while !data.is_empty() {
            let take = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == CHUNK {
                self.flush(store).await?;
            }
        }
        Ok(())
    }

    async fn flush(&mut self, store: &dyn Store) -> StoreResult<()> {
        store
            .put_upload_chunk(&self.id, self.next, &self.buf, self.at)
            .await?;
        self.next += 1;
        self.buf.clear();
        Ok(())
    }

    /// Writes the last chunk and makes the upload `file` of `product_id` (a conflict if the
    /// product has a file there); its size and hex SHA-256.
    pub async fn commit(
        mut self,
        store: &dyn Store,
        product_id: &str,
        file: &str,
    ) -> StoreResult<(u64, String)> {
        if !self.buf.is_empty() || self.next == 0 {
            self.flush(store).await?;
        }
        store.commit_file(&self.id, product_id, file).await?;
        Ok((
            self.size,
            crate::ids::hex(&sha2::Digest::finalize(self.hash)),
        ))
    }

    /// Copies a regular file of this machine into the store as `file` of `product_id`: its
    /// size and SHA-256, or `None` if `path` is no regular file (a symbolic link is none).
    pub async fn copy_file(
        store: &dyn Store,
        at: i64,
        path: &std::path::Path,
        product_id: &str,
        file: &str,
    ) -> StoreResult<Option<(u64, String)>> {
        use tokio::io::AsyncReadExt;
        match tokio::fs::symlink_metadata(path).await {
            Ok(m) if m.file_type().is_file() => {}
            _ => return Ok(None),
        }
        let io = |e: std::io::Error| StoreError::backend(format!("{}: {e}", path.display()));
        let mut f = tokio::fs::File::open(path).await.map_err(io)?;
        let mut up = Upload::new(at);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = f.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                break;
            }
            up.push(store, &buf[..n]).await?;
        }
        up.commit(store, product_id, file).await.map(Some)
    }
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
