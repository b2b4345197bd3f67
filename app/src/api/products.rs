//! Products: the environments dashboard.

use domain::live::AsOf;
use domain::{AppError, ProductList};
use leptos::prelude::*;

/// Every product with, per environment, the version there and the release
/// deployed there (the dashboard), with the id of the last change it
/// includes. Fails with 401/403 without read access.
#[server(endpoint = "list_products")]
pub async fn list_products() -> Result<AsOf<ProductList>, AppError> {
    super::serve(async move {
        let core = super::reader().await?;
        backend::read::list_products_live(&core).await
    })
    .await
}
