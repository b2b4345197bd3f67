//! Restart a failed release (SPEC §2.6, §4.3).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::auth::Operator;
use super::PathParams;
use backend::restart::{self, RestartAccepted};
use backend::Core;
use domain::AppError;

/// Restarts a failed or terminated release: its failed environments and
/// everything downstream reopen at the next attempt, and the product's
/// orchestrator webhook is sent `release.restart_requested`.
#[utoipa::path(post, path = "/api/v1/products/{product}/releases/{id}/restart", tag = "restart",
    security(("bearer" = [])),
    params(
        ("product" = String, Path, description = "Product slug"),
        ("id" = i64, Path, description = "Per-product release id")),
    responses(
        (status = 202, description = "`{\"type\": \"release.restart_requested\", \"product\", \"release\", \"release_key\", \"attempt\", \"environments\", \"environment_attempts\", \"requested_by\", \"requested_at\", \"delivery\": \"pending|none\"}`"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not `operator`, or a cross-origin browser write"),
        (status = 404, description = "Unknown product or release"),
        (status = 409, description = "The release is neither failed nor terminated")))]
pub async fn restart_release(
    Operator(caller): Operator,
    State(core): State<Core>,
    PathParams((product, id)): PathParams<(String, i64)>,
) -> Result<(StatusCode, Json<RestartAccepted>), AppError> {
    let accepted = restart::restart_release(&core, &product, id, &caller).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}
