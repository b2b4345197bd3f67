//! The facts of releases as `domain::ReleaseFacts`: loaded for many
//! releases at once (one query per table, never one per release), plus the
//! promotion and git-error records.

use std::collections::{BTreeMap, HashMap};

use domain::{GitErrorFact, PromotionFact, ReleaseFacts, RunFact};
use sqlx::AssertSqlSafe;

use domain::ingest::{EnvironmentPromoted, GitFailed};
use domain::AppError;

use super::releases::ReleaseRow;
use super::{health, placeholders, runs, time, Conn, OrInternal};

/// Stores an `environment.promoted` report.
#[tracing::instrument(skip_all, fields(release_pk))]
pub async fn insert_promotion(
    conn: &mut Conn,
    release_pk: i64,
    promoted: &EnvironmentPromoted,
    at: i64,
    attempt: u32,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO promotions \
         (release_pk, environment, version, commit_sha, commit_url, time, attempt) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(release_pk)
    .bind(&promoted.environment)
    .bind(&promoted.version)
    .bind(promoted.commit_sha.as_deref())
    .bind(promoted.commit_url.as_deref())
    .bind(at)
    .bind(i64::from(attempt))
    .execute(&mut *conn)
    .await
    .or_internal()?;
    Ok(())
}

/// Stores a `git.failed` report.
#[tracing::instrument(skip_all, fields(release_pk))]
pub async fn insert_git_error(
    conn: &mut Conn,
    release_pk: i64,
    failed: &GitFailed,
    at: i64,
    attempt: u32,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO git_errors \
         (release_pk, environment, operation, message, repo, details, time, attempt) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(release_pk)
    .bind(&failed.environment)
    .bind(&failed.operation)
    .bind(&failed.message)
    .bind(failed.repo.as_deref())
    .bind(failed.details.as_deref())
    .bind(at)
    .bind(i64::from(attempt))
    .execute(&mut *conn)
    .await
    .or_internal()?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct PromotionRow {
    release_pk: i64,
    environment: String,
    version: String,
    commit_sha: Option<String>,
    commit_url: Option<String>,
    time: i64,
    attempt: i64,
}

#[derive(sqlx::FromRow)]
struct GitErrorRow {
    seq: i64,
    release_pk: i64,
    environment: String,
    operation: String,
    message: String,
    repo: Option<String>,
    details: Option<String>,
    time: i64,
    attempt: i64,
}

/// Binds `pks` to an `IN (…)` query and runs it.
async fn fetch_in<T>(conn: &mut Conn, sql: &str, pks: &[i64]) -> Result<Vec<T>, AppError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let sql = sql.replace("{in}", &placeholders(1, pks.len()));
    let mut query = sqlx::query_as::<_, T>(AssertSqlSafe(sql));
    for pk in pks {
        query = query.bind(*pk);
    }
    query.fetch_all(&mut *conn).await.or_internal()
}

/// How much of the facts to load.
enum Detail {
    /// Everything the release page shows.
    Full,
    /// What status derivation reads (`ReleaseFacts::for_status`); the runs
    /// of the releases in the map are those given, not read.
    Status(HashMap<i64, Vec<RunFact>>),
}

/// The facts of each release of `rows`, in the same order.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn load(conn: &mut Conn, rows: Vec<ReleaseRow>) -> Result<Vec<ReleaseFacts>, AppError> {
    load_with(conn, rows, Detail::Full).await
}

/// The facts of each release of `rows` as status derivation reads them
/// (`ReleaseFacts::for_status`: no steps, logs, manifests or health), in
/// the same order: what the write path needs to store a release's status.
/// `known_runs` holds, by release pk, the runs (in that shape) of releases
/// whose runs the caller has at hand; the others' are read.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn load_for_status(
    conn: &mut Conn,
    rows: Vec<ReleaseRow>,
    known_runs: HashMap<i64, Vec<RunFact>>,
) -> Result<Vec<ReleaseFacts>, AppError> {
    load_with(conn, rows, Detail::Status(known_runs)).await
}

async fn load_with(
    conn: &mut Conn,
    rows: Vec<ReleaseRow>,
    detail: Detail,
) -> Result<Vec<ReleaseFacts>, AppError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let pks: Vec<i64> = rows.iter().map(|r| r.pk).collect();
    let mut facts: Vec<ReleaseFacts> = Vec::with_capacity(rows.len());
    let mut index: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, row) in rows.into_iter().enumerate() {
        index.insert(row.pk, i);
        facts.push(ReleaseFacts {
            flow: row.flow()?,
            commit: row.commit()?,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
            product: row.product,
            id: row.id,
            key: row.release_key,
            version: row.version,
            env_attempts: Vec::new(),
            runs: Vec::new(),
            promotions: Vec::new(),
            git_errors: Vec::new(),
            health: Vec::new(),
        });
    }
    let of = |pk: i64| index.get(&pk).copied();

    let full = matches!(detail, Detail::Full);
    match detail {
        Detail::Full => {
            for row in runs::of_releases(conn, &pks).await? {
                if let Some(i) = of(row.release_pk) {
                    facts[i].runs.push(RunFact::try_from(row)?);
                }
            }
        }
        Detail::Status(mut known) => {
            let unknown: Vec<i64> = pks
                .iter()
                .copied()
                .filter(|pk| !known.contains_key(pk))
                .collect();
            for run in runs::statuses_of_releases(conn, &unknown).await? {
                if let Some(i) = of(run.release_pk) {
                    facts[i].runs.push(run.fact);
                }
            }
            for (pk, runs) in known.drain() {
                if let Some(i) = of(pk) {
                    facts[i].runs = runs;
                }
            }
        }
    }
    for (pk, environment, attempt) in runs::attempts_of(conn, &pks).await? {
        if let Some(i) = of(pk) {
            facts[i].env_attempts.push((environment, attempt));
        }
    }
    let promotions: Vec<PromotionRow> = fetch_in(
        conn,
        "SELECT release_pk, environment, version, commit_sha, commit_url, time, attempt \
         FROM promotions WHERE release_pk IN ({in}) ORDER BY seq",
        &pks,
    )
    .await?;
    for p in promotions {
        if let Some(i) = of(p.release_pk) {
            facts[i].promotions.push(PromotionFact {
                environment: p.environment,
                version: p.version,
                commit_sha: p.commit_sha,
                commit_url: p.commit_url,
                time: time(p.time)?,
                attempt: u32::try_from(p.attempt).or_internal()?,
            });
        }
    }
    let git_errors: Vec<GitErrorRow> = fetch_in(
        conn,
        "SELECT seq, release_pk, environment, operation, message, repo, details, time, attempt \
         FROM git_errors WHERE release_pk IN ({in}) ORDER BY seq",
        &pks,
    )
    .await?;
    for e in git_errors {
        if let Some(i) = of(e.release_pk) {
            facts[i].git_errors.push(GitErrorFact {
                seq: e.seq,
                environment: e.environment,
                operation: e.operation,
                message: e.message,
                repo: e.repo,
                details: e.details,
                time: time(e.time)?,
                attempt: u32::try_from(e.attempt).or_internal()?,
            });
        }
    }
    if full {
        for (pk, fact) in health::of_deployed(conn, &pks).await? {
            if let Some(i) = of(pk) {
                facts[i].health.push(fact);
            }
        }
    }
    Ok(facts)
}
