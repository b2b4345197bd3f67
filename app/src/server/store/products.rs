//! Products: created on first sight, and the per-product release counter.

use super::{Conn, OrInternal};
use crate::error::AppError;

/// The id of product `slug`, creating it when missing.
pub async fn ensure(conn: &mut Conn, slug: &str, now: i64) -> Result<(i64, bool), AppError> {
    let inserted = sqlx::query(
        "INSERT INTO products (slug, created_at) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING",
    )
    .bind(slug)
    .bind(now)
    .execute(&mut *conn)
    .await
    .or_internal()?
    .rows_affected()
        > 0;
    let id = find(conn, slug)
        .await?
        .ok_or_else(|| AppError::internal(format!("product {slug} vanished")))?;
    Ok((id, inserted))
}

/// The id of product `slug`, if it exists.
pub async fn find(conn: &mut Conn, slug: &str) -> Result<Option<i64>, AppError> {
    sqlx::query_scalar::<_, i64>("SELECT id FROM products WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await
        .or_internal()
}

/// The id of product `slug`, or 404.
pub async fn get(conn: &mut Conn, slug: &str) -> Result<i64, AppError> {
    find(conn, slug)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no product {slug:?}")))
}

/// Hands out the next per-product release id. The UPDATE takes the row
/// lock on PostgreSQL, so concurrent creations never share an id.
pub async fn next_release_id(conn: &mut Conn, product_id: i64) -> Result<i64, AppError> {
    sqlx::query_scalar::<_, i64>(
        "UPDATE products SET last_release_id = last_release_id + 1 WHERE id = $1 \
         RETURNING last_release_id",
    )
    .bind(product_id)
    .fetch_one(&mut *conn)
    .await
    .or_internal()
}

/// Every product slug with its id, by slug.
pub async fn all(conn: &mut Conn) -> Result<Vec<(i64, String)>, AppError> {
    sqlx::query_as::<_, (i64, String)>("SELECT id, slug FROM products ORDER BY slug")
        .fetch_all(&mut *conn)
        .await
        .or_internal()
}
