//! Releases: the releases table and the release page.

use leptos::prelude::*;

use crate::domain::ReleaseView;
use crate::error::AppError;
use crate::views::ReleasePage;

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
    let state = super::reader().await?;
    let query = crate::views::ReleaseQuery {
        status,
        q,
        cursor,
        limit: None,
    };
    crate::server::service::list_releases(&state, &product, &query)
        .await
        .map_err(AppError::with_status)
}

/// Release `id` of `product` with every derived status. 404 when unknown.
#[server(endpoint = "get_release")]
pub async fn get_release(product: String, id: i64) -> Result<ReleaseView, AppError> {
    let state = super::reader().await?;
    crate::server::service::release_detail(&state, &product, id)
        .await
        .map_err(AppError::with_status)
}
