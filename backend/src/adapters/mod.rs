//! Native adapters (SPEC §4.5): engines post what they already produce — an
//! Argo Workflows `Workflow`, an Argo CD `Application`, a GitHub webhook
//! delivery, a CDEvent — and each adapter maps it to the CloudEvents of
//! SPEC §4.2.
//! The mapped events then take the one ingest path: the same validation and
//! limits (`parse_event`), one transaction, duplicates by event id.
//!
//! Pure mapping lives here; the routes (authentication, headers, body
//! limits) are the server's.

pub mod argo_cd;
pub mod argo_workflows;
pub mod cdevents;
pub mod github;
mod keys;
mod loose;

pub use keys::Keys;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::ingest::{apply_merging, parse_event, Event, IngestOutcome, Merge, MAX_EVENTS};
use crate::state::Core;
use domain::AppError;

/// Where the engines' own user interfaces are, to link runs and
/// applications to them, and GitHub's webhook secret.
#[derive(Debug, Clone, Default)]
pub struct AdapterSettings {
    /// `--argo-workflows-url`: a run links to `<url>/workflows/<ns>/<name>`.
    pub argo_workflows_url: Option<String>,
    /// `--argo-cd-url`: health links to `<url>/applications/<ns>/<name>`.
    pub argo_cd_url: Option<String>,
    /// `--github-webhook-secret`: deliveries signed with it need no token.
    pub github_webhook_secret: Option<String>,
}

/// What an adapter route answers: `POST /api/v1/events`'s answer, and how
/// many payloads were understood but mapped to nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AdapterOutcome {
    #[serde(flatten)]
    pub outcome: IngestOutcome,
    pub ignored: usize,
}

/// What an adapter made of a payload: CloudEvents in structured mode, and
/// the count of understood payloads that map to nothing.
#[derive(Debug, Default)]
pub struct Mapped {
    pub events: Vec<Value>,
    pub ignored: usize,
    /// The events (by index) that report part of a run, to be merged into
    /// it rather than replace it (`ingest::Merge`).
    pub merges: Vec<(usize, Merge)>,
}

impl Mapped {
    /// One payload understood, that maps to nothing.
    pub fn ignored() -> Mapped {
        Mapped {
            ignored: 1,
            ..Mapped::default()
        }
    }

    /// One event.
    pub fn one(event: Value) -> Mapped {
        Mapped {
            events: vec![event],
            ..Mapped::default()
        }
    }

    /// Adds the results of another payload of the same request.
    pub fn extend(&mut self, other: Mapped) {
        let offset = self.events.len();
        self.events.extend(other.events);
        self.ignored += other.ignored;
        self.merges.extend(
            other
                .merges
                .into_iter()
                .map(|(i, merge)| (offset + i, merge)),
        );
    }
}

/// Validates the mapped events exactly as `POST /api/v1/events` does and
/// applies them in one transaction (all or none).
pub async fn apply(core: &Core, mapped: Mapped) -> Result<AdapterOutcome, AppError> {
    check_count(mapped.events.len())?;
    let events = mapped
        .events
        .iter()
        .enumerate()
        .map(|(i, event)| parse_event(event, format!("events[{i}]")).map_err(mapped_error))
        .collect::<Result<Vec<_>, _>>()?;
    apply_parsed(core, events, &mapped.merges, mapped.ignored).await
}

/// Applies events an adapter read and validated itself (`argo_workflows::read`)
/// in one transaction; `ignored` payloads were understood and map to nothing.
pub async fn apply_events(
    core: &Core,
    events: Vec<Event>,
    ignored: usize,
) -> Result<AdapterOutcome, AppError> {
    apply_parsed(core, events, &[], ignored).await
}

/// Applies validated events in one transaction, merging those `merges`
/// names into their runs, and counts what was left out as ignored.
async fn apply_parsed(
    core: &Core,
    events: Vec<Event>,
    merges: &[(usize, Merge)],
    ignored: usize,
) -> Result<AdapterOutcome, AppError> {
    let (outcome, left_out) = if events.is_empty() {
        (IngestOutcome::default(), 0)
    } else {
        apply_merging(core, events, merges).await?
    };
    // A step of a run not reported yet is understood, and changes nothing.
    Ok(AdapterOutcome {
        outcome,
        ignored: ignored + left_out,
    })
}

/// 413 when a payload maps to more events than one request applies.
pub(crate) fn check_count(events: usize) -> Result<(), AppError> {
    if events > MAX_EVENTS {
        return Err(AppError::PayloadTooLarge {
            message: format!(
                "the payload maps to {events} events; one request applies at most {MAX_EVENTS}"
            ),
        });
    }
    Ok(())
}

/// A mapped event that ingest refuses: says so, keeping the field (a path
/// in the mapped CloudEvent, as `POST /api/v1/events` would name it).
pub(crate) fn mapped_error(error: AppError) -> AppError {
    match error {
        AppError::Invalid { field, message } => AppError::Invalid {
            field,
            message: format!("the payload maps to an event that is refused: {message}"),
        },
        other => other,
    }
}

/// A structured-mode CloudEvent of `kind` with `data`.
pub(crate) fn cloud_event(source: &str, id: String, kind: &str, time: &str, data: Value) -> Value {
    let mut event = json!({
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": kind,
        "time": time,
        "datacontenttype": "application/json",
    });
    // Moved in, not through `json!`, which would copy it value by value.
    if let Some(fields) = event.as_object_mut() {
        fields.insert("data".to_owned(), data);
    }
    event
}

/// The latest of these RFC 3339 times, if any parses.
pub(crate) fn latest<'a>(times: impl IntoIterator<Item = &'a str>) -> Option<DateTime<Utc>> {
    times
        .into_iter()
        .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .max()
}

/// `time` as the RFC 3339 text of an event's `time`.
pub(crate) fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The string at `path` (`/`-separated keys) under `value`.
pub(crate) fn text<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    at(value, path)?.as_str()
}

/// The value at `path` (`/`-separated keys) under `value`, not null.
pub(crate) fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('/')
        .try_fold(value, |value, key| value.get(key))
        .filter(|v| !v.is_null())
}

/// `value` as an object, or 400 blaming `field`.
pub(crate) fn object<'a>(
    value: &'a Value,
    field: &str,
) -> Result<&'a Map<String, Value>, AppError> {
    value.as_object().ok_or_else(|| {
        AppError::invalid(
            field,
            format!("expected a JSON object, got {}", kind_of(value)),
        )
    })
}

pub(crate) use crate::ingest::json_kind as kind_of;

pub use crate::ingest::json as json_body;

/// A hex SHA-256 of `bytes`: an event id for a payload that has no
/// identity of its own, so that the same payload posted twice is a
/// duplicate.
pub(crate) fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests;
