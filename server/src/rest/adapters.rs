//! `POST /api/v1/adapters/…` (SPEC §4.5): what Argo Workflows, Argo CD and
//! GitHub already produce, mapped to the events of SPEC §4.2 by
//! `backend::adapters` and applied through the one ingest path.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;

use super::auth::Ingestor;
use super::events::limited_body;
use backend::adapters::{self, AdapterOutcome, AdapterSettings, Keys};
use backend::auth::{self, Role};
use backend::Core;
use domain::AppError;

/// An adapter request's JSON body (at most 1 MiB) and the mapping keys of
/// its query string.
async fn payload(
    headers: &HeaderMap,
    body: Body,
    query: Option<String>,
) -> Result<(serde_json::Value, Keys), AppError> {
    let body = adapters::json_body(&limited_body(headers, body).await?)?;
    Ok((body, Keys::from_query_string(query.as_deref())))
}

/// Argo Workflows `Workflow`s, each one `workflow.updated` snapshot.
#[utoipa::path(post, path = "/api/v1/adapters/argo-workflows", tag = "adapters",
    security(("bearer" = [])),
    params(
        ("product" = Option<String>, Query, description = "Mapping key (else label releases/product)"),
        ("release" = Option<String>, Query, description = "Mapping key (else label releases/release)"),
        ("environment" = Option<String>, Query, description = "Mapping key"),
        ("phase" = Option<String>, Query, description = "Mapping key: pre or post"),
        ("application" = Option<String>, Query, description = "Mapping key"),
        ("workflow" = Option<String>, Query, description = "Mapping key (else the template's name)")),
    request_body(content_type = "application/json",
        description = "A Workflow, `{\"items\": [...]}`, an Argo Events envelope `{\"context\", \"data\"}`, a CloudEvent carrying a Workflow, or what an exit handler renders: a Workflow whose `status` has `duration` and `failures` instead of `nodes`"),
    responses(
        (status = 200, description = "`{\"accepted\", \"duplicates\", \"releases\", \"ignored\"}`"),
        (status = 400, description = "A malformed payload; `error.field` names it"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not `ingest`"),
        (status = 413, description = "More than 1 MiB"),
        (status = 422, description = "A mapping key is missing; `error.field` names it")))]
pub async fn argo_workflows(
    Ingestor(_caller): Ingestor,
    State(core): State<Core>,
    State(settings): State<AdapterSettings>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AdapterOutcome>, AppError> {
    // Read as it is, without a JSON tree of it: a list of Workflows is
    // most of a megabyte of nodes.
    let body = limited_body(&headers, body).await?;
    let keys = Keys::from_query_string(query.as_deref());
    let (events, ignored) = adapters::argo_workflows::read(&body, &keys, &settings)?;
    adapters::apply_events(&core, events, ignored)
        .await
        .map(Json)
}

/// An Argo CD `Application` (or `{"app": …}` from a notifications
/// template): its health, and a promotion when a sync succeeded.
#[utoipa::path(post, path = "/api/v1/adapters/argo-cd", tag = "adapters",
    security(("bearer" = [])),
    params(
        ("product" = Option<String>, Query, description = "Mapping key (else label releases/product)"),
        ("environment" = Option<String>, Query, description = "Mapping key (else label releases/environment)"),
        ("application" = Option<String>, Query, description = "Mapping key (else metadata.name)"),
        ("release" = Option<String>, Query, description = "Mapping key: with it, a Succeeded sync is a promotion"),
        ("version" = Option<String>, Query, description = "Mapping key (else the first image's tag, else the revision)")),
    request_body(content_type = "application/json", description = "An Application, or `{\"app\": <Application>}`"),
    responses(
        (status = 200, description = "`{\"accepted\", \"duplicates\", \"releases\", \"ignored\"}`"),
        (status = 400, description = "A malformed payload; `error.field` names it"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not `ingest`"),
        (status = 413, description = "More than 1 MiB"),
        (status = 422, description = "A mapping key is missing; `error.field` names it")))]
pub async fn argo_cd(
    Ingestor(_caller): Ingestor,
    State(core): State<Core>,
    State(settings): State<AdapterSettings>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AdapterOutcome>, AppError> {
    let (body, keys) = payload(&headers, body, query).await?;
    let mapped = adapters::argo_cd::map(&body, &keys, &settings)?;
    adapters::apply(&core, mapped).await.map(Json)
}

/// GitHub webhook deliveries: `push`, `workflow_run`, `workflow_job`,
/// `deployment_status` (others are ignored). Authenticated by an `ingest`
/// token or, with `--github-webhook-secret`, by `X-Hub-Signature-256`.
#[utoipa::path(post, path = "/api/v1/adapters/github", tag = "adapters",
    security((), ("bearer" = [])),
    params(
        ("X-GitHub-Event" = String, Header, description = "The event"),
        ("X-GitHub-Delivery" = String, Header, description = "The delivery id: the event id"),
        ("X-Hub-Signature-256" = Option<String>, Header, description = "`sha256=<hex HMAC of the body>` with the webhook secret"),
        ("product" = Option<String>, Query, description = "Mapping key (else the repository's name)"),
        ("release" = Option<String>, Query, description = "Mapping key (else the commit sha)"),
        ("environment" = Option<String>, Query, description = "Mapping key (runs and jobs)"),
        ("phase" = Option<String>, Query, description = "Mapping key (runs and jobs)"),
        ("application" = Option<String>, Query, description = "Mapping key (runs and jobs)"),
        ("workflow" = Option<String>, Query, description = "Mapping key (else the workflow or job name)"),
        ("version" = Option<String>, Query, description = "Mapping key")),
    request_body(content_type = "application/json", description = "The delivery's payload, as GitHub sends it"),
    responses(
        (status = 200, description = "`{\"accepted\", \"duplicates\", \"releases\", \"ignored\"}`"),
        (status = 400, description = "A malformed payload or a missing header; `error.field` names it"),
        (status = 401, description = "No token and no valid signature, or an invalid signature"),
        (status = 403, description = "A token whose role is not `ingest`"),
        (status = 413, description = "More than 1 MiB"),
        (status = 422, description = "A mapping key is missing; `error.field` names it")))]
pub async fn github(
    State(core): State<Core>,
    State(settings): State<AdapterSettings>,
    RawQuery(query): RawQuery,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AdapterOutcome>, AppError> {
    let bytes = limited_body(&headers, body).await?;
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    match (&settings.github_webhook_secret, signature) {
        // A signature is checked whenever there is a secret: an invalid
        // one is refused even with a token.
        (Some(secret), Some(signature)) => {
            if !adapters::github::signature_is_valid(secret, &bytes, signature) {
                return Err(AppError::Unauthorized);
            }
        }
        _ => {
            let caller = auth::resolve(&core, &headers, &method).await?;
            auth::require(caller, Role::Ingest)?;
        }
    }
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AppError::invalid(name, format!("the `{name}` header is required")))
    };
    let event = header("X-GitHub-Event")?;
    let delivery = header("X-GitHub-Delivery")?;
    let body = adapters::json_body(&bytes)?;
    let keys = Keys::from_query_string(query.as_deref());
    let mapped = adapters::github::map(event, delivery, &body, &keys)?;
    adapters::apply(&core, mapped).await.map(Json)
}

/// CDEvents (0.3 to 0.5 and the 0.6 drafts): a CDEvent, an array of them,
/// or CloudEvents carrying them (structured, batch, binary mode). Pipeline
/// runs are runs, task runs steps of their pipeline run; each event changes
/// what it reports and keeps the rest of the run.
#[utoipa::path(post, path = "/api/v1/adapters/cdevents", tag = "adapters",
    security(("bearer" = [])),
    params(
        ("product" = Option<String>, Query, description = "Mapping key (required)"),
        ("release" = Option<String>, Query, description = "Mapping key (else context.chainId)"),
        ("environment" = Option<String>, Query, description = "Mapping key (else the service event's environment)"),
        ("phase" = Option<String>, Query, description = "Mapping key (pipeline and task runs)"),
        ("application" = Option<String>, Query, description = "Mapping key (pipeline and task runs)"),
        ("workflow" = Option<String>, Query, description = "Mapping key (else pipelineName)"),
        ("version" = Option<String>, Query, description = "Mapping key (else the artifact's purl version)")),
    request_body(content_type = "application/json",
        description = "A CDEvent `{\"context\", \"subject\"}`, an array of them, or CloudEvents carrying them"),
    responses(
        (status = 200, description = "`{\"accepted\", \"duplicates\", \"releases\", \"ignored\"}`"),
        (status = 400, description = "A malformed payload; `error.field` names it"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not `ingest`"),
        (status = 413, description = "More than 1 MiB"),
        (status = 422, description = "A mapping key is missing; `error.field` names it")))]
pub async fn cdevents(
    Ingestor(_caller): Ingestor,
    State(core): State<Core>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AdapterOutcome>, AppError> {
    let (body, keys) = payload(&headers, body, query).await?;
    let mapped = adapters::cdevents::map(&body, &keys)?;
    adapters::apply(&core, mapped).await.map(Json)
}
