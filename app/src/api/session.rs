//! Signing a browser in and out: the token pasted on the sign-in page
//! starts a session, whose random id the HttpOnly, SameSite=Strict cookie
//! holds (SPEC §4.1).

use domain::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Who the browser is signed in as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// `viewer`, `operator` or `ingest`; `None` when not signed in.
    pub role: Option<String>,
}

impl Session {
    pub fn is_operator(&self) -> bool {
        self.role.as_deref() == Some("operator")
    }
}

/// The session of this browser (anonymous when it has none, or a stale one).
#[server(endpoint = "session")]
pub async fn get_session() -> Result<Session, AppError> {
    super::serve(async move {
        let (_, caller) = super::caller().await?;
        Ok(Session {
            role: caller.map(|caller| caller.role.as_str().to_string()),
        })
    })
    .await
}

/// Checks `token` and, when it is known, starts a session (SPEC §4.1: the
/// cookie holds a random session id, stored hashed) and sends the browser on
/// to `next` (a path of this site). An unknown token is a 401 and sets
/// nothing; a sign-in posted from another site is a 403.
#[server(endpoint = "sign_in")]
pub async fn sign_in(token: String, next: Option<String>) -> Result<(), AppError> {
    use backend::auth::{create_session, find_token, SESSION_COOKIE, SESSION_MAX_MS};

    super::serve(async move {
        let core = super::core()?;
        let parts = super::parts()?;
        from_this_site(&parts.headers)?;
        let token = token.trim().to_string();
        if token.is_empty() {
            return Err(AppError::invalid("token", "paste a token to sign in"));
        }
        let Some(caller) = find_token(&core.db, &token).await? else {
            return Err(AppError::Unauthorized);
        };
        let session = create_session(&core.db, caller.token_id).await?;
        let secure = if over_https(&parts.headers) {
            "; Secure"
        } else {
            ""
        };
        super::set_cookie(&format!(
            "{SESSION_COOKIE}={session}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
            SESSION_MAX_MS / 1000
        ))?;
        super::redirect(&safe_next(next.as_deref()));
        Ok(())
    })
    .await
}

/// Ends this browser's session and clears its cookie.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use backend::auth::{end_session, session_token, SESSION_COOKIE};

    super::serve(async move {
        let core = super::core()?;
        let parts = super::parts()?;
        from_this_site(&parts.headers)?;
        if let Some(session) = session_token(&parts.headers) {
            end_session(&core.db, &session).await?;
        }
        let secure = if over_https(&parts.headers) {
            "; Secure"
        } else {
            ""
        };
        super::set_cookie(&format!(
            "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"
        ))?;
        super::redirect("/");
        Ok(())
    })
    .await
}

/// Sign-in and sign-out pass the same-origin check of cookie writes.
#[cfg(feature = "ssr")]
fn from_this_site(headers: &axum::http::HeaderMap) -> Result<(), AppError> {
    if backend::auth::same_origin(headers) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "cross-origin request refused: sign in and out from this site's pages",
        ))
    }
}

/// Whether the browser reached us over HTTPS: through a proxy that says so
/// (`X-Forwarded-Proto: https`); the cookie is then `Secure`.
#[cfg(feature = "ssr")]
fn over_https(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Where to go after signing in: a path of this site, never another site.
/// Anything but printable ASCII without `\` falls back to `/` (browsers
/// drop tabs and newlines, so `/%09/evil.example` would become
/// `//evil.example`), as do `//evil.example` and `https://…`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && path.chars().all(|c| c.is_ascii_graphic() && c != '\\') =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/products/a/releases/3")),
            "/products/a/releases/3"
        );
        assert_eq!(safe_next(Some("//evil.example/x")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next(Some("/releases/é")), "/");
        assert_eq!(safe_next(Some("/a b")), "/");
    }
}
