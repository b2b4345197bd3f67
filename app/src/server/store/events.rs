//! The event log: every accepted CloudEvent once, keyed by (source, id).

use super::{Conn, OrInternal};
use crate::error::AppError;

/// Records an event; `false` when (source, id) was seen before, so the
/// event is a duplicate and must not be applied again.
pub async fn record(
    conn: &mut Conn,
    source: &str,
    id: &str,
    kind: &str,
    time: i64,
    received_at: i64,
    data: &str,
) -> Result<bool, AppError> {
    Ok(sqlx::query(
        "INSERT INTO events (source, event_id, type, time, received_at, data) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, event_id) DO NOTHING",
    )
    .bind(source)
    .bind(id)
    .bind(kind)
    .bind(time)
    .bind(received_at)
    .bind(data)
    .execute(&mut *conn)
    .await
    .or_internal()?
    .rows_affected()
        > 0)
}
