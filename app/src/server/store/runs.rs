//! Workflow runs: the latest snapshot of each, their supersede marks, and
//! the current attempt of each environment of a release.

use crate::domain::{snapshot_status, steps_status, Phase, RunFact, RunStatus, StepFact};
use sqlx::AssertSqlSafe;

use crate::error::AppError;
use crate::server::ingest::RunSnapshot;

use super::{from_json, millis, opt_time, placeholders, to_json, Conn, OrInternal};

const COLUMNS: &str = "seq, release_pk, release_id, run_id, environment, phase, workflow, \
    application, status, started_at, finished_at, url, manifest, message, attempt, \
    superseded_by, steps";

/// One stored run.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub seq: i64,
    pub release_pk: i64,
    pub release_id: i64,
    pub run_id: String,
    pub environment: String,
    pub phase: String,
    pub workflow: String,
    pub application: String,
    pub status: String,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub url: Option<String>,
    pub manifest: Option<String>,
    pub message: Option<String>,
    pub attempt: i64,
    pub superseded_by: Option<i64>,
    pub steps: String,
}

impl TryFrom<RunRow> for RunFact {
    type Error = AppError;

    fn try_from(row: RunRow) -> Result<RunFact, AppError> {
        let bad = |what: &str, value: &str| AppError::internal(format!("stored {what} {value:?}"));
        Ok(RunFact {
            phase: Phase::parse(&row.phase).ok_or_else(|| bad("phase", &row.phase))?,
            status: RunStatus::parse(&row.status).ok_or_else(|| bad("status", &row.status))?,
            started_at: opt_time(row.started_at)?,
            finished_at: opt_time(row.finished_at)?,
            attempt: u32::try_from(row.attempt).or_internal()?,
            steps: from_json::<Vec<StepFact>>(&row.steps)?,
            id: row.run_id,
            seq: row.seq,
            environment: row.environment,
            workflow: row.workflow,
            application: row.application,
            url: row.url,
            manifest: row.manifest,
            message: row.message,
            superseded_by: row.superseded_by,
        })
    }
}

/// Every stored run of a release: its run id, seq and snapshot time.
pub async fn known(conn: &mut Conn, release_pk: i64) -> Result<Vec<(String, i64, i64)>, AppError> {
    sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT run_id, seq, snapshot_time FROM runs WHERE release_pk = $1",
    )
    .bind(release_pk)
    .fetch_all(&mut *conn)
    .await
    .or_internal()
}

/// Whether a run with this snapshot may still be pending or running (the
/// `unfinished` column), by the status rules of `domain::run_status`.
fn unfinished(run: &RunSnapshot, steps: Option<RunStatus>) -> i64 {
    i64::from(matches!(
        snapshot_status(run.status, steps),
        RunStatus::Pending | RunStatus::Running
    ))
}

/// Where a new run belongs.
pub struct RunPlace<'a> {
    pub release_pk: i64,
    pub product_id: i64,
    pub release_id: i64,
    pub environment: &'a str,
    pub phase: Phase,
    pub attempt: u32,
}

/// Stores the first snapshot of a run; returns its seq.
pub async fn insert(
    conn: &mut Conn,
    place: &RunPlace<'_>,
    run: &RunSnapshot,
    steps: &[StepFact],
    snapshot_time: i64,
) -> Result<i64, AppError> {
    let aggregated = steps_status(steps);
    sqlx::query_scalar::<_, i64>(
        "INSERT INTO runs (release_pk, product_id, release_id, run_id, environment, phase, \
         workflow, application, status, started_at, finished_at, url, manifest, message, \
         attempt, superseded_by, steps, snapshot_time, unfinished, steps_status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL, $16, $17, \
         $18, $19) RETURNING seq",
    )
    .bind(place.release_pk)
    .bind(place.product_id)
    .bind(place.release_id)
    .bind(&run.id)
    .bind(place.environment)
    .bind(place.phase.as_str())
    .bind(&run.workflow)
    .bind(&run.application)
    .bind(run.status.as_str())
    .bind(run.started_at.map(millis))
    .bind(run.finished_at.map(millis))
    .bind(run.url.as_deref())
    .bind(run.manifest.as_deref())
    .bind(run.message.as_deref())
    .bind(i64::from(place.attempt))
    .bind(to_json(&steps)?)
    .bind(snapshot_time)
    .bind(unfinished(run, aggregated))
    .bind(aggregated.map(RunStatus::as_str))
    .fetch_one(&mut *conn)
    .await
    .or_internal()
}

/// Replaces the snapshot of a known run. Its identity (environment, phase,
/// workflow, application), attempt, arrival seq and supersede mark stay; a
/// superseded run stays out of the supersede candidates.
pub async fn update(
    conn: &mut Conn,
    seq: i64,
    run: &RunSnapshot,
    steps: &[StepFact],
    snapshot_time: i64,
) -> Result<(), AppError> {
    let aggregated = steps_status(steps);
    sqlx::query(
        "UPDATE runs SET status = $2, started_at = $3, finished_at = $4, url = $5, \
         manifest = $6, message = $7, steps = $8, snapshot_time = $9, \
         unfinished = CASE WHEN superseded_by IS NULL THEN $10 ELSE 0 END, steps_status = $11 \
         WHERE seq = $1",
    )
    .bind(seq)
    .bind(run.status.as_str())
    .bind(run.started_at.map(millis))
    .bind(run.finished_at.map(millis))
    .bind(run.url.as_deref())
    .bind(run.manifest.as_deref())
    .bind(run.message.as_deref())
    .bind(to_json(&steps)?)
    .bind(snapshot_time)
    .bind(unfinished(run, aggregated))
    .bind(aggregated.map(RunStatus::as_str))
    .execute(&mut *conn)
    .await
    .or_internal()?;
    Ok(())
}

/// Supersede candidates (SPEC §2.5): runs of the same workflow, phase and
/// application in the same environment of the same product, in releases
/// older than `release_id`, that are not superseded and may still be pending
/// or running (through the partial `runs_unfinished` index).
pub async fn unfinished_older(
    conn: &mut Conn,
    place: &RunPlace<'_>,
    workflow: &str,
    application: &str,
) -> Result<Vec<RunRow>, AppError> {
    sqlx::query_as::<_, RunRow>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM runs WHERE product_id = $1 AND environment = $2 AND phase = $3 \
         AND workflow = $4 AND application = $5 AND release_id < $6 AND unfinished = 1"
    )))
    .bind(place.product_id)
    .bind(place.environment)
    .bind(place.phase.as_str())
    .bind(workflow)
    .bind(application)
    .bind(place.release_id)
    .fetch_all(&mut *conn)
    .await
    .or_internal()
}

/// Marks run `seq` as superseded by release `by`, which also takes it out
/// of the supersede candidates.
pub async fn set_superseded(conn: &mut Conn, seq: i64, by: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE runs SET superseded_by = $2, unfinished = 0 WHERE seq = $1")
        .bind(seq)
        .bind(by)
        .execute(&mut *conn)
        .await
        .or_internal()?;
    Ok(())
}

/// Takes run `seq` out of the supersede candidates: a row stored before
/// the `unfinished` column whose steps show it finished.
pub async fn set_finished(conn: &mut Conn, seq: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE runs SET unfinished = 0 WHERE seq = $1")
        .bind(seq)
        .execute(&mut *conn)
        .await
        .or_internal()?;
    Ok(())
}

/// Every run of these releases.
pub async fn of_releases(conn: &mut Conn, pks: &[i64]) -> Result<Vec<RunRow>, AppError> {
    if pks.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM runs WHERE release_pk IN ({}) ORDER BY seq",
        placeholders(1, pks.len())
    );
    let mut query = sqlx::query_as::<_, RunRow>(AssertSqlSafe(sql));
    for pk in pks {
        query = query.bind(*pk);
    }
    query.fetch_all(&mut *conn).await.or_internal()
}

/// A stored run as status derivation reads it (`ReleaseFacts::for_status`).
#[derive(Debug, Clone, sqlx::FromRow)]
struct RunStatusRow {
    seq: i64,
    release_pk: i64,
    run_id: String,
    environment: String,
    phase: String,
    workflow: String,
    application: String,
    status: String,
    started_at: Option<i64>,
    attempt: i64,
    superseded_by: Option<i64>,
    steps_status: Option<String>,
}

/// Every run of these releases as status derivation reads them: the
/// aggregate status of its steps rather than the steps (see
/// `ReleaseFacts::for_status`), and no URL, manifest or message. With the
/// release pk of each.
pub async fn statuses_of_releases(
    conn: &mut Conn,
    pks: &[i64],
) -> Result<Vec<(i64, RunFact)>, AppError> {
    if pks.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT seq, release_pk, run_id, environment, phase, workflow, application, status, \
         started_at, attempt, superseded_by, steps_status FROM runs WHERE release_pk IN ({}) \
         ORDER BY seq",
        placeholders(1, pks.len())
    );
    let mut query = sqlx::query_as::<_, RunStatusRow>(AssertSqlSafe(sql));
    for pk in pks {
        query = query.bind(*pk);
    }
    let bad = |what: &str, value: &str| AppError::internal(format!("stored {what} {value:?}"));
    let status = |value: &str| RunStatus::parse(value).ok_or_else(|| bad("status", value));
    query
        .fetch_all(&mut *conn)
        .await
        .or_internal()?
        .into_iter()
        .map(|row| {
            let steps = match row.steps_status.as_deref() {
                Some(value) => vec![StepFact::standing_for(status(value)?)],
                None => Vec::new(),
            };
            let fact = RunFact {
                phase: Phase::parse(&row.phase).ok_or_else(|| bad("phase", &row.phase))?,
                status: status(&row.status)?,
                started_at: opt_time(row.started_at)?,
                finished_at: None,
                attempt: u32::try_from(row.attempt).or_internal()?,
                steps,
                id: row.run_id,
                seq: row.seq,
                environment: row.environment,
                workflow: row.workflow,
                application: row.application,
                url: None,
                manifest: None,
                message: None,
                superseded_by: row.superseded_by,
            };
            Ok((row.release_pk, fact))
        })
        .collect()
}

/// The current attempt of each restarted environment of a release
/// (environments absent here are at attempt 1).
pub async fn attempts(conn: &mut Conn, release_pk: i64) -> Result<Vec<(String, u32)>, AppError> {
    let rows = sqlx::query_as::<_, (String, i64)>(
        "SELECT environment, attempt FROM attempts WHERE release_pk = $1",
    )
    .bind(release_pk)
    .fetch_all(&mut *conn)
    .await
    .or_internal()?;
    rows.into_iter()
        .map(|(env, attempt)| Ok((env, u32::try_from(attempt).or_internal()?)))
        .collect()
}
