//! The ingest fold: every rule of applying validated events (SPEC §2.5,
//! §2.6, §4.2), as a pure function over a snapshot of what the store knows.
//!
//! The server loads a `Snapshot` once per request — what the request's
//! events name (`Needs::of`): their products and releases with every run
//! and the current attempts, the unfinished runs of the groups they report
//! (supersede candidates), the deployments of their environments and the
//! health times of their applications. `apply` then folds the events over
//! it in order and says what each changed (`Effect`); the server writes the
//! effects, re-derives the touched releases and commits. Nothing here
//! touches a database, so every rule is tested without one.
//!
//! The rules:
//! - the first `release.created` of a key wins; a later one is accepted and
//!   changes nothing; a new release takes the product's next id;
//! - a run snapshot older (by `time`) than the one held is skipped;
//! - a run first reported takes the explicit `attempt`, else its
//!   environment's current one, and supersedes the pending or running runs
//!   of its group in older releases (§2.5, `superseded_runs`);
//! - the release deployed in an environment is the newest one promoted or
//!   promoting there, whatever order events arrive in;
//! - the version shown there is the newest release's latest promotion;
//! - a health report older than the one stored is skipped; a newer one
//!   touches the release deployed there (health shows on it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::{
    run_status, steps_status, superseded_runs, AppError, Flow, Phase, RunFact, RunStatus, StepFact,
    SupersedeCandidate,
};

use super::{
    ApplicationHealth, Command, EnvironmentPromoted, Event, GitFailed, IngestOutcome,
    ReleaseCreated, WorkflowUpdated,
};

/// Runs of the same workflow, phase and application in the same
/// environment of a product: a newer release's run supersedes the older
/// releases' runs of its group (SPEC §2.5).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Group {
    pub product: String,
    pub environment: String,
    pub phase: Phase,
    pub workflow: String,
    pub application: String,
}

/// A release: its product and per-product id.
pub type ReleaseId = (String, i64);

/// A run: its release and the sender's run id.
pub type RunKey = (String, i64, String);

/// What the store must load for a request's events, computed from the
/// events alone; with `Snapshot::groups_with_new_runs`, everything the fold
/// reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Every product named.
    pub products: BTreeSet<String>,
    /// Per product, every release key named.
    pub releases: BTreeMap<String, BTreeSet<String>>,
    /// Every (product, environment) whose deployment an event may move.
    pub deployments: BTreeSet<(String, String)>,
    /// Every (product, environment, application) reporting health.
    pub health: BTreeSet<(String, String, String)>,
}

impl Needs {
    pub fn of(events: &[Event]) -> Needs {
        let mut needs = Needs::default();
        for event in events {
            let product = event.command.product();
            needs.products.insert(product.to_owned());
            if let Some(key) = event.command.release() {
                needs
                    .releases
                    .entry(product.to_owned())
                    .or_default()
                    .insert(key.to_owned());
            }
            let environment = match &event.command {
                Command::ReleaseCreated(created) => match &created.flow {
                    Some(flow) => flow.trigger(),
                    None => continue,
                },
                Command::WorkflowUpdated(update) => &update.environment,
                Command::EnvironmentPromoted(promoted) => &promoted.environment,
                Command::GitFailed(failed) => &failed.environment,
                Command::ApplicationHealth(health) => {
                    needs.health.insert((
                        health.product.clone(),
                        health.environment.clone(),
                        health.application.clone(),
                    ));
                    &health.environment
                }
            };
            needs
                .deployments
                .insert((product.to_owned(), environment.to_owned()));
        }
        needs
    }
}

/// Which release's promotion the version shown in an environment comes
/// from, and when it was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionMark {
    pub release: i64,
    pub time: i64,
}

/// What is deployed in one environment of a product.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deployment {
    /// The newest release promoted or promoting there.
    pub release: Option<i64>,
    /// Where the version shown there comes from.
    pub version: Option<VersionMark>,
}

/// One run the fold holds, as status derivation reads it.
#[derive(Debug, Clone)]
struct HeldRun<'e> {
    fact: RunFact,
    /// The `time` of the snapshot the run holds.
    snapshot_time: i64,
    /// The snapshot this request applied, if any.
    snapshot: Option<&'e WorkflowUpdated>,
    /// Whether this request first reported it.
    new: bool,
}

/// A release an event names.
#[derive(Debug, Clone)]
struct HeldRelease<'e> {
    flow: Arc<Flow>,
    /// Every run, by run id.
    runs: BTreeMap<String, HeldRun<'e>>,
    /// Current attempt of each restarted environment (else 1).
    attempts: BTreeMap<String, u32>,
}

/// An unfinished run of a release no event names: it can only be
/// superseded here.
#[derive(Debug, Clone)]
struct OtherRun {
    status: RunStatus,
    superseded_by: Option<i64>,
}

/// What the store knows that a request's events need (see `Needs`), and
/// what the fold made of it so far.
#[derive(Debug, Default)]
pub struct Snapshot<'e> {
    /// Per product named: its last release id; `None` when not stored.
    products: BTreeMap<String, Option<i64>>,
    /// Releases named, by (product, key) → id.
    keys: BTreeMap<(String, String), i64>,
    releases: BTreeMap<ReleaseId, HeldRelease<'e>>,
    others: BTreeMap<RunKey, OtherRun>,
    /// The runs held (named releases' and others) per group, in the order
    /// they were added.
    groups: BTreeMap<Group, Vec<RunKey>>,
    deployments: BTreeMap<(String, String), Deployment>,
    /// The time of the stored health report per (product, environment,
    /// application).
    health: BTreeMap<(String, String, String), i64>,
    outcome: IngestOutcome,
}

/// What applying one event changed: the writes it asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect<'e> {
    /// The product is seen for the first time.
    ProductCreated { product: String },
    /// A new release, with the id it was given.
    ReleaseCreated {
        product: String,
        id: i64,
        created: &'e ReleaseCreated,
        /// The flow it was created with (its own, or the product's).
        flow: &'e Flow,
        at: i64,
    },
    /// A run's snapshot changed (`new`: first reported). The run as it
    /// ends the request is `Snapshot::run`.
    RunChanged { run: RunKey, new: bool },
    /// A run of a release no event names was superseded by release `by`.
    OtherRunSuperseded { run: RunKey, by: i64 },
    PromotionRecorded {
        release: ReleaseId,
        promoted: &'e EnvironmentPromoted,
        at: i64,
        attempt: u32,
    },
    GitErrorRecorded {
        release: ReleaseId,
        failed: &'e GitFailed,
        at: i64,
        attempt: u32,
    },
    /// What is deployed in an environment changed.
    DeploymentChanged {
        product: String,
        environment: String,
        deployment: Deployment,
        /// The version now shown there, when it changed.
        version: Option<String>,
    },
    /// A health report to store (newer than the stored one).
    HealthReported {
        health: &'e ApplicationHealth,
        at: i64,
    },
    /// A release to re-derive; `at` is the time of the event (`None`: its
    /// `updated_at` stays, as for health, which belongs to the environment).
    ReleaseTouched { release: ReleaseId, at: Option<i64> },
    /// An environment was promoted or its applications' health changed:
    /// one `environment` change, naming the release deployed there when the
    /// request ends (`Snapshot::deployed`).
    EnvironmentChanged {
        product: String,
        environment: String,
    },
}

impl<'e> Snapshot<'e> {
    pub fn new() -> Snapshot<'e> {
        Snapshot::default()
    }

    /// A stored product and the last release id it handed out.
    pub fn add_product(&mut self, product: &str, last_release_id: i64) {
        self.products
            .insert(product.to_owned(), Some(last_release_id));
    }

    /// A stored release an event names.
    pub fn add_release(&mut self, product: &str, key: &str, id: i64, flow: Arc<Flow>) {
        self.keys.insert((product.to_owned(), key.to_owned()), id);
        self.releases.insert(
            (product.to_owned(), id),
            HeldRelease {
                flow,
                runs: BTreeMap::new(),
                attempts: BTreeMap::new(),
            },
        );
    }

    /// A stored run of a release added before (`add_release`), as status
    /// derivation reads it, with the time of its snapshot. Add runs in
    /// arrival order (`seq`).
    pub fn add_run(&mut self, product: &str, release: i64, fact: RunFact, snapshot_time: i64) {
        self.hold(product, release, fact, snapshot_time, None, false);
    }

    /// The current attempt of a restarted environment of a release added
    /// before.
    pub fn add_attempt(&mut self, product: &str, release: i64, environment: &str, attempt: u32) {
        if let Some(held) = self.releases.get_mut(&(product.to_owned(), release)) {
            held.attempts.insert(environment.to_owned(), attempt);
        }
    }

    /// An unfinished stored run of `group` (not superseded, pending or
    /// running by its snapshot); ignored when it belongs to a release an
    /// event names (whose runs are all held already).
    pub fn add_unfinished(&mut self, group: &Group, release: i64, run_id: &str, status: RunStatus) {
        if self
            .releases
            .contains_key(&(group.product.clone(), release))
        {
            return;
        }
        let key = (group.product.clone(), release, run_id.to_owned());
        if self.others.contains_key(&key) {
            return;
        }
        self.others.insert(
            key.clone(),
            OtherRun {
                status,
                superseded_by: None,
            },
        );
        self.groups.entry(group.clone()).or_default().push(key);
    }

    /// What is deployed in an environment of a stored product.
    pub fn add_deployment(&mut self, product: &str, environment: &str, deployment: Deployment) {
        self.deployments
            .insert((product.to_owned(), environment.to_owned()), deployment);
    }

    /// The time of the stored health report of an application.
    pub fn add_health(&mut self, product: &str, environment: &str, application: &str, time: i64) {
        self.health.insert(
            (
                product.to_owned(),
                environment.to_owned(),
                application.to_owned(),
            ),
            time,
        );
    }

    /// What the request answers so far.
    pub fn outcome(&self) -> &IngestOutcome {
        &self.outcome
    }

    /// The response, once every event is applied.
    pub fn into_outcome(self) -> IngestOutcome {
        self.outcome
    }

    /// A held run as the request leaves it: its fact (`seq` 0 when new)
    /// and the snapshot this request applied to it.
    pub fn run(&self, run: &RunKey) -> Option<(&RunFact, Option<&'e WorkflowUpdated>, i64)> {
        let held = self
            .releases
            .get(&(run.0.clone(), run.1))?
            .runs
            .get(&run.2)?;
        Some((&held.fact, held.snapshot, held.snapshot_time))
    }

    /// Whether the fold holds release `release` (an event names it).
    pub fn holds(&self, release: &ReleaseId) -> bool {
        self.releases.contains_key(release)
    }

    /// The groups of the run snapshots of `events` whose run the snapshot
    /// does not hold (a run first reported, of a stored or new release):
    /// the groups whose other unfinished runs must be loaded
    /// (`add_unfinished`) before the fold, as supersede candidates. Call it
    /// once the releases and their runs are added.
    pub fn groups_with_new_runs(&self, events: &[Event]) -> BTreeSet<Group> {
        events
            .iter()
            .filter_map(|event| match &event.command {
                Command::WorkflowUpdated(update) => Some(update),
                _ => None,
            })
            .filter(|update| {
                let held = self
                    .keys
                    .get(&(update.product.clone(), update.release.clone()))
                    .and_then(|&id| self.releases.get(&(update.product.clone(), id)));
                held.is_none_or(|release| !release.runs.contains_key(&update.run.id))
            })
            .map(|update| Group {
                product: update.product.clone(),
                environment: update.environment.clone(),
                phase: update.phase,
                workflow: update.run.workflow.clone(),
                application: update.run.application.clone(),
            })
            .collect()
    }

    /// Every held run of release `release`, with the `time` of the
    /// snapshot it holds, in no particular order (the new ones have `seq` 0
    /// until stored).
    pub fn runs_of(&self, release: &ReleaseId) -> Vec<(&RunFact, i64)> {
        let Some(held) = self.releases.get(release) else {
            return Vec::new();
        };
        held.runs
            .values()
            .map(|run| (&run.fact, run.snapshot_time))
            .collect()
    }

    /// Applies one event; `fresh` is false for a duplicate (its (source,
    /// id) was recorded before), which is only counted. Fails with 400
    /// naming `data.release` or `data.environment` when the event names an
    /// unknown release or an environment outside its flow; the request then
    /// stores nothing.
    pub fn apply(&mut self, event: &'e Event, fresh: bool) -> Result<Vec<Effect<'e>>, AppError> {
        let at = event.time.timestamp_millis();
        if !fresh {
            self.outcome.duplicates += 1;
            if let Some(key) = event.command.release() {
                if let Some(&id) = self
                    .keys
                    .get(&(event.command.product().to_owned(), key.to_owned()))
                {
                    self.outcome.releases.insert(key.to_owned(), id);
                }
            }
            return Ok(Vec::new());
        }
        self.outcome.accepted += 1;
        let mut effects = Vec::new();
        match &event.command {
            Command::ReleaseCreated(created) => {
                let flow = created.flow.as_ref().ok_or_else(|| {
                    AppError::unprocessable(
                        event.field("data.flow"),
                        format!(
                            "the event has no `flow` and product {:?} has no configured flow \
                             (PUT /api/v1/products/{{product}}/flow)",
                            created.product
                        ),
                    )
                })?;
                self.release_created(created, flow, at, &mut effects)
            }
            Command::WorkflowUpdated(update) => {
                let release =
                    self.target(event, &update.product, &update.release, &update.environment)?;
                self.workflow_updated(&release, update, at, &mut effects);
                self.deploy(
                    &update.product,
                    &update.environment,
                    release.1,
                    &mut effects,
                );
            }
            Command::EnvironmentPromoted(promoted) => {
                let release = self.target(
                    event,
                    &promoted.product,
                    &promoted.release,
                    &promoted.environment,
                )?;
                let attempt = self.attempt(&release, &promoted.environment);
                effects.push(Effect::PromotionRecorded {
                    release: release.clone(),
                    promoted,
                    at,
                    attempt,
                });
                self.promote(
                    &promoted.product,
                    &promoted.environment,
                    release.1,
                    &promoted.version,
                    at,
                    &mut effects,
                );
                effects.push(Effect::EnvironmentChanged {
                    product: promoted.product.clone(),
                    environment: promoted.environment.clone(),
                });
                effects.push(Effect::ReleaseTouched {
                    release,
                    at: Some(at),
                });
            }
            Command::GitFailed(failed) => {
                let release =
                    self.target(event, &failed.product, &failed.release, &failed.environment)?;
                let attempt = self.attempt(&release, &failed.environment);
                effects.push(Effect::GitErrorRecorded {
                    release: release.clone(),
                    failed,
                    at,
                    attempt,
                });
                self.deploy(
                    &failed.product,
                    &failed.environment,
                    release.1,
                    &mut effects,
                );
                effects.push(Effect::ReleaseTouched {
                    release,
                    at: Some(at),
                });
            }
            Command::ApplicationHealth(health) => self.health(health, at, &mut effects),
        }
        Ok(effects)
    }

    /// `release.created`: the first creation of a key wins; a new release
    /// takes the product's next id and starts in its trigger environment.
    fn release_created(
        &mut self,
        created: &'e ReleaseCreated,
        flow: &'e Flow,
        at: i64,
        effects: &mut Vec<Effect<'e>>,
    ) {
        let key = (created.product.clone(), created.release.clone());
        if let Some(&id) = self.keys.get(&key) {
            self.outcome.releases.insert(created.release.clone(), id);
            return;
        }
        let last = self.products.entry(created.product.clone()).or_default();
        if last.is_none() {
            effects.push(Effect::ProductCreated {
                product: created.product.clone(),
            });
        }
        let id = last.unwrap_or(0) + 1;
        *last = Some(id);
        effects.push(Effect::ReleaseCreated {
            product: created.product.clone(),
            id,
            created,
            flow,
            at,
        });
        self.add_release(
            &created.product,
            &created.release,
            id,
            Arc::new(flow.clone()),
        );
        let trigger = flow.trigger();
        match &created.version {
            Some(version) => {
                self.promote(&created.product, trigger, id, version, at, effects);
            }
            None => self.deploy(&created.product, trigger, id, effects),
        }
        self.outcome.releases.insert(created.release.clone(), id);
        effects.push(Effect::ReleaseTouched {
            release: (created.product.clone(), id),
            at: Some(at),
        });
    }

    /// The release an event names, which must exist and have
    /// `environment` in its flow; else 400 naming the field.
    fn target(
        &mut self,
        event: &Event,
        product: &str,
        key: &str,
        environment: &str,
    ) -> Result<ReleaseId, AppError> {
        let id = self
            .keys
            .get(&(product.to_owned(), key.to_owned()))
            .copied()
            .ok_or_else(|| {
                AppError::invalid(
                    event.field("data.release"),
                    format!(
                        "product {product:?} has no release {key:?}: send release.created first \
                         (in this request or an earlier one)"
                    ),
                )
            })?;
        let release = (product.to_owned(), id);
        let flow = self
            .releases
            .get(&release)
            .map(|held| held.flow.clone())
            .ok_or_else(|| AppError::internal(format!("release {key:?} is not held")))?;
        if flow.env(environment).is_none() {
            return Err(AppError::invalid(
                event.field("data.environment"),
                format!(
                    "{environment:?} is not an environment of release {key:?} (flow {:?})",
                    flow.name()
                ),
            ));
        }
        self.outcome.releases.insert(key.to_owned(), id);
        Ok(release)
    }

    /// The current attempt of `environment` in `release` (1 when never
    /// restarted).
    fn attempt(&self, release: &ReleaseId, environment: &str) -> u32 {
        self.releases
            .get(release)
            .and_then(|held| held.attempts.get(environment))
            .copied()
            .unwrap_or(1)
    }

    /// The release deployed in an environment, if any.
    pub fn deployed(&self, product: &str, environment: &str) -> Option<i64> {
        self.deployments
            .get(&(product.to_owned(), environment.to_owned()))
            .and_then(|deployment| deployment.release)
    }

    /// Release `release` is promoting in `environment`: it is the one
    /// deployed there unless a newer one is.
    fn deploy(
        &mut self,
        product: &str,
        environment: &str,
        release: i64,
        effects: &mut Vec<Effect<'e>>,
    ) {
        let deployment = self
            .deployments
            .entry((product.to_owned(), environment.to_owned()))
            .or_default();
        if deployment.release.is_some_and(|newest| newest >= release) {
            return;
        }
        deployment.release = Some(release);
        effects.push(Effect::DeploymentChanged {
            product: product.to_owned(),
            environment: environment.to_owned(),
            deployment: *deployment,
            version: None,
        });
    }

    /// Release `release` was promoted to `version` in `environment` at
    /// `at`: it is deployed there (unless a newer one is), and the version
    /// shown there is its, unless a newer release's promotion, or a later
    /// one of the same release, is shown already.
    fn promote(
        &mut self,
        product: &str,
        environment: &str,
        release: i64,
        version: &str,
        at: i64,
        effects: &mut Vec<Effect<'e>>,
    ) {
        let deployment = self
            .deployments
            .entry((product.to_owned(), environment.to_owned()))
            .or_default();
        let deployed = deployment.release.is_none_or(|newest| newest < release);
        if deployed {
            deployment.release = Some(release);
        }
        let shown = match deployment.version {
            None => true,
            Some(mark) => mark.release < release || (mark.release == release && mark.time <= at),
        };
        if shown {
            deployment.version = Some(VersionMark { release, time: at });
        }
        if deployed || shown {
            effects.push(Effect::DeploymentChanged {
                product: product.to_owned(),
                environment: environment.to_owned(),
                deployment: *deployment,
                version: shown.then(|| version.to_owned()),
            });
        }
    }

    /// `application.health`: stored unless an older report than the stored
    /// one; then the environment changed, and the release deployed there
    /// (which shows the health) is re-derived.
    fn health(&mut self, health: &'e ApplicationHealth, at: i64, effects: &mut Vec<Effect<'e>>) {
        let product = self.products.entry(health.product.clone()).or_default();
        if product.is_none() {
            *product = Some(0);
            effects.push(Effect::ProductCreated {
                product: health.product.clone(),
            });
        }
        let key = (
            health.product.clone(),
            health.environment.clone(),
            health.application.clone(),
        );
        if self.health.get(&key).is_some_and(|&stored| stored > at) {
            return;
        }
        self.health.insert(key, at);
        effects.push(Effect::HealthReported { health, at });
        let deployed = self.deployed(&health.product, &health.environment);
        effects.push(Effect::EnvironmentChanged {
            product: health.product.clone(),
            environment: health.environment.clone(),
        });
        if let Some(release) = deployed {
            effects.push(Effect::ReleaseTouched {
                release: (health.product.clone(), release),
                at: None,
            });
        }
    }

    /// `workflow.updated`: replaces a held run's snapshot unless this one
    /// is older, or adds a new run in its environment's current attempt
    /// (or the explicit one) and supersedes older releases' runs of its
    /// group (SPEC §2.5).
    fn workflow_updated(
        &mut self,
        release: &ReleaseId,
        update: &'e WorkflowUpdated,
        at: i64,
        effects: &mut Vec<Effect<'e>>,
    ) {
        let steps: Vec<StepFact> = steps_status(&update.steps)
            .map(StepFact::standing_for)
            .into_iter()
            .collect();
        let attempt = update
            .attempt
            .unwrap_or_else(|| self.attempt(release, &update.environment));
        let key = (release.0.clone(), release.1, update.run.id.clone());
        let Some(held) = self.releases.get_mut(release) else {
            return;
        };
        if let Some(known) = held.runs.get_mut(&update.run.id) {
            if at < known.snapshot_time {
                return;
            }
            // Identity, attempt, arrival and supersede mark stay.
            known.fact.status = update.run.status;
            known.fact.started_at = update.run.started_at;
            known.fact.steps = steps;
            known.snapshot_time = at;
            known.snapshot = Some(update);
            let new = known.new;
            effects.push(Effect::RunChanged { run: key, new });
            effects.push(Effect::ReleaseTouched {
                release: release.clone(),
                at: Some(at),
            });
            return;
        }
        let run = &update.run;
        let fact = RunFact {
            id: run.id.clone(),
            // Given when the run is stored.
            seq: 0,
            environment: update.environment.clone(),
            phase: update.phase,
            workflow: run.workflow.clone(),
            application: run.application.clone(),
            status: run.status,
            started_at: run.started_at,
            finished_at: None,
            url: None,
            manifest: None,
            message: None,
            attempt,
            superseded_by: None,
            steps,
        };
        let group = self.hold(&release.0, release.1, fact, at, Some(update), true);
        effects.push(Effect::RunChanged {
            run: key.clone(),
            new: true,
        });
        effects.push(Effect::ReleaseTouched {
            release: release.clone(),
            at: Some(at),
        });
        self.supersede(release.1, &key, &group, at, effects);
    }

    /// A run of release `newer` in `group` was first reported: the older
    /// releases' runs of the group that are pending or running are
    /// superseded by it (the rule being `superseded_runs`).
    fn supersede(
        &mut self,
        newer: i64,
        reported: &RunKey,
        group: &Group,
        at: i64,
        effects: &mut Vec<Effect<'e>>,
    ) {
        let Some(members) = self.groups.get(group) else {
            return;
        };
        let mut candidates = Vec::new();
        let mut keys = Vec::new();
        for key in members {
            if key == reported || key.1 == newer {
                continue;
            }
            let candidate = if let Some(other) = self.others.get(key) {
                SupersedeCandidate {
                    release: key.1,
                    run_id: key.2.clone(),
                    status: other.status,
                    superseded_by: other.superseded_by,
                }
            } else if let Some(run) = self
                .releases
                .get(&(key.0.clone(), key.1))
                .and_then(|held| held.runs.get(&key.2))
            {
                SupersedeCandidate {
                    release: key.1,
                    run_id: key.2.clone(),
                    status: run_status(&run.fact),
                    superseded_by: run.fact.superseded_by,
                }
            } else {
                continue;
            };
            candidates.push(candidate);
            keys.push(key.clone());
        }
        let superseded: BTreeSet<(String, i64)> =
            superseded_runs(newer, &candidates).into_iter().collect();
        for key in keys {
            if !superseded.contains(&(key.2.clone(), key.1)) {
                continue;
            }
            if let Some(other) = self.others.get_mut(&key) {
                other.superseded_by = Some(newer);
                effects.push(Effect::OtherRunSuperseded {
                    run: key.clone(),
                    by: newer,
                });
            } else if let Some(run) = self
                .releases
                .get_mut(&(key.0.clone(), key.1))
                .and_then(|held| held.runs.get_mut(&key.2))
            {
                run.fact.superseded_by = Some(newer);
                effects.push(Effect::RunChanged {
                    run: key.clone(),
                    new: run.new,
                });
            }
            effects.push(Effect::ReleaseTouched {
                release: (key.0.clone(), key.1),
                at: Some(at),
            });
        }
    }

    /// Holds a run of a held release and indexes it by group; its group.
    fn hold(
        &mut self,
        product: &str,
        release: i64,
        fact: RunFact,
        snapshot_time: i64,
        snapshot: Option<&'e WorkflowUpdated>,
        new: bool,
    ) -> Group {
        let group = Group {
            product: product.to_owned(),
            environment: fact.environment.clone(),
            phase: fact.phase,
            workflow: fact.workflow.clone(),
            application: fact.application.clone(),
        };
        let key = (product.to_owned(), release, fact.id.clone());
        if let Some(held) = self.releases.get_mut(&(product.to_owned(), release)) {
            held.runs.insert(
                fact.id.clone(),
                HeldRun {
                    fact,
                    snapshot_time,
                    snapshot,
                    new,
                },
            );
            // Most runs join a group held already: no copy of its key then.
            match self.groups.get_mut(&group) {
                Some(keys) => keys.push(key),
                None => {
                    self.groups.insert(group.clone(), vec![key]);
                }
            }
        }
        group
    }
}
