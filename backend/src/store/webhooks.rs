//! The orchestrator webhook of a product (SPEC §4.4). The secret is written
//! here and read only by the delivery code, never by an API response.

use super::{Conn, OrInternal};
use domain::AppError;

/// Sets (or replaces) the webhook of a product.
#[tracing::instrument(skip_all, fields(product_id))]
pub async fn put(
    conn: &mut Conn,
    product_id: i64,
    url: &str,
    secret: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO product_webhooks (product_id, url, secret, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (product_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, \
         updated_at = excluded.updated_at",
    )
    .bind(product_id)
    .bind(url)
    .bind(secret)
    .bind(now)
    .execute(&mut *conn)
    .await
    .or_internal()?;
    Ok(())
}

/// Removes the webhook of a product; whether there was one.
#[tracing::instrument(skip_all, fields(product_id))]
pub async fn delete(conn: &mut Conn, product_id: i64) -> Result<bool, AppError> {
    Ok(
        sqlx::query("DELETE FROM product_webhooks WHERE product_id = $1")
            .bind(product_id)
            .execute(&mut *conn)
            .await
            .or_internal()?
            .rows_affected()
            > 0,
    )
}

/// The webhook URL and secret of a product, for delivery.
#[tracing::instrument(skip_all, fields(product_id))]
pub async fn find(conn: &mut Conn, product_id: i64) -> Result<Option<(String, String)>, AppError> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT url, secret FROM product_webhooks WHERE product_id = $1",
    )
    .bind(product_id)
    .fetch_optional(&mut *conn)
    .await
    .or_internal()
}
