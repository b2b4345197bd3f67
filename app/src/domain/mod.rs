//! The pure domain of Releases: promotion flows, the status rules of SPEC §2,
//! the errors of §3, and the view of a release built from stored facts.
//!
//! No IO, no framework: the same code runs in the server and in the browser.
//! `facts` is what the store loads, `derive_release` turns it into a `view`,
//! and `supersede`/`restart` decide what ingest and restart write.

pub mod derive;
pub mod facts;
pub mod flow;
pub mod restart;
pub mod status;
pub mod supersede;
#[cfg(test)]
pub(crate) mod testing;
pub mod view;

pub use derive::{derive_release, run_status, snapshot_status};
pub use facts::{
    steps_status, Author, Changes, Commit, GitErrorFact, HealthFact, IssueRef, PromotionFact,
    PullRequest, ReleaseFacts, RunFact, StepFact,
};
pub use flow::{EnvSpec, Flow, FlowError, FlowSpec};
pub use restart::{plan_restart, Delivery, DeliveryState, Restart, RestartError, RestartPlan};
pub use status::{aggregate, EnvStatus, FailReason, Health, Phase, ReleaseStatus, RunStatus};
pub use supersede::{superseded_runs, SupersedeCandidate};
pub use view::{
    Counts, EnvSummary, EnvView, ErrorKind, ErrorView, FlowView, HealthView, ReleaseSummary,
    ReleaseView, RunStepView, RunView, StepView, StepsView,
};
