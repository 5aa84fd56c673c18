//! Downloads: files licensees of a product may fetch through WemX's download API. The files
//! live in the data directory's `downloads/` folder, or in the store where it keeps files
//! (PostgreSQL: every instance serves them); an admin registers one that is already in this
//! instance's folder (copied into the store there), or uploads it (streamed to disk or to the
//! store, never held whole in memory).

use futures_util::{Stream, StreamExt};
use licet_api::answers::{DownloadBody, DownloadList};
use licet_api::requests::RegisterDownload;
use licet_core::audit::AuditAction;
use licet_core::model::{Download, Scope};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::app::access::load_product;
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;
use crate::files::{Upload, product_folder, valid_file};
use crate::ids::hex;
use crate::net::ClientIp;

fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.len() <= 255 && !name.chars().any(char::is_control)
}

fn check_fields(name: &str, file: &str) -> ApiResult<()> {
    if !valid_name(name) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "name: 1–255 characters",
        ));
    }
    if !valid_file(file) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "file: a path inside the downloads folder: segments of letters, digits, `.`, `_`, `-`; no `..`",
        ));
    }
    Ok(())
}

/// Copies a regular file of this instance's downloads folder into the store, as the product's
/// file `file`: its size and SHA-256, or `None` if there is no such file here.
async fn copy_into_store(
    s: &AppState,
    product_id: &str,
    file: &str,
    path: std::path::PathBuf,
) -> ApiResult<Option<(u64, String)>> {
    if s.store.has_file(product_id, file).await? {
        return Err(ApiError::conflict(
            ErrorCode::Duplicate,
            format!("the product already has a file {file:?}"),
        ));
    }
    Ok(Upload::copy_file(&*s.store, s.clock.now(), &path, product_id, file).await?)
}

/// Size and SHA-256 of a regular file (not a symbolic link) in the downloads folder.
async fn measure(path: std::path::PathBuf) -> ApiResult<Option<(u64, String)>> {
    tokio::task::spawn_blocking(move || {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_file() => m,
            _ => return Ok(None),
        };
        let mut f = std::fs::File::open(&path).map_err(ApiError::internal)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = std::io::Read::read(&mut f, &mut buf).map_err(ApiError::internal)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(Some((meta.len(), hex(&h.finalize()))))
    })
    .await
    .map_err(ApiError::internal)?
}

/// Stores a download (its id assigned here) and logs it.
async fn record(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    mut d: Download,
) -> ApiResult<Download> {
    d.id = s.store.next_number("download").await?;
    s.store.insert_download(&d).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::DownloadRegistered,
            &d.id.to_string(),
            ip.text(),
            json!({ "product_id": d.product_id, "name": d.name, "file": d.file, "size": d.size }),
        )
        .await?;
    Ok(d)
}

/// A download not yet stored.
fn draft(
    s: &AppState,
    product_id: &str,
    name: &str,
    file: &str,
    size: u64,
    sha256: String,
) -> Download {
    Download {
        id: 0,
        product_id: product_id.to_owned().into(),
        name: name.trim().to_owned(),
        file: file.to_owned(),
        product_folder: true,
        size,
        sha256,
        created_at: s.clock.now(),
    }
}

async fn product_of(
    s: &AppState,
    caller: &Caller,
    product_id: &str,
) -> ApiResult<licet_core::model::Product> {
    load_product(s, caller, product_id)
        .await
        .map_err(|_| ApiError::bad_request(ErrorCode::InvalidField, "product_id: no such product"))
}

/// Registers a file already in this instance's downloads folder (read-write).
pub async fn register(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    b: &RegisterDownload,
) -> ApiResult<DownloadBody> {
    caller.require(Scope::ReadWrite)?;
    check_fields(&b.name, &b.file)?;
    let product = product_of(s, caller, &b.product_id).await?;
    let path = product_folder(s, &product.id).join(&b.file);
    let found = if s.store.keeps_files() {
        copy_into_store(s, &product.id, &b.file, path).await?
    } else {
        measure(path).await?
    };
    let (size, sha) = found.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!(
                "no regular file {:?} in the product's folder, downloads/{}/",
                b.file, product.id
            ),
        )
    })?;
    let d = record(
        s,
        caller,
        ip,
        draft(s, &product.id, &b.name, &b.file, size, sha),
    )
    .await;
    if d.is_err()
        && s.store.keeps_files()
        && let Err(undo) = s.store.delete_file(&product.id, &b.file).await
    {
        tracing::warn!(code = undo.code(), "removing an unregistered copy failed");
    }
    Ok(DownloadBody::from(&d?))
}

/// Where an upload goes.
#[derive(Debug, Clone)]
pub struct UploadTarget {
    /// The product (`prd_…`).
    pub product_id: String,
    /// The name clients ask for (`resource_name`).
    pub name: String,
    /// Path to store the file at, relative to `<data>/downloads/<product id>/`; must not
    /// exist yet.
    pub file: String,
}

/// Removes a temporary upload unless it was kept.
struct TempFile(Option<std::path::PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The next chunk of an upload; a chunk that cannot be read is the client's broken body.
async fn next_chunk<S, D, E>(chunks: &mut S) -> ApiResult<Option<D>>
where
    S: Stream<Item = Result<D, E>> + Unpin,
    E: std::fmt::Display,
{
    match chunks.next().await {
        None => Ok(None),
        Some(Ok(d)) => Ok(Some(d)),
        Some(Err(e)) => Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            format!("reading the body: {e}"),
        )),
    }
}

/// Uploads a file and registers it (read-write). The bytes arrive as `chunks` and are written
/// as they come, to a temporary file renamed into place once complete (or to the store, chunk
/// by chunk), so a broken upload leaves nothing behind and no upload is held whole in memory.
pub async fn upload<S, D, E>(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    q: &UploadTarget,
    mut chunks: S,
) -> ApiResult<DownloadBody>
where
    S: Stream<Item = Result<D, E>> + Unpin,
    D: AsRef<[u8]>,
    E: std::fmt::Display,
{
    caller.require(Scope::ReadWrite)?;
    check_fields(&q.name, &q.file)?;
    let product = product_of(s, caller, &q.product_id).await?;
    if s.store
        .download_by_name(&product.id, q.name.trim())
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(
            ErrorCode::Duplicate,
            "the product already has a download of this name",
        ));
    }
    if s.store.keeps_files() {
        return upload_into_store(s, caller, ip, &product.id, q, chunks).await;
    }
    let dir = product_folder(s, &product.id);
    let target = dir.join(&q.file);
    if tokio::fs::symlink_metadata(&target).await.is_ok() {
        return Err(ApiError::conflict(
            ErrorCode::Duplicate,
            format!("{:?} exists in the downloads folder", q.file),
        ));
    }
    let parent = target.parent().unwrap_or(&dir).to_path_buf();
    tokio::fs::create_dir_all(&parent)
        .await
        .map_err(ApiError::internal)?;
    let tmp_path = parent.join(format!(".upload-{}", crate::ids::random_token(16)));
    let mut tmp = TempFile(Some(tmp_path.clone()));
    let mut out = tokio::fs::File::create(&tmp_path)
        .await
        .map_err(ApiError::internal)?;
    let mut h = Sha256::new();
    let mut size: u64 = 0;
    while let Some(data) = next_chunk(&mut chunks).await? {
        let data = data.as_ref();
        size += data.len() as u64;
        if size > s.config.max_upload_bytes {
            return Err(too_large(s));
        }
        h.update(data);
        out.write_all(data).await.map_err(ApiError::internal)?;
    }
    out.sync_all().await.map_err(ApiError::internal)?;
    drop(out);
    // Never replace a file that appeared meanwhile: hard-link into place, which fails if the
    // target exists, then drop the temporary name.
    match tokio::fs::hard_link(&tmp_path, &target).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ApiError::conflict(
                ErrorCode::Duplicate,
                format!("{:?} exists in the downloads folder", q.file),
            ));
        }
        Err(e) => return Err(ApiError::internal(e)),
    }
    drop(tmp.0.take().map(std::fs::remove_file));
    let sha = hex(&h.finalize());
    match record(
        s,
        caller,
        ip,
        draft(s, &product.id, &q.name, &q.file, size, sha),
    )
    .await
    {
        Ok(d) => Ok(DownloadBody::from(&d)),
        Err(e) => {
            // The name was taken meanwhile: the file just written belongs to nobody.
            let _ = tokio::fs::remove_file(&target).await;
            Err(e)
        }
    }
}

/// The error of a body over `--max-upload-bytes`.
fn too_large(s: &AppState) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("uploads are limited to {} bytes", s.config.max_upload_bytes),
    )
}

/// [`upload`] on a store that keeps files: the bytes go to the store chunk by chunk and become
/// the file at the end, so a broken upload leaves only chunks no file names (pruned later).
async fn upload_into_store<S, D, E>(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    product_id: &str,
    q: &UploadTarget,
    mut chunks: S,
) -> ApiResult<DownloadBody>
where
    S: Stream<Item = Result<D, E>> + Unpin,
    D: AsRef<[u8]>,
    E: std::fmt::Display,
{
    if s.store.has_file(product_id, &q.file).await? {
        return Err(ApiError::conflict(
            ErrorCode::Duplicate,
            format!("the product already has a file {:?}", q.file),
        ));
    }
    let mut up = Upload::new(s.clock.now());
    while let Some(data) = next_chunk(&mut chunks).await? {
        let data = data.as_ref();
        if up.size() + data.len() as u64 > s.config.max_upload_bytes {
            return Err(too_large(s));
        }
        up.push(&*s.store, data).await?;
    }
    let (size, sha) = up.commit(&*s.store, product_id, &q.file).await?;
    match record(
        s,
        caller,
        ip,
        draft(s, product_id, &q.name, &q.file, size, sha),
    )
    .await
    {
        Ok(d) => Ok(DownloadBody::from(&d)),
        Err(e) => {
            // The name was taken meanwhile: the file just written belongs to nobody.
            if let Err(undo) = s.store.delete_file(product_id, &q.file).await {
                tracing::warn!(code = undo.code(), "removing an unregistered upload failed");
            }
            Err(e)
        }
    }
}

/// The downloads the caller sees, of one product if asked.
pub async fn list(
    s: &AppState,
    caller: &Caller,
    product_id: Option<&str>,
) -> ApiResult<DownloadList> {
    let items = s
        .store
        .downloads(product_id)
        .await?
        .iter()
        .filter(|d| caller.sees(&d.product_id))
        .map(DownloadBody::from)
        .collect();
    Ok(DownloadList { items })
}

async fn load(s: &AppState, caller: &Caller, id: u64) -> ApiResult<Download> {
    caller.visible(s.store.download(id).await?, "download", |d| &d.product_id)
}

/// One download the caller sees.
pub async fn read(s: &AppState, caller: &Caller, id: u64) -> ApiResult<DownloadBody> {
    Ok(DownloadBody::from(&load(s, caller, id).await?))
}

/// Unregisters a download (read-write); the file stays in the folder.
pub async fn delete(s: &AppState, caller: &Caller, ip: ClientIp, id: u64) -> ApiResult<()> {
    caller.require(Scope::ReadWrite)?;
    let d = load(s, caller, id).await?;
    s.store.delete_download(&d).await?;
    s.journal
        .audit(
            &caller.actor(),
            AuditAction::DownloadUnregistered,
            &d.id.to_string(),
            ip.text(),
            json!({ "product_id": d.product_id, "name": d.name }),
        )
        .await?;
    Ok(())
}
