//! `POST /api/v1/adapters/cdevents` (SPEC §4.5): CDEvents 0.3 to 0.5 (and
//! the 0.6 drafts) — a CDEvent document `{"context", "subject"}`, an array
//! of them, or CloudEvents carrying them (structured, batch, or binary mode
//! with the CDEvent as the body). Types match on
//! `dev.cdevents.<subject>.<predicate>`, any version.
//!
//! - `artifact.published`, `change.merged` → `release.created`, with the
//!   product's configured flow;
//! - `service.deployed` / `upgraded` / `rolledback` → `environment.promoted`;
//! - `pipelinerun.queued` / `started` / `finished` → `workflow.updated`,
//!   merged into the run held (`Merge::Run`: what the event leaves out, its
//!   steps among them, is kept);
//! - `taskrun.started` / `finished` → one step of its pipeline run
//!   (`subject.content.pipelineRun.id`), the run's other steps kept
//!   (`Merge::Step`); a task run outside a pipeline run, or of one not
//!   reported yet, is ignored;
//! - every other type → ignored.

use serde_json::{json, Value};

use super::{cloud_event, latest, rfc3339, text, Keys, Mapped};
use crate::ingest::Merge;
use domain::AppError;

/// Maps the body of one request.
pub fn map(body: &Value, keys: &Keys) -> Result<Mapped, AppError> {
    let mut mapped = Mapped::default();
    match body {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                mapped.extend(document(item, &format!("[{i}]"), keys)?);
            }
        }
        other => mapped.extend(document(other, "", keys)?),
    }
    Ok(mapped)
}

/// One CDEvent, or one CloudEvent carrying it in `data`, found at `path`.
fn document(value: &Value, path: &str, keys: &Keys) -> Result<Mapped, AppError> {
    let field = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if value.get("context").is_none() && value.get("specversion").is_some() {
        let data = value.get("data").ok_or_else(|| {
            AppError::invalid(field("data"), "a CloudEvent carrying a CDEvent has `data`")
        })?;
        return document(data, &field("data"), keys);
    }
    let context = value.get("context").filter(|c| c.is_object()).ok_or_else(|| {
        AppError::invalid(
            if path.is_empty() { "(body)".to_owned() } else { path.to_owned() },
            "expected a CDEvent {\"context\", \"subject\"}, an array of them, or a CloudEvent carrying one",
        )
    })?;
    let subject = value
        .get("subject")
        .filter(|s| s.is_object())
        .ok_or_else(|| AppError::invalid(field("subject"), "a CDEvent has a `subject` object"))?;
    let kind = text(context, "type")
        .ok_or_else(|| AppError::invalid(field("context.type"), "a CDEvent has `context.type`"))?;
    let Some(name) = kind.strip_prefix("dev.cdevents.") else {
        return Err(AppError::invalid(
            field("context.type"),
            format!(
                "{kind:?} is not a CDEvents type (dev.cdevents.<subject>.<predicate>.<version>)"
            ),
        ));
    };
    let mut parts = name.split('.');
    let (Some(noun), Some(predicate)) = (parts.next(), parts.next()) else {
        return Err(AppError::invalid(
            field("context.type"),
            format!("{kind:?} names no subject and predicate"),
        ));
    };
    let id = text(context, "id")
        .ok_or_else(|| AppError::invalid(field("context.id"), "a CDEvent has `context.id`"))?;
    let source = text(context, "source").ok_or_else(|| {
        AppError::invalid(field("context.source"), "a CDEvent has `context.source`")
    })?;
    let time = text(context, "timestamp")
        .and_then(|t| latest([t]))
        .ok_or_else(|| {
            AppError::invalid(
                field("context.timestamp"),
                "a CDEvent has an RFC 3339 `context.timestamp`",
            )
        })?;
    let time = rfc3339(time);
    let subject_id = text(subject, "id");
    let content = subject.get("content").unwrap_or(&Value::Null);
    let release = || {
        keys.get("release")
            .or_else(|| text(context, "chainId").map(str::to_owned))
            .ok_or_else(|| {
                AppError::unprocessable(
                    "release",
                    "this CDEvent has no `context.chainId`: give ?release= in the adapter URL",
                )
            })
    };
    let product = || keys.require("product", None);
    // The data of a `workflow.updated` of `run` with `steps`, for the keys.
    let run_report = |run: Value, steps: Value| -> Result<Value, AppError> {
        Ok(json!({
            "product": product()?,
            "release": release()?,
            "environment": keys.require("environment", None)?,
            "phase": keys.require("phase", None)?,
            "run": run,
            "steps": steps,
        }))
    };
    let event = |kind: &str, data: Value| {
        Mapped::one(cloud_event(source, id.to_owned(), kind, &time, data))
    };

    Ok(match (noun, predicate) {
        ("artifact", "published") | ("change", "merged") => {
            let version = keys.get("version").or_else(|| {
                (noun == "artifact")
                    .then(|| subject_id.and_then(purl_version))
                    .flatten()
            });
            let mut data = json!({
                "product": product()?,
                "release": release()?,
                "commit": {
                    "sha": subject_id.unwrap_or(id),
                    "message": format!("{noun} {predicate}: {}", subject_id.unwrap_or(id)),
                    "author": {"name": source},
                    "url": text(content, "url").or_else(|| text(content, "uri")),
                },
            });
            if let Some(version) = version {
                data["version"] = Value::String(version);
            }
            event("release.created", data)
        }
        ("service", "deployed" | "upgraded" | "rolledback") => {
            let environment = keys
                .get("environment")
                .or_else(|| text(content, "environment/id").map(str::to_owned))
                .ok_or_else(|| {
                    AppError::unprocessable(
                        "environment",
                        "the event names no `subject.content.environment.id`: give ?environment=",
                    )
                })?;
            let version = keys
                .get("version")
                .or_else(|| text(content, "artifactId").and_then(purl_version))
                .ok_or_else(|| {
                    AppError::unprocessable(
                        "version",
                        "the event's `subject.content.artifactId` has no version: give ?version=",
                    )
                })?;
            event(
                "environment.promoted",
                json!({
                    "product": product()?,
                    "release": release()?,
                    "environment": environment,
                    "version": version,
                }),
            )
        }
        ("pipelinerun", "queued" | "started" | "finished") => {
            let status = match predicate {
                "queued" => "pending",
                "started" => "running",
                _ => outcome(content, &field)?,
            };
            let run_id = subject_id.ok_or_else(|| {
                AppError::invalid(field("subject.id"), "a pipeline run has `subject.id`")
            })?;
            let workflow = keys
                .get("workflow")
                .or_else(|| text(content, "pipelineName").map(str::to_owned))
                .ok_or_else(|| {
                    AppError::unprocessable(
                        "workflow",
                        "the run names no `pipelineName`: give ?workflow=",
                    )
                })?;
            let run = json!({
                "id": run_id,
                "workflow": workflow,
                "application": keys.require("application", None)?,
                "status": status,
                "started_at": (predicate == "started").then_some(&time),
                "finished_at": (predicate == "finished").then_some(&time),
                "url": text(content, "url").or_else(|| text(content, "uri")),
                "message": text(content, "errors"),
            });
            let mut mapped = event("workflow.updated", run_report(run, json!([]))?);
            mapped.merges.push((0, Merge::Run));
            mapped
        }
        ("taskrun", "started" | "finished") => {
            // A task run is a step of its pipeline run; one run by itself
            // (no `pipelineRun`) is not a step of anything we show.
            let Some(run_id) = text(content, "pipelineRun/id") else {
                return Ok(Mapped::ignored());
            };
            let name = text(content, "taskName").or(subject_id).ok_or_else(|| {
                AppError::invalid(
                    field("subject.content.taskName"),
                    "a task run has `subject.content.taskName` or `subject.id`",
                )
            })?;
            let (status, started, finished) = match predicate {
                "started" => ("running", Some(&time), None),
                _ => (outcome(content, &field)?, None, Some(&time)),
            };
            // The run only to be valid: the run held replaces it
            // (`Merge::Step`), and a step of a run not reported yet is left
            // out.
            let run = json!({
                "id": run_id,
                "workflow": keys.get("workflow").unwrap_or_else(|| run_id.to_owned()),
                "application": keys.require("application", None)?,
                "status": "running",
            });
            let step = json!({
                "name": name,
                "status": status,
                "started_at": started,
                "finished_at": finished,
                "message": text(content, "errors"),
            });
            let mut mapped = event("workflow.updated", run_report(run, json!([step]))?);
            mapped.merges.push((0, Merge::Step));
            mapped
        }
        _ => Mapped::ignored(),
    })
}

/// The status a finished pipeline or task run's `outcome` gives.
fn outcome(content: &Value, field: &dyn Fn(&str) -> String) -> Result<&'static str, AppError> {
    match text(content, "outcome") {
        Some("success") | None => Ok("success"),
        Some("failure") => Ok("failed"),
        Some("cancel") => Ok("terminated"),
        Some("error") => Ok("error"),
        Some(other) => Err(AppError::invalid(
            field("subject.content.outcome"),
            format!("unknown outcome {other:?}: expected success, failure, cancel or error"),
        )),
    }
}

/// The version of a package URL (`pkg:oci/app@sha256:ab…?repository_url=…`
/// → `sha256:ab…`; `pkg:golang/x/y@v1.2.3` → `v1.2.3`).
fn purl_version(purl: &str) -> Option<String> {
    let (_, version) = purl.strip_prefix("pkg:")?.split_once('@')?;
    let version = version.split(['?', '#']).next()?;
    let version = percent_encoding::percent_decode_str(version)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!version.is_empty()).then_some(version)
}
