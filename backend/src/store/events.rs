//! The event log: every accepted CloudEvent once, keyed by (source, id).
//! Only what idempotency needs is kept (the key, type and time); what an
//! event changed is in the tables it was applied to and in the change log.

use std::collections::HashSet;

use sqlx::AssertSqlSafe;

use super::{value_rows, Conn, OrInternal};
use domain::AppError;

/// An event to record.
pub struct NewEvent<'a> {
    pub source: &'a str,
    pub id: &'a str,
    pub kind: &'a str,
    pub time: i64,
}

/// Rows per INSERT: 5 values each stays far below both backends' limit on
/// bound parameters.
const CHUNK: usize = 200;

/// Records the events of one request with multi-row INSERTs; per event,
/// whether it is new. An event is a duplicate (`false`) when its
/// (source, id) was recorded before, or appears earlier in `events`.
#[tracing::instrument(skip_all, fields(events = events.len()))]
pub async fn record(
    conn: &mut Conn,
    events: &[NewEvent<'_>],
    received_at: i64,
) -> Result<Vec<bool>, AppError> {
    // The first occurrence of each key in the request is the candidate.
    let mut seen = HashSet::with_capacity(events.len());
    let firsts: Vec<usize> = (0..events.len())
        .filter(|&i| seen.insert((events[i].source, events[i].id)))
        .collect();
    let mut inserted: HashSet<(String, String)> = HashSet::with_capacity(firsts.len());
    for chunk in firsts.chunks(CHUNK) {
        let values = value_rows(conn, chunk.len(), 5);
        let sql = format!(
            "INSERT INTO events (source, event_id, type, time, received_at) VALUES {values} \
             ON CONFLICT (source, event_id) DO NOTHING RETURNING source, event_id"
        );
        let mut query = sqlx::query_as::<_, (String, String)>(AssertSqlSafe(sql));
        for &i in chunk {
            let event = &events[i];
            query = query
                .bind(event.source)
                .bind(event.id)
                .bind(event.kind)
                .bind(event.time)
                .bind(received_at);
        }
        inserted.extend(query.fetch_all(&mut *conn).await.or_internal()?);
    }
    let mut fresh = vec![false; events.len()];
    for i in firsts {
        let key = (events[i].source.to_owned(), events[i].id.to_owned());
        fresh[i] = inserted.contains(&key);
    }
    Ok(fresh)
}
