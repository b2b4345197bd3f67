//! API tokens: only their hashes are stored.

use domain::AppError;

use super::{Conn, OrInternal};

/// A stored token: its id, name and role, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: String,
}

/// Stores a new token's hash; its row id.
#[tracing::instrument(skip_all, fields(role))]
pub async fn insert(
    conn: &mut Conn,
    name: &str,
    role: &str,
    hash: &str,
    now: i64,
) -> Result<i64, AppError> {
    sqlx::query_scalar::<_, i64>(
        "INSERT INTO tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(role)
    .bind(hash)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .or_internal()
}

/// The token with this hash, if it is known.
#[tracing::instrument(skip_all)]
pub async fn find(conn: &mut Conn, hash: &str) -> Result<Option<TokenRow>, AppError> {
    sqlx::query_as::<_, TokenRow>("SELECT id, name, role FROM tokens WHERE hash = $1")
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await
        .or_internal()
}
