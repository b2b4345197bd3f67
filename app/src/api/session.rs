//! Signing a browser in and out: the token pasted on the sign-in page
//! becomes an HttpOnly, SameSite=Strict session cookie.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

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
    use crate::server::auth::Caller;
    use axum::extract::FromRequestParts;

    let state = crate::api::app_state()?;
    let mut parts = use_context::<axum::http::request::Parts>()
        .ok_or_else(|| AppError::internal("server function without request parts"))?;
    let caller = Caller::from_request_parts(&mut parts, &state)
        .await
        .map_err(AppError::with_status)?;
    Ok(Session {
        role: match caller {
            Caller::Token(role) => Some(role.as_str().to_string()),
            Caller::Anonymous => None,
        },
    })
}

/// Checks `token` and, when it is known, sets the session cookie and sends
/// the browser on to `next` (a path of this site). An unknown token is a 401
/// and sets nothing.
#[server(endpoint = "sign_in")]
pub async fn sign_in(token: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::auth::{find_token_role, SESSION_COOKIE};
    use axum::http::{header::SET_COOKIE, HeaderValue};

    let state = crate::api::app_state()?;
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(AppError::invalid("token", "paste a token to sign in").with_status());
    }
    let value = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict"
    ))
    .map_err(|_| {
        AppError::invalid("token", "a token holds only letters, digits and _").with_status()
    })?;
    if find_token_role(&state.db, &token).await?.is_none() {
        return Err(AppError::Unauthorized.with_status());
    }
    expect_context::<leptos_axum::ResponseOptions>().append_header(SET_COOKIE, value);
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// Clears the session cookie.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::server::auth::SESSION_COOKIE;
    use axum::http::{header::SET_COOKIE, HeaderValue};
    let cookie = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    let value = HeaderValue::from_str(&cookie).map_err(AppError::internal)?;
    expect_context::<leptos_axum::ResponseOptions>().append_header(SET_COOKIE, value);
    leptos_axum::redirect("/");
    Ok(())
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
