//! The REST API v1 (SPEC §4): thin axum handlers over `backend`, each
//! documented with `#[utoipa::path]` and registered through
//! `utoipa_axum::routes!`, so a route cannot exist without its OpenAPI
//! entry. The document is served at `/api/v1/openapi.json`.

mod adapters;
mod auth;
mod events;
mod products;
mod releases;
mod restart;
mod stream;

pub use auth::{Caller, Ingestor, Operator, Reader};

use axum::extract::rejection::PathRejection;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use domain::AppError;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Releases API",
        version = "1",
        description = "Tracks how each release of a product is promoted through its environments."
    ),
    paths(outside::healthz, outside::readyz, outside::metrics),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Declares the bearer-token scheme the operations refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes and their OpenAPI document, built together.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(events::post_events))
        .routes(routes!(adapters::argo_workflows))
        .routes(routes!(adapters::argo_cd))
        .routes(routes!(adapters::github))
        .routes(routes!(adapters::cdevents))
        .routes(routes!(products::list_products))
        .routes(routes!(products::put_webhook, products::delete_webhook))
        .routes(routes!(products::put_flow, products::get_flow))
        .routes(routes!(releases::list_releases))
        .routes(routes!(releases::release_detail))
        .routes(routes!(releases::release_notes))
        .routes(routes!(restart::restart_release))
        .routes(routes!(stream::stream))
        .split_for_parts()
}

/// The OpenAPI document of every route the server serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// Every `/api/v1` route, plus the OpenAPI document itself; unknown
/// `/api/…` paths answer 404 in the SPEC's error shape, not the HTML page.
pub fn router() -> Router<AppState> {
    let (routes, doc) = api();
    let doc = std::sync::Arc::new(doc);
    routes
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route("/api/{*rest}", axum::routing::any(unknown_api_path))
}

async fn unknown_api_path() -> AppError {
    AppError::not_found("no such API endpoint")
}

/// A path parameter that answers 400 in the SPEC's shape (naming the
/// parameter) when it does not parse, instead of axum's plain-text error.
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParams(value))
            .map_err(|rejection: PathRejection| AppError::Invalid {
                field: None,
                message: format!("bad path parameter: {}", rejection.body_text()),
            })
    }
}

/// Documentation of the routes the `server` crate serves beside the API,
/// so the document covers everything (SPEC §4.3). Never routed from here.
mod outside {
    /// Liveness: the process is up.
    #[utoipa::path(get, path = "/healthz", tag = "operations",
        responses((status = 200, description = "`ok`", content_type = "text/plain")))]
    #[allow(dead_code)]
    pub fn healthz() {}

    /// Readiness: the database answers.
    #[utoipa::path(get, path = "/readyz", tag = "operations",
        responses(
            (status = 200, description = "`{\"status\": \"ready\", \"database\": \"SQLite\"}`"),
            (status = 503, description = "The database does not answer")))]
    #[allow(dead_code)]
    pub fn readyz() {}

    /// Prometheus metrics in the text exposition format.
    #[utoipa::path(get, path = "/metrics", tag = "operations",
        responses((status = 200, description = "Metrics", content_type = "text/plain")))]
    #[allow(dead_code)]
    pub fn metrics() {}
}
