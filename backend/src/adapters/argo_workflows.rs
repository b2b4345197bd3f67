//! `POST /api/v1/adapters/argo-workflows` (SPEC §4.5): Argo Workflows
//! `Workflow` objects, each one `workflow.updated` snapshot.
//!
//! Accepted bodies: a `Workflow` (as the Argo Server API and
//! `kubectl get wf -o json` return it), a list `{"items": [...]}` (or a JSON
//! array), an Argo Events envelope `{"context": {...}, "data": ...}` whose
//! data is a Workflow or a resource event `{"type", "body": <Workflow>}`,
//! and a CloudEvent whose `data` is a Workflow.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use serde_json_borrow::Value as Json;

use super::loose::{self, raw_kind, Entries, RawList, Shape, Text};
use super::{digest, latest, rfc3339, text, AdapterSettings, Keys, Mapped};
use crate::ingest::Event;
use domain::AppError;

const SOURCE: &str = "adapters/argo-workflows";
/// Manifests are kept up to 256 KiB (SPEC §4.2.1); a larger spec is left out.
const MAX_MANIFEST: usize = 256 * 1024;

/// What the adapter reads of a Workflow; the rest is skipped unread.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Workflow<'a> {
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    metadata: Shape<Metadata<'a>>,
    #[serde(borrow)]
    spec: Option<&'a RawValue>,
    #[serde(borrow)]
    status: Shape<Status<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Metadata<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    namespace: Text<'a>,
    #[serde(borrow)]
    uid: Text<'a>,
    #[serde(borrow)]
    generate_name: Text<'a>,
    #[serde(borrow)]
    resource_version: Text<'a>,
    #[serde(borrow)]
    creation_timestamp: Text<'a>,
    #[serde(borrow)]
    labels: Shape<Entries<'a, Text<'a>>>,
    #[serde(borrow)]
    annotations: Shape<Entries<'a, Text<'a>>>,
}

impl Metadata<'_> {
    /// The label or annotation `key` (`map` is `labels` or `annotations`).
    fn entry(&self, map: &str, key: &str) -> Option<&str> {
        let entries = match map {
            "labels" => &self.labels,
            _ => &self.annotations,
        };
        match entries {
            Shape::Object(entries) => entries.get(key)?.get(),
            Shape::Absent | Shape::Other(_) => None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Status<'a> {
    #[serde(borrow)]
    phase: Text<'a>,
    #[serde(borrow)]
    message: Text<'a>,
    #[serde(borrow)]
    started_at: Text<'a>,
    #[serde(borrow)]
    finished_at: Text<'a>,
    #[serde(borrow)]
    nodes: Shape<Entries<'a, Shape<Node<'a>>>>,
    #[serde(borrow)]
    failures: Option<&'a RawValue>,
    #[serde(borrow)]
    duration: Option<&'a RawValue>,
}

/// A node of `status.nodes`.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Node<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow)]
    phase: Text<'a>,
    #[serde(borrow)]
    display_name: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    started_at: Text<'a>,
    #[serde(borrow)]
    finished_at: Text<'a>,
    #[serde(borrow)]
    message: Text<'a>,
}

/// The members of a body that tell its shape.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Envelope<'a> {
    #[serde(borrow)]
    items: RawList<'a>,
    metadata: Option<serde::de::IgnoredAny>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

/// Maps the body of one request to its CloudEvents, as JSON.
pub fn map(body: &[u8], keys: &Keys, settings: &AdapterSettings) -> Result<Mapped, AppError> {
    let (events, ignored) = build(body, keys, settings)?;
    let events = events
        .iter()
        .map(|event| {
            serde_json::to_value(event)
                .map_err(|e| AppError::internal(format!("a mapped event as JSON: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Mapped {
        events,
        ignored,
        merges: Vec::new(),
    })
}

/// The events of one request's body, validated exactly as `map`'s
/// CloudEvents would be by `POST /api/v1/events` (`adapters::apply`), and
/// how many objects were understood but are not Workflows. Each event goes
/// straight from a light tree of owned parts to its typed form: a list of
/// 200-node Workflows never becomes a `serde_json::Value`.
pub fn read(
    body: &[u8],
    keys: &Keys,
    settings: &AdapterSettings,
) -> Result<(Vec<Event>, usize), AppError> {
    let (events, ignored) = build(body, keys, settings)?;
    super::check_count(events.len())?;
    let events = events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            crate::ingest::read_json_event(event, format!("events[{i}]"))
                .map_err(super::mapped_error)
        })
        .collect::<Result<_, _>>()?;
    Ok((events, ignored))
}

/// The CloudEvents of a body, and how many of its objects are not
/// Workflows.
fn build(
    body: &[u8],
    keys: &Keys,
    settings: &AdapterSettings,
) -> Result<(Vec<Json<'static>>, usize), AppError> {
    let mut events = Vec::new();
    let mut ignored = 0;
    for (path, raw) in top_level(body)? {
        let object: Workflow<'_> = match loose::read::<Shape<Workflow<'_>>>(raw, &path)? {
            Shape::Object(object) => object,
            // Not an object: it has no name to go by (refused below).
            Shape::Absent | Shape::Other(_) => Workflow::default(),
        };
        if object.kind.get().unwrap_or("Workflow") != "Workflow" {
            // Understood (a Kubernetes object), but not a Workflow.
            ignored += 1;
            continue;
        }
        events.push(workflow(object, raw, &path, keys, settings)?);
    }
    Ok((events, ignored))
}

/// The Workflow objects of a request body, with the JSON path each was
/// found at. A list `{"items": [...]}` (most of a megabyte of nodes) is
/// read in one pass over its bytes, not first checked as a whole.
fn top_level(body: &[u8]) -> Result<Vec<(String, &RawValue)>, AppError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        let envelope: Envelope<'_> = loose::read_body(body)?;
        if let RawList(Some(items)) = envelope.items {
            return Ok(listed(items, "items"));
        }
    }
    workflows(loose::body(body)?, String::new())
}

/// The elements of a list found at `base`, each with its path.
fn listed<'a>(items: Vec<&'a RawValue>, base: &str) -> Vec<(String, &'a RawValue)> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| (format!("{base}[{i}]"), item))
        .collect()
}

/// The Workflow objects of a body, with the JSON path each was found at.
fn workflows<'a>(
    body: &'a RawValue,
    path: String,
) -> Result<Vec<(String, &'a RawValue)>, AppError> {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    match raw_kind(body) {
        "an array" => {
            let RawList(items) = loose::read(body, &path)?;
            Ok(listed(items.unwrap_or_default(), &path))
        }
        "an object" => {
            let envelope: Envelope<'a> = loose::read(body, &path)?;
            if let RawList(Some(items)) = envelope.items {
                return Ok(listed(items, &join("items")));
            }
            if envelope.metadata.is_some() {
                return Ok(vec![(path, body)]);
            }
            if let Some(data) = envelope.data {
                // A CloudEvent (`specversion`) or an Argo Events envelope
                // (`context`); a resource event source wraps the object in
                // `body`.
                if raw_kind(data) == "an object" {
                    let inner: Envelope<'a> = loose::read(data, &join("data"))?;
                    if inner.metadata.is_none() {
                        if let Some(wrapped) = inner.body.filter(|b| raw_kind(b) == "an object") {
                            return Ok(vec![(join("data.body"), wrapped)]);
                        }
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
            format!("expected a Workflow object, got {other}"),
        )),
    }
}

/// One Workflow (`raw`, found at `path`) as a `workflow.updated` CloudEvent.
fn workflow(
    wf: Workflow<'_>,
    raw: &RawValue,
    path: &str,
    keys: &Keys,
    settings: &AdapterSettings,
) -> Result<Json<'static>, AppError> {
    let field = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let metadata = wf.metadata.or_default();
    let keys = keys.with_metadata(|map, key| metadata.entry(map, key));
    let status = wf.status.or_default();
    let spec: Option<Value> = wf
        .spec
        .map(|spec| loose::read(spec, &field("spec")))
        .transpose()?;
    let name = metadata.name.get();
    let namespace = metadata.namespace.get();
    let uid = metadata
        .uid
        .get()
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
            metadata
                .entry("labels", "workflows.argoproj.io/workflow-template")
                .map(str::to_owned)
        })
        .or_else(|| {
            spec.as_ref()
                .and_then(|spec| text(spec, "workflowTemplateRef/name"))
                .map(str::to_owned)
        })
        .or_else(|| {
            metadata
                .generate_name
                .get()
                .map(|g| g.trim_end_matches('-').to_owned())
                .filter(|g| !g.is_empty())
        })
        .or_else(|| name.map(str::to_owned))
        .ok_or_else(|| AppError::unprocessable("workflow", "the Workflow has no name to go by"))?;

    let phase = status.phase.get().unwrap_or("Pending");
    let message = status.message.get();
    let run_status = match phase {
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

    let started_at = status.started_at.get();
    let finished_at = status
        .finished_at
        .get()
        .map(str::to_owned)
        .or_else(|| exit_handler_finish(&status, run_status));
    let steps = steps(&status, name, &field)?;
    let step_times = steps.iter().flat_map(Step::times);
    let time = latest(
        started_at
            .into_iter()
            .chain(finished_at.as_deref())
            .chain(step_times),
    )
    .or_else(|| latest(metadata.creation_timestamp.get()))
    .unwrap_or_else(chrono::Utc::now);
    let id = match metadata.resource_version.get() {
        Some(version) => format!("{uid}/{version}"),
        None => {
            // No version to go by: the same status posted twice is a
            // duplicate.
            let whole: Value = loose::read(raw, path)?;
            format!(
                "{uid}/{}",
                digest(
                    &serde_json::to_vec(whole.get("status").unwrap_or(&Value::Null))
                        .unwrap_or_default()
                )
            )
        }
    };
    let url = match (&settings.argo_workflows_url, name) {
        (Some(base), Some(name)) => Some(format!(
            "{}/workflows/{}/{name}",
            base.trim_end_matches('/'),
            namespace.unwrap_or("default")
        )),
        _ => None,
    };
    let manifest = spec
        .as_ref()
        .and_then(|spec| serde_json::to_string_pretty(spec).ok())
        .filter(|m| m.len() <= MAX_MANIFEST);
    let data = object(vec![
        ("product", owned(keys.require("product", None)?)),
        ("release", owned(keys.require("release", None)?)),
        ("environment", owned(keys.require("environment", None)?)),
        ("phase", owned(keys.require("phase", None)?)),
        (
            "run",
            object(vec![
                ("id", owned(uid)),
                ("workflow", owned(workflow_name)),
                ("application", owned(keys.require("application", None)?)),
                ("status", Json::Str(Cow::Borrowed(run_status))),
                ("started_at", optional(started_at.map(str::to_owned))),
                ("finished_at", optional(finished_at)),
                ("url", optional(url)),
                ("manifest", optional(manifest)),
                ("message", optional(message.map(str::to_owned))),
            ]),
        ),
        (
            "steps",
            Json::Array(steps.into_iter().map(Step::into_json).collect()),
        ),
    ]);
    Ok(object(vec![
        ("specversion", Json::Str(Cow::Borrowed("1.0"))),
        ("id", owned(id)),
        ("source", Json::Str(Cow::Borrowed(SOURCE))),
        ("type", Json::Str(Cow::Borrowed("workflow.updated"))),
        ("time", owned(rfc3339(time))),
        (
            "datacontenttype",
            Json::Str(Cow::Borrowed("application/json")),
        ),
        ("data", data),
    ]))
}

/// A JSON object of these members.
fn object(members: Vec<(&'static str, Json<'static>)>) -> Json<'static> {
    Json::Object(members.into())
}

fn owned(text: String) -> Json<'static> {
    Json::Str(Cow::Owned(text))
}

/// The text, or null.
fn optional(text: Option<String>) -> Json<'static> {
    text.map_or(Json::Null, owned)
}

/// When a finished Workflow that an exit handler posted ended: its start
/// plus `status.duration` (`{{workflow.duration}}`, seconds), as it carries
/// no `finishedAt`.
fn exit_handler_finish(wf: &Status<'_>, status: &str) -> Option<String> {
    if matches!(status, "pending" | "running") {
        return None;
    }
    let started = latest(wf.started_at.get())?;
    let duration: Value = serde_json::from_str(wf.duration?.get()).ok()?;
    let seconds = match duration {
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

    fn into_json(self) -> Json<'static> {
        object(vec![
            ("name", owned(self.name)),
            ("status", Json::Str(Cow::Borrowed(self.status))),
            ("started_at", optional(self.started_at)),
            ("finished_at", optional(self.finished_at)),
            ("message", optional(self.message)),
        ])
    }
}

/// What a step is made of: a node of `status.nodes`, or a failed node of
/// an exit handler's `status.failures`.
#[derive(Clone, Copy, Default)]
struct NodeView<'n> {
    display_name: Option<&'n str>,
    name: Option<&'n str>,
    phase: Option<&'n str>,
    started_at: Option<&'n str>,
    finished_at: Option<&'n str>,
    message: Option<&'n str>,
}

impl<'n> NodeView<'n> {
    fn of_node(node: &'n Node<'_>) -> NodeView<'n> {
        NodeView {
            display_name: node.display_name.get(),
            name: node.name.get(),
            phase: node.phase.get(),
            started_at: node.started_at.get(),
            finished_at: node.finished_at.get(),
            message: node.message.get(),
        }
    }

    fn of_value(node: &'n Value) -> NodeView<'n> {
        NodeView {
            display_name: text(node, "displayName"),
            name: text(node, "name"),
            phase: text(node, "phase"),
            started_at: text(node, "startedAt"),
            finished_at: text(node, "finishedAt"),
            message: text(node, "message"),
        }
    }
}

/// Where a step's node is: its id in `status.nodes`, or its index in
/// `status.failures`.
#[derive(Clone, Copy)]
enum At<'n> {
    Node(&'n str),
    Failure(usize),
}

impl At<'_> {
    /// The node's path under the Workflow.
    fn path(self) -> String {
        match self {
            At::Node(id) => format!("status.nodes.{id}"),
            At::Failure(i) => format!("status.failures[{i}]"),
        }
    }
}

/// The Workflow's `Pod` and `Suspend` nodes in `startedAt` order (nodes
/// not started yet last, ties by id); without `status.nodes`, the
/// `status.failures` an exit handler posts (`exit_handler_failures`).
fn steps(
    wf: &Status<'_>,
    workflow: Option<&str>,
    field: &dyn Fn(&str) -> String,
) -> Result<Vec<Step>, AppError> {
    match &wf.nodes {
        Shape::Object(nodes) => {
            let mut found: Vec<(&str, NodeView<'_>)> = nodes
                .0
                .iter()
                .filter_map(|(id, node)| match node {
                    Shape::Object(node) if matches!(node.kind.get(), Some("Pod" | "Suspend")) => {
                        Some((id.as_ref(), NodeView::of_node(node)))
                    }
                    _ => None,
                })
                .collect();
            // Each start parsed once: not started yet last, ties by id.
            found.sort_by_cached_key(|(id, node)| {
                let started = latest(node.started_at);
                (started.is_none(), started, *id)
            });
            let found = found
                .into_iter()
                .map(|(id, node)| (At::Node(id), node))
                .collect();
            return named_steps(found, field);
        }
        Shape::Other(kind) => {
            return Err(AppError::invalid(
                field("status.nodes"),
                format!("expected a JSON object, got {kind}"),
            ))
        }
        Shape::Absent => {}
    }
    let Some(failures) = wf.failures else {
        return Ok(Vec::new());
    };
    let failures: Value = loose::read(failures, &field("status.failures"))?;
    let failures = exit_handler_failures(&failures, &field("status.failures"))?;
    let mut found: Vec<(At<'_>, NodeView<'_>)> = failures
        .iter()
        .enumerate()
        .map(|(i, node)| (At::Failure(i), NodeView::of_value(node)))
        .filter(|(_, node)| !is_parent(node, workflow))
        .collect();
    // Argo lists them from a map, in no order: by end, then name, message.
    found.sort_by_cached_key(|(_, node)| {
        (latest(node.finished_at), node.display_name, node.message)
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
fn is_parent(node: &NodeView<'_>, workflow: Option<&str>) -> bool {
    let name = node.display_name.unwrap_or_default();
    let message = node.message.unwrap_or_default();
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
    found: Vec<(At<'_>, NodeView<'_>)>,
    field: &dyn Fn(&str) -> String,
) -> Result<Vec<Step>, AppError> {
    let mut seen: std::collections::HashMap<Cow<'_, str>, usize> =
        std::collections::HashMap::with_capacity(found.len());
    let mut steps = Vec::with_capacity(found.len());
    for (at, node) in found {
        let base: Cow<'_, str> = match node.display_name.or(node.name) {
            Some(name) => Cow::Borrowed(name),
            None => match at {
                At::Node(id) => Cow::Borrowed(id),
                At::Failure(_) => Cow::Owned(at.path()),
            },
        };
        let count = seen.entry(base.clone()).or_insert(0);
        *count += 1;
        let name = if *count == 1 {
            base.into_owned()
        } else {
            format!("{base} ({count})")
        };
        let phase = node.phase.unwrap_or("Pending");
        let status = match phase {
            "" | "Pending" => "pending",
            "Running" => "running",
            "Succeeded" | "Skipped" | "Omitted" => "success",
            // `argo stop` / `argo terminate` fail the running nodes too.
            "Failed" if node.message.is_some_and(stopped) => "terminated",
            "Failed" => "failed",
            "Error" => "error",
            other => {
                return Err(AppError::invalid(
                    field(&format!("{}.phase", at.path())),
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
            started_at: node.started_at.map(str::to_owned),
            finished_at: node.finished_at.map(str::to_owned),
            message: node.message.map(str::to_owned),
        });
    }
    Ok(steps)
}
