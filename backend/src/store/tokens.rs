//! API tokens: only their hashes are stored.

use domain::AppError;

use super::{Conn, OrInternal};
use crate::auth::{Caller, Role};

/// Stores a new token's hash; its row id.
#[tracing::instrument(skip_all, fields(role = role.as_str()))]
pub async fn insert(
    conn: &mut Conn,
    name: &str,
    role: Role,
    hash: &str,
    now: i64,
) -> Result<i64, AppError> {
    sqlx::query_scalar::<_, i64>(
        "INSERT INTO tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(hash)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .or_internal()
}

/// The token with this hash, as a caller, if it is known.
#[tracing::instrument(skip_all)]
pub async fn find(conn: &mut Conn, hash: &str) -> Result<Option<Caller>, AppError> {
    let row = sqlx::query_as::<_, (i64, String, String)>(
        "SELECT id, name, role FROM tokens WHERE hash = $1",
    )
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await
    .or_internal()?;
    row.map(|(token_id, name, role)| {
        let role = Role::parse(&role)
            .ok_or_else(|| AppError::internal(format!("stored role {role:?}")))?;
        Ok(Caller {
            token_id,
            name,
            role,
        })
    })
    .transpose()
}
