//! What the store knows about one release, as plain data: the inputs of
//! `derive_release`. Nothing here is interpreted; the rules live in
//! `derive`, `supersede` and `restart`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::flow::Flow;
use super::status::{aggregate, Health, Phase, RunStatus};

/// Everything stored about one release of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseFacts {
    pub product: String,
    /// Per-product increasing release id.
    pub id: i64,
    /// The sender's key for the release.
    pub key: String,
    /// The flow snapshot taken when the release was created.
    pub flow: Flow,
    pub commit: Commit,
    pub version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Current attempt per environment; an environment not listed is at attempt 1.
    #[serde(default)]
    pub env_attempts: Vec<(String, u32)>,
    /// Every run of the release, in all attempts.
    #[serde(default)]
    pub runs: Vec<RunFact>,
    #[serde(default)]
    pub promotions: Vec<PromotionFact>,
    #[serde(default)]
    pub git_errors: Vec<GitErrorFact>,
    /// Current health of the product's applications, only in the
    /// environments where this release is the one deployed (the store filters).
    #[serde(default)]
    pub health: Vec<HealthFact>,
}

/// The latest stored snapshot of one workflow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFact {
    /// The sender's run id.
    pub id: String,
    /// Arrival order of the run's first report; increasing across the store.
    pub seq: i64,
    pub environment: String,
    pub phase: Phase,
    pub workflow: String,
    pub application: String,
    /// The status the sender reported for the run itself.
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
    pub manifest: Option<String>,
    pub message: Option<String>,
    pub attempt: u32,
    /// Set when a newer release superseded this run (SPEC §2.5); the run then
    /// counts as `terminated` whatever it reported.
    pub superseded_by: Option<i64>,
    #[serde(default)]
    pub steps: Vec<StepFact>,
}

/// One step of a run snapshot, in the order the sender listed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFact {
    pub name: String,
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
    /// The tail of the step's logs.
    pub logs: Option<String>,
}

impl ReleaseFacts {
    /// These facts as the write path loads them to store a release's
    /// status: every run's steps reduced to `StepFact::standing_for` their
    /// aggregate status, and what no status reads left out (run URLs,
    /// manifests, messages and finish times; application health). Every
    /// status, count, version and supersede mark derived from them equals
    /// the one derived from the full facts (SPEC §2.1's aggregation is
    /// associative); the store keeps each run's `steps_status` so it need
    /// not read the steps.
    pub fn for_status(&self) -> ReleaseFacts {
        ReleaseFacts {
            runs: self.runs.iter().map(RunFact::for_status).collect(),
            health: Vec::new(),
            ..self.clone()
        }
    }
}

impl RunFact {
    /// The run as `ReleaseFacts::for_status` keeps it.
    pub fn for_status(&self) -> RunFact {
        // Field by field: the steps (and their logs) are not copied.
        RunFact {
            id: self.id.clone(),
            seq: self.seq,
            environment: self.environment.clone(),
            phase: self.phase,
            workflow: self.workflow.clone(),
            application: self.application.clone(),
            status: self.status,
            started_at: self.started_at,
            finished_at: None,
            url: None,
            manifest: None,
            message: None,
            attempt: self.attempt,
            superseded_by: self.superseded_by,
            steps: steps_status(&self.steps)
                .map(StepFact::standing_for)
                .into_iter()
                .collect(),
        }
    }
}

/// The aggregate status of a run's steps (SPEC §2.1), `None` when it has
/// none: what the store keeps beside the steps for status derivation.
pub fn steps_status(steps: &[StepFact]) -> Option<RunStatus> {
    (!steps.is_empty()).then(|| aggregate(steps.iter().map(|s| s.status)))
}

impl StepFact {
    /// One unnamed step standing for all the steps of a run whose aggregate
    /// status is `status`, when only that is loaded (`ReleaseFacts::for_status`).
    pub fn standing_for(status: RunStatus) -> StepFact {
        StepFact {
            name: String::new(),
            status,
            started_at: None,
            finished_at: None,
            message: None,
            logs: None,
        }
    }
}

/// An `environment.promoted` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionFact {
    pub environment: String,
    pub version: String,
    pub commit_sha: Option<String>,
    pub commit_url: Option<String>,
    pub time: DateTime<Utc>,
    pub attempt: u32,
}

/// A `git.failed` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitErrorFact {
    /// Arrival order; unique across the store.
    pub seq: i64,
    pub environment: String,
    pub operation: String,
    pub message: String,
    pub repo: Option<String>,
    pub details: Option<String>,
    pub time: DateTime<Utc>,
    pub attempt: u32,
}

/// The latest `application.health` report for one application in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthFact {
    pub environment: String,
    pub application: String,
    pub health: Health,
    pub message: Option<String>,
    pub url: Option<String>,
    pub time: DateTime<Utc>,
}

/// A git commit, as the trigger commit of a release or in its changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub sha: String,
    pub message: String,
    pub author: Author,
    pub url: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
}

/// A commit author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub name: String,
    pub email: Option<String>,
}

/// What a release changes (`release.created.data.changes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    #[serde(default)]
    pub commits: Vec<Commit>,
    #[serde(default)]
    pub pull_requests: Vec<PullRequest>,
    #[serde(default)]
    pub issues: Vec<IssueRef>,
}

/// A pull request merged into the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: i64,
    pub title: String,
    pub url: Option<String>,
    pub author: Option<String>,
}

/// An issue-tracker reference such as `ABC-123` or `#123`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRef {
    pub key: String,
    pub title: Option<String>,
    pub url: Option<String>,
}
