//! Releases: the list, the detail and the notes.

use axum::extract::{Query, State};
use axum::http::Uri;
use axum::Json;

use super::auth::Reader;
use super::PathParams;
use backend::read;
use backend::Core;
use domain::AppError;
use domain::ReleaseView;
use domain::{ReleaseNotes, ReleasePage, ReleaseQuery};

/// Releases of a product, newest first, cursor-paginated.
#[utoipa::path(get, path = "/api/v1/products/{product}/releases", tag = "read",
    security((), ("bearer" = [])),
    params(
        ("product" = String, Path, description = "Product slug"),
        ("status" = Option<String>, Query, description = "successful, progressing, terminated or failed; several separated by commas"),
        ("q" = Option<String>, Query, description = "Release id or key, commit sha prefix, commit message or author (at most 200 bytes, no NUL)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50")),
    responses(
        (status = 200, description = "`{\"releases\": [{\"id\", \"key\", \"status\", \"superseded_by\", \"flow\", \"created_at\", \"updated_at\", \"commit\" (its message: the first line), \"version\", \"environments\": [{\"name\", \"status\", \"version\"}]}], \"next_cursor\"}`"),
        (status = 400, description = "A bad `status`, `q`, `limit` or `cursor`"),
        (status = 401, description = "No token and anonymous read is off, or an unknown token"),
        (status = 404, description = "Unknown product")))]
pub async fn list_releases(
    _caller: Reader,
    State(core): State<Core>,
    PathParams(product): PathParams<String>,
    uri: Uri,
) -> Result<Json<ReleasePage>, AppError> {
    // Every parameter is a string the service validates; a query string
    // that is not even form-encoded is answered here in the SPEC's shape.
    let Query(query) =
        Query::<ReleaseQuery>::try_from_uri(&uri).map_err(|e| AppError::Invalid {
            field: None,
            message: format!("bad query string: {}", e.body_text()),
        })?;
    read::list_releases(&core, &product, &query).await.map(Json)
}

/// Everything the release page shows: statuses, versions, errors, runs,
/// aggregated steps and attempt history per environment.
#[utoipa::path(get, path = "/api/v1/products/{product}/releases/{id}", tag = "read",
    security((), ("bearer" = [])),
    params(
        ("product" = String, Path, description = "Product slug"),
        ("id" = i64, Path, description = "Per-product release id")),
    responses(
        (status = 200, description = "The release (SPEC §4.3); each restart's `delivery.last_error` for operators only"),
        (status = 401, description = "No token and anonymous read is off, or an unknown token"),
        (status = 404, description = "Unknown product or release")))]
pub async fn release_detail(
    caller: Reader,
    State(core): State<Core>,
    PathParams((product, id)): PathParams<(String, i64)>,
) -> Result<Json<ReleaseView>, AppError> {
    let mut view = read::release_detail(&core, &product, id).await?;
    // A delivery's error text is for operators only (SPEC §4.4).
    if !caller.is_operator() {
        view.hide_delivery_errors();
    }
    Ok(Json(view))
}

/// The release notes: commits, pull requests, issues, and per environment
/// the changes since the last release that succeeded there.
#[utoipa::path(get, path = "/api/v1/products/{product}/releases/{id}/notes", tag = "read",
    security((), ("bearer" = [])),
    params(
        ("product" = String, Path, description = "Product slug"),
        ("id" = i64, Path, description = "Per-product release id")),
    responses(
        (status = 200, description = "`{\"product\", \"release\", \"key\", \"commit\", \"commits\", \"pull_requests\", \"issues\", \"environments\": [{\"name\", \"since\", \"releases\", \"truncated\", \"commits\", \"pull_requests\", \"issues\"}]}`"),
        (status = 401, description = "No token and anonymous read is off, or an unknown token"),
        (status = 404, description = "Unknown product or release")))]
pub async fn release_notes(
    _caller: Reader,
    State(core): State<Core>,
    PathParams((product, id)): PathParams<(String, i64)>,
) -> Result<Json<ReleaseNotes>, AppError> {
    read::release_notes(&core, &product, id).await.map(Json)
}
