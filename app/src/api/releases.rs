//! Releases: the releases table and the release page.

use domain::{AppError, ReleasePage, ReleaseView};
use leptos::prelude::*;

/// One page of `product`'s releases, newest first, filtered by `status`
/// (comma-separated) and the search `q`, after `cursor`. Fails with 404 for
/// an unknown product and 400 for a malformed filter or cursor.
#[server(endpoint = "list_releases")]
pub async fn list_releases(
    product: String,
    status: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
) -> Result<ReleasePage, AppError> {
    super::serve(async move {
        let core = super::reader().await?;
        let query = domain::ReleaseQuery {
            status,
            q,
            cursor,
            limit: None,
        };
        backend::read::list_releases(&core, &product, &query).await
    })
    .await
}

/// Release `id` of `product` with every derived status. 404 when unknown.
#[server(endpoint = "get_release")]
pub async fn get_release(product: String, id: i64) -> Result<ReleaseView, AppError> {
    super::serve(async move {
        let core = super::reader().await?;
        backend::read::release_detail(&core, &product, id).await
    })
    .await
}
