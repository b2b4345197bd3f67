//! Release notes.

use leptos::prelude::*;

use crate::error::AppError;
use crate::views::ReleaseNotes;

/// The changes of release `id` of `product`, and per environment what changed
/// since the last release that succeeded there. 404 when unknown.
#[server(endpoint = "get_release_notes")]
pub async fn get_release_notes(product: String, id: i64) -> Result<ReleaseNotes, AppError> {
    let state = super::reader().await?;
    crate::server::service::release_notes(&state, &product, id)
        .await
        .map_err(AppError::with_status)
}
