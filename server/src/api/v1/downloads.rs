//! Downloads: files licensees of a product may fetch through WemX's download API. The files
//! live in the data directory's `downloads/` folder, or in the store where it keeps files
//! (PostgreSQL: every instance serves them); an admin registers one that is already in this
//! instance's folder (copied into the store there), or uploads it (streamed to disk or to the
//! store, never held whole in memory).

use crate::app::error::ErrorCode;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use http_body_util::BodyExt;
use licet_api::requests::RegisterDownload;
use licet_core::audit::AuditAction;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::DownloadBody;
use crate::app::access::load_product;
use crate::app::caller::Caller;
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::files::{Upload, product_folder, valid_file};
use crate::http::extract::{Body as JsonBody, ClientIp, Q};
use crate::ids::hex;
use licet_core::model::{Download, Scope};

/// The admin routes of downloads.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register, list))
        .routes(routes!(upload))
        .routes(routes!(read, delete))
}

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

fn view(d: &Download) -> Value {
    serde_json::to_value(DownloadBody::from(d)).unwrap_or(Value::Null)
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
        product_id: product_id.to_owned(),
        name: name.trim().to_owned(),
        file: file.to_owned(),
        product_folder: true,
        size,
        sha256,
        created_at: s.clock.now(),
    }
}

/// Registers a file already in the downloads folder.
#[utoipa::path(post, path = "/v1/downloads", tag = "downloads", request_body = RegisterDownload,
    responses((status = 201, body = DownloadBody), (status = 404, description = "no such file in the downloads folder", body = crate::http::error::ErrorBody), (status = 409, description = "the product has a download of this name", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn register(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    JsonBody(b): JsonBody<RegisterDownload>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(Scope::ReadWrite)?;
    check_fields(&b.name, &b.file)?;
    let product = load_product(&s, &caller, &b.product_id)
        .await
        .map_err(|_| {
            ApiError::bad_request(ErrorCode::InvalidField, "product_id: no such product")
        })?;
    let path = product_folder(&s, &product.id).join(&b.file);
    let found = if s.store.keeps_files() {
        copy_into_store(&s, &product.id, &b.file, path).await?
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
        &s,
        &caller,
        ip,
        draft(&s, &product.id, &b.name, &b.file, size, sha),
    )
    .await;
    if d.is_err()
        && s.store.keeps_files()
        && let Err(undo) = s.store.delete_file(&product.id, &b.file).await
    {
        tracing::warn!(code = undo.code(), "removing an unregistered copy failed");
    }
    Ok((StatusCode::CREATED, Json(view(&d?))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UploadParams {
    /// The product (`prd_…`).
    product_id: String,
    /// The name clients ask for (`resource_name`).
    name: String,
    /// Path to store the file at, relative to `<data>/downloads/<product id>/`; must not exist
    /// yet.
    file: String,
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

/// Uploads a file into the downloads folder and registers it. The body is the file itself,
/// streamed to a temporary file and renamed into place once complete, so a broken upload
/// leaves nothing behind.
#[utoipa::path(post, path = "/v1/downloads/upload", tag = "downloads", params(UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file; at most `--max-upload-bytes`"),
    responses((status = 201, body = DownloadBody), (status = 409, description = "the file or the name exists", body = crate::http::error::ErrorBody), (status = 413, description = "payload_too_large", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn upload(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Q(q): Q<UploadParams>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(Scope::ReadWrite)?;
    check_fields(&q.name, &q.file)?;
    let product = load_product(&s, &caller, &q.product_id)
        .await
        .map_err(|_| {
            ApiError::bad_request(ErrorCode::InvalidField, "product_id: no such product")
        })?;
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
        return upload_into_store(&s, &caller, ip, &product.id, &q, body).await;
    }
    let dir = product_folder(&s, &product.id);
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
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::bad_request(ErrorCode::InvalidRequest, format!("reading the body: {e}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len() as u64;
        if size > s.config.max_upload_bytes {
            return Err(too_large(&s));
        }
        h.update(&data);
        out.write_all(&data).await.map_err(ApiError::internal)?;
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
        &s,
        &caller,
        ip,
        draft(&s, &product.id, &q.name, &q.file, size, sha),
    )
    .await
    {
        Ok(d) => Ok((StatusCode::CREATED, Json(view(&d)))),
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

/// [`upload`] on a store that keeps files: the body goes to the store chunk by chunk and becomes
/// the file at the end, so a broken upload leaves only chunks no file names (pruned later).
async fn upload_into_store(
    s: &AppState,
    caller: &Caller,
    ip: ClientIp,
    product_id: &str,
    q: &UploadParams,
    mut body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if s.store.has_file(product_id, &q.file).await? {
        return Err(ApiError::conflict(
            ErrorCode::Duplicate,
            format!("the product already has a file {:?}", q.file),
        ));
    }
    let mut up = Upload::new(s.clock.now());
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::bad_request(ErrorCode::InvalidRequest, format!("reading the body: {e}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if up.size() + data.len() as u64 > s.config.max_upload_bytes {
            return Err(too_large(s));
        }
        up.push(&*s.store, &data).await?;
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
        Ok(d) => Ok((StatusCode::CREATED, Json(view(&d)))),
        Err(e) => {
            // The name was taken meanwhile: the file just written belongs to nobody.
            if let Err(undo) = s.store.delete_file(product_id, &q.file).await {
                tracing::warn!(code = undo.code(), "removing an unregistered upload failed");
            }
            Err(e)
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    product_id: Option<String>,
}

/// Lists downloads.
#[utoipa::path(get, path = "/v1/downloads", tag = "downloads", params(ListParams),
    responses((status = 200, description = "`{items: [Download]}`", body = serde_json::Value), crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Q(q): Q<ListParams>,
) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = s
        .store
        .downloads(q.product_id.as_deref())
        .await?
        .iter()
        .filter(|d| caller.sees(&d.product_id))
        .map(view)
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn load(s: &AppState, caller: &Caller, id: u64) -> ApiResult<Download> {
    caller.visible(s.store.download(id).await?, "download", |d| &d.product_id)
}

/// One download.
#[utoipa::path(get, path = "/v1/downloads/{id}", tag = "downloads", params(("id" = u64, Path, description = "the download's id")),
    responses((status = 200, body = DownloadBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(view(&load(&s, &caller, id).await?)))
}

/// Unregisters a download; the file stays in the folder.
#[utoipa::path(delete, path = "/v1/downloads/{id}", tag = "downloads", params(("id" = u64, Path, description = "the download's id")),
    responses((status = 204, description = "unregistered"), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    ip: ClientIp,
    Path(id): Path<u64>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::ReadWrite)?;
    let d = load(&s, &caller, id).await?;
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
    Ok(StatusCode::NO_CONTENT)
}
