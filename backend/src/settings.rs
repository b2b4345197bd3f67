//! Product settings (SPEC §4.6): a product's configured promotion flow,
//! which a `release.created` without a `flow` snapshots at creation (the
//! native adapters' `push`, `artifact.published` and `change.merged`
//! mappings rely on it).

use chrono::Utc;
use domain::{AppError, Flow};

use crate::state::Core;
use crate::store::{self, OrInternal};
use crate::write::{Changed, Write};

/// Stores `flow` as the configured flow of `product`, creating the product
/// when it is new (so a team can configure it before its first release).
/// Releases already created keep the flow they were created with.
pub async fn set_flow(core: &Core, product: &str, flow: &Flow) -> Result<(), AppError> {
    let json = store::to_json(flow)?;
    let now = Utc::now().timestamp_millis();
    let mut write = Write::begin(core).await?;
    let conn = write.conn()?;
    let mut changed = Changed::default();
    let product_id = match store::products::find(conn, product).await? {
        Some(id) => id,
        None => {
            changed.new_products.insert(product.to_owned());
            store::products::insert(conn, product, now).await?
        }
    };
    store::products::set_flow(conn, product_id, &json).await?;
    write.rederive(changed, now).await?;
    write.commit().await
}

/// The configured flow of `product`: 404 for an unknown product, or for
/// one without a configured flow.
pub async fn get_flow(core: &Core, product: &str) -> Result<Flow, AppError> {
    let mut conn = core.db.pool.acquire().await.or_internal()?;
    store::products::get(&mut conn, product).await?;
    match store::products::flows(&mut conn, &[product]).await?.pop() {
        Some((_, json)) => store::from_json(&json),
        None => Err(AppError::not_found(format!(
            "product {product:?} has no configured flow"
        ))),
    }
}
