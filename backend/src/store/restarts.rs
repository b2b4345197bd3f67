//! Restarts (SPEC §2.6) and the outbox of their webhook deliveries (SPEC
//! §4.4): what the restart transaction writes, what the release page reads,
//! and what the delivery worker claims and settles.

use domain::AppError;
use domain::{Delivery, DeliveryState, Restart};

use super::{from_json, opt_time, time, to_json, Conn, OrInternal};

/// A restart to record.
pub struct NewRestart<'a> {
    pub release_pk: i64,
    pub attempt: u32,
    pub environments: &'a [(String, u32)],
    pub requested_by: &'a str,
    pub token_id: Option<i64>,
    pub requested_at: i64,
}

/// Records a restart and opens the new attempt of each of its environments;
/// returns the restart's id.
#[tracing::instrument(skip_all)]
pub async fn insert(conn: &mut Conn, restart: &NewRestart<'_>) -> Result<i64, AppError> {
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO restarts (release_pk, attempt, environments, requested_by, token_id, \
         requested_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(restart.release_pk)
    .bind(i64::from(restart.attempt))
    .bind(to_json(&restart.environments)?)
    .bind(restart.requested_by)
    .bind(restart.token_id)
    .bind(restart.requested_at)
    .fetch_one(&mut *conn)
    .await
    .or_internal()?;
    for (environment, attempt) in restart.environments {
        sqlx::query(
            "INSERT INTO attempts (release_pk, environment, attempt, opened_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (release_pk, environment) \
             DO UPDATE SET attempt = excluded.attempt, opened_at = excluded.opened_at",
        )
        .bind(restart.release_pk)
        .bind(environment)
        .bind(i64::from(*attempt))
        .bind(restart.requested_at)
        .execute(&mut *conn)
        .await
        .or_internal()?;
    }
    Ok(id)
}

/// Queues the webhook delivery of restart `restart_id`, due at once.
#[tracing::instrument(skip_all, fields(restart_id, product_id, release_pk))]
pub async fn enqueue(
    conn: &mut Conn,
    restart_id: i64,
    product_id: i64,
    release_pk: i64,
    body: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (restart_id, product_id, release_pk, body, state, \
         attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
    )
    .bind(restart_id)
    .bind(product_id)
    .bind(release_pk)
    .bind(body)
    .bind(now)
    .execute(&mut *conn)
    .await
    .or_internal()?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct RestartRow {
    attempt: i64,
    environments: String,
    requested_by: String,
    requested_at: i64,
    state: Option<String>,
    attempts: Option<i64>,
    last_error: Option<String>,
    last_attempt_at: Option<i64>,
    next_attempt_at: Option<i64>,
    delivered_at: Option<i64>,
}

impl TryFrom<RestartRow> for Restart {
    type Error = AppError;

    fn try_from(row: RestartRow) -> Result<Restart, AppError> {
        let delivery = match row.state.as_deref() {
            None => Delivery::none(),
            Some(state) => Delivery {
                state: DeliveryState::parse(state).ok_or_else(|| {
                    AppError::internal(format!("stored delivery state {state:?}"))
                })?,
                attempts: u32::try_from(row.attempts.unwrap_or(0)).or_internal()?,
                last_error: row.last_error,
                last_attempt_at: opt_time(row.last_attempt_at)?,
                next_attempt_at: if state == "pending" {
                    opt_time(row.next_attempt_at)?
                } else {
                    None
                },
                delivered_at: opt_time(row.delivered_at)?,
            },
        };
        Ok(Restart {
            attempt: u32::try_from(row.attempt).or_internal()?,
            environments: from_json(&row.environments)?,
            requested_by: row.requested_by,
            requested_at: time(row.requested_at)?,
            delivery,
        })
    }
}

/// The restarts of release `release_pk` with their deliveries, newest first.
#[tracing::instrument(skip_all, fields(release_pk))]
pub async fn of_release(conn: &mut Conn, release_pk: i64) -> Result<Vec<Restart>, AppError> {
    sqlx::query_as::<_, RestartRow>(
        "SELECT r.attempt, r.environments, r.requested_by, r.requested_at, d.state, d.attempts, \
         d.last_error, d.last_attempt_at, d.next_attempt_at, d.delivered_at \
         FROM restarts r LEFT JOIN webhook_deliveries d ON d.restart_id = r.id \
         WHERE r.release_pk = $1 ORDER BY r.id DESC",
    )
    .bind(release_pk)
    .fetch_all(&mut *conn)
    .await
    .or_internal()?
    .into_iter()
    .map(Restart::try_from)
    .collect()
}

/// A pending delivery, as the worker sends it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueDelivery {
    pub id: i64,
    pub product_id: i64,
    pub release_pk: i64,
    pub body: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

/// Up to `limit` pending deliveries due at `now`, oldest due first.
#[tracing::instrument(skip_all, fields(limit))]
pub async fn due(conn: &mut Conn, now: i64, limit: i64) -> Result<Vec<DueDelivery>, AppError> {
    sqlx::query_as::<_, DueDelivery>(
        "SELECT id, product_id, release_pk, body, attempts, next_attempt_at \
         FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .or_internal()
}

/// When the next pending delivery is due, if any.
#[tracing::instrument(skip_all)]
pub async fn next_due(conn: &mut Conn) -> Result<Option<i64>, AppError> {
    sqlx::query_scalar::<_, Option<i64>>(
        "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'",
    )
    .fetch_one(&mut *conn)
    .await
    .or_internal()
}

/// Claims a due delivery until `lease_until`: true when this worker won it
/// (another replica, or a crash before the outcome, can only retry after
/// the lease).
#[tracing::instrument(skip_all)]
pub async fn claim(
    conn: &mut Conn,
    delivery: &DueDelivery,
    lease_until: i64,
) -> Result<bool, AppError> {
    Ok(sqlx::query(
        "UPDATE webhook_deliveries SET next_attempt_at = $3 \
         WHERE id = $1 AND state = 'pending' AND next_attempt_at = $2",
    )
    .bind(delivery.id)
    .bind(delivery.next_attempt_at)
    .bind(lease_until)
    .execute(&mut *conn)
    .await
    .or_internal()?
    .rows_affected()
        == 1)
}

/// The outcome of one try.
pub enum Outcome<'a> {
    Delivered,
    /// Failed; retried at `next_attempt_at`, or given up when `None`.
    Failed {
        error: &'a str,
        next_attempt_at: Option<i64>,
    },
}

/// Records the outcome of a try of delivery `id` at `now`.
#[tracing::instrument(skip_all, fields(id))]
pub async fn settle(
    conn: &mut Conn,
    id: i64,
    outcome: &Outcome<'_>,
    now: i64,
) -> Result<(), AppError> {
    let (state, error, next, delivered) = match outcome {
        Outcome::Delivered => ("delivered", None, now, Some(now)),
        Outcome::Failed {
            error,
            next_attempt_at: Some(next),
        } => ("pending", Some(*error), *next, None),
        Outcome::Failed {
            error,
            next_attempt_at: None,
        } => ("failed", Some(*error), now, None),
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET state = $2, attempts = attempts + 1, \
         last_error = COALESCE($3, last_error), last_attempt_at = $4, next_attempt_at = $5, \
         delivered_at = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(error)
    .bind(now)
    .bind(next)
    .bind(delivered)
    .execute(&mut *conn)
    .await
    .or_internal()?;
    Ok(())
}
