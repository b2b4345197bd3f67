//! Workflow runs: the latest snapshot of each, their supersede marks, and
//! the current attempt of each environment of a release.

use domain::{snapshot_status, steps_status, Phase, RunFact, RunStatus, StepFact};
use rayon::prelude::*;
use sqlx::any::AnyArguments;
use sqlx::{Arguments, AssertSqlSafe};

use domain::ingest::{Group, RunSnapshot};
use domain::AppError;

use super::{from_json, millis, opt_time, placeholders, to_json, value_rows, Conn, OrInternal};

const COLUMNS: &str = "seq, release_pk, run_id, environment, phase, workflow, \
    application, status, started_at, finished_at, url, manifest, message, attempt, \
    superseded_by, steps";

/// One stored run.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub seq: i64,
    pub release_pk: i64,
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

/// What a write stores of one run: its latest snapshot, with the values
/// derived from it, and its supersede mark.
pub struct RunWrite<'a> {
    pub run: &'a RunSnapshot,
    pub steps: &'a [StepFact],
    /// The `time` of the event that carried the snapshot.
    pub snapshot_time: i64,
    pub superseded_by: Option<i64>,
}

impl RunWrite<'_> {
    /// The aggregate of the steps (the `steps_status` column).
    fn steps_status(&self) -> Option<RunStatus> {
        steps_status(self.steps)
    }

    /// Whether the run may still be pending or running (the `unfinished`
    /// column, which supersede reads through a partial index), by the status
    /// rules of `domain::run_status`.
    fn unfinished(&self) -> i64 {
        let status = snapshot_status(self.run.status, self.steps_status());
        i64::from(
            self.superseded_by.is_none()
                && matches!(status, RunStatus::Pending | RunStatus::Running),
        )
    }
}

/// A run first reported in this write, and where it belongs.
/// Its identity is that of its first report.
pub struct NewRun<'a> {
    pub release_pk: i64,
    pub product_id: i64,
    pub release_id: i64,
    pub run_id: &'a str,
    pub environment: &'a str,
    pub phase: Phase,
    pub workflow: &'a str,
    pub application: &'a str,
    pub attempt: u32,
    pub write: RunWrite<'a>,
}

/// Rows per multi-row statement: a new run binds 20 values, well below
/// both backends' limit on bound parameters (32,766 on SQLite, 65,535 on
/// PostgreSQL).
const CHUNK: usize = 500;

/// The columns a snapshot writes, in the order `RunWrite::add_to` binds
/// them.
const SNAPSHOT_COLUMNS: [&str; 11] = [
    "status",
    "started_at",
    "finished_at",
    "url",
    "manifest",
    "message",
    "steps",
    "snapshot_time",
    "superseded_by",
    "unfinished",
    "steps_status",
];

impl RunWrite<'_> {
    /// Binds the values of `SNAPSHOT_COLUMNS`, with the steps already
    /// serialized (`steps_json`).
    fn add_to(&self, args: &mut AnyArguments, steps: String) -> Result<(), AppError> {
        let run = self.run;
        args.add(run.status.as_str()).or_internal()?;
        args.add(run.started_at.map(millis)).or_internal()?;
        args.add(run.finished_at.map(millis)).or_internal()?;
        args.add(run.url.as_deref()).or_internal()?;
        args.add(run.manifest.as_deref()).or_internal()?;
        args.add(run.message.as_deref()).or_internal()?;
        args.add(steps).or_internal()?;
        args.add(self.snapshot_time).or_internal()?;
        args.add(self.superseded_by).or_internal()?;
        args.add(self.unfinished()).or_internal()?;
        args.add(self.steps_status().map(RunStatus::as_str))
            .or_internal()
    }
}

/// Runs' steps as stored (JSON documents, in order); a batch's snapshots
/// carry their steps' logs.
fn steps_json(writes: &[&RunWrite<'_>]) -> Result<Vec<String>, AppError> {
    crate::parallel::map(writes, |_, write| to_json(&write.steps))
        .into_iter()
        .collect()
}

/// Stores new runs, in the given order (which becomes their arrival
/// order, `seq`), with multi-row INSERTs; returns `(release pk, run id,
/// seq)` of each.
#[tracing::instrument(skip_all, fields(runs = runs.len()))]
pub async fn insert_all(
    conn: &mut Conn,
    runs: &[NewRun<'_>],
) -> Result<Vec<(i64, String, i64)>, AppError> {
    const IDENTITY: [&str; 9] = [
        "release_pk",
        "product_id",
        "release_id",
        "run_id",
        "environment",
        "phase",
        "workflow",
        "application",
        "attempt",
    ];
    let mut stored = Vec::with_capacity(runs.len());
    for chunk in runs.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO runs ({}, {}) VALUES {} RETURNING release_pk, run_id, seq",
            IDENTITY.join(", "),
            SNAPSHOT_COLUMNS.join(", "),
            value_rows(conn, chunk.len(), IDENTITY.len() + SNAPSHOT_COLUMNS.len())
        );
        let writes: Vec<&RunWrite<'_>> = chunk.iter().map(|new| &new.write).collect();
        let steps = steps_json(&writes)?;
        let mut args = AnyArguments::default();
        for (new, steps) in chunk.iter().zip(steps) {
            args.add(new.release_pk).or_internal()?;
            args.add(new.product_id).or_internal()?;
            args.add(new.release_id).or_internal()?;
            args.add(new.run_id).or_internal()?;
            args.add(new.environment).or_internal()?;
            args.add(new.phase.as_str()).or_internal()?;
            args.add(new.workflow).or_internal()?;
            args.add(new.application).or_internal()?;
            args.add(i64::from(new.attempt)).or_internal()?;
            new.write.add_to(&mut args, steps)?;
        }
        let query = sqlx::query_as_with::<_, (i64, String, i64), _>(AssertSqlSafe(sql), args);
        stored.extend(query.fetch_all(&mut *conn).await.or_internal()?);
    }
    Ok(stored)
}

/// Replaces the snapshots of known runs, by seq, with multi-row UPDATEs.
/// A run's identity (environment, phase, workflow, application), attempt
/// and arrival seq stay.
#[tracing::instrument(skip_all)]
pub async fn update_all(conn: &mut Conn, runs: &[(i64, RunWrite<'_>)]) -> Result<(), AppError> {
    // `v.column1` is the seq; the snapshot columns follow.
    let set = SNAPSHOT_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = v.column{}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in runs.chunks(CHUNK) {
        let sql = format!(
            "UPDATE runs SET {set} FROM (VALUES {}) AS v WHERE runs.seq = v.column1",
            value_rows(conn, chunk.len(), 1 + SNAPSHOT_COLUMNS.len())
        );
        let writes: Vec<&RunWrite<'_>> = chunk.iter().map(|(_, write)| write).collect();
        let steps = steps_json(&writes)?;
        let mut args = AnyArguments::default();
        for ((seq, write), steps) in chunk.iter().zip(steps) {
            args.add(*seq).or_internal()?;
            write.add_to(&mut args, steps)?;
        }
        sqlx::query_with(AssertSqlSafe(sql), args)
            .execute(&mut *conn)
            .await
            .or_internal()?;
    }
    Ok(())
}

/// Marks runs, by seq, as superseded by a release (`(seq, release id)`),
/// which also takes them out of the supersede candidates.
#[tracing::instrument(skip_all)]
pub async fn supersede_all(conn: &mut Conn, runs: &[(i64, i64)]) -> Result<(), AppError> {
    for chunk in runs.chunks(CHUNK) {
        let sql = format!(
            "UPDATE runs SET superseded_by = v.column2, unfinished = 0 \
             FROM (VALUES {}) AS v WHERE runs.seq = v.column1",
            value_rows(conn, chunk.len(), 2)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for &(seq, by) in chunk {
            query = query.bind(seq).bind(by);
        }
        query.execute(&mut *conn).await.or_internal()?;
    }
    Ok(())
}

/// A stored run that is not superseded and may still be pending or running.
#[derive(Debug, Clone)]
pub struct Unfinished {
    pub seq: i64,
    pub release_pk: i64,
    pub release_id: i64,
    pub run_id: String,
    /// Its status by SPEC §2.1 (it is not superseded).
    pub status: RunStatus,
}

#[derive(sqlx::FromRow)]
struct UnfinishedRow {
    seq: i64,
    release_pk: i64,
    release_id: i64,
    run_id: String,
    status: String,
    steps_status: Option<String>,
}

/// The runs of `group`, in any release, that are not superseded and may
/// still be pending or running (through the partial `runs_unfinished`
/// index): the candidates a newer release's run supersedes.
#[tracing::instrument(skip_all, fields(product_id))]
pub async fn unfinished_in(
    conn: &mut Conn,
    product_id: i64,
    group: &Group,
) -> Result<Vec<Unfinished>, AppError> {
    let rows = sqlx::query_as::<_, UnfinishedRow>(
        "SELECT seq, release_pk, release_id, run_id, status, steps_status FROM runs \
         WHERE product_id = $1 AND environment = $2 AND phase = $3 AND workflow = $4 \
         AND application = $5 AND unfinished = 1",
    )
    .bind(product_id)
    .bind(&group.environment)
    .bind(group.phase.as_str())
    .bind(&group.workflow)
    .bind(&group.application)
    .fetch_all(&mut *conn)
    .await
    .or_internal()?;
    rows.into_iter()
        .map(|row| {
            let steps = row.steps_status.as_deref().map(status).transpose()?;
            Ok(Unfinished {
                status: snapshot_status(status(&row.status)?, steps),
                seq: row.seq,
                release_pk: row.release_pk,
                release_id: row.release_id,
                run_id: row.run_id,
            })
        })
        .collect()
}

fn status(value: &str) -> Result<RunStatus, AppError> {
    RunStatus::parse(value).ok_or_else(|| AppError::internal(format!("stored status {value:?}")))
}

/// Every run of these releases.
#[tracing::instrument(skip_all, fields(pks = pks.len()))]
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

/// The stored snapshot of run `run_id` of release `release_key` of
/// product `product`, with its snapshot time: what a report that changes
/// only part of a run (a CDEvent) is merged into.
#[tracing::instrument(skip_all)]
pub async fn held(
    conn: &mut Conn,
    product: &str,
    release_key: &str,
    run_id: &str,
) -> Result<Option<(RunFact, i64)>, AppError> {
    #[derive(sqlx::FromRow)]
    struct Held {
        #[sqlx(flatten)]
        row: RunRow,
        snapshot_time: i64,
    }
    let sql = format!(
        "SELECT {COLUMNS}, snapshot_time FROM runs WHERE run_id = $3 AND release_pk = \
         (SELECT r.pk FROM releases r JOIN products p ON p.id = r.product_id \
          WHERE p.slug = $1 AND r.release_key = $2)"
    );
    let held = sqlx::query_as::<_, Held>(AssertSqlSafe(sql))
        .bind(product)
        .bind(release_key)
        .bind(run_id)
        .fetch_optional(&mut *conn)
        .await
        .or_internal()?;
    held.map(|held| Ok((RunFact::try_from(held.row)?, held.snapshot_time)))
        .transpose()
}

/// A stored run as status derivation reads it (`ReleaseFacts::for_status`):
/// seq, snapshot time, run id, environment, phase, workflow, application,
/// status, started at, attempt, superseded by, steps status.
type RunStatusRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    i64,
    Option<i64>,
    Option<String>,
);

/// A stored run as status derivation reads it, with its release and the
/// time of its snapshot.
#[derive(Debug, Clone)]
pub struct RunStatusFact {
    pub release_pk: i64,
    pub snapshot_time: i64,
    pub fact: RunFact,
}

/// Every run of these releases as status derivation reads them: the
/// aggregate status of its steps rather than the steps (see
/// `ReleaseFacts::for_status`), and no URL, manifest or message.
///
/// The runs of each release come as one JSON array, built by the database:
/// a write reads thousands of runs, and the driver's cost is per value
/// (about a microsecond each), not per byte.
#[tracing::instrument(skip_all, fields(pks = pks.len()))]
pub async fn statuses_of_releases(
    conn: &mut Conn,
    pks: &[i64],
) -> Result<Vec<RunStatusFact>, AppError> {
    if pks.is_empty() {
        return Ok(Vec::new());
    }
    const FIELDS: &str = "seq, snapshot_time, run_id, environment, phase, workflow, \
        application, status, started_at, attempt, superseded_by, steps_status";
    let aggregate = if conn.backend_name() == "SQLite" {
        format!("json_group_array(json_array({FIELDS}))")
    } else {
        format!("json_agg(json_build_array({FIELDS}))::text")
    };
    let sql = format!(
        "SELECT release_pk, {aggregate} FROM runs WHERE release_pk IN ({}) GROUP BY release_pk",
        placeholders(1, pks.len())
    );
    let mut query = sqlx::query_as::<_, (i64, String)>(AssertSqlSafe(sql));
    for pk in pks {
        query = query.bind(*pk);
    }
    let rows = query.fetch_all(&mut *conn).await.or_internal()?;
    // A release's runs are a JSON document to read: each on its own core
    // (a few large documents, not the many small items `parallel::map`
    // keeps on one thread).
    let releases: Vec<Vec<RunStatusFact>> = rows
        .par_iter()
        .map(|(release_pk, json)| status_facts(*release_pk, json))
        .collect::<Result<_, AppError>>()?;
    let mut runs: Vec<RunStatusFact> = releases.into_iter().flatten().collect();
    runs.sort_by_key(|run| run.fact.seq);
    Ok(runs)
}

/// The runs of release `release_pk` in the JSON array
/// `statuses_of_releases` reads them as.
fn status_facts(release_pk: i64, json: &str) -> Result<Vec<RunStatusFact>, AppError> {
    let rows = from_json::<Vec<RunStatusRow>>(json)?;
    let mut runs = Vec::with_capacity(rows.len());
    for row in rows {
        let (seq, snapshot_time, run_id, environment, phase, workflow, application) =
            (row.0, row.1, row.2, row.3, row.4, row.5, row.6);
        let (status_text, started_at, attempt, superseded_by, steps_status) =
            (row.7, row.8, row.9, row.10, row.11);
        let steps = match steps_status.as_deref() {
            Some(value) => vec![StepFact::standing_for(status(value)?)],
            None => Vec::new(),
        };
        let fact = RunFact {
            phase: Phase::parse(&phase)
                .ok_or_else(|| AppError::internal(format!("stored phase {phase:?}")))?,
            status: status(&status_text)?,
            started_at: opt_time(started_at)?,
            finished_at: None,
            attempt: u32::try_from(attempt).or_internal()?,
            steps,
            id: run_id,
            seq,
            environment,
            workflow,
            application,
            url: None,
            manifest: None,
            message: None,
            superseded_by,
        };
        runs.push(RunStatusFact {
            release_pk,
            snapshot_time,
            fact,
        });
    }
    Ok(runs)
}

/// The current attempt of each restarted environment of these releases,
/// as `(release pk, environment, attempt)` (environments absent here are
/// at attempt 1).
#[tracing::instrument(skip_all, fields(pks = pks.len()))]
pub async fn attempts_of(
    conn: &mut Conn,
    pks: &[i64],
) -> Result<Vec<(i64, String, u32)>, AppError> {
    if pks.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT release_pk, environment, attempt FROM attempts WHERE release_pk IN ({})",
        placeholders(1, pks.len())
    );
    let mut query = sqlx::query_as::<_, (i64, String, i64)>(AssertSqlSafe(sql));
    for pk in pks {
        query = query.bind(*pk);
    }
    query
        .fetch_all(&mut *conn)
        .await
        .or_internal()?
        .into_iter()
        .map(|(pk, env, attempt)| Ok((pk, env, u32::try_from(attempt).or_internal()?)))
        .collect()
}
