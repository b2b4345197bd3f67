//! Products: the environments dashboard.

use leptos::prelude::*;

use crate::error::AppError;
use crate::views::ProductList;

/// Every product with, per environment, the version there and the release
/// deployed there (the dashboard). Fails with 401/403 without read access.
#[server(endpoint = "list_products")]
pub async fn list_products() -> Result<ProductList, AppError> {
    let state = super::reader().await?;
    crate::server::service::list_products(&state)
        .await
        .map_err(AppError::with_status)
}
