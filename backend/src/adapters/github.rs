//! `POST /api/v1/adapters/github` (SPEC §4.5): GitHub webhook deliveries.
//! `X-GitHub-Event` says what the body is, `X-GitHub-Delivery` is the
//! event id (a redelivery is a duplicate).
//!
//! - `push` to the repository's default branch → `release.created` with
//!   the product's configured flow; other refs, tags and branch deletions
//!   are ignored.
//! - `workflow_run`, `workflow_job` → `workflow.updated` (runs of other
//!   branches than the default one are ignored: no release is made of them).
//! - `deployment_status` with state `success` → `environment.promoted`.
//! - `ping` and every other event → ignored.

use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

use super::{at, cloud_event, latest, rfc3339, text, Keys, Mapped};
use domain::AppError;

const SOURCE: &str = "adapters/github";

/// Whether `header` (`X-Hub-Signature-256: sha256=<hex>`) is the HMAC-SHA256
/// of `body` with `secret`, compared in constant time.
pub fn signature_is_valid(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_digest) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Maps one delivery: its `X-GitHub-Event`, `X-GitHub-Delivery` and body.
pub fn map(event: &str, delivery: &str, body: &Value, keys: &Keys) -> Result<Mapped, AppError> {
    super::object(body, "(body)")?;
    let mapped = match event {
        "push" => push(delivery, body, keys)?,
        "workflow_run" => run(delivery, body, keys, Kind::Run)?,
        "workflow_job" => run(delivery, body, keys, Kind::Job)?,
        "deployment_status" => deployment_status(delivery, body, keys)?,
        _ => None,
    };
    Ok(match mapped {
        Some(event) => Mapped::one(event),
        None => Mapped::ignored(),
    })
}

/// The product: the key, else the repository's name in lower case.
fn product(body: &Value, keys: &Keys) -> Result<String, AppError> {
    match keys.get("product") {
        Some(product) => Ok(product),
        None => text(body, "repository/name")
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| {
                AppError::unprocessable(
                    "product",
                    "the delivery names no repository: give ?product= in the webhook URL",
                )
            }),
    }
}

fn default_branch(body: &Value) -> Option<&str> {
    text(body, "repository/default_branch").or_else(|| text(body, "repository/master_branch"))
}

/// `push` to the default branch → `release.created`.
fn push(delivery: &str, body: &Value, keys: &Keys) -> Result<Option<Value>, AppError> {
    let Some(branch) = default_branch(body) else {
        return Ok(None);
    };
    let deleted = body.get("deleted").and_then(Value::as_bool) == Some(true);
    if text(body, "ref") != Some(&format!("refs/heads/{branch}")) || deleted {
        return Ok(None);
    }
    let Some(head) = at(body, "head_commit") else {
        return Ok(None);
    };
    let release = match keys.get("release") {
        Some(release) => release,
        None => text(body, "after")
            .map(str::to_owned)
            .ok_or_else(|| AppError::unprocessable("release", "the push has no `after` commit"))?,
    };
    let commits: Vec<Value> = body
        .get("commits")
        .and_then(Value::as_array)
        .map(|commits| commits.iter().map(commit).collect())
        .unwrap_or_default();
    let time = text(head, "timestamp")
        .and_then(|t| latest([t]))
        .unwrap_or_else(chrono::Utc::now);
    let mut data = json!({
        "product": product(body, keys)?,
        "release": release,
        "commit": commit(head),
        "changes": {"commits": commits},
    });
    if let Some(version) = keys.get("version") {
        data["version"] = Value::String(version);
    }
    Ok(Some(cloud_event(
        SOURCE,
        delivery.to_owned(),
        "release.created",
        &rfc3339(time),
        data,
    )))
}

/// A commit of a push as the `commit` of SPEC §4.2.
fn commit(commit: &Value) -> Value {
    json!({
        "sha": text(commit, "id"),
        "message": text(commit, "message").unwrap_or_default(),
        "author": {
            "name": text(commit, "author/name")
                .or_else(|| text(commit, "author/username"))
                .unwrap_or("unknown"),
            "email": text(commit, "author/email"),
        },
        "url": text(commit, "url"),
        "timestamp": text(commit, "timestamp"),
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Run,
    Job,
}

/// `workflow_run` / `workflow_job` → `workflow.updated`.
fn run(delivery: &str, body: &Value, keys: &Keys, kind: Kind) -> Result<Option<Value>, AppError> {
    let (object, field) = match kind {
        Kind::Run => ("workflow_run", "workflow_run"),
        Kind::Job => ("workflow_job", "workflow_job"),
    };
    let Some(run) = at(body, object) else {
        return Err(AppError::invalid(
            field,
            format!("a {object} delivery carries `{object}`"),
        ));
    };
    if let (Some(branch), Some(default)) = (text(run, "head_branch"), default_branch(body)) {
        if branch != default && keys.get("release").is_none() {
            return Ok(None);
        }
    }
    let id = run
        .get("id")
        .map(|id| match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .ok_or_else(|| AppError::invalid(format!("{field}.id"), "the run has no `id`"))?;
    let release = match keys.get("release") {
        Some(release) => release,
        None => text(run, "head_sha")
            .map(str::to_owned)
            .ok_or_else(|| AppError::unprocessable("release", "the run has no `head_sha`"))?,
    };
    let workflow = match keys.get("workflow") {
        Some(workflow) => workflow,
        None => text(run, "name")
            .map(str::to_owned)
            .ok_or_else(|| AppError::unprocessable("workflow", "the run has no `name`"))?,
    };
    let run_status = status(
        text(run, "status").unwrap_or("queued"),
        text(run, "conclusion"),
        &format!("{field}.status"),
    )?;
    let (started, finished) = match kind {
        Kind::Run => (
            text(run, "run_started_at").or_else(|| text(run, "created_at")),
            (text(run, "status") == Some("completed"))
                .then(|| text(run, "updated_at"))
                .flatten(),
        ),
        Kind::Job => (text(run, "started_at"), text(run, "completed_at")),
    };
    let steps: Vec<Value> = match kind {
        Kind::Run => Vec::new(),
        Kind::Job => run
            .get("steps")
            .and_then(Value::as_array)
            .map(|steps| {
                steps
                    .iter()
                    .enumerate()
                    .map(|(i, step)| {
                        Ok(json!({
                            "name": text(step, "name"),
                            "status": status(
                                text(step, "status").unwrap_or("queued"),
                                text(step, "conclusion"),
                                &format!("{field}.steps[{i}].status"),
                            )?,
                            "started_at": text(step, "started_at"),
                            "finished_at": text(step, "completed_at"),
                        }))
                    })
                    .collect::<Result<_, AppError>>()
            })
            .transpose()?
            .unwrap_or_default(),
    };
    let time = latest(
        [
            "updated_at",
            "completed_at",
            "started_at",
            "run_started_at",
            "created_at",
        ]
        .iter()
        .filter_map(|p| text(run, p)),
    )
    .unwrap_or_else(chrono::Utc::now);
    let data = json!({
        "product": product(body, keys)?,
        "release": release,
        "environment": keys.require("environment", None)?,
        "phase": keys.require("phase", None)?,
        "run": {
            "id": id,
            "workflow": workflow,
            "application": keys.require("application", None)?,
            "status": run_status,
            "started_at": started,
            "finished_at": finished,
            "url": text(run, "html_url"),
            "message": null,
        },
        "steps": steps,
    });
    Ok(Some(cloud_event(
        SOURCE,
        delivery.to_owned(),
        "workflow.updated",
        &rfc3339(time),
        data,
    )))
}

/// A run's, job's or step's `status` and `conclusion` as a status of
/// SPEC §2.1.
fn status(status: &str, conclusion: Option<&str>, field: &str) -> Result<&'static str, AppError> {
    Ok(match (status, conclusion) {
        ("queued" | "waiting" | "pending" | "requested", _) => "pending",
        ("in_progress", _) => "running",
        ("completed", Some("success" | "skipped" | "neutral")) => "success",
        ("completed", Some("failure" | "timed_out")) => "failed",
        ("completed", Some("cancelled")) => "terminated",
        ("completed", Some("action_required" | "startup_failure" | "stale")) => "error",
        ("completed", None) => "success",
        (status, conclusion) => {
            return Err(AppError::invalid(
                field,
                format!("unknown status {status:?} with conclusion {conclusion:?}"),
            ))
        }
    })
}

/// `deployment_status` with state `success` → `environment.promoted`.
fn deployment_status(delivery: &str, body: &Value, keys: &Keys) -> Result<Option<Value>, AppError> {
    if text(body, "deployment_status/state") != Some("success") {
        return Ok(None);
    }
    let deployment = at(body, "deployment").ok_or_else(|| {
        AppError::invalid(
            "deployment",
            "a deployment_status delivery carries `deployment`",
        )
    })?;
    let release = keys
        .get("release")
        .or_else(|| text(deployment, "sha").map(str::to_owned))
        .ok_or_else(|| AppError::unprocessable("release", "the deployment has no `sha`"))?;
    let environment = keys
        .get("environment")
        .or_else(|| text(deployment, "environment").map(str::to_owned))
        .ok_or_else(|| {
            AppError::unprocessable("environment", "the deployment has no `environment`")
        })?;
    let version = keys
        .get("version")
        .or_else(|| text(deployment, "ref").map(str::to_owned))
        .ok_or_else(|| AppError::unprocessable("version", "the deployment has no `ref`"))?;
    let time = latest(
        [
            "deployment_status/updated_at",
            "deployment_status/created_at",
        ]
        .iter()
        .filter_map(|p| text(body, p)),
    )
    .unwrap_or_else(chrono::Utc::now);
    Ok(Some(cloud_event(
        SOURCE,
        delivery.to_owned(),
        "environment.promoted",
        &rfc3339(time),
        json!({
            "product": product(body, keys)?,
            "release": release,
            "environment": environment,
            "version": version,
            "commit": {"sha": text(deployment, "sha")},
        }),
    )))
}
