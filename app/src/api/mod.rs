//! Server functions, one file per resource. Each is a few lines that call the
//! service layer in `crate::server`, which the REST API calls too.

pub mod notes;
pub mod preferences;
pub mod products;
pub mod releases;
pub mod restart;
pub mod session;

/// The shared state of a server function; an error, never a panic, where
/// it is missing (a render outside a request, such as the route listing).
#[cfg(feature = "ssr")]
pub(crate) fn app_state() -> Result<crate::server::state::AppState, crate::AppError> {
    leptos::prelude::use_context::<crate::server::state::AppState>()
        .ok_or_else(|| crate::AppError::internal("server function without the application state"))
}

/// The shared state, once the caller may read (SPEC §4.1): a viewer or
/// operator token, or anyone when anonymous read is on. Fails with 401/403,
/// and sets that status on the response.
#[cfg(feature = "ssr")]
pub(crate) async fn reader() -> Result<crate::server::state::AppState, crate::AppError> {
    use axum::extract::FromRequestParts;
    use leptos::prelude::use_context;

    use crate::server::auth::Caller;

    let state = app_state()?;
    let mut parts = use_context::<axum::http::request::Parts>()
        .ok_or_else(|| crate::AppError::internal("server function without request parts"))?;
    Caller::from_request_parts(&mut parts, &state)
        .await
        .and_then(|caller| caller.require_read(&state))
        .map_err(crate::AppError::with_status)?;
    Ok(state)
}
