//! Application health and deployments: which release is deployed in each
//! environment of a product, the version shown there, and the latest health
//! per application — as the ingest fold decides them (the rules are in
//! `domain::ingest`), and as the dashboard and release pages read them.

use domain::ingest::{ApplicationHealth, Deployment, VersionMark};
use domain::{AppError, EnvOverview, EnvStatus, Health, HealthFact, ReleaseRef, ReleaseStatus};
use sqlx::AssertSqlSafe;

use super::{time, Conn, OrInternal};

/// What is deployed in one environment, as ingest reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeploymentRow {
    pub environment: String,
    pub release_id: i64,
    pub release_pk: i64,
    pub version_release_id: Option<i64>,
    pub version_time: Option<i64>,
}

impl DeploymentRow {
    /// The row as the ingest fold holds it.
    pub fn deployment(&self) -> Deployment {
        Deployment {
            release: Some(self.release_id),
            version: self
                .version_release_id
                .zip(self.version_time)
                .map(|(release, time)| VersionMark { release, time }),
        }
    }
}

/// What is deployed in these environments of product `product_id`.
#[tracing::instrument(skip_all, fields(product_id, environments = environments.len()))]
pub async fn deployments_of(
    conn: &mut Conn,
    product_id: i64,
    environments: &[&str],
) -> Result<Vec<DeploymentRow>, AppError> {
    let mut rows = Vec::with_capacity(environments.len());
    for chunk in environments.chunks(500) {
        let sql = format!(
            "SELECT d.environment, d.release_id, r.pk AS release_pk, d.version_release_id, \
             d.version_time FROM deployments d \
             JOIN releases r ON r.product_id = d.product_id AND r.id = d.release_id \
             WHERE d.product_id = $1 AND d.environment IN ({})",
            super::placeholders(2, chunk.len())
        );
        let mut query = sqlx::query_as::<_, DeploymentRow>(AssertSqlSafe(sql)).bind(product_id);
        for environment in chunk {
            query = query.bind(*environment);
        }
        rows.extend(query.fetch_all(&mut *conn).await.or_internal()?);
    }
    Ok(rows)
}

/// The time of the stored health report of each application in these
/// environments of product `product_id`: `(environment, application, time)`.
#[tracing::instrument(skip_all, fields(product_id, environments = environments.len()))]
pub async fn report_times(
    conn: &mut Conn,
    product_id: i64,
    environments: &[&str],
) -> Result<Vec<(String, String, i64)>, AppError> {
    let mut rows = Vec::new();
    for chunk in environments.chunks(500) {
        let sql = format!(
            "SELECT environment, application, time FROM application_health \
             WHERE product_id = $1 AND environment IN ({})",
            super::placeholders(2, chunk.len())
        );
        let mut query =
            sqlx::query_as::<_, (String, String, i64)>(AssertSqlSafe(sql)).bind(product_id);
        for environment in chunk {
            query = query.bind(*environment);
        }
        rows.extend(query.fetch_all(&mut *conn).await.or_internal()?);
    }
    Ok(rows)
}

/// Stores which release is deployed in each `(product id, environment,
/// release id)`, as the ingest fold decided.
#[tracing::instrument(skip_all, fields(deployments = deployments.len()))]
pub async fn save_deployments(
    conn: &mut Conn,
    deployments: &[(i64, &str, i64)],
) -> Result<(), AppError> {
    for chunk in deployments.chunks(500) {
        let sql = format!(
            "INSERT INTO deployments (product_id, environment, release_id) VALUES {} \
             ON CONFLICT (product_id, environment) DO UPDATE SET release_id = excluded.release_id",
            super::value_rows(conn, chunk.len(), 3)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for &(product_id, environment, release_id) in chunk {
            query = query.bind(product_id).bind(environment).bind(release_id);
        }
        query.execute(&mut *conn).await.or_internal()?;
    }
    Ok(())
}

/// Stores the version shown in each `(product id, environment, version,
/// release id, time)` and the promotion it comes from, as the ingest fold
/// decided. The deployments exist (`save_deployments` ran first).
#[tracing::instrument(skip_all, fields(versions = versions.len()))]
pub async fn save_versions(
    conn: &mut Conn,
    versions: &[(i64, &str, &str, i64, i64)],
) -> Result<(), AppError> {
    for &(product_id, environment, version, release_id, time) in versions {
        sqlx::query(
            "UPDATE deployments SET version = $3, version_release_id = $4, version_time = $5 \
             WHERE product_id = $1 AND environment = $2",
        )
        .bind(product_id)
        .bind(environment)
        .bind(version)
        .bind(release_id)
        .bind(time)
        .execute(&mut *conn)
        .await
        .or_internal()?;
    }
    Ok(())
}

/// Stores a health report (newer than the stored one, as the ingest fold
/// decided).
#[tracing::instrument(skip_all, fields(product_id))]
pub async fn save_report(
    conn: &mut Conn,
    product_id: i64,
    health: &ApplicationHealth,
    at: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO application_health \
         (product_id, environment, application, health, message, url, time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (product_id, environment, application) DO UPDATE \
         SET health = excluded.health, message = excluded.message, url = excluded.url, \
         time = excluded.time",
    )
    .bind(product_id)
    .bind(&health.environment)
    .bind(&health.application)
    .bind(health.health.as_str())
    .bind(health.message.as_deref())
    .bind(health.url.as_deref())
    .bind(at)
    .execute(&mut *conn)
    .await
    .or_internal()?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct HealthRow {
    release_pk: i64,
    environment: String,
    application: String,
    health: String,
    message: Option<String>,
    url: Option<String>,
    time: i64,
}

/// Health of the applications in the environments where each of these
/// releases is the one deployed, as `(release pk, fact)`.
#[tracing::instrument(skip_all, fields(pks = pks.len()))]
pub async fn of_deployed(conn: &mut Conn, pks: &[i64]) -> Result<Vec<(i64, HealthFact)>, AppError> {
    if pks.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT r.pk AS release_pk, h.environment, h.application, h.health, h.message, h.url, \
         h.time FROM releases r \
         JOIN deployments d ON d.product_id = r.product_id AND d.release_id = r.id \
         JOIN application_health h ON h.product_id = d.product_id \
         AND h.environment = d.environment WHERE r.pk IN ({})",
        super::placeholders(1, pks.len())
    );
    let mut query = sqlx::query_as::<_, HealthRow>(AssertSqlSafe(sql));
    for pk in pks {
        query = query.bind(*pk);
    }
    let rows = query.fetch_all(&mut *conn).await.or_internal()?;
    rows.into_iter()
        .map(|row| {
            let health = Health::parse(&row.health)
                .ok_or_else(|| AppError::internal(format!("stored health {:?}", row.health)))?;
            Ok((
                row.release_pk,
                HealthFact {
                    environment: row.environment,
                    application: row.application,
                    health,
                    message: row.message,
                    url: row.url,
                    time: time(row.time)?,
                },
            ))
        })
        .collect()
}

/// One environment of the dashboard: the deployed release and its status
/// there, and the latest version promoted there.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DashboardRow {
    pub product_id: i64,
    pub environment: String,
    pub version: Option<String>,
    pub release_id: i64,
    pub release_key: String,
    pub release_status: String,
    pub env_status: Option<String>,
}

impl DashboardRow {
    /// The dashboard's cell of this environment.
    pub fn cell(&self) -> Result<EnvOverview, AppError> {
        let status = ReleaseStatus::parse(&self.release_status).ok_or_else(|| {
            AppError::internal(format!("stored status {:?}", self.release_status))
        })?;
        Ok(EnvOverview {
            name: self.environment.clone(),
            version: self.version.clone(),
            release: Some(ReleaseRef {
                id: self.release_id,
                key: self.release_key.clone(),
                status,
            }),
            status: self.env_status.as_deref().and_then(EnvStatus::parse),
        })
    }
}

/// One environment's cell on the dashboard, if something is deployed there.
#[tracing::instrument(skip_all, fields(product_id))]
pub async fn cell(
    conn: &mut Conn,
    product_id: i64,
    environment: &str,
) -> Result<Option<DashboardRow>, AppError> {
    sqlx::query_as::<_, DashboardRow>(
        "SELECT d.product_id, d.environment, d.version, d.release_id, \
         r.release_key, r.status AS release_status, e.status AS env_status \
         FROM deployments d \
         JOIN releases r ON r.product_id = d.product_id AND r.id = d.release_id \
         LEFT JOIN release_environments e ON e.release_pk = r.pk AND e.environment = d.environment \
         WHERE d.product_id = $1 AND d.environment = $2",
    )
    .bind(product_id)
    .bind(environment)
    .fetch_optional(&mut *conn)
    .await
    .or_internal()
}

/// Every deployment of every product, joined with its release.
#[tracing::instrument(skip_all)]
pub async fn dashboard(conn: &mut Conn) -> Result<Vec<DashboardRow>, AppError> {
    sqlx::query_as::<_, DashboardRow>(
        "SELECT d.product_id, d.environment, d.version, d.release_id, \
         r.release_key, r.status AS release_status, e.status AS env_status \
         FROM deployments d \
         JOIN releases r ON r.product_id = d.product_id AND r.id = d.release_id \
         LEFT JOIN release_environments e ON e.release_pk = r.pk AND e.environment = d.environment \
         ORDER BY d.product_id, d.environment",
    )
    .fetch_all(&mut *conn)
    .await
    .or_internal()
}
