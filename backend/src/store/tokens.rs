//! API tokens and the browser sessions started with them: only hashes of
//! tokens and of session ids are stored.

use domain::AppError;

use super::{Conn, OrInternal};

/// A token as listed: no hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenListing {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: i64,
}

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

/// Every token, oldest first.
#[tracing::instrument(skip_all)]
pub async fn list(conn: &mut Conn) -> Result<Vec<TokenListing>, AppError> {
    sqlx::query_as::<_, TokenListing>("SELECT id, name, role, created_at FROM tokens ORDER BY id")
        .fetch_all(&mut *conn)
        .await
        .or_internal()
}

/// Deletes token `id` and its sessions; whether it existed.
#[tracing::instrument(skip_all, fields(id))]
pub async fn delete(conn: &mut Conn, id: i64) -> Result<bool, AppError> {
    sqlx::query("DELETE FROM sessions WHERE token_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .or_internal()?;
    let done = sqlx::query("DELETE FROM tokens WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .or_internal()?;
    Ok(done.rows_affected() > 0)
}

/// Stores a new session (by the hash of its id) of token `token_id`.
#[tracing::instrument(skip_all, fields(token_id))]
pub async fn insert_session(
    conn: &mut Conn,
    hash: &str,
    token_id: i64,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO sessions (hash, token_id, created_at, seen_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(hash)
    .bind(token_id)
    .bind(now)
    .execute(&mut *conn)
    .await
    .or_internal()?;
    Ok(())
}

/// The token of the live session with this hash: seen since `idle_since`
/// and created since `created_since`. Marks it seen at `now` (at most once
/// a minute, so reads do not each write).
#[tracing::instrument(skip_all)]
pub async fn find_session(
    conn: &mut Conn,
    hash: &str,
    idle_since: i64,
    created_since: i64,
    now: i64,
) -> Result<Option<TokenRow>, AppError> {
    let row = sqlx::query_as::<_, (i64, String, String, i64)>(
        "SELECT t.id, t.name, t.role, s.seen_at FROM sessions s JOIN tokens t ON t.id = s.token_id \
         WHERE s.hash = $1 AND s.seen_at > $2 AND s.created_at > $3",
    )
    .bind(hash)
    .bind(idle_since)
    .bind(created_since)
    .fetch_optional(&mut *conn)
    .await
    .or_internal()?;
    let Some((id, name, role, seen_at)) = row else {
        return Ok(None);
    };
    if now - seen_at > 60_000 {
        sqlx::query("UPDATE sessions SET seen_at = $2 WHERE hash = $1")
            .bind(hash)
            .bind(now)
            .execute(&mut *conn)
            .await
            .or_internal()?;
    }
    Ok(Some(TokenRow { id, name, role }))
}

/// Ends the session with this hash (and any expired ones).
#[tracing::instrument(skip_all)]
pub async fn delete_session(
    conn: &mut Conn,
    hash: &str,
    idle_since: i64,
    created_since: i64,
) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sessions WHERE hash = $1 OR seen_at <= $2 OR created_at <= $3")
        .bind(hash)
        .bind(idle_since)
        .bind(created_since)
        .execute(&mut *conn)
        .await
        .or_internal()?;
    Ok(())
}
