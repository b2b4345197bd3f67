//! CloudEvents in (SPEC §4.2): parses a request body — structured mode (one
//! event or a batch) or binary mode (`ce-*` headers) — and validates every
//! event into a typed `Command`. Pure: nothing here touches the database, so
//! a malformed request is rejected before any write. Checks that need
//! stored state (a known release, an environment of its flow) happen in the
//! service, inside the transaction.

mod apply;
mod events;
mod fields;
mod merge;

use domain::AppError;
use http::{header, HeaderMap};
use serde_json::value::RawValue;
use serde_json_borrow::Value as Json;

pub use domain::ingest::{
    ApplicationHealth, Command, EnvironmentPromoted, Event, GitFailed, ReleaseCreated, RunSnapshot,
    WorkflowUpdated,
};

pub use apply::{apply_events, apply_merging};
pub use domain::ingest::IngestOutcome;
pub use events::{check_product_slug, parse_event, parse_flow, MAX_LOG_BYTES};
pub use fields::json_kind;
pub use merge::Merge;

/// Largest accepted request body (413 beyond).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most events accepted in one request (413 beyond).
pub const MAX_EVENTS: usize = 1000;

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
    if starts_array(body) {
        // A batch: split into its events (which checks the whole body is
        // JSON), then each read on its own, on every core for a large one.
        let items: Vec<&RawValue> = json(body)?;
        if items.len() > MAX_EVENTS {
            return Err(AppError::PayloadTooLarge {
                message: format!(
                    "a batch holds at most {MAX_EVENTS} events, this one has {}",
                    items.len()
                ),
            });
        }
        let results = crate::parallel::map(&items, |i, item| {
            let value: Json<'_> = json(item.get().as_bytes())?;
            events::read_event(&value, format!("events[{i}]"))
        });
        // The first bad event, in the order of the batch.
        return results.into_iter().collect();
    }
    let value: Json<'_> = json(body)?;
    match value {
        Json::Object(_) if !batch_type => {
            events::read_event(&value, String::new()).map(|e| vec![e])
        }
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

/// Whether a JSON body is an array: its first byte other than JSON's
/// whitespace is `[`.
fn starts_array(body: &[u8]) -> bool {
    body.iter()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|byte| *byte == b'[')
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

/// Validates one event an adapter built as a light JSON tree (not a
/// `serde_json::Value`), exactly as `parse_event` would.
pub fn read_json_event(value: &Json<'_>, path: String) -> Result<Event, AppError> {
    events::read_event(value, path)
}

/// The body read as JSON into `T` (a `serde_json::Value`, a borrowed
/// tree, raw JSON), or 400 saying why it is not JSON.
pub fn json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(not_json)
}

/// 400: the body is not JSON, and why.
pub(crate) fn not_json(error: serde_json::Error) -> AppError {
    AppError::Invalid {
        field: None,
        message: format!("the body is not valid JSON: {error}"),
    }
}

/// Binary mode: the envelope in `ce-*` headers, `data` as the JSON body.
fn parse_binary(headers: &HeaderMap, content_type: &str, body: &[u8]) -> Result<Event, AppError> {
    if content_type != "application/json" && !content_type.ends_with("+json") {
        return Err(unsupported(content_type));
    }
    let mut envelope = Vec::with_capacity(6);
    for attribute in ["specversion", "id", "source", "type", "time"] {
        if let Some(value) = headers.get(format!("ce-{attribute}")) {
            let value = value.to_str().map_err(|_| {
                AppError::invalid(
                    format!("ce-{attribute}"),
                    "the header is not visible ASCII text",
                )
            })?;
            envelope.push((attribute, Json::Str(value.into())));
        }
    }
    envelope.push(("data", json(body)?));
    events::read_event(&Json::Object(envelope.into()), String::new())
}

#[cfg(test)]
pub(crate) mod tests;
