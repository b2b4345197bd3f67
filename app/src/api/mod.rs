//! Server functions, one file per resource. Each is a few lines over the
//! server-side core (`backend`), which the REST API calls too, wrapped in
//! `serve`: the one adapter from the core's results to a server function's,
//! so an error always answers with its own HTTP status.

pub mod notes;
pub mod preferences;
pub mod products;
pub mod releases;
pub mod restart;
pub mod session;

#[cfg(feature = "ssr")]
pub(crate) use request::{caller, core, operator, parts, reader, redirect, serve, set_cookie};

/// The server side of the server functions: the state, the caller, and the
/// response they shape.
#[cfg(feature = "ssr")]
mod request {
    use std::future::Future;

    use axum::http::header::SET_COOKIE;
    use axum::http::request::Parts;
    use axum::http::{HeaderValue, StatusCode};
    use backend::auth::{self, Caller, Role};
    use backend::Core;
    use domain::AppError;
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    /// Runs a server function's `work`; an error it ends with sets the
    /// response's HTTP status (server functions otherwise answer every
    /// error with 500).
    pub async fn serve<T>(work: impl Future<Output = Result<T, AppError>>) -> Result<T, AppError> {
        let result = work.await;
        if let Err(error) = &result {
            if let (Some(response), Ok(status)) = (
                use_context::<ResponseOptions>(),
                StatusCode::from_u16(error.status()),
            ) {
                response.set_status(status);
            }
        }
        result
    }

    /// The shared state; an error, never a panic, where it is missing (a
    /// render outside a request, such as the route listing).
    pub fn core() -> Result<Core, AppError> {
        use_context::<Core>()
            .ok_or_else(|| AppError::internal("server function without the application state"))
    }

    /// The request's method, URI and headers.
    pub fn parts() -> Result<Parts, AppError> {
        use_context::<Parts>()
            .ok_or_else(|| AppError::internal("server function without request parts"))
    }

    /// The state and the caller of this request (SPEC §4.1), resolved once.
    pub async fn caller() -> Result<(Core, Option<Caller>), AppError> {
        let core = core()?;
        let parts = parts()?;
        let caller = auth::resolve(&core, &parts.headers, &parts.method).await?;
        Ok((core, caller))
    }

    /// The state, once the caller may read: a viewer or operator token, or
    /// anyone when anonymous read is on; else 401/403.
    pub async fn reader() -> Result<Core, AppError> {
        let (core, caller) = caller().await?;
        auth::require_read(&core, caller.as_ref())?;
        Ok(core)
    }

    /// The state and the caller, who must hold an operator token; else 401/403.
    pub async fn operator() -> Result<(Core, Caller), AppError> {
        let (core, caller) = caller().await?;
        let caller = auth::require(caller, Role::Operator)?;
        Ok((core, caller))
    }

    /// Adds a `Set-Cookie` header to the response.
    pub fn set_cookie(cookie: &str) -> Result<(), AppError> {
        let value = match HeaderValue::from_str(cookie) {
            Ok(value) => value,
            Err(error) => return Err(AppError::internal(error)),
        };
        use_context::<ResponseOptions>()
            .ok_or_else(|| AppError::internal("server function without a response"))?
            .append_header(SET_COOKIE, value);
        Ok(())
    }

    /// Sends a browser without JavaScript on to `path` after a form post.
    pub fn redirect(path: &str) {
        leptos_axum::redirect(path);
    }
}
