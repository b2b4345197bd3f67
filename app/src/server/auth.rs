//! API tokens and roles (SPEC §4.1). A token is 32 random bytes shown once;
//! only its SHA-256 hash is stored, so a database leak reveals no usable token.
//! Tokens are random, not passwords, so a fast hash is enough.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::db::Db;
use super::state::AppState;
use crate::error::AppError;

/// What a token may do. Each role includes the reads of `viewer` except
/// `ingest`, which only posts events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Ingest,
}

impl Role {
    /// The role's name, as stored and typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Ingest => "ingest",
        }
    }

    /// The role called `value`, if any.
    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "ingest" => Some(Role::Ingest),
            _ => None,
        }
    }
}

/// Prefix that makes tokens recognisable (e.g. by secret scanners).
const TOKEN_PREFIX: &str = "rls_";

/// A new random token, in the form `rls_<64 hex digits>`.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The hex SHA-256 of a token: what is stored and looked up.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a token with `role`, stores its hash, and returns the token.
pub async fn create_token(db: &Db, role: Role, name: &str) -> Result<String, sqlx::Error> {
    let token = generate_token();
    sqlx::query("INSERT INTO tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(name)
        .bind(role.as_str())
        .bind(hash_token(&token))
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&db.pool)
        .await?;
    Ok(token)
}

/// The role of `token` (looked up by its hash), if it is known.
pub async fn find_token_role(db: &Db, token: &str) -> Result<Option<Role>, AppError> {
    let role = sqlx::query_scalar::<_, String>("SELECT role FROM tokens WHERE hash = $1")
        .bind(hash_token(token))
        .fetch_optional(&db.pool)
        .await
        .map_err(AppError::internal)?;
    Ok(role.as_deref().and_then(Role::parse))
}

/// Who is calling. Extracted from every API request: no `Authorization`
/// header is `Anonymous`; a bearer token must be known (else 401).
/// The session cookie of the login page (a later issue) becomes one more
/// way to reach `Token`, here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Token(Role),
}

impl Caller {
    /// Reads: `viewer` and `operator` tokens, or anyone when anonymous
    /// read is on. 401 for an anonymous caller otherwise, 403 for `ingest`.
    pub fn require_read(self, state: &AppState) -> Result<(), AppError> {
        match self {
            Caller::Token(Role::Viewer | Role::Operator) => Ok(()),
            Caller::Anonymous if state.settings.anonymous_read => Ok(()),
            Caller::Anonymous => Err(AppError::Unauthorized),
            Caller::Token(Role::Ingest) => {
                Err(AppError::forbidden("an ingest token may only post events"))
            }
        }
    }

    /// Exactly `role` (writes): 401 for an anonymous caller, 403 otherwise.
    pub fn require(self, role: Role) -> Result<(), AppError> {
        match self {
            Caller::Token(held) if held == role => Ok(()),
            Caller::Anonymous => Err(AppError::Unauthorized),
            Caller::Token(held) => Err(AppError::forbidden(format!(
                "this needs a token with role {}, not {}",
                role.as_str(),
                held.as_str()
            ))),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or(AppError::Unauthorized)?;
        match find_token_role(&state.db, token).await? {
            Some(role) => Ok(Caller::Token(role)),
            None => Err(AppError::Unauthorized),
        }
    }
}

/// A caller allowed to read (see `Caller::require_read`).
pub struct Reader;

impl FromRequestParts<AppState> for Reader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Caller::from_request_parts(parts, state)
            .await?
            .require_read(state)
            .map(|()| Reader)
    }
}

/// A caller with an `operator` token.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Caller::from_request_parts(parts, state)
            .await?
            .require(Role::Operator)
            .map(|()| Operator)
    }
}

/// A caller with an `ingest` token.
pub struct Ingestor;

impl FromRequestParts<AppState> for Ingestor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Caller::from_request_parts(parts, state)
            .await?
            .require(Role::Ingest)
            .map(|()| Ingestor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_deterministically() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert!(!hash_token(&a).contains(&a[TOKEN_PREFIX.len()..]));
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::Viewer, Role::Operator, Role::Ingest] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
