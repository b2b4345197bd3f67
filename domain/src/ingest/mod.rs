//! Ingest (SPEC §4.2): the validated events, and the fold that applies them
//! (`fold`). The server parses a request into `Event`s; nothing here
//! touches the database.

mod fold;
#[cfg(test)]
mod tests;

pub use fold::{Deployment, Effect, Group, Needs, ReleaseId, RunKey, Snapshot, VersionMark};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Changes, Commit, Flow, Health, Phase, RunStatus, StepFact};

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
        if self.path.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.path)
        }
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
    /// The event's flow; `None` when it carried none and the product's
    /// configured flow (SPEC §4.6) is to be used: the store fills it in
    /// before the fold, which refuses a release still without one (422).
    pub flow: Option<Flow>,
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

/// What `POST /api/v1/events` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestOutcome {
    /// Events applied (stale snapshots included: they were valid).
    pub accepted: usize,
    /// Events ignored because their (source, id) was seen before.
    pub duplicates: usize,
    /// Every release the request named: key → id.
    pub releases: BTreeMap<String, i64>,
}
