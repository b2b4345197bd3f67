//! Products: the dashboard and the orchestrator webhook.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::auth::{Operator, Reader};
use super::PathParams;
use backend::Core;
use backend::{read, settings, webhook};
use domain::AppError;
use domain::ProductList;

/// Every product with, per environment, the version there, the release
/// deployed there and its status (the environments dashboard).
#[utoipa::path(get, path = "/api/v1/products", tag = "read",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "`{\"products\": [{\"product\", \"latest_release\", \"environments\": [{\"name\", \"version\", \"release\", \"status\"}]}]}`"),
        (status = 401, description = "No token and anonymous read is off, or an unknown token"),
        (status = 403, description = "An ingest token")))]
pub async fn list_products(
    _caller: Reader,
    State(core): State<Core>,
) -> Result<Json<ProductList>, AppError> {
    read::list_products(&core).await.map(Json)
}

/// The body of `PUT /api/v1/products/{product}/webhook`.
#[derive(Debug, serde::Deserialize)]
pub struct WebhookBody {
    pub url: Option<String>,
    pub secret: Option<String>,
}

/// Sets the orchestrator webhook of a product: `{"url", "secret"}`. The
/// secret is stored, never returned.
#[utoipa::path(put, path = "/api/v1/products/{product}/webhook", tag = "webhook",
    security(("bearer" = [])),
    params(("product" = String, Path, description = "Product slug")),
    request_body(content_type = "application/json", description = "`{\"url\": \"https://…\", \"secret\": \"…\"}`"),
    responses(
        (status = 200, description = "`{\"product\", \"url\", \"secret_set\": true}`"),
        (status = 400, description = "Bad URL or secret"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not `operator`"),
        (status = 404, description = "Unknown product")))]
pub async fn put_webhook(
    Operator(_caller): Operator,
    State(core): State<Core>,
    PathParams(product): PathParams<String>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
    let body: WebhookBody = serde_json::from_slice(&body).map_err(|e| AppError::Invalid {
        field: None,
        message: format!("the body must be a JSON object {{\"url\", \"secret\"}}: {e}"),
    })?;
    let url = body
        .url
        .ok_or_else(|| AppError::invalid("url", "`url` is required"))?;
    let secret = body
        .secret
        .ok_or_else(|| AppError::invalid("secret", "`secret` is required"))?;
    webhook::set_webhook(&core, &product, &url, &secret).await?;
    Ok(Json(serde_json::json!({
        "product": product,
        "url": url,
        "secret_set": true,
    })))
}

/// Removes the orchestrator webhook of a product.
#[utoipa::path(delete, path = "/api/v1/products/{product}/webhook", tag = "webhook",
    security(("bearer" = [])),
    params(("product" = String, Path, description = "Product slug")),
    responses(
        (status = 204, description = "Removed (or there was none)"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not `operator`"),
        (status = 404, description = "Unknown product")))]
pub async fn delete_webhook(
    Operator(_caller): Operator,
    State(core): State<Core>,
    PathParams(product): PathParams<String>,
) -> Result<StatusCode, AppError> {
    webhook::delete_webhook(&core, &product).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the promotion flow of a product (SPEC §4.6): the shape of
/// `release.created`'s `flow`, with the same validation. A
/// `release.created` without a `flow` then snapshots it. Creates the
/// product when it is new; releases already created keep their flow.
#[utoipa::path(put, path = "/api/v1/products/{product}/flow", tag = "settings",
    security(("bearer" = [])),
    params(("product" = String, Path, description = "Product slug")),
    request_body(content_type = "application/json",
        description = "`{\"name\", \"trigger\", \"environments\": [{\"name\", \"depends_on\", \"applications\", \"pre_action\", \"post_action\"}]}`"),
    responses(
        (status = 200, description = "The flow as stored"),
        (status = 400, description = "Not a valid flow; `error.field` names the problem"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not `operator`"),
        (status = 413, description = "More than 1 MiB")))]
pub async fn put_flow(
    Operator(_caller): Operator,
    State(core): State<Core>,
    PathParams(product): PathParams<String>,
    body: axum::body::Bytes,
) -> Result<Json<domain::Flow>, AppError> {
    backend::ingest::check_product_slug(&product, "product")?;
    let value: serde_json::Value = backend::ingest::json(&body)?;
    let flow = backend::ingest::parse_flow(&value, String::new())?;
    settings::set_flow(&core, &product, &flow).await?;
    Ok(Json(flow))
}

/// The configured promotion flow of a product.
#[utoipa::path(get, path = "/api/v1/products/{product}/flow", tag = "settings",
    security((), ("bearer" = [])),
    params(("product" = String, Path, description = "Product slug")),
    responses(
        (status = 200, description = "`{\"name\", \"trigger\", \"environments\": [...]}`"),
        (status = 401, description = "No token and anonymous read is off, or an unknown token"),
        (status = 403, description = "An ingest token"),
        (status = 404, description = "Unknown product, or no configured flow")))]
pub async fn get_flow(
    _caller: Reader,
    State(core): State<Core>,
    PathParams(product): PathParams<String>,
) -> Result<Json<domain::Flow>, AppError> {
    settings::get_flow(&core, &product).await.map(Json)
}
