//! Products: created on first sight, and the per-product release counter
//! (which the ingest fold advances).

use domain::AppError;
use sqlx::AssertSqlSafe;

use super::{Conn, OrInternal};

/// Stores a new product (the ingest fold saw it first); its id.
#[tracing::instrument(skip_all)]
pub async fn insert(conn: &mut Conn, slug: &str, now: i64) -> Result<i64, AppError> {
    sqlx::query_scalar::<_, i64>(
        "INSERT INTO products (slug, created_at) VALUES ($1, $2) RETURNING id",
    )
    .bind(slug)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .or_internal()
}

/// These products, those that exist: `(id, slug, last release id)`.
#[tracing::instrument(skip_all, fields(products = slugs.len()))]
pub async fn find_all(
    conn: &mut Conn,
    slugs: &[&str],
) -> Result<Vec<(i64, String, i64)>, AppError> {
    let mut found = Vec::with_capacity(slugs.len());
    for chunk in slugs.chunks(500) {
        let sql = format!(
            "SELECT id, slug, last_release_id FROM products WHERE slug IN ({})",
            super::placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, (i64, String, i64)>(AssertSqlSafe(sql));
        for slug in chunk {
            query = query.bind(*slug);
        }
        found.extend(query.fetch_all(&mut *conn).await.or_internal()?);
    }
    Ok(found)
}

/// The id of product `slug`, if it exists.
#[tracing::instrument(skip_all, fields(slug = %slug))]
pub async fn find(conn: &mut Conn, slug: &str) -> Result<Option<i64>, AppError> {
    sqlx::query_scalar::<_, i64>("SELECT id FROM products WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await
        .or_internal()
}

/// The id of product `slug`, or 404.
#[tracing::instrument(skip_all, fields(slug = %slug))]
pub async fn get(conn: &mut Conn, slug: &str) -> Result<i64, AppError> {
    find(conn, slug)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no product {slug:?}")))
}

/// Records the last release id the ingest fold handed out for a product.
#[tracing::instrument(skip_all, fields(product_id, id))]
pub async fn set_last_release_id(
    conn: &mut Conn,
    product_id: i64,
    id: i64,
) -> Result<(), AppError> {
    sqlx::query("UPDATE products SET last_release_id = $2 WHERE id = $1")
        .bind(product_id)
        .bind(id)
        .execute(&mut *conn)
        .await
        .or_internal()?;
    Ok(())
}

/// Every product slug with its id, by slug.
#[tracing::instrument(skip_all)]
pub async fn all(conn: &mut Conn) -> Result<Vec<(i64, String)>, AppError> {
    sqlx::query_as::<_, (i64, String)>("SELECT id, slug FROM products ORDER BY slug")
        .fetch_all(&mut *conn)
        .await
        .or_internal()
}

/// Stores the configured flow of product `product_id` (SPEC §4.6), as JSON.
#[tracing::instrument(skip_all, fields(product_id))]
pub async fn set_flow(conn: &mut Conn, product_id: i64, flow: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE products SET flow = $2 WHERE id = $1")
        .bind(product_id)
        .bind(flow)
        .execute(&mut *conn)
        .await
        .or_internal()?;
    Ok(())
}

/// The configured flows of these products, those that have one:
/// `(slug, flow JSON)`.
#[tracing::instrument(skip_all, fields(products = slugs.len()))]
pub async fn flows(conn: &mut Conn, slugs: &[&str]) -> Result<Vec<(String, String)>, AppError> {
    let mut found = Vec::new();
    for chunk in slugs.chunks(500) {
        let sql = format!(
            "SELECT slug, flow FROM products WHERE flow IS NOT NULL AND slug IN ({})",
            super::placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, (String, String)>(AssertSqlSafe(sql));
        for slug in chunk {
            query = query.bind(*slug);
        }
        found.extend(query.fetch_all(&mut *conn).await.or_internal()?);
    }
    Ok(found)
}
