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

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: i64,
    product: String,
    release_id: Option<i64>,
    kind: String,
    summary: String,
}

/// Up to `limit` changes after `after`, in id order.
pub async fn since(
    conn: &mut Conn,
    after: i64,
    limit: i64,
) -> Result<Vec<crate::server::state::ChangeNotice>, AppError> {
    let rows = sqlx::query_as::<_, ChangeRow>(
        "SELECT id, product, release_id, kind, summary FROM changes WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .or_internal()?;
    Ok(rows
        .into_iter()
        .map(|row| crate::server::state::ChangeNotice {
            id: row.id,
            kind: row.kind,
            product: row.product,
            release: row.release_id,
            summary: serde_json::from_str(&row.summary).unwrap_or(serde_json::Value::Null),
        })
        .collect())
}

/// The oldest and newest change ids kept (0 when there are none).
pub async fn bounds(conn: &mut Conn) -> Result<(i64, i64), AppError> {
    let (oldest, newest): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT MIN(id), MAX(id) FROM changes")
            .fetch_one(&mut *conn)
            .await
            .or_internal()?;
    Ok((oldest.unwrap_or(0), newest.unwrap_or(0)))
}

/// Deletes all but the newest `keep` changes; clients that missed more
/// than that get a `reset`.
pub async fn prune(conn: &mut Conn, keep: i64) -> Result<u64, AppError> {
    sqlx::query("DELETE FROM changes WHERE id <= (SELECT MAX(id) FROM changes) - $1")
        .bind(keep)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
        .or_internal()
}
