//! Applying the validated events of one ingest request (SPEC §4.2) in one
//! write transaction, all or nothing.
//!
//! A request is a unit of work. It first reads what its events need, once:
//! the releases they name, every run of those releases and their current
//! attempts. It then applies the events in order to that state in memory —
//! a snapshot older than the stored one is skipped, a run's first report
//! supersedes older releases' runs (§2.5) — writing only what has no
//! in-memory state (new releases, promotions, git errors, health). The
//! runs it changed are written at the end with a few multi-row statements,
//! and the touched releases are re-derived from the same state
//! (`Write::rederive`). Only this transaction writes while it runs (the
//! writer lock, and the advisory lock on PostgreSQL), so what it read stays
//! true until the commit; and a batch costs a few round trips to the
//! database rather than several per event.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;

use crate::domain::{
    run_status, steps_status, superseded_runs, Flow, RunFact, RunStatus, StepFact,
    SupersedeCandidate,
};
use crate::error::AppError;

use super::ingest::{Command, Event, WorkflowUpdated};
use super::state::AppState;
use super::store::releases::NewRelease;
use super::store::runs::{Group, NewRun, RunWrite};
use super::store::{self, millis, Conn};
use super::write::{Changed, Write};

/// What `POST /api/v1/events` answers.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IngestOutcome {
    /// Events applied (stale snapshots included: they were valid).
    pub accepted: usize,
    /// Events ignored because their (source, id) was seen before.
    pub duplicates: usize,
    /// Every release the request named: key → id.
    pub releases: BTreeMap<String, i64>,
}

/// Applies validated events in one transaction (all or none), then
/// publishes the changes. Fails with 400 when an event names an unknown
/// release or an environment outside its flow, with 500 when the database
/// fails; either way nothing is stored.
pub async fn apply_events(state: &AppState, events: Vec<Event>) -> Result<IngestOutcome, AppError> {
    let mut write = Write::begin(state).await?;
    let tx = &mut *write.tx;
    let now = Utc::now().timestamp_millis();
    let records: Vec<store::events::NewEvent<'_>> = events
        .iter()
        .map(|event| store::events::NewEvent {
            source: &event.source,
            id: &event.id,
            kind: event.kind(),
            time: millis(event.time),
        })
        .collect();
    let fresh = store::events::record(tx, &records, now).await?;
    let mut batch = Batch::read(tx, &events, now).await?;
    for (event, fresh) in events.iter().zip(fresh) {
        batch.apply(tx, event, fresh).await?;
    }
    batch.flush(tx).await?;
    let (outcome, changed) = batch.finish();
    write.rederive(changed, now).await?;
    write.commit(state).await?;
    Ok(outcome)
}

/// A release an event refers to.
#[derive(Clone)]
struct Resolved {
    pk: i64,
    product_id: i64,
    id: i64,
    flow: Arc<Flow>,
}

/// One stored or new run of a release the request names, as this
/// transaction left it.
struct RunState<'e> {
    /// The run as status derivation reads it (`ReleaseFacts::for_status`);
    /// a new run's `seq` is given when it is stored (`flush`).
    fact: RunFact,
    /// The `time` of the snapshot the run holds.
    snapshot_time: i64,
    /// The snapshot this request applied, to write.
    snapshot: Option<&'e WorkflowUpdated>,
    /// Whether this request superseded the run.
    superseded: bool,
    /// Whether the run was first reported in this request.
    new: bool,
}

/// Every run of one release the request names, by run id.
struct ReleaseRuns<'e> {
    release_id: i64,
    product_id: i64,
    by_id: HashMap<String, RunState<'e>>,
}

/// A run of a release no event of the request names, read because a run
/// of its group was first reported: it can only be superseded here.
struct OtherRun {
    release_pk: i64,
    release_id: i64,
    run_id: String,
    status: RunStatus,
    superseded_by: Option<i64>,
}

/// Where a supersede candidate lives.
enum Held {
    /// Run `run id` of release `pk`, among the named releases' runs.
    Named(i64, String),
    /// An other run, by seq.
    Other(i64),
}

/// The state of one ingest transaction: what it read, what it changed.
struct Batch<'e> {
    now: i64,
    outcome: IngestOutcome,
    changed: Changed,
    /// Releases the events name, by (product, key); `None`: not stored.
    releases: HashMap<(String, String), Option<Resolved>>,
    /// Every run of each release the events name, by release pk.
    runs: HashMap<i64, ReleaseRuns<'e>>,
    /// Those runs by group (§2.5), as (release pk, run id).
    by_group: HashMap<Group, Vec<(i64, String)>>,
    /// Groups whose unfinished runs in other releases were read.
    groups_read: HashSet<Group>,
    /// Unfinished runs of other releases in those groups, by seq.
    others: BTreeMap<i64, OtherRun>,
    others_by_group: HashMap<Group, Vec<i64>>,
    /// Runs first reported in this request, in arrival order.
    new_runs: Vec<(i64, String)>,
    /// Per release pk: the current attempt of each restarted environment.
    attempts: HashMap<i64, HashMap<String, u32>>,
    /// Per (product id, environment): the newest release recorded as
    /// deployed there by this transaction, and the ones not yet written.
    deployed: HashMap<(i64, String), i64>,
    unwritten_deployments: BTreeMap<(i64, String), i64>,
}

impl<'e> Batch<'e> {
    /// Reads what `events` need: the releases they name, with their runs
    /// and attempts. One query per product named and two more, whatever
    /// the number of events.
    async fn read(conn: &mut Conn, events: &'e [Event], now: i64) -> Result<Batch<'e>, AppError> {
        let mut batch = Batch {
            now,
            outcome: IngestOutcome::default(),
            changed: Changed::default(),
            releases: HashMap::new(),
            runs: HashMap::new(),
            by_group: HashMap::new(),
            groups_read: HashSet::new(),
            others: BTreeMap::new(),
            others_by_group: HashMap::new(),
            new_runs: Vec::new(),
            attempts: HashMap::new(),
            deployed: HashMap::new(),
            unwritten_deployments: BTreeMap::new(),
        };
        let mut keys: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for event in events {
            if let Some(key) = event.command.release() {
                keys.entry(event.command.product()).or_default().insert(key);
            }
        }
        let mut pks = Vec::new();
        for (product, keys) in keys {
            let keys: Vec<&str> = keys.into_iter().collect();
            for key in &keys {
                batch
                    .releases
                    .insert((product.to_owned(), (*key).to_owned()), None);
            }
            for target in store::releases::find_keys(conn, product, &keys).await? {
                let resolved = Resolved {
                    pk: target.pk,
                    product_id: target.product_id,
                    id: target.id,
                    flow: Arc::new(store::from_json(&target.flow)?),
                };
                pks.push(target.pk);
                batch.runs.insert(
                    target.pk,
                    ReleaseRuns {
                        release_id: target.id,
                        product_id: target.product_id,
                        by_id: HashMap::new(),
                    },
                );
                batch.attempts.insert(target.pk, HashMap::new());
                batch
                    .releases
                    .insert((product.to_owned(), target.release_key), Some(resolved));
            }
        }
        for stored in store::runs::statuses_of_releases(conn, &pks).await? {
            batch.hold(
                stored.release_pk,
                RunState {
                    fact: stored.fact,
                    snapshot_time: stored.snapshot_time,
                    snapshot: None,
                    superseded: false,
                    new: false,
                },
            )?;
        }
        for (pk, environment, attempt) in store::runs::attempts_of(conn, &pks).await? {
            batch
                .attempts
                .entry(pk)
                .or_default()
                .insert(environment, attempt);
        }
        Ok(batch)
    }

    /// Adds a run of a named release to the state and its group index.
    fn hold(&mut self, pk: i64, run: RunState<'e>) -> Result<(), AppError> {
        let runs = self
            .runs
            .get_mut(&pk)
            .ok_or_else(|| AppError::internal(format!("the runs of release {pk} were not read")))?;
        let group = Group {
            product_id: runs.product_id,
            environment: run.fact.environment.clone(),
            phase: run.fact.phase,
            workflow: run.fact.workflow.clone(),
            application: run.fact.application.clone(),
        };
        self.by_group
            .entry(group)
            .or_default()
            .push((pk, run.fact.id.clone()));
        runs.by_id.insert(run.fact.id.clone(), run);
        Ok(())
    }

    /// The current attempt of `environment` in release `pk` (1 when never
    /// restarted).
    fn attempt(&self, pk: i64, environment: &str) -> u32 {
        self.attempts
            .get(&pk)
            .and_then(|attempts| attempts.get(environment))
            .copied()
            .unwrap_or(1)
    }

    /// Records release `release_id` as promoting in `environment` (written
    /// by `write_deployments`). The stored value only ever moves to a newer
    /// release, so once this transaction recorded a release at least as
    /// new there, it is a no-op.
    fn deploy(&mut self, product_id: i64, environment: &str, release_id: i64) {
        let key = (product_id, environment.to_owned());
        if self
            .deployed
            .get(&key)
            .is_some_and(|&done| done >= release_id)
        {
            return;
        }
        self.deployed.insert(key.clone(), release_id);
        self.unwritten_deployments.insert(key, release_id);
    }

    /// Notes that `health::promote` recorded a deployment.
    fn promoted(&mut self, product_id: i64, environment: &str, release_id: i64) {
        let done = self
            .deployed
            .entry((product_id, environment.to_owned()))
            .or_insert(release_id);
        *done = (*done).max(release_id);
    }

    /// Writes the deployments recorded and not written yet.
    async fn write_deployments(&mut self, conn: &mut Conn) -> Result<(), AppError> {
        if self.unwritten_deployments.is_empty() {
            return Ok(());
        }
        let rows: Vec<(i64, &str, i64)> = self
            .unwritten_deployments
            .iter()
            .map(|((product_id, environment), &release)| {
                (*product_id, environment.as_str(), release)
            })
            .collect();
        store::health::deploy_all(conn, &rows).await?;
        self.unwritten_deployments.clear();
        Ok(())
    }

    /// The release `key` of `product`, if stored or created earlier in this
    /// request.
    fn find(&self, product: &str, key: &str) -> Option<Resolved> {
        self.releases
            .get(&(product.to_owned(), key.to_owned()))
            .cloned()
            .flatten()
    }

    /// The release an event names, which must exist and have `environment`
    /// in its flow; else 400 naming `data.release` or `data.environment`.
    fn target(
        &mut self,
        event: &Event,
        product: &str,
        key: &str,
        environment: &str,
    ) -> Result<Resolved, AppError> {
        let release = self.find(product, key).ok_or_else(|| {
            AppError::invalid(
                event.field("data.release"),
                format!(
                    "product {product:?} has no release {key:?}: send release.created first \
                     (in this request or an earlier one)"
                ),
            )
        })?;
        if release.flow.env(environment).is_none() {
            return Err(AppError::invalid(
                event.field("data.environment"),
                format!(
                    "{environment:?} is not an environment of release {key:?} (flow {:?})",
                    release.flow.name()
                ),
            ));
        }
        self.outcome.releases.insert(key.to_owned(), release.id);
        Ok(release)
    }

    /// Applies one recorded event; `fresh` is false for a duplicate, which
    /// is only counted.
    async fn apply(
        &mut self,
        conn: &mut Conn,
        event: &'e Event,
        fresh: bool,
    ) -> Result<(), AppError> {
        let at = millis(event.time);
        if !fresh {
            self.outcome.duplicates += 1;
            if let Some(key) = event.command.release() {
                if let Some(release) = self.find(event.command.product(), key) {
                    self.outcome.releases.insert(key.to_owned(), release.id);
                }
            }
            return Ok(());
        }
        self.outcome.accepted += 1;

        match &event.command {
            Command::ReleaseCreated(created) => {
                // A key seen before keeps its release: the first creation wins.
                if let Some(known) = self.find(&created.product, &created.release) {
                    self.outcome
                        .releases
                        .insert(created.release.clone(), known.id);
                    return Ok(());
                }
                let (product_id, new_product) =
                    store::products::ensure(conn, &created.product, self.now).await?;
                if new_product {
                    self.changed.new_products.insert(created.product.clone());
                }
                let id = store::products::next_release_id(conn, product_id).await?;
                let pk = store::releases::insert(
                    conn,
                    NewRelease {
                        product_id,
                        id,
                        key: &created.release,
                        flow: &created.flow,
                        commit: &created.commit,
                        version: created.version.as_deref(),
                        changes: &created.changes,
                        created_at: at,
                    },
                )
                .await?;
                // The release starts in its trigger environment.
                let trigger = created.flow.trigger();
                match &created.version {
                    Some(version) => {
                        store::health::promote(conn, product_id, trigger, id, version, at).await?;
                        self.promoted(product_id, trigger, id);
                    }
                    None => self.deploy(product_id, trigger, id),
                }
                // A new release has no runs and no restarted environment yet.
                self.runs.insert(
                    pk,
                    ReleaseRuns {
                        release_id: id,
                        product_id,
                        by_id: HashMap::new(),
                    },
                );
                self.attempts.insert(pk, HashMap::new());
                self.releases.insert(
                    (created.product.clone(), created.release.clone()),
                    Some(Resolved {
                        pk,
                        product_id,
                        id,
                        flow: Arc::new(created.flow.clone()),
                    }),
                );
                self.outcome.releases.insert(created.release.clone(), id);
                self.changed.touch(pk, at);
            }
            Command::WorkflowUpdated(update) => {
                let release =
                    self.target(event, &update.product, &update.release, &update.environment)?;
                self.workflow_updated(conn, &release, update, at).await?;
                self.deploy(release.product_id, &update.environment, release.id);
            }
            Command::EnvironmentPromoted(promoted) => {
                let release = self.target(
                    event,
                    &promoted.product,
                    &promoted.release,
                    &promoted.environment,
                )?;
                let attempt = self.attempt(release.pk, &promoted.environment);
                store::facts::insert_promotion(conn, release.pk, promoted, at, attempt).await?;
                store::health::promote(
                    conn,
                    release.product_id,
                    &promoted.environment,
                    release.id,
                    &promoted.version,
                    at,
                )
                .await?;
                self.promoted(release.product_id, &promoted.environment, release.id);
                self.changed.environments.insert(
                    (promoted.product.clone(), promoted.environment.clone()),
                    release.product_id,
                );
                self.changed.touch(release.pk, at);
            }
            Command::GitFailed(failed) => {
                let release =
                    self.target(event, &failed.product, &failed.release, &failed.environment)?;
                let attempt = self.attempt(release.pk, &failed.environment);
                store::facts::insert_git_error(conn, release.pk, failed, at, attempt).await?;
                self.deploy(release.product_id, &failed.environment, release.id);
                self.changed.touch(release.pk, at);
            }
            Command::ApplicationHealth(health) => {
                let (product_id, new_product) =
                    store::products::ensure(conn, &health.product, self.now).await?;
                if new_product {
                    self.changed.new_products.insert(health.product.clone());
                }
                if store::health::report(conn, product_id, health, at).await? {
                    self.changed.environments.insert(
                        (health.product.clone(), health.environment.clone()),
                        product_id,
                    );
                    // Health shows on the release deployed there; re-derive
                    // it so its watchers hear of the change.
                    self.write_deployments(conn).await?;
                    if let Some(id) =
                        store::health::deployed(conn, product_id, &health.environment).await?
                    {
                        if let Some(row) = store::releases::get(conn, product_id, id).await? {
                            // Health belongs to the environment, not the
                            // release: it does not move `updated_at` (which
                            // would then depend on whether the promotion
                            // arrived first).
                            self.changed.touch(row.pk, i64::MIN);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies a run snapshot: replaces a known run's snapshot unless this
    /// one is older, or adds a new run in the environment's current attempt
    /// (or the explicit one) and applies supersede (SPEC §2.5).
    async fn workflow_updated(
        &mut self,
        conn: &mut Conn,
        release: &Resolved,
        update: &'e WorkflowUpdated,
        at: i64,
    ) -> Result<(), AppError> {
        let steps: Vec<StepFact> = steps_status(&update.steps)
            .map(StepFact::standing_for)
            .into_iter()
            .collect();
        let attempt = match update.attempt {
            Some(attempt) => attempt,
            None => self.attempt(release.pk, &update.environment),
        };
        let runs = self.runs.get_mut(&release.pk).ok_or_else(|| {
            AppError::internal(format!("the runs of release {} were not read", release.pk))
        })?;
        if let Some(known) = runs.by_id.get_mut(&update.run.id) {
            if at < known.snapshot_time {
                return Ok(());
            }
            // Identity, attempt, arrival and supersede mark stay.
            known.fact.status = update.run.status;
            known.fact.started_at = update.run.started_at;
            known.fact.steps = steps;
            known.snapshot_time = at;
            known.snapshot = Some(update);
            self.changed.touch(release.pk, at);
            return Ok(());
        }

        let run = &update.run;
        let fact = RunFact {
            id: run.id.clone(),
            // Given when the run is stored (`flush`).
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
        let group = Group {
            product_id: release.product_id,
            environment: update.environment.clone(),
            phase: update.phase,
            workflow: run.workflow.clone(),
            application: run.application.clone(),
        };
        self.hold(
            release.pk,
            RunState {
                fact,
                snapshot_time: at,
                snapshot: Some(update),
                superseded: false,
                new: true,
            },
        )?;
        self.new_runs.push((release.pk, run.id.clone()));
        self.changed.touch(release.pk, at);
        self.supersede(conn, release, &group, at).await
    }

    /// A run of release `release` in `group` was first reported: older
    /// releases' runs of the group that are pending or running are
    /// superseded by it (SPEC §2.5), the rule being `superseded_runs`.
    async fn supersede(
        &mut self,
        conn: &mut Conn,
        release: &Resolved,
        group: &Group,
        at: i64,
    ) -> Result<(), AppError> {
        self.read_group(conn, group).await?;
        let mut older = Vec::new();
        let mut held = Vec::new();
        for (pk, run_id) in self.by_group.get(group).into_iter().flatten() {
            let Some(runs) = self.runs.get(pk) else {
                continue;
            };
            if *pk == release.pk {
                continue;
            }
            if let Some(run) = runs.by_id.get(run_id) {
                older.push(SupersedeCandidate {
                    release: runs.release_id,
                    run_id: run_id.clone(),
                    status: run_status(&run.fact),
                    superseded_by: run.fact.superseded_by,
                });
                held.push(Held::Named(*pk, run_id.clone()));
            }
        }
        for seq in self.others_by_group.get(group).into_iter().flatten() {
            if let Some(other) = self.others.get(seq) {
                older.push(SupersedeCandidate {
                    release: other.release_id,
                    run_id: other.run_id.clone(),
                    status: other.status,
                    superseded_by: other.superseded_by,
                });
                held.push(Held::Other(*seq));
            }
        }
        // The rule returns the candidates it keeps in the order given.
        let mut from = 0;
        for (run_id, release_id) in superseded_runs(release.id, &older) {
            let Some(offset) = older[from..]
                .iter()
                .position(|c| c.run_id == run_id && c.release == release_id)
            else {
                continue;
            };
            let index = from + offset;
            from = index + 1;
            match &held[index] {
                Held::Named(pk, run_id) => {
                    if let Some(run) = self
                        .runs
                        .get_mut(pk)
                        .and_then(|runs| runs.by_id.get_mut(run_id))
                    {
                        run.fact.superseded_by = Some(release.id);
                        run.superseded = true;
                    }
                    self.changed.touch(*pk, at);
                }
                Held::Other(seq) => {
                    if let Some(other) = self.others.get_mut(seq) {
                        other.superseded_by = Some(release.id);
                        self.changed.touch(other.release_pk, at);
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads, once per request, the unfinished runs of `group` in releases
    /// no event names (the named releases' runs are all held already).
    async fn read_group(&mut self, conn: &mut Conn, group: &Group) -> Result<(), AppError> {
        if !self.groups_read.insert(group.clone()) {
            return Ok(());
        }
        for run in store::runs::unfinished_in(conn, group).await? {
            if self.runs.contains_key(&run.release_pk) || self.others.contains_key(&run.seq) {
                continue;
            }
            self.others_by_group
                .entry(group.clone())
                .or_default()
                .push(run.seq);
            self.others.insert(
                run.seq,
                OtherRun {
                    release_pk: run.release_pk,
                    release_id: run.release_id,
                    run_id: run.run_id,
                    status: run.status,
                    superseded_by: None,
                },
            );
        }
        Ok(())
    }

    /// Writes what the request changed in memory: the deployments, the new
    /// runs (which gives them their seq), the new snapshots of known runs
    /// and the supersede marks.
    async fn flush(&mut self, conn: &mut Conn) -> Result<(), AppError> {
        self.write_deployments(conn).await?;

        let mut new = Vec::with_capacity(self.new_runs.len());
        for (pk, run_id) in &self.new_runs {
            let Some(runs) = self.runs.get(pk) else {
                continue;
            };
            let Some(run) = runs.by_id.get(run_id) else {
                continue;
            };
            let Some(snapshot) = run.snapshot else {
                continue;
            };
            new.push(NewRun {
                release_pk: *pk,
                product_id: runs.product_id,
                release_id: runs.release_id,
                run_id: &run.fact.id,
                environment: &run.fact.environment,
                phase: run.fact.phase,
                workflow: &run.fact.workflow,
                application: &run.fact.application,
                attempt: run.fact.attempt,
                write: RunWrite {
                    run: &snapshot.run,
                    steps: &snapshot.steps,
                    snapshot_time: run.snapshot_time,
                    superseded_by: run.fact.superseded_by,
                },
            });
        }
        let stored = store::runs::insert_all(conn, &new).await?;
        if stored.len() != new.len() {
            return Err(AppError::internal(format!(
                "{} new runs, {} stored",
                new.len(),
                stored.len()
            )));
        }
        drop(new);
        for (pk, run_id, seq) in stored {
            if let Some(run) = self
                .runs
                .get_mut(&pk)
                .and_then(|runs| runs.by_id.get_mut(&run_id))
            {
                run.fact.seq = seq;
            }
        }

        let mut updated = Vec::new();
        let mut superseded = Vec::new();
        for runs in self.runs.values() {
            for run in runs.by_id.values() {
                if run.new {
                    continue;
                }
                let seq = run.fact.seq;
                match run.snapshot {
                    Some(snapshot) => updated.push((
                        seq,
                        RunWrite {
                            run: &snapshot.run,
                            steps: &snapshot.steps,
                            snapshot_time: run.snapshot_time,
                            superseded_by: run.fact.superseded_by,
                        },
                    )),
                    None if run.superseded => {
                        if let Some(by) = run.fact.superseded_by {
                            superseded.push((seq, by));
                        }
                    }
                    None => {}
                }
            }
        }
        for (&seq, other) in &self.others {
            if let Some(by) = other.superseded_by {
                superseded.push((seq, by));
            }
        }
        updated.sort_by_key(|(seq, _)| *seq);
        superseded.sort_unstable();
        store::runs::update_all(conn, &updated).await?;
        store::runs::supersede_all(conn, &superseded).await?;
        Ok(())
    }

    /// The response, and what changed for `Write::rederive`, with the runs
    /// of the touched releases this request holds.
    fn finish(self) -> (IngestOutcome, Changed) {
        let Batch {
            outcome,
            mut changed,
            runs,
            ..
        } = self;
        for (pk, runs) in runs {
            if !changed.touched.contains_key(&pk) {
                continue;
            }
            let mut facts: Vec<RunFact> = runs.by_id.into_values().map(|run| run.fact).collect();
            facts.sort_by_key(|fact| fact.seq);
            changed.known_runs.insert(pk, facts);
        }
        (outcome, changed)
    }
}
