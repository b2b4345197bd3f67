//! Restarting a failed or terminated release from its page.

use leptos::prelude::*;

use crate::error::AppError;

/// Restarts release `id` of `product` (SPEC §2.6) for a signed-in
/// operator: 401 without a session, 403 for another role or a cross-origin
/// request, 409 unless the release is failed or terminated. Without
/// JavaScript the browser is sent back to the release page.
#[server(endpoint = "restart_release")]
pub async fn restart_release(product: String, id: i64) -> Result<u32, AppError> {
    use axum::extract::FromRequestParts;

    use crate::server::auth::{Caller, Role};
    use crate::server::restart;

    let state = crate::api::app_state()?;
    let mut parts = use_context::<axum::http::request::Parts>()
        .ok_or_else(|| AppError::internal("server function without request parts"))?;
    Caller::from_request_parts(&mut parts, &state)
        .await
        .and_then(|caller| caller.require(Role::Operator))
        .map_err(AppError::with_status)?;
    let requester = restart::requester(&state, &parts.headers)
        .await
        .map_err(AppError::with_status)?;
    let accepted = restart::restart_release(&state, &product, id, &requester)
        .await
        .map_err(AppError::with_status)?;
    leptos_axum::redirect(&format!("/products/{product}/releases/{id}"));
    Ok(accepted.request.attempt)
}
