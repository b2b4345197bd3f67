//! Restarting a failed or terminated release from its page.

use domain::AppError;
use leptos::prelude::*;

/// Restarts release `id` of `product` (SPEC §2.6) for a signed-in
/// operator: 401 without a session, 403 for another role or a cross-origin
/// request, 409 unless the release is failed or terminated. Without
/// JavaScript the browser is sent back to the release page.
#[server(endpoint = "restart_release")]
pub async fn restart_release(product: String, id: i64) -> Result<u32, AppError> {
    super::serve(async move {
        let (core, caller) = super::operator().await?;
        let accepted = backend::restart::restart_release(&core, &product, id, &caller).await?;
        super::redirect(&format!("/products/{product}/releases/{id}"));
        Ok(accepted.request.attempt)
    })
    .await
}
