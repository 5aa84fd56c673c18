//! Downloads (the operations are `app::downloads`'): files licensees of a product may fetch
//! through WemX's download API, registered from the downloads folder or uploaded.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use licet_api::answers::{DownloadBody, DownloadList};
use licet_api::requests::RegisterDownload;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::caller::Caller;
use crate::app::downloads::{self, UploadTarget};
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::extract::{Body as JsonBody, ClientIp, Q};

/// The admin routes of downloads.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register, list))
        .routes(routes!(upload))
        .routes(routes!(read, delete))
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
) -> ApiResult<(StatusCode, Json<DownloadBody>)> {
    let d = downloads::register(&s, &caller, ip, &b).await?;
    Ok((StatusCode::CREATED, Json(d)))
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
) -> ApiResult<(StatusCode, Json<DownloadBody>)> {
    let target = UploadTarget {
        product_id: q.product_id,
        name: q.name,
        file: q.file,
    };
    let d = downloads::upload(&s, &caller, ip, &target, body.into_data_stream()).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    product_id: Option<String>,
}

/// Lists downloads.
#[utoipa::path(get, path = "/v1/downloads", tag = "downloads", params(ListParams),
    responses((status = 200, body = DownloadList), crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Q(q): Q<ListParams>,
) -> ApiResult<Json<DownloadList>> {
    Ok(Json(
        downloads::list(&s, &caller, q.product_id.as_deref()).await?,
    ))
}

/// One download.
#[utoipa::path(get, path = "/v1/downloads/{id}", tag = "downloads", params(("id" = u64, Path, description = "the download's id")),
    responses((status = 200, body = DownloadBody), (status = 404, description = "not found", body = crate::http::error::ErrorBody), crate::http::error::CommonErrors),
    security(("bearer" = [])))]
async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> ApiResult<Json<DownloadBody>> {
    Ok(Json(downloads::read(&s, &caller, id).await?))
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
    downloads::delete(&s, &caller, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
