//! API tokens, roles and callers (SPEC §4.1). A token is 32 random bytes
//! shown once; only its SHA-256 hash is stored, so a database leak reveals
//! no usable token. Tokens are random, not passwords, so a fast hash is
//! enough.
//!
//! A request's caller is resolved once, from its headers (`resolve`): a
//! bearer token, else the browser's session cookie, else anonymous. The web
//! crates wrap this in their extractors; they never look a token up again.

use http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, REFERER};
use http::{HeaderMap, Method};
use rand::RngCore;
use sha2::{Digest, Sha256};

use domain::AppError;

use crate::db::Db;
use crate::state::Core;
use crate::store::{self, OrInternal};

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
pub async fn create_token(db: &Db, role: Role, name: &str) -> Result<String, AppError> {
    let token = generate_token();
    let mut conn = db.pool.acquire().await.or_internal()?;
    store::tokens::insert(
        &mut conn,
        name,
        role.as_str(),
        &hash_token(&token),
        chrono::Utc::now().timestamp_millis(),
    )
    .await?;
    Ok(token)
}

/// Who is calling: the token behind the request, looked up once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's row id.
    pub token_id: i64,
    /// The name the token was created with (who restarts are attributed to).
    pub name: String,
    pub role: Role,
}

/// The token `token` names, if it is known.
pub async fn find_token(db: &Db, token: &str) -> Result<Option<Caller>, AppError> {
    let mut conn = db.pool.acquire().await.or_internal()?;
    let row = store::tokens::find(&mut conn, &hash_token(token)).await?;
    row.map(caller_of).transpose()
}

fn caller_of(row: store::tokens::TokenRow) -> Result<Caller, AppError> {
    let role = Role::parse(&row.role)
        .ok_or_else(|| AppError::internal(format!("stored role {:?}", row.role)))?;
    Ok(Caller {
        token_id: row.id,
        name: row.name,
        role,
    })
}

/// The cookie of a signed-in browser (HttpOnly, SameSite=Strict): a random
/// session id, of which only a hash is stored, never the token itself.
pub const SESSION_COOKIE: &str = "releases_session";

/// A session ends after this long without a request…
pub const SESSION_IDLE_MS: i64 = 12 * 3600 * 1000;
/// …and this long after sign-in, whatever its use.
pub const SESSION_MAX_MS: i64 = 7 * 24 * 3600 * 1000;

/// Prefix of session ids.
const SESSION_PREFIX: &str = "rls_s_";

/// Starts a session of the token `token_id`; the id for the cookie.
pub async fn create_session(db: &Db, token_id: i64) -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let id = format!("{SESSION_PREFIX}{}", hex::encode(bytes));
    let mut conn = db.pool.acquire().await.or_internal()?;
    let now = chrono::Utc::now().timestamp_millis();
    store::tokens::insert_session(&mut conn, &hash_token(&id), token_id, now).await?;
    Ok(id)
}

/// The caller of the live session `id`, if there is one.
pub async fn find_session(db: &Db, id: &str) -> Result<Option<Caller>, AppError> {
    let mut conn = db.pool.acquire().await.or_internal()?;
    let now = chrono::Utc::now().timestamp_millis();
    let row = store::tokens::find_session(
        &mut conn,
        &hash_token(id),
        now - SESSION_IDLE_MS,
        now - SESSION_MAX_MS,
        now,
    )
    .await?;
    row.map(caller_of).transpose()
}

/// Ends the session `id` (sign-out), and clears expired ones.
pub async fn end_session(db: &Db, id: &str) -> Result<(), AppError> {
    let mut conn = db.pool.acquire().await.or_internal()?;
    let now = chrono::Utc::now().timestamp_millis();
    store::tokens::delete_session(
        &mut conn,
        &hash_token(id),
        now - SESSION_IDLE_MS,
        now - SESSION_MAX_MS,
    )
    .await
}

/// Every token (never its hash), oldest first.
pub async fn list_tokens(db: &Db) -> Result<Vec<store::tokens::TokenListing>, AppError> {
    let mut conn = db.pool.acquire().await.or_internal()?;
    store::tokens::list(&mut conn).await
}

/// Deletes token `id`, ending its sessions; whether it existed.
pub async fn delete_token(db: &Db, id: i64) -> Result<bool, AppError> {
    let mut conn = db.pool.acquire().await.or_internal()?;
    store::tokens::delete(&mut conn, id).await
}

/// The caller of a request with these `headers` and `method`: a bearer
/// token must be known (else 401); without one, a known session cookie
/// counts as its token; otherwise the caller is anonymous (`None`).
/// Cookie-authenticated writes must come from this site's own pages (see
/// `same_origin`), so another site cannot ride a signed-in browser: 403.
pub async fn resolve(
    core: &Core,
    headers: &HeaderMap,
    method: &Method,
) -> Result<Option<Caller>, AppError> {
    if let Some(header) = headers.get(AUTHORIZATION) {
        let token = header
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or(AppError::Unauthorized)?;
        return match find_token(&core.db, token).await? {
            Some(caller) => Ok(Some(caller)),
            None => Err(AppError::Unauthorized),
        };
    }
    // A stale or unknown cookie is anonymous: the page stays readable
    // where anonymous read is on.
    let Some(session) = session_token(headers) else {
        return Ok(None);
    };
    let Some(caller) = find_session(&core.db, &session).await? else {
        return Ok(None);
    };
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !same_origin(headers) {
        return Err(AppError::forbidden(
            "cross-origin request refused: a signed-in browser may only write from this site's pages",
        ));
    }
    Ok(Some(caller))
}

/// Reads: `viewer` and `operator` tokens, or anyone when anonymous read is
/// on. 401 for an anonymous caller otherwise, 403 for `ingest`.
pub fn require_read(core: &Core, caller: Option<&Caller>) -> Result<(), AppError> {
    match caller.map(|c| c.role) {
        Some(Role::Viewer | Role::Operator) => Ok(()),
        None if core.settings.anonymous_read => Ok(()),
        None => Err(AppError::Unauthorized),
        Some(Role::Ingest) => Err(AppError::forbidden("an ingest token may only post events")),
    }
}

/// Exactly `role` (writes): 401 for an anonymous caller, 403 otherwise.
pub fn require(caller: Option<Caller>, role: Role) -> Result<Caller, AppError> {
    match caller {
        Some(caller) if caller.role == role => Ok(caller),
        None => Err(AppError::Unauthorized),
        Some(caller) => Err(AppError::forbidden(format!(
            "this needs a token with role {}, not {}",
            role.as_str(),
            caller.role.as_str()
        ))),
    }
}

/// The session id in the session cookie, if the request carries one.
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
                map.insert(*name, http::HeaderValue::from_static(value));
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
            http::HeaderValue::from_static("theme=dark; releases_session=rls_abc; x=1"),
        );
        assert_eq!(session_token(&map).as_deref(), Some("rls_abc"));
        map.insert(COOKIE, http::HeaderValue::from_static("theme=dark"));
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
