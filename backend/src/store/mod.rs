//! SQL, one file per resource. Every query is a runtime-checked `query_as`
//! with `$n` placeholders that SQLite and PostgreSQL both accept, run on a
//! connection (`&mut AnyConnection`) so the same function works inside a
//! write transaction and on a pooled read connection. Rows are
//! `sqlx::FromRow` structs converted into domain types with `TryFrom`.
//! Timestamps are epoch milliseconds; JSON documents are TEXT.
//!
//! Dynamic SQL (`AssertSqlSafe`) only ever interpolates constants and
//! numbered placeholders; every value is bound.

pub mod changes;
pub mod events;
pub mod facts;
pub mod health;
pub mod products;
pub mod releases;
pub mod restarts;
pub mod runs;
pub mod tokens;
pub mod webhooks;

use chrono::{DateTime, Utc};

use domain::AppError;

use crate::db::{Backend, Db};

/// A connection, pooled or inside a transaction.
pub type Conn = sqlx::AnyConnection;

/// Maps any failure of the store to an internal error (logged with the
/// place that called this, not shown to the client).
pub trait OrInternal<T> {
    #[track_caller]
    fn or_internal(self) -> Result<T, AppError>;
}

impl<T, E: std::fmt::Display> OrInternal<T> for Result<T, E> {
    #[track_caller]
    fn or_internal(self) -> Result<T, AppError> {
        match self {
            Ok(value) => Ok(value),
            Err(error) => Err(AppError::internal(error)),
        }
    }
}

/// A read-only transaction that sees one snapshot of the database, so the
/// reads in it agree with each other (a page and the id of the last change
/// it includes): deferred on SQLite (the first read takes the WAL
/// snapshot), repeatable read on PostgreSQL.
pub async fn begin_read(db: &Db) -> Result<sqlx::Transaction<'static, sqlx::Any>, AppError> {
    let mut tx = db.pool.begin().await.or_internal()?;
    if db.backend == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .or_internal()?;
    }
    Ok(tx)
}

/// A timestamp as stored.
pub fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// A stored timestamp; fails (internally) on an out-of-range value.
pub fn time(millis: i64) -> Result<DateTime<Utc>, AppError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| AppError::internal(format!("stored timestamp {millis} is out of range")))
}

/// An optional stored timestamp.
pub fn opt_time(millis: Option<i64>) -> Result<Option<DateTime<Utc>>, AppError> {
    millis.map(time).transpose()
}

/// `$first, $first+1, …` for `count` values of an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The placeholders of a multi-row `VALUES` list of `rows` rows of
/// `columns` values each, in binding order: `($1, $2), ($3, $4)` on
/// PostgreSQL, anonymous `(?, ?), (?, ?)` on SQLite, where binding looks up
/// each numbered parameter's name by a scan of all of them (quadratic in a
/// statement of thousands of values).
pub fn value_rows(conn: &Conn, rows: usize, columns: usize) -> String {
    let sqlite = conn.backend_name() == "SQLite";
    (0..rows)
        .map(|row| {
            if sqlite {
                format!("({})", vec!["?"; columns].join(", "))
            } else {
                format!("({})", placeholders(1 + row * columns, columns))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A JSON document as stored.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).or_internal()
}

/// A stored JSON document.
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, AppError> {
    serde_json::from_str(text).or_internal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_from_first() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 1), "$1");
    }

    #[test]
    fn timestamps_round_trip_through_millis() {
        let now = DateTime::from_timestamp_millis(1_714_557_600_123).expect("time");
        assert_eq!(time(millis(now)).expect("time"), now);
        assert!(time(i64::MAX).is_err());
    }
}
