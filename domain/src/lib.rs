//! The pure domain of Releases: promotion flows, the status rules of SPEC §2,
//! the errors of §3, the ingest fold of §4.2, the layout of the flow graph,
//! and the view types the API and the pages share.
//!
//! No IO, no framework: the same code runs in the server and in the browser.
//! `facts` is what the store loads, `derive_release` turns it into a `view`;
//! `ingest` folds validated events over a snapshot of the releases they
//! touch into the writes the store makes; `supersede` and `restart` decide
//! what ingest and restart change; `layout` places the flow graph.

pub mod dashboard;
pub mod derive;
pub mod error;
pub mod facts;
pub mod flow;
pub mod ingest;
pub mod layout;
pub mod link;
pub mod live;
pub mod notes;
pub mod restart;
pub mod status;
pub mod supersede;
#[cfg(test)]
pub(crate) mod testing;
pub mod view;

pub use dashboard::{EnvOverview, ProductList, ProductOverview, ReleaseRef};
pub use derive::{derive_release, run_status, snapshot_status};
pub use error::AppError;
pub use facts::{
    steps_status, Author, Changes, Commit, GitErrorFact, HealthFact, IssueRef, PromotionFact,
    PullRequest, ReleaseFacts, RunFact, StepFact,
};
pub use flow::{EnvSpec, Flow, FlowError, FlowSpec};
pub use link::{is_web_url, web_url};
pub use notes::{EnvNotes, NoteChanges, ReleaseNotes};
pub use restart::{plan_restart, RestartError, RestartPlan, RestartRequested, RESTART_REQUESTED};
pub use status::{aggregate, EnvStatus, FailReason, Health, Phase, ReleaseStatus, RunStatus};
pub use supersede::{superseded_runs, SupersedeCandidate};
pub use view::{
    Counts, Delivery, DeliveryState, EnvSummary, EnvView, ErrorKind, ErrorView, FlowView,
    HealthView, ReleasePage, ReleaseQuery, ReleaseSummary, ReleaseView, Restart, RunStepView,
    RunView, StepView, StepsView,
};
