//! `POST /api/v1/events`: CloudEvents in (SPEC §4.2).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;

use super::auth::Ingestor;
use backend::ingest::{self, IngestOutcome, MAX_BODY_BYTES};
use backend::Core;
use domain::AppError;

/// Ingests one CloudEvent or a batch (structured or binary mode), all in
/// one transaction. Answers `{"accepted", "duplicates", "releases"}`.
#[utoipa::path(post, path = "/api/v1/events", tag = "ingest",
    security(("bearer" = [])),
    request_body(content_type = "application/cloudevents+json",
        description = "One CloudEvent, or a JSON array of up to 1000 \
            (application/cloudevents-batch+json); binary mode with ce-* headers too"),
    responses(
        (status = 200, description = "`{\"accepted\": N, \"duplicates\": M, \"releases\": {\"key\": id}}`"),
        (status = 400, description = "A malformed event; `error.field` names it (e.g. `events[3].data.run.status`)"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not `ingest`"),
        (status = 413, description = "More than 1 MiB or 1000 events")))]
pub async fn post_events(
    Ingestor(_caller): Ingestor,
    State(core): State<Core>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestOutcome>, AppError> {
    let bytes = limited_body(&headers, body).await?;
    let events = ingest::parse_request(&headers, &bytes)?;
    ingest::apply_events(&core, events).await.map(Json)
}

/// The request body, at most `MAX_BODY_BYTES` (413 beyond, before reading
/// when `Content-Length` says so).
pub(super) async fn limited_body(
    headers: &HeaderMap,
    body: Body,
) -> Result<axum::body::Bytes, AppError> {
    let too_large = || AppError::PayloadTooLarge {
        message: format!("the body is larger than {MAX_BODY_BYTES} bytes"),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())
}
