//! API tokens and roles (SPEC §4.1). A token is 32 random bytes shown once;
//! only its SHA-256 hash is stored, so a database leak reveals no usable token.
//! Tokens are random, not passwords, so a fast hash is enough.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, REFERER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
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

/// The cookie of a signed-in browser. It holds the token pasted on the
/// sign-in page (HttpOnly, SameSite=Strict), checked like a bearer token on
/// every request, so revoking the token signs the browser out too.
pub const SESSION_COOKIE: &str = "releases_session";

/// Who is calling. Extracted from every API request and server function:
/// a bearer token must be known (else 401); without one, a known session
/// cookie counts as that token; otherwise the caller is `Anonymous`.
/// Cookie-authenticated writes must come from this site's own pages (see
/// `same_origin`), so another site cannot ride a signed-in browser.
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
            return session_caller(parts, state).await;
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

/// The caller behind the session cookie, if any. A stale or unknown cookie
/// is anonymous (the page stays readable where anonymous read is on); a
/// write with a cookie from another origin is refused with 403.
async fn session_caller(parts: &Parts, state: &AppState) -> Result<Caller, AppError> {
    let Some(token) = session_token(&parts.headers) else {
        return Ok(Caller::Anonymous);
    };
    let Some(role) = find_token_role(&state.db, &token).await? else {
        return Ok(Caller::Anonymous);
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !same_origin(&parts.headers) {
        return Err(AppError::forbidden(
            "cross-origin request refused: a signed-in browser may only write from this site's pages",
        ));
    }
    Ok(Caller::Token(role))
}

/// The token in the session cookie, if the request carries one.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// Whether the request comes from a page of this very site: its `Origin`
/// (or, when a browser sends none, its `Referer`) names the `Host` it was
/// sent to. A request with neither is refused.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(ORIGIN)
        .or_else(|| headers.get(REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(source) = source else {
        return false;
    };
    let authority = source
        .strip_prefix("https://")
        .or_else(|| source.strip_prefix("http://"))
        .map(|rest| rest.split('/').next().unwrap_or_default());
    authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
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
    fn same_origin_compares_origin_or_referer_with_host() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, axum::http::HeaderValue::from_static(value));
            }
            map
        };
        assert!(same_origin(&headers(&[
            ("host", "rel.example:3000"),
            ("origin", "http://rel.example:3000")
        ])));
        assert!(same_origin(&headers(&[
            ("host", "rel.example"),
            ("referer", "https://rel.example/products/x")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "rel.example"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "rel.example"),
            ("origin", "https://rel.example.evil.example")
        ])));
        assert!(!same_origin(&headers(&[("host", "rel.example")])));
        assert!(!same_origin(&headers(&[("origin", "https://rel.example")])));
    }

    #[test]
    fn the_session_token_is_read_from_its_cookie() {
        let mut map = HeaderMap::new();
        map.insert(
            COOKIE,
            axum::http::HeaderValue::from_static("theme=dark; releases_session=rls_abc; x=1"),
        );
        assert_eq!(session_token(&map).as_deref(), Some("rls_abc"));
        map.insert(COOKIE, axum::http::HeaderValue::from_static("theme=dark"));
        assert_eq!(session_token(&map), None);
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::Viewer, Role::Operator, Role::Ingest] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
