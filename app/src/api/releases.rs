//! Releases: the releases table, the release page and an error's detail.

use domain::live::{AsOf, LivePage};
use domain::{AppError, ErrorView, ReleasePage};
use leptos::prelude::*;

/// One page of `product`'s releases, newest first, filtered by `status`
/// (comma-separated) and the search `q`, after `cursor`, with the id of the
/// last change it includes. Fails with 404 for an unknown product and 400
/// for a malformed filter or cursor.
#[server(endpoint = "list_releases")]
pub async fn list_releases(
    product: String,
    status: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
) -> Result<AsOf<ReleasePage>, AppError> {
    super::serve(async move {
        let core = super::reader().await?;
        let query = domain::ReleaseQuery {
            status,
            q,
            cursor,
            limit: None,
        };
        backend::read::list_releases_live(&core, &product, &query).await
    })
    .await
}

/// The page of release `id` of `product`: every derived status, without
/// the errors' logs, manifests and details (`get_error` has them), as of
/// its last change. 404 when unknown.
#[server(endpoint = "get_release")]
pub async fn get_release(product: String, id: i64) -> Result<LivePage, AppError> {
    super::serve(async move {
        let core = super::reader().await?;
        backend::read::release_page(&core, &product, id).await
    })
    .await
}

/// The error text of each restart's webhook delivery of release `id` of
/// `product`, as `(attempt, text)`: operators only (401/403 otherwise), as
/// the page leaves it out for everyone else (SPEC §4.4).
#[server(endpoint = "get_delivery_errors")]
pub async fn get_delivery_errors(product: String, id: i64) -> Result<Vec<(u32, String)>, AppError> {
    super::serve(async move {
        let (core, _) = super::operator().await?;
        let view = backend::read::release_detail(&core, &product, id).await?;
        Ok(view
            .restarts
            .into_iter()
            .filter_map(|r| r.delivery.last_error.map(|text| (r.attempt, text)))
            .collect())
    })
    .await
}

/// Error `error` of release `id` of `product`, whole: what the open error
/// panel shows. 404 when any of them is unknown.
#[server(endpoint = "get_error")]
pub async fn get_error(product: String, id: i64, error: String) -> Result<ErrorView, AppError> {
    super::serve(async move {
        let core = super::reader().await?;
        backend::read::error_detail(&core, &product, id, &error).await
    })
    .await
}
