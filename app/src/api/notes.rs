//! Release notes.

use domain::{AppError, ReleaseNotes};
use leptos::prelude::*;

/// The changes of release `id` of `product`, and per environment what changed
/// since the last release that succeeded there. 404 when unknown.
#[server(endpoint = "get_release_notes")]
pub async fn get_release_notes(product: String, id: i64) -> Result<ReleaseNotes, AppError> {
    super::serve(async move {
        let core = super::reader().await?;
        backend::read::release_notes(&core, &product, id).await
    })
    .await
}
