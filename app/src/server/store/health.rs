//! Application health and deployments: which release is deployed in each
//! environment of a product (the newest one promoted or promoting there),
//! the latest version promoted there, and the latest health per application.

use crate::domain::{Health, HealthFact};
use sqlx::AssertSqlSafe;

use crate::error::AppError;
use crate::server::ingest::ApplicationHealth;

use super::{time, Conn, OrInternal};

/// Records that release `release_id` is promoting in `environment`; the
/// newest release wins, whatever order the events arrive in.
pub async fn deploy(
    conn: &mut Conn,
    product_id: i64,
    environment: &str,
    release_id: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO deployments (product_id, environment, release_id) VALUES ($1, $2, $3) \
         ON CONFLICT (product_id, environment) DO UPDATE SET release_id = \
         CASE WHEN excluded.release_id > deployments.release_id \
         THEN excluded.release_id ELSE deployments.release_id END",
    )
    .bind(product_id)
    .bind(environment)
    .bind(release_id)
    .execute(&mut *conn)
    .await
    .or_internal()?;
    Ok(())
}

/// Records, for each `(product id, environment, release id)`, that the
/// release is promoting in the environment, in one statement; as `deploy`.
pub async fn deploy_all(conn: &mut Conn, deployments: &[(i64, &str, i64)]) -> Result<(), AppError> {
    for chunk in deployments.chunks(500) {
        let sql = format!(
            "INSERT INTO deployments (product_id, environment, release_id) VALUES {} \
             ON CONFLICT (product_id, environment) DO UPDATE SET release_id = \
             CASE WHEN excluded.release_id > deployments.release_id \
             THEN excluded.release_id ELSE deployments.release_id END",
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

/// Records `version` as promoted in `environment` by release `release_id`
/// at `at`, unless a newer release, or a later promotion of the same one,
/// is recorded there already (so arrival order does not matter).
pub async fn promote(
    conn: &mut Conn,
    product_id: i64,
    environment: &str,
    release_id: i64,
    version: &str,
    at: i64,
) -> Result<(), AppError> {
    deploy(conn, product_id, environment, release_id).await?;
    sqlx::query(
        "UPDATE deployments SET version = $4, version_release_id = $3, version_time = $5 \
         WHERE product_id = $1 AND environment = $2 \
         AND (version_release_id IS NULL OR version_release_id < $3 \
              OR (version_release_id = $3 AND version_time <= $5))",
    )
    .bind(product_id)
    .bind(environment)
    .bind(release_id)
    .bind(version)
    .bind(at)
    .execute(&mut *conn)
    .await
    .or_internal()?;
    Ok(())
}

/// The release deployed in `environment`, if any.
pub async fn deployed(
    conn: &mut Conn,
    product_id: i64,
    environment: &str,
) -> Result<Option<i64>, AppError> {
    sqlx::query_scalar::<_, i64>(
        "SELECT release_id FROM deployments WHERE product_id = $1 AND environment = $2",
    )
    .bind(product_id)
    .bind(environment)
    .fetch_optional(&mut *conn)
    .await
    .or_internal()
}

/// Stores a health report unless a newer one is stored; whether it was stored.
pub async fn report(
    conn: &mut Conn,
    product_id: i64,
    health: &ApplicationHealth,
    at: i64,
) -> Result<bool, AppError> {
    Ok(sqlx::query(
        "INSERT INTO application_health \
         (product_id, environment, application, health, message, url, time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (product_id, environment, application) DO UPDATE \
         SET health = excluded.health, message = excluded.message, url = excluded.url, \
         time = excluded.time WHERE application_health.time <= excluded.time",
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
    .or_internal()?
    .rows_affected()
        > 0)
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
pub struct DeploymentRow {
    pub product_id: i64,
    pub environment: String,
    pub version: Option<String>,
    pub release_id: i64,
    pub release_key: String,
    pub release_status: String,
    pub env_status: Option<String>,
}

/// Every deployment of every product, joined with its release.
pub async fn dashboard(conn: &mut Conn) -> Result<Vec<DeploymentRow>, AppError> {
    sqlx::query_as::<_, DeploymentRow>(
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
