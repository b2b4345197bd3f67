//! The change log: one row per change of stored state, in id order, for the
//! live stream and its replay after `Last-Event-ID`.

use sqlx::AssertSqlSafe;

use super::{value_rows, Conn, OrInternal};
use domain::AppError;

/// A change to append: what changed (`release`, `environment` or
/// `product`), of which product and release, and its JSON summary.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChange {
    pub kind: &'static str,
    pub product: String,
    pub release: Option<i64>,
    pub summary: serde_json::Value,
}

/// Appends changes in the given order (their ids increase in it), with
/// multi-row INSERTs; the ids of the `release` changes, as `(product,
/// release id, change id)`.
#[tracing::instrument(skip_all, fields(changes = changes.len()))]
pub async fn append_all(
    conn: &mut Conn,
    changes: &[NewChange],
    now: i64,
) -> Result<Vec<(String, i64, i64)>, AppError> {
    let mut releases = Vec::new();
    for chunk in changes.chunks(500) {
        let sql = format!(
            "INSERT INTO changes (product, release_id, kind, summary, created_at) VALUES {} \
             RETURNING product, release_id, kind, id",
            value_rows(conn, chunk.len(), 5)
        );
        let mut query = sqlx::query_as::<_, (String, Option<i64>, String, i64)>(AssertSqlSafe(sql));
        for change in chunk {
            query = query
                .bind(&change.product)
                .bind(change.release)
                .bind(change.kind)
                .bind(change.summary.to_string())
                .bind(now);
        }
        for (product, release, kind, id) in query.fetch_all(&mut *conn).await.or_internal()? {
            if let (Some(release), "release") = (release, kind.as_str()) {
                releases.push((product, release, id));
            }
        }
    }
    Ok(releases)
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
#[tracing::instrument(skip_all, fields(after, limit))]
pub async fn since(
    conn: &mut Conn,
    after: i64,
    limit: i64,
) -> Result<Vec<crate::change::ChangeNotice>, AppError> {
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
        .map(|row| crate::change::ChangeNotice {
            id: row.id,
            kind: row.kind,
            product: row.product,
            release: row.release_id,
            summary: serde_json::from_str(&row.summary).unwrap_or(serde_json::Value::Null),
        })
        .collect())
}

/// The id of the newest change (0 when there is none).
#[tracing::instrument(skip_all)]
pub async fn newest(conn: &mut Conn) -> Result<i64, AppError> {
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM changes")
        .fetch_one(&mut *conn)
        .await
        .or_internal()?;
    Ok(newest.unwrap_or(0))
}

/// The oldest and newest change ids kept (0 when there are none).
#[tracing::instrument(skip_all)]
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
#[tracing::instrument(skip_all, fields(keep))]
pub async fn prune(conn: &mut Conn, keep: i64) -> Result<u64, AppError> {
    sqlx::query("DELETE FROM changes WHERE id <= (SELECT MAX(id) FROM changes) - $1")
        .bind(keep)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
        .or_internal()
}
