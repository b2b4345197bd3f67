//! `POST /api/v1/adapters/argo-workflows` (SPEC §4.5): Argo Workflows
//! `Workflow` objects, each one `workflow.updated` snapshot.
//!
//! Accepted bodies: a `Workflow` (as the Argo Server API and
//! `kubectl get wf -o json` return it), a list `{"items": [...]}` (or a JSON
//! array), an Argo Events envelope `{"context": {...}, "data": ...}` whose
//! data is a Workflow or a resource event `{"type", "body": <Workflow>}`,
//! and a CloudEvent whose `data` is a Workflow.

use serde_json::{json, Value};

use super::{at, cloud_event, digest, latest, rfc3339, text, AdapterSettings, Keys, Mapped};
use domain::AppError;

const SOURCE: &str = "adapters/argo-workflows";
/// Manifests are kept up to 256 KiB (SPEC §4.2.1); a larger spec is left out.
const MAX_MANIFEST: usize = 256 * 1024;

/// Maps the body of one request.
pub fn map(body: &Value, keys: &Keys, settings: &AdapterSettings) -> Result<Mapped, AppError> {
    let mut mapped = Mapped::default();
    for (path, object) in workflows(body, String::new())? {
        if object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("Workflow")
            != "Workflow"
        {
            // Understood (a Kubernetes object), but not a Workflow.
            mapped.ignored += 1;
            continue;
        }
        mapped.events.push(workflow(
            object,
            &path,
            &keys.with_object(object),
            settings,
        )?);
    }
    Ok(mapped)
}

/// The Workflow objects of a body, with the JSON path each was found at.
fn workflows(body: &Value, path: String) -> Result<Vec<(String, &Value)>, AppError> {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    match body {
        Value::Array(items) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, item)| (format!("{path}[{i}]"), item))
            .collect()),
        Value::Object(map) => {
            if let Some(items) = map.get("items").and_then(Value::as_array) {
                let base = join("items");
                return Ok(items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| (format!("{base}[{i}]"), item))
                    .collect());
            }
            if map.contains_key("metadata") {
                return Ok(vec![(path, body)]);
            }
            if let Some(data) = map.get("data") {
                // A CloudEvent (`specversion`) or an Argo Events envelope
                // (`context`); a resource event source wraps the object in
                // `body`.
                if data.get("metadata").is_none() {
                    if let Some(inner) = data.get("body").filter(|b| b.is_object()) {
                        return Ok(vec![(join("data.body"), inner)]);
                    }
                }
                return workflows(data, join("data"));
            }
            Err(AppError::invalid(
                if path.is_empty() { "(body)".to_owned() } else { path },
                "expected an Argo Workflows Workflow (with `metadata`), a list {\"items\": [...]}, \
                 an Argo Events envelope {\"context\", \"data\"} or a CloudEvent carrying one",
            ))
        }
        other => Err(AppError::invalid(
            if path.is_empty() {
                "(body)".to_owned()
            } else {
                path
            },
            format!("expected a Workflow object, got {}", super::kind_of(other)),
        )),
    }
}

/// One Workflow as a `workflow.updated` CloudEvent.
fn workflow(
    wf: &Value,
    path: &str,
    keys: &Keys,
    settings: &AdapterSettings,
) -> Result<Value, AppError> {
    let field = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let name = text(wf, "metadata/name");
    let namespace = text(wf, "metadata/namespace");
    let uid = text(wf, "metadata/uid")
        .map(str::to_owned)
        .or_else(|| Some(format!("{}/{}", namespace.unwrap_or("default"), name?)))
        .ok_or_else(|| {
            AppError::invalid(
                field("metadata"),
                "a Workflow needs `metadata.uid` or `metadata.name`",
            )
        })?;
    let workflow_name = keys
        .get("workflow")
        .or_else(|| {
            wf.get("metadata")
                .and_then(|m| m.get("labels"))
                .and_then(|l| l.get("workflows.argoproj.io/workflow-template"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .or_else(|| text(wf, "spec/workflowTemplateRef/name").map(str::to_owned))
        .or_else(|| {
            text(wf, "metadata/generateName")
                .map(|g| g.trim_end_matches('-').to_owned())
                .filter(|g| !g.is_empty())
        })
        .or_else(|| name.map(str::to_owned))
        .ok_or_else(|| AppError::unprocessable("workflow", "the Workflow has no name to go by"))?;

    let phase = text(wf, "status/phase").unwrap_or("Pending");
    let message = text(wf, "status/message");
    let status = match phase {
        "" | "Pending" => "pending",
        "Running" => "running",
        "Succeeded" => "success",
        "Failed" if message.is_some_and(stopped) => "terminated",
        "Failed" => "failed",
        "Error" => "error",
        other => {
            return Err(AppError::invalid(
                field("status.phase"),
                format!(
                    "unknown Workflow phase {other:?}: expected Pending, Running, Succeeded, \
                     Failed or Error"
                ),
            ))
        }
    };

    let finished_at = text(wf, "status/finishedAt")
        .map(str::to_owned)
        .or_else(|| exit_handler_finish(wf, status));
    let mut times: Vec<&str> = text(wf, "status/startedAt")
        .into_iter()
        .chain(finished_at.as_deref())
        .collect();
    let mut steps = steps(wf, &field)?;
    for step in &steps {
        times.extend(step.times());
    }
    let time = latest(times)
        .or_else(|| latest(text(wf, "metadata/creationTimestamp")))
        .unwrap_or_else(chrono::Utc::now);
    let id = match text(wf, "metadata/resourceVersion") {
        Some(version) => format!("{uid}/{version}"),
        None => format!(
            "{uid}/{}",
            digest(
                &serde_json::to_vec(wf.get("status").unwrap_or(&Value::Null)).unwrap_or_default()
            )
        ),
    };
    let url = match (&settings.argo_workflows_url, name) {
        (Some(base), Some(name)) => Some(format!(
            "{}/workflows/{}/{name}",
            base.trim_end_matches('/'),
            namespace.unwrap_or("default")
        )),
        _ => None,
    };
    let manifest = wf
        .get("spec")
        .and_then(|spec| serde_json::to_string_pretty(spec).ok())
        .filter(|m| m.len() <= MAX_MANIFEST);
    let mut data = json!({
        "product": keys.require("product", None)?,
        "release": keys.require("release", None)?,
        "environment": keys.require("environment", None)?,
        "phase": keys.require("phase", None)?,
        "run": {
            "id": uid,
            "workflow": workflow_name,
            "application": keys.require("application", None)?,
            "status": status,
            "started_at": text(wf, "status/startedAt"),
            "finished_at": finished_at,
            "url": url,
            "manifest": manifest,
            "message": message,
        },
    });
    // Moved in, not through `json!`, which would copy them value by value.
    data["steps"] = Value::Array(steps.drain(..).map(Step::into_json).collect());
    Ok(cloud_event(
        SOURCE,
        id,
        "workflow.updated",
        &rfc3339(time),
        data,
    ))
}

/// When a finished Workflow that an exit handler posted ended: its start
/// plus `status.duration` (`{{workflow.duration}}`, seconds), as it carries
/// no `finishedAt`.
fn exit_handler_finish(wf: &Value, status: &str) -> Option<String> {
    if matches!(status, "pending" | "running") {
        return None;
    }
    let started = latest(text(wf, "status/startedAt"))?;
    let seconds = match at(wf, "status/duration")? {
        Value::String(text) => text.trim().parse::<f64>().ok()?,
        other => other.as_f64()?,
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    let millis = i64::try_from((seconds * 1000.0) as u64).ok()?;
    let finished = started.checked_add_signed(chrono::Duration::try_milliseconds(millis)?)?;
    Some(rfc3339(finished))
}

/// Whether a failed Workflow's message says it was stopped by someone
/// (`argo stop`, `argo terminate`, a shutdown strategy).
fn stopped(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["stopped", "terminated", "shutdown", "shut down"]
        .iter()
        .any(|word| message.contains(word))
}

/// One step: a node of type `Pod` or `Suspend`.
struct Step {
    name: String,
    status: &'static str,
    started_at: Option<String>,
    finished_at: Option<String>,
    message: Option<String>,
}

impl Step {
    fn times(&self) -> impl Iterator<Item = &str> {
        self.started_at
            .as_deref()
            .into_iter()
            .chain(self.finished_at.as_deref())
    }

    fn into_json(self) -> Value {
        json!({
            "name": self.name,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "message": self.message,
        })
    }
}

/// The Workflow's `Pod` and `Suspend` nodes in `startedAt` order (nodes
/// not started yet last, ties by id); without `status.nodes`, the
/// `status.failures` an exit handler posts (`exit_handler_failures`).
fn steps(wf: &Value, field: &dyn Fn(&str) -> String) -> Result<Vec<Step>, AppError> {
    if let Some(nodes) = at(wf, "status/nodes") {
        let nodes = super::object(nodes, &field("status.nodes"))?;
        let mut found: Vec<(String, &Value)> = nodes
            .iter()
            .filter(|(_, node)| {
                matches!(
                    node.get("type").and_then(Value::as_str),
                    Some("Pod" | "Suspend")
                )
            })
            .map(|(id, node)| (format!("status.nodes.{id}"), node))
            .collect();
        // Each start parsed once: not started yet last, ties by id.
        found.sort_by_cached_key(|(id, node)| {
            let started = latest(text(node, "startedAt"));
            (started.is_none(), started, id.clone())
        });
        return named_steps(found, field);
    }
    let Some(failures) = at(wf, "status/failures") else {
        return Ok(Vec::new());
    };
    let failures = exit_handler_failures(failures, &field("status.failures"))?;
    let workflow = text(wf, "metadata/name");
    let mut found: Vec<(String, &Value)> = failures
        .iter()
        .enumerate()
        .filter(|(_, node)| !is_parent(node, workflow))
        .map(|(i, node)| (format!("status.failures[{i}]"), node))
        .collect();
    // Argo lists them from a map, in no order: by end, then name, message.
    found.sort_by_cached_key(|(_, node)| {
        (
            latest(text(node, "finishedAt")),
            text(node, "displayName").map(str::to_owned),
            text(node, "message").map(str::to_owned),
        )
    });
    named_steps(found, field)
}

/// `{{workflow.failures}}` as an exit handler's body carries it: Argo
/// renders the list of failed nodes as a *quoted* JSON text
/// (`"[{\"displayName\": …}]"`, `"null"` when none failed); a list as is is
/// taken too.
fn exit_handler_failures(value: &Value, field: &str) -> Result<Vec<Value>, AppError> {
    let parsed;
    let value = match value {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).map_err(|e| {
                AppError::invalid(
                    field,
                    format!("expected the JSON list that {{{{workflow.failures}}}} renders: {e}"),
                )
            })?;
            &parsed
        }
        other => other,
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => Ok(items.clone()),
        other => Err(AppError::invalid(
            field,
            format!(
                "expected the list of failed nodes that {{{{workflow.failures}}}} gives, got {}",
                super::kind_of(other)
            ),
        )),
    }
}

/// Whether a failed node of `{{workflow.failures}}` only stands for its
/// children — the workflow itself, a step group `[0]`, a DAG or steps node
/// or a retry node, whose message points at a child — rather than a step.
fn is_parent(node: &Value, workflow: Option<&str>) -> bool {
    let name = text(node, "displayName").unwrap_or_default();
    let message = text(node, "message").unwrap_or_default();
    let group = name
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    Some(name) == workflow
        || group
        || (message.starts_with("child '") && message.ends_with(" failed"))
        || message == "No more retries left"
}

/// Steps of `found` nodes, named by `displayName`; a name seen twice (a
/// retried or looped template) gets ` (2)`, ` (3)`, … so names stay unique.
fn named_steps(
    found: Vec<(String, &Value)>,
    field: &dyn Fn(&str) -> String,
) -> Result<Vec<Step>, AppError> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut steps = Vec::with_capacity(found.len());
    for (path, node) in found {
        let base = text(node, "displayName")
            .or_else(|| text(node, "name"))
            .or_else(|| path.strip_prefix("status.nodes."))
            .unwrap_or(&path)
            .to_owned();
        let count = seen.entry(base.clone()).or_insert(0);
        *count += 1;
        let name = if *count == 1 {
            base
        } else {
            format!("{base} ({count})")
        };
        let phase = text(node, "phase").unwrap_or("Pending");
        let status = match phase {
            "" | "Pending" => "pending",
            "Running" => "running",
            "Succeeded" | "Skipped" | "Omitted" => "success",
            // `argo stop` / `argo terminate` fail the running nodes too.
            "Failed" if text(node, "message").is_some_and(stopped) => "terminated",
            "Failed" => "failed",
            "Error" => "error",
            other => {
                return Err(AppError::invalid(
                    field(&format!("{path}.phase")),
                    format!(
                        "unknown node phase {other:?}: expected Pending, Running, Succeeded, \
                         Skipped, Omitted, Failed or Error"
                    ),
                ))
            }
        };
        steps.push(Step {
            name,
            status,
            started_at: text(node, "startedAt").map(str::to_owned),
            finished_at: text(node, "finishedAt").map(str::to_owned),
            message: text(node, "message").map(str::to_owned),
        });
    }
    Ok(steps)
}
