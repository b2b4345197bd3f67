//! The live changes (SPEC §5) as the browser receives them: what each
//! event of the stream carries, and the patch that brings an open release
//! page from one state to the next.
//!
//! Every change is rendered once on the server, whatever the number of
//! viewers: a `release` event carries the changed release's list item (the
//! Releases table's row, the dashboard's cells) and, for the streams that
//! watch that release, the change of its page — a `ReleasePatch` from the
//! state the server last sent to the new one, or the whole page when it
//! has none. A page applies a patch only to the state it was made from
//! (`base`); otherwise it fetches the page again.

use serde::{Deserialize, Serialize};

use crate::{
    Counts, EnvOverview, EnvView, ErrorView, HealthView, ReleaseStatus, ReleaseSummary,
    ReleaseView, Restart, RunView, StepView,
};

/// The most characters of a commit message a live event carries: its
/// first line, cut here (the page has the whole message).
pub const EVENT_MESSAGE_CHARS: usize = 200;

/// The `data` of a `release` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseChanged {
    pub product: String,
    /// The release's per-product id (also `id` below).
    pub release: i64,
    /// The release's row in the Releases table, as the list serves it, but
    /// for the commit message: its first line, at most
    /// `EVENT_MESSAGE_CHARS` characters.
    #[serde(flatten)]
    pub summary: ReleaseSummary,
    pub counts: Counts,
    /// The change of the release page, on streams that watch this release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<PageChange>,
}

impl ReleaseChanged {
    /// The event of a change to `view`, without the page's change.
    pub fn of(view: &ReleaseView) -> ReleaseChanged {
        let mut summary = view.summary();
        summary.commit.message = headline(&summary.commit.message);
        ReleaseChanged {
            product: view.product.clone(),
            release: view.id,
            summary,
            counts: view.counts,
            detail: None,
        }
    }
}

/// The first line of `message`, cut to `EVENT_MESSAGE_CHARS` characters.
pub fn headline(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    if line.chars().count() <= EVENT_MESSAGE_CHARS {
        line.to_owned()
    } else {
        let mut cut: String = line.chars().take(EVENT_MESSAGE_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// The `data` of an `environment` event: a promotion, or a change of an
/// application's health, in one environment of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentChanged {
    pub product: String,
    pub environment: String,
    /// The release deployed there, if any.
    pub release: Option<i64>,
    /// The environment's cell on the dashboard, as it now reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<EnvOverview>,
}

/// How a release page changes, on the streams that watch it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageChange {
    /// The whole page (the server had no earlier state of it to patch from).
    Full(Box<LivePage>),
    Patch(ReleasePatch),
}

/// A release page as of a change: the page; `as_of`, the id of the last
/// change of this release it includes (a patch with that `base` applies to
/// it); and `read_at`, the id of the last change of all when it was read
/// (changes after it are still to come).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePage {
    pub as_of: i64,
    pub read_at: i64,
    pub view: ReleaseView,
}

/// Data of a live page read in one snapshot, with `read_at`: the id of the
/// last change it includes (the stream brings those after it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsOf<T> {
    pub read_at: i64,
    pub data: T,
}

/// What changed on a release page between the state of change `base` and
/// that of change `to` (both changes of this release). Only what changed
/// is carried: the header's facts, and per environment that changed its
/// facts, the lists that changed (runs by id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasePatch {
    pub base: i64,
    pub to: i64,
    pub status: ReleaseStatus,
    pub superseded_by: Option<i64>,
    pub attempt: u32,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub counts: Counts,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<EnvPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<Vec<Restart>>,
}

/// What changed in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvPatch {
    pub name: String,
    pub status: crate::EnvStatus,
    pub reason: Option<crate::FailReason>,
    pub version: Option<String>,
    pub version_inherited: bool,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ErrorView>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_pre: Option<Vec<StepView>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_post: Option<Vec<StepView>>,
    /// Runs added or changed (by id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunView>,
    /// The ids of the current runs in order, when runs left or moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_order: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<RunView>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Vec<HealthView>>,
}

impl ReleasePatch {
    /// The patch from `old` (as of change `base`) to `new` (as of change
    /// `to`); `None` when the page's shape differs (another release, or
    /// other environments), which a patch cannot carry.
    pub fn between(old: &ReleaseView, new: &ReleaseView, base: i64, to: i64) -> Option<Self> {
        let same_shape = old.product == new.product
            && old.id == new.id
            && old.flow == new.flow
            && old.environments.len() == new.environments.len()
            && old
                .environments
                .iter()
                .zip(&new.environments)
                .all(|(a, b)| a.name == b.name);
        if !same_shape {
            return None;
        }
        let environments = old
            .environments
            .iter()
            .zip(&new.environments)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| EnvPatch::between(a, b))
            .collect();
        Some(ReleasePatch {
            base,
            to,
            status: new.status,
            superseded_by: new.superseded_by,
            attempt: new.attempt,
            updated_at: new.updated_at,
            counts: new.counts,
            environments,
            restarts: (old.restarts != new.restarts).then(|| new.restarts.clone()),
        })
    }
}

impl EnvPatch {
    fn between(old: &EnvView, new: &EnvView) -> EnvPatch {
        let changed = |run: &&RunView| old.runs.iter().find(|r| r.id == run.id) != Some(*run);
        let ids = |runs: &[RunView]| runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let new_ids = ids(&new.runs);
        // The order is implied when the new runs are the old ones in order
        // with new ones appended.
        let old_ids = ids(&old.runs);
        let appended = new_ids.len() >= old_ids.len() && new_ids[..old_ids.len()] == old_ids[..];
        EnvPatch {
            name: new.name.clone(),
            status: new.status,
            reason: new.reason,
            version: new.version.clone(),
            version_inherited: new.version_inherited,
            attempt: new.attempt,
            errors: (old.errors != new.errors).then(|| new.errors.clone()),
            steps_pre: (old.steps.pre != new.steps.pre).then(|| new.steps.pre.clone()),
            steps_post: (old.steps.post != new.steps.post).then(|| new.steps.post.clone()),
            runs: new.runs.iter().filter(changed).cloned().collect(),
            run_order: (!appended).then_some(new_ids),
            history: (old.history != new.history).then(|| new.history.clone()),
            health: (old.health != new.health).then(|| new.health.clone()),
        }
    }
}

impl ReleaseView {
    /// Applies `patch` (made from this state by `ReleasePatch::between`).
    pub fn apply(&mut self, patch: &ReleasePatch) {
        self.status = patch.status;
        self.superseded_by = patch.superseded_by;
        self.attempt = patch.attempt;
        self.updated_at = patch.updated_at;
        self.counts = patch.counts;
        if let Some(restarts) = &patch.restarts {
            self.restarts = restarts.clone();
        }
        for change in &patch.environments {
            if let Some(env) = self.environments.iter_mut().find(|e| e.name == change.name) {
                env.apply(change);
            }
        }
    }
}

impl EnvView {
    fn apply(&mut self, patch: &EnvPatch) {
        self.status = patch.status;
        self.reason = patch.reason;
        self.version = patch.version.clone();
        self.version_inherited = patch.version_inherited;
        self.attempt = patch.attempt;
        if let Some(errors) = &patch.errors {
            self.errors = errors.clone();
        }
        if let Some(steps) = &patch.steps_pre {
            self.steps.pre = steps.clone();
        }
        if let Some(steps) = &patch.steps_post {
            self.steps.post = steps.clone();
        }
        for run in &patch.runs {
            match self.runs.iter_mut().find(|r| r.id == run.id) {
                Some(held) => *held = run.clone(),
                None => self.runs.push(run.clone()),
            }
        }
        if let Some(order) = &patch.run_order {
            let mut runs = std::mem::take(&mut self.runs);
            self.runs = order
                .iter()
                .filter_map(|id| {
                    let at = runs.iter().position(|r| &r.id == id)?;
                    Some(runs.swap_remove(at))
                })
                .collect();
        }
        if let Some(history) = &patch.history {
            self.history = history.clone();
        }
        if let Some(health) = &patch.health {
            self.health = health.clone();
        }
    }
}

impl ReleaseView {
    /// Leaves out the error text of every webhook delivery: what viewers
    /// see is its state, attempts and times (SPEC §4.4; the text would tell
    /// them which addresses and ports answer).
    pub fn hide_delivery_errors(&mut self) {
        for restart in &mut self.restarts {
            restart.delivery.last_error = None;
        }
    }

    /// The page without what only the open error panel shows (each
    /// error's logs, manifest and details), which `error_detail` serves, and
    /// without the deliveries' error text (operators fetch it apart): what
    /// the release page holds and the live stream patches, the same for
    /// every viewer.
    pub fn for_page(mut self) -> ReleaseView {
        self.hide_delivery_errors();
        for env in &mut self.environments {
            for error in &mut env.errors {
                error.logs = None;
                error.manifest = None;
                error.details = None;
            }
        }
        self
    }
}
