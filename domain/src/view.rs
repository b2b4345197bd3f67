//! What the release page and the releases list show: the JSON of
//! `GET /api/v1/products/{p}/releases/{id}` (SPEC §4.3) and one item of the
//! releases list. Built by `derive_release`; field names are the API contract.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::facts::Commit;
use super::status::{EnvStatus, FailReason, Health, Phase, ReleaseStatus, RunStatus};

/// One release with every derived status, as the release page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseView {
    pub id: i64,
    pub key: String,
    pub product: String,
    pub status: ReleaseStatus,
    /// The newest release that superseded one of this release's current runs.
    pub superseded_by: Option<i64>,
    /// The highest current attempt among the environments.
    pub attempt: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub commit: Commit,
    pub version: Option<String>,
    pub counts: Counts,
    pub flow: FlowView,
    /// In flow order.
    pub environments: Vec<EnvView>,
    /// Restarts of the release, newest first (SPEC §2.6), with who asked,
    /// when, and the orchestrator webhook delivery of each.
    #[serde(default)]
    pub restarts: Vec<Restart>,
}

impl ReleaseView {
    /// The releases-list item for this release.
    pub fn summary(&self) -> ReleaseSummary {
        ReleaseSummary {
            id: self.id,
            key: self.key.clone(),
            status: self.status,
            superseded_by: self.superseded_by,
            flow: self.flow.name.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            commit: self.commit.clone(),
            version: self.version.clone(),
            environments: self
                .environments
                .iter()
                .map(|env| EnvSummary {
                    name: env.name.clone(),
                    status: env.status,
                    version: env.version.clone(),
                })
                .collect(),
        }
    }

    /// The environment called `name`.
    pub fn env(&self, name: &str) -> Option<&EnvView> {
        self.environments.iter().find(|env| env.name == name)
    }
}

/// Environments of a release by status, for the release header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub failed: u32,
    pub successful: u32,
    pub running: u32,
    pub pending: u32,
}

/// The flow snapshot of a release, as the graph needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowView {
    pub name: String,
    pub trigger: String,
    /// `[parent, child]` pairs, in flow order.
    pub edges: Vec<[String; 2]>,
}

/// One environment of a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvView {
    pub name: String,
    pub status: EnvStatus,
    /// Why the environment failed; `None` unless `status` is `failed`.
    pub reason: Option<FailReason>,
    pub version: Option<String>,
    /// Whether `version` comes from a preceding environment, not a promotion here.
    pub version_inherited: bool,
    pub attempt: u32,
    /// Newest first.
    pub errors: Vec<ErrorView>,
    /// The current runs: per phase × workflow × application, the latest run
    /// of the current attempt. Ordered by phase, then application as declared.
    pub runs: Vec<RunView>,
    /// Step statuses aggregated over the current runs, per phase.
    pub steps: StepsView,
    /// Every other run: earlier attempts, and older runs of the same
    /// workflow × application × phase. Newest attempt first, then newest run.
    pub history: Vec<RunView>,
    pub applications: Vec<String>,
    pub pre_action: Option<String>,
    pub post_action: Option<String>,
    /// Health of the applications, when this release is the one deployed here.
    pub health: Vec<HealthView>,
}

/// Aggregated steps of an environment, per phase, in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepsView {
    pub pre: Vec<StepView>,
    pub post: Vec<StepView>,
}

/// One step name aggregated over the current runs that include it (SPEC §2.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    pub name: String,
    pub status: RunStatus,
    /// The earliest start among the runs.
    pub started_at: Option<DateTime<Utc>>,
    /// The latest finish, once the step has finished in every run.
    pub finished_at: Option<DateTime<Utc>>,
}

/// One workflow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub id: String,
    pub phase: Phase,
    pub workflow: String,
    pub application: String,
    /// Derived per SPEC §2.1 (and `terminated` when superseded).
    pub status: RunStatus,
    /// What the sender reported for the run itself.
    pub reported_status: RunStatus,
    pub superseded_by: Option<i64>,
    pub url: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempt: u32,
    pub message: Option<String>,
    pub steps: Vec<RunStepView>,
}

/// One step of one run (logs are only carried by the step's error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStepView {
    pub name: String,
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

/// Where an error shown on an environment comes from (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    Workflow,
    Application,
    Git,
}

/// One error listed on an environment (SPEC §3). Fields beyond the common
/// ones are set per kind and omitted from JSON when absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorView {
    /// Stable, URL-safe and unique within the release (`?error=` deep links).
    pub id: String,
    pub kind: ErrorKind,
    pub environment: String,
    pub message: String,
    pub time: Option<DateTime<Utc>>,
    // workflow
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// `failed`, `error` or `terminated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    // workflow and application
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// The run in the orchestrator, or the application's page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    // application
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    // git
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl ErrorView {
    /// An error with only the common fields set.
    pub fn new(
        id: String,
        kind: ErrorKind,
        environment: &str,
        message: String,
        time: Option<DateTime<Utc>>,
    ) -> ErrorView {
        ErrorView {
            id,
            kind,
            environment: environment.to_owned(),
            message,
            time,
            run_id: None,
            workflow: None,
            phase: None,
            step: None,
            status: None,
            superseded_by: None,
            logs: None,
            manifest: None,
            application: None,
            url: None,
            health: None,
            operation: None,
            repo: None,
            details: None,
        }
    }
}

/// The reported health of one application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthView {
    pub application: String,
    pub health: Health,
    pub message: Option<String>,
    pub url: Option<String>,
    /// When this health was reported.
    pub time: DateTime<Utc>,
}

/// One item of the releases list (SPEC §4.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseSummary {
    pub id: i64,
    pub key: String,
    pub status: ReleaseStatus,
    pub superseded_by: Option<i64>,
    /// The flow's name.
    pub flow: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub commit: Commit,
    pub version: Option<String>,
    /// In flow order.
    pub environments: Vec<EnvSummary>,
}

/// One environment cell of the releases list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvSummary {
    pub name: String,
    pub status: EnvStatus,
    pub version: Option<String>,
}

/// A restart that happened: who asked, when, what reopened, and whether
/// the orchestrator was told. Shown on the release page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restart {
    /// The release's attempt the restart opened.
    pub attempt: u32,
    /// `(environment, attempt)` reopened, in flow order.
    pub environments: Vec<(String, u32)>,
    /// The name of the operator token (or its session) that asked.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// The `release.restart_requested` webhook delivery.
    pub delivery: Delivery,
}

/// Where the orchestrator webhook delivery of a restart stands (SPEC §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// The product has no webhook: nobody was notified.
    None,
    /// Not delivered yet; retried with backoff.
    Pending,
    Delivered,
    /// Given up after the last attempt.
    Failed,
}

impl DeliveryState {
    /// The state as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::None => "none",
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    /// The state called `value`, if any.
    pub fn parse(value: &str) -> Option<DeliveryState> {
        match value {
            "none" => Some(DeliveryState::None),
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One webhook delivery: its state, how often it was tried, and the last
/// error (an HTTP status or a connection failure, never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next try is due, while `pending`.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// No webhook was configured when the restart happened.
    pub fn none() -> Delivery {
        Delivery {
            state: DeliveryState::None,
            attempts: 0,
            last_error: None,
            last_attempt_at: None,
            next_attempt_at: None,
            delivered_at: None,
        }
    }
}

/// `GET /api/v1/products/{product}/releases`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasePage {
    pub releases: Vec<ReleaseSummary>,
    /// Pass as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The query of the releases page, as sent (`?status=&q=&cursor=&limit=`);
/// the service validates it, so bad values answer 400 naming the parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseQuery {
    /// A release status, or several separated by commas.
    pub status: Option<String>,
    /// Matches release id or key, commit sha prefix, message, author.
    pub q: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 200; 50 when absent.
    pub limit: Option<String>,
}
