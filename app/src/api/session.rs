//! Signing a browser in and out: the token pasted on the sign-in page
//! becomes an HttpOnly, SameSite=Strict session cookie.

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

/// Checks `token` and, when it is known, sets the session cookie and sends
/// the browser on to `next` (a path of this site). An unknown token is a 401
/// and sets nothing.
#[server(endpoint = "sign_in")]
pub async fn sign_in(token: String, next: Option<String>) -> Result<(), AppError> {
    use backend::auth::{find_token, SESSION_COOKIE};

    super::serve(async move {
        let core = super::core()?;
        let token = token.trim().to_string();
        if token.is_empty() {
            return Err(AppError::invalid("token", "paste a token to sign in"));
        }
        // Only a known token (letters, digits and `_`) goes into the cookie.
        if find_token(&core.db, &token).await?.is_none() {
            return Err(AppError::Unauthorized);
        }
        super::set_cookie(&format!(
            "{SESSION_COOKIE}={token}; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict"
        ))?;
        super::redirect(&safe_next(next.as_deref()));
        Ok(())
    })
    .await
}

/// Clears the session cookie.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use backend::auth::SESSION_COOKIE;

    super::serve(async move {
        super::set_cookie(&format!(
            "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
        ))?;
        super::redirect("/");
        Ok(())
    })
    .await
}

/// Where to go after signing in: a path of this site, never another site
/// (`//evil.example` and `https://…` fall back to `/`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
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
    }
}
