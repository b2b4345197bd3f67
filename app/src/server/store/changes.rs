//! The change log: one row per change of stored state, in id order, for the
//! live stream and its replay after `Last-Event-ID`.

use super::{Conn, OrInternal};
use crate::error::AppError;

/// Appends a change and returns its id.
pub async fn append(
    conn: &mut Conn,
    product: &str,
    release: Option<i64>,
    kind: &str,
    summary: &str,
    now: i64,
) -> Result<i64, AppError> {
    sqlx::query_scalar::<_, i64>(
        "INSERT INTO changes (product, release_id, kind, summary, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(product)
    .bind(release)
    .bind(kind)
    .bind(summary)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .or_internal()
}
