//! CloudEvents in (SPEC §4.2): parses a request body — structured mode (one
//! event or a batch) or binary mode (`ce-*` headers) — and validates every
//! event into a typed `Command`. Pure: nothing here touches the database, so
//! a malformed request is rejected before any write. Checks that need
//! stored state (a known release, an environment of its flow) happen in the
//! service, inside the transaction.

mod events;
mod fields;

use axum::http::{header, HeaderMap};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{Changes, Commit, Flow, Health, Phase, RunStatus, StepFact};
use crate::error::AppError;

pub use events::{parse_event, MAX_LOG_BYTES};

/// Largest accepted request body (413 beyond).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most events accepted in one request (413 beyond).
pub const MAX_EVENTS: usize = 1000;

/// One validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's JSON path prefix in the request (`events[3]` or empty):
    /// errors found later, in the transaction, name fields under it.
    pub path: String,
    pub source: String,
    pub id: String,
    pub time: DateTime<Utc>,
    pub command: Command,
}

impl Event {
    /// The JSON path of `field` of this event (`events[3].data.release`).
    pub fn field(&self, field: &str) -> String {
        fields::join(&self.path, field)
    }

    /// The CloudEvents `type`.
    pub fn kind(&self) -> &'static str {
        self.command.kind()
    }
}

/// What an event asks the store to record.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    ReleaseCreated(ReleaseCreated),
    WorkflowUpdated(WorkflowUpdated),
    EnvironmentPromoted(EnvironmentPromoted),
    GitFailed(GitFailed),
    ApplicationHealth(ApplicationHealth),
}

impl Command {
    /// The CloudEvents `type` of this command.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::ReleaseCreated(_) => "release.created",
            Command::WorkflowUpdated(_) => "workflow.updated",
            Command::EnvironmentPromoted(_) => "environment.promoted",
            Command::GitFailed(_) => "git.failed",
            Command::ApplicationHealth(_) => "application.health",
        }
    }

    /// The product slug the event is about.
    pub fn product(&self) -> &str {
        match self {
            Command::ReleaseCreated(c) => &c.product,
            Command::WorkflowUpdated(c) => &c.product,
            Command::EnvironmentPromoted(c) => &c.product,
            Command::GitFailed(c) => &c.product,
            Command::ApplicationHealth(c) => &c.product,
        }
    }

    /// The release key the event names, if any.
    pub fn release(&self) -> Option<&str> {
        match self {
            Command::ReleaseCreated(c) => Some(&c.release),
            Command::WorkflowUpdated(c) => Some(&c.release),
            Command::EnvironmentPromoted(c) => Some(&c.release),
            Command::GitFailed(c) => Some(&c.release),
            Command::ApplicationHealth(_) => None,
        }
    }
}

/// `release.created`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseCreated {
    pub product: String,
    pub release: String,
    pub flow: Flow,
    pub commit: Commit,
    pub version: Option<String>,
    pub changes: Changes,
}

/// `workflow.updated`: a full snapshot of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowUpdated {
    pub product: String,
    pub release: String,
    pub environment: String,
    pub phase: Phase,
    pub run: RunSnapshot,
    pub steps: Vec<StepFact>,
    /// An explicit attempt wins over the environment's current one.
    pub attempt: Option<u32>,
}

/// The `run` object of `workflow.updated`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSnapshot {
    pub id: String,
    pub workflow: String,
    pub application: String,
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
    pub manifest: Option<String>,
    pub message: Option<String>,
}

/// `environment.promoted`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentPromoted {
    pub product: String,
    pub release: String,
    pub environment: String,
    pub version: String,
    pub commit_sha: Option<String>,
    pub commit_url: Option<String>,
}

/// `git.failed`.
#[derive(Debug, Clone, PartialEq)]
pub struct GitFailed {
    pub product: String,
    pub release: String,
    pub environment: String,
    pub operation: String,
    pub message: String,
    pub repo: Option<String>,
    pub details: Option<String>,
}

/// `application.health`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationHealth {
    pub product: String,
    pub environment: String,
    pub application: String,
    pub health: Health,
    pub message: Option<String>,
    pub url: Option<String>,
}

/// Parses and validates the events of one `POST /api/v1/events` request.
///
/// Binary mode when a `ce-specversion` header is present; otherwise a JSON
/// array (or `application/cloudevents-batch+json`) is a batch and an object
/// one event. Fails with 400 naming the first bad field, or 413 for more
/// than `MAX_EVENTS` events. The body size limit is the caller's.
pub fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Event>, AppError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if headers.contains_key("ce-specversion") {
        return parse_binary(headers, &content_type, body).map(|event| vec![event]);
    }
    let batch_type = content_type == "application/cloudevents-batch+json";
    if !(batch_type
        || content_type == "application/cloudevents+json"
        || content_type == "application/json")
    {
        return Err(unsupported(&content_type));
    }
    let value = json(body)?;
    match value {
        Value::Array(items) => {
            if items.len() > MAX_EVENTS {
                return Err(AppError::PayloadTooLarge {
                    message: format!(
                        "a batch holds at most {MAX_EVENTS} events, this one has {}",
                        items.len()
                    ),
                });
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_event(item, format!("events[{i}]")))
                .collect()
        }
        Value::Object(_) if !batch_type => parse_event(&value, String::new()).map(|e| vec![e]),
        other => Err(AppError::invalid(
            "(body)",
            format!(
                "expected {}, got {}",
                if batch_type {
                    "a JSON array of CloudEvents"
                } else {
                    "a CloudEvent (JSON object) or an array of them"
                },
                fields::kind(&other)
            ),
        )),
    }
}

fn unsupported(content_type: &str) -> AppError {
    AppError::invalid(
        "Content-Type",
        format!(
            "unsupported content type {content_type:?}: send application/cloudevents+json, \
             application/cloudevents-batch+json or application/json"
        ),
    )
}

fn json(body: &[u8]) -> Result<Value, AppError> {
    serde_json::from_slice(body).map_err(|e| AppError::Invalid {
        field: None,
        message: format!("the body is not valid JSON: {e}"),
    })
}

/// Binary mode: the envelope in `ce-*` headers, `data` as the JSON body.
fn parse_binary(headers: &HeaderMap, content_type: &str, body: &[u8]) -> Result<Event, AppError> {
    if content_type != "application/json" && !content_type.ends_with("+json") {
        return Err(unsupported(content_type));
    }
    let mut envelope = serde_json::Map::new();
    for attribute in ["specversion", "id", "source", "type", "time"] {
        if let Some(value) = headers.get(format!("ce-{attribute}")) {
            let value = value.to_str().map_err(|_| {
                AppError::invalid(
                    format!("ce-{attribute}"),
                    "the header is not visible ASCII text",
                )
            })?;
            envelope.insert(attribute.to_owned(), Value::String(value.to_owned()));
        }
    }
    envelope.insert("data".to_owned(), json(body)?);
    parse_event(&Value::Object(envelope), String::new())
}

#[cfg(test)]
mod tests;
