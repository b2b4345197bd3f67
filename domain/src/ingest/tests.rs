//! The ingest fold without a database: each rule on its own, and the
//! properties of SPEC §4.2 over random streams — any delivery order and any
//! duplication end in the same view, and so does any split of the same
//! events into requests (supersede included).
//!
//! `Model` is an in-memory store: it loads a snapshot for a request as the
//! server's shell does (`Needs`, then `groups_with_new_runs`), keeps what
//! the effects ask for, and derives views from what it keeps. The server's
//! store is tested against the same properties on SQLite and PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;
use crate::testing::{commit, spec};
use crate::{
    derive_release, snapshot_status, steps_status, AppError, GitErrorFact, HealthFact,
    PromotionFact, ReleaseFacts, ReleaseView, RunFact,
};

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_700_000_000_000 + ms * 1000).expect("in range")
}

fn shop_flow() -> Flow {
    Flow::new(spec(
        "dev",
        &[
            ("dev", &[], None, Some("smoke")),
            ("staging", &["dev"], Some("verify"), Some("smoke")),
            ("prod", &["staging"], Some("verify"), None),
        ],
    ))
    .expect("valid flow")
}

fn event(id: &str, at: i64, command: Command) -> Event {
    Event {
        path: String::new(),
        source: "test".into(),
        id: id.into(),
        time: time(at),
        command,
    }
}

fn created(id: &str, key: &str, at: i64) -> Event {
    event(
        id,
        at,
        Command::ReleaseCreated(ReleaseCreated {
            product: "shop".into(),
            release: key.into(),
            flow: Some(shop_flow()),
            commit: commit(),
            version: None,
            changes: Default::default(),
        }),
    )
}

#[allow(clippy::too_many_arguments)]
fn workflow(
    id: &str,
    key: &str,
    environment: &str,
    phase: Phase,
    run: &str,
    workflow: &str,
    status: RunStatus,
    at: i64,
) -> Event {
    event(
        id,
        at,
        Command::WorkflowUpdated(WorkflowUpdated {
            product: "shop".into(),
            release: key.into(),
            environment: environment.into(),
            phase,
            run: RunSnapshot {
                id: run.into(),
                workflow: workflow.into(),
                application: "api".into(),
                status,
                started_at: Some(time(at)),
                finished_at: None,
                url: None,
                manifest: None,
                message: None,
            },
            steps: vec![StepFact {
                name: "check".into(),
                status,
                started_at: Some(time(at)),
                finished_at: None,
                message: None,
                logs: None,
            }],
            attempt: None,
        }),
    )
}

fn promoted(id: &str, key: &str, environment: &str, version: &str, at: i64) -> Event {
    event(
        id,
        at,
        Command::EnvironmentPromoted(EnvironmentPromoted {
            product: "shop".into(),
            release: key.into(),
            environment: environment.into(),
            version: version.into(),
            commit_sha: None,
            commit_url: None,
        }),
    )
}

fn git_failed(id: &str, key: &str, environment: &str, at: i64) -> Event {
    event(
        id,
        at,
        Command::GitFailed(GitFailed {
            product: "shop".into(),
            release: key.into(),
            environment: environment.into(),
            operation: "push".into(),
            message: "rejected".into(),
            repo: None,
            details: None,
        }),
    )
}

fn health(id: &str, environment: &str, health: Health, at: i64) -> Event {
    event(
        id,
        at,
        Command::ApplicationHealth(ApplicationHealth {
            product: "shop".into(),
            environment: environment.into(),
            application: "api".into(),
            health,
            message: None,
            url: None,
        }),
    )
}

/// A stored release in the model.
#[derive(Debug, Clone)]
struct StoredRelease {
    facts: ReleaseFacts,
    /// The `time` of each run's snapshot.
    snapshot_times: BTreeMap<String, i64>,
}

/// An in-memory store that loads and keeps what the fold reads and writes.
#[derive(Debug, Default)]
struct Model {
    products: BTreeMap<String, i64>,
    keys: BTreeMap<(String, String), i64>,
    releases: BTreeMap<(String, i64), StoredRelease>,
    deployments: BTreeMap<(String, String), (Deployment, Option<String>)>,
    health: BTreeMap<(String, String, String), HealthFact>,
    seen: BTreeSet<(String, String)>,
    seq: i64,
}

impl Model {
    /// One request: record, load, fold, keep. An error stores nothing.
    fn ingest(&mut self, events: &[Event]) -> Result<IngestOutcome, AppError> {
        let mut seen = self.seen.clone();
        let fresh: Vec<bool> = events
            .iter()
            .map(|e| seen.insert((e.source.clone(), e.id.clone())))
            .collect();
        let mut snapshot = self.load(events);
        let mut effects = Vec::new();
        for (event, fresh) in events.iter().zip(fresh) {
            effects.extend(snapshot.apply(event, fresh)?);
        }
        self.keep(&snapshot, effects);
        self.seen = seen;
        Ok(snapshot.into_outcome())
    }

    fn load<'e>(&self, events: &'e [Event]) -> Snapshot<'e> {
        let needs = Needs::of(events);
        let mut snapshot = Snapshot::new();
        for product in &needs.products {
            if let Some(&last) = self.products.get(product) {
                snapshot.add_product(product, last);
            }
        }
        for (product, keys) in &needs.releases {
            for key in keys {
                let Some(&id) = self.keys.get(&(product.clone(), key.clone())) else {
                    continue;
                };
                let stored = &self.releases[&(product.clone(), id)];
                snapshot.add_release(product, key, id, Arc::new(stored.facts.flow.clone()));
                for run in &stored.facts.runs {
                    snapshot.add_run(
                        product,
                        id,
                        run.for_status(),
                        stored.snapshot_times[&run.id],
                    );
                }
            }
        }
        for group in snapshot.groups_with_new_runs(events) {
            for ((product, id), stored) in &self.releases {
                if *product != group.product {
                    continue;
                }
                for run in &stored.facts.runs {
                    let status = snapshot_status(run.status, steps_status(&run.steps));
                    let in_group = run.environment == group.environment
                        && run.phase == group.phase
                        && run.workflow == group.workflow
                        && run.application == group.application;
                    if in_group
                        && run.superseded_by.is_none()
                        && matches!(status, RunStatus::Pending | RunStatus::Running)
                    {
                        snapshot.add_unfinished(&group, *id, &run.id, status);
                    }
                }
            }
        }
        for key in &needs.deployments {
            if let Some((deployment, _)) = self.deployments.get(key) {
                snapshot.add_deployment(&key.0, &key.1, *deployment);
            }
        }
        for key in &needs.health {
            if let Some(fact) = self.health.get(key) {
                snapshot.add_health(&key.0, &key.1, &key.2, fact.time.timestamp_millis());
            }
        }
        snapshot
    }

    fn keep(&mut self, snapshot: &Snapshot<'_>, effects: Vec<Effect<'_>>) {
        for effect in effects {
            match effect {
                Effect::ProductCreated { product } => {
                    self.products.insert(product, 0);
                }
                Effect::ReleaseCreated {
                    product,
                    id,
                    created,
                    flow,
                    at,
                } => {
                    self.products.insert(product.clone(), id);
                    self.keys
                        .insert((product.clone(), created.release.clone()), id);
                    self.releases.insert(
                        (product.clone(), id),
                        StoredRelease {
                            facts: ReleaseFacts {
                                product,
                                id,
                                key: created.release.clone(),
                                flow: flow.clone(),
                                commit: created.commit.clone(),
                                version: created.version.clone(),
                                created_at: time_of(at),
                                updated_at: time_of(at),
                                env_attempts: Vec::new(),
                                runs: Vec::new(),
                                promotions: Vec::new(),
                                git_errors: Vec::new(),
                                health: Vec::new(),
                            },
                            snapshot_times: BTreeMap::new(),
                        },
                    );
                }
                Effect::DeploymentChanged {
                    product,
                    environment,
                    deployment,
                    version,
                } => {
                    let entry = self
                        .deployments
                        .entry((product, environment))
                        .or_insert((deployment, None));
                    entry.0 = deployment;
                    if version.is_some() {
                        entry.1 = version;
                    }
                }
                Effect::RunChanged { run, new } => {
                    let (fact, update, snapshot_time) = snapshot.run(&run).expect("held run");
                    let stored = self
                        .releases
                        .get_mut(&(run.0.clone(), run.1))
                        .expect("stored release");
                    let position = stored.facts.runs.iter().position(|r| r.id == run.2);
                    let seq = match position {
                        Some(i) => stored.facts.runs[i].seq,
                        None => {
                            assert!(new, "a known run is stored");
                            self.seq += 1;
                            self.seq
                        }
                    };
                    let mut full = match (position, update) {
                        (_, Some(update)) => RunFact {
                            status: update.run.status,
                            started_at: update.run.started_at,
                            finished_at: update.run.finished_at,
                            url: update.run.url.clone(),
                            manifest: update.run.manifest.clone(),
                            message: update.run.message.clone(),
                            steps: update.steps.clone(),
                            ..fact.clone()
                        },
                        (Some(i), None) => stored.facts.runs[i].clone(),
                        (None, None) => panic!("a new run has a snapshot"),
                    };
                    full.seq = seq;
                    full.superseded_by = fact.superseded_by;
                    stored.snapshot_times.insert(run.2.clone(), snapshot_time);
                    match position {
                        Some(i) => stored.facts.runs[i] = full,
                        None => stored.facts.runs.push(full),
                    }
                }
                Effect::OtherRunSuperseded { run, by } => {
                    let stored = self.releases.get_mut(&(run.0, run.1)).expect("stored");
                    for stored_run in &mut stored.facts.runs {
                        if stored_run.id == run.2 {
                            stored_run.superseded_by = Some(by);
                        }
                    }
                }
                Effect::PromotionRecorded {
                    release,
                    promoted,
                    at,
                    attempt,
                } => {
                    let stored = self.releases.get_mut(&release).expect("stored");
                    stored.facts.promotions.push(PromotionFact {
                        environment: promoted.environment.clone(),
                        version: promoted.version.clone(),
                        commit_sha: promoted.commit_sha.clone(),
                        commit_url: promoted.commit_url.clone(),
                        time: time_of(at),
                        attempt,
                    });
                }
                Effect::GitErrorRecorded {
                    release,
                    failed,
                    at,
                    attempt,
                } => {
                    self.seq += 1;
                    let stored = self.releases.get_mut(&release).expect("stored");
                    stored.facts.git_errors.push(GitErrorFact {
                        seq: self.seq,
                        environment: failed.environment.clone(),
                        operation: failed.operation.clone(),
                        message: failed.message.clone(),
                        repo: failed.repo.clone(),
                        details: failed.details.clone(),
                        time: time_of(at),
                        attempt,
                    });
                }
                Effect::HealthReported { health, at } => {
                    self.health.insert(
                        (
                            health.product.clone(),
                            health.environment.clone(),
                            health.application.clone(),
                        ),
                        HealthFact {
                            environment: health.environment.clone(),
                            application: health.application.clone(),
                            health: health.health,
                            message: health.message.clone(),
                            url: health.url.clone(),
                            time: time_of(at),
                        },
                    );
                }
                Effect::ReleaseTouched { release, at } => {
                    if let (Some(stored), Some(at)) = (self.releases.get_mut(&release), at) {
                        stored.facts.updated_at = stored.facts.updated_at.max(time_of(at));
                    }
                }
                Effect::EnvironmentChanged { .. } => {}
            }
        }
    }

    /// Every release's view, without error ids (they embed arrival order),
    /// with the versions shown per environment.
    fn views(&self) -> (Vec<ReleaseView>, Versions) {
        let views = self
            .releases
            .values()
            .map(|stored| {
                let mut facts = stored.facts.clone();
                facts.health = self
                    .health
                    .iter()
                    .filter(|((product, environment, _), _)| {
                        *product == facts.product
                            && self
                                .deployments
                                .get(&(product.clone(), environment.clone()))
                                .and_then(|(d, _)| d.release)
                                == Some(facts.id)
                    })
                    .map(|(_, fact)| fact.clone())
                    .collect();
                let mut view = derive_release(&facts);
                for env in &mut view.environments {
                    for error in &mut env.errors {
                        error.id = String::new();
                    }
                }
                view
            })
            .collect();
        let versions = self
            .deployments
            .iter()
            .map(|(key, (_, version))| (key.clone(), version.clone()))
            .collect();
        (views, versions)
    }
}

/// The version shown per (product, environment).
type Versions = BTreeMap<(String, String), Option<String>>;

fn time_of(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("in range")
}

#[test]
fn the_first_creation_of_a_key_wins() {
    let mut model = Model::default();
    let outcome = model
        .ingest(&[created("c1", "r1", 0), created("c2", "r2", 1)])
        .expect("valid");
    assert_eq!(outcome.releases["r1"], 1);
    assert_eq!(outcome.releases["r2"], 2);
    let again = model.ingest(&[created("c3", "r1", 5)]).expect("valid");
    assert_eq!(again.accepted, 1);
    assert_eq!(again.releases["r1"], 1, "the key keeps its release");
    assert_eq!(model.releases.len(), 2);
    let next = model.ingest(&[created("c4", "r3", 6)]).expect("valid");
    assert_eq!(
        next.releases["r3"], 3,
        "ids continue from the stored counter"
    );
}

#[test]
fn an_older_snapshot_is_skipped() {
    let mut model = Model::default();
    model.ingest(&[created("c1", "r1", 0)]).expect("valid");
    let newer = workflow(
        "w2",
        "r1",
        "dev",
        Phase::Post,
        "run",
        "smoke",
        RunStatus::Failed,
        20,
    );
    let older = workflow(
        "w1",
        "r1",
        "dev",
        Phase::Post,
        "run",
        "smoke",
        RunStatus::Success,
        10,
    );
    model.ingest(&[newer]).expect("valid");
    let events = [older];
    let mut snapshot = model.load(&events);
    let effects = snapshot.apply(&events[0], true).expect("valid");
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(
        snapshot.outcome().accepted,
        1,
        "a stale snapshot is accepted"
    );
}

#[test]
fn an_explicit_attempt_wins_over_the_current_one() {
    let mut model = Model::default();
    model.ingest(&[created("c1", "r1", 0)]).expect("valid");
    let mut explicit = workflow(
        "w1",
        "r1",
        "dev",
        Phase::Post,
        "a",
        "smoke",
        RunStatus::Running,
        5,
    );
    if let Command::WorkflowUpdated(update) = &mut explicit.command {
        update.attempt = Some(3);
    }
    let implicit = workflow(
        "w2",
        "r1",
        "dev",
        Phase::Post,
        "b",
        "smoke",
        RunStatus::Running,
        6,
    );
    let events = [explicit, implicit];
    let mut snapshot = model.load(&events);
    snapshot.add_attempt("shop", 1, "dev", 2);
    for event in &events {
        snapshot.apply(event, true).expect("valid");
    }
    let attempt = |run: &str| {
        snapshot
            .run(&("shop".into(), 1, run.into()))
            .map(|(fact, _, _)| fact.attempt)
    };
    assert_eq!(attempt("a"), Some(3));
    assert_eq!(attempt("b"), Some(2), "the environment's current attempt");
}

#[test]
fn a_newer_release_supersedes_older_unfinished_runs_of_its_group() {
    let mut model = Model::default();
    model
        .ingest(&[created("c1", "r1", 0), created("c2", "r2", 1)])
        .expect("valid");
    model
        .ingest(&[
            workflow(
                "w1",
                "r1",
                "staging",
                Phase::Pre,
                "old",
                "verify",
                RunStatus::Running,
                5,
            ),
            workflow(
                "w2",
                "r1",
                "dev",
                Phase::Post,
                "done",
                "smoke",
                RunStatus::Success,
                5,
            ),
        ])
        .expect("valid");
    // Release 1 is not named by this request: its run is an other candidate.
    let events = [workflow(
        "w3",
        "r2",
        "staging",
        Phase::Pre,
        "new",
        "verify",
        RunStatus::Pending,
        9,
    )];
    let mut snapshot = model.load(&events);
    let effects = snapshot.apply(&events[0], true).expect("valid");
    assert!(effects.contains(&Effect::OtherRunSuperseded {
        run: ("shop".into(), 1, "old".into()),
        by: 2,
    }));
    model.keep(&snapshot, effects);
    let (views, _) = model.views();
    assert_eq!(views[0].superseded_by, Some(2));
    assert_eq!(views[0].status, crate::ReleaseStatus::Terminated);

    // A later snapshot of a known run, or an older release's run,
    // supersedes nothing.
    let events = [
        workflow(
            "w4",
            "r2",
            "staging",
            Phase::Pre,
            "new",
            "verify",
            RunStatus::Running,
            10,
        ),
        workflow(
            "w5",
            "r1",
            "dev",
            Phase::Post,
            "late",
            "smoke",
            RunStatus::Running,
            11,
        ),
    ];
    let mut snapshot = model.load(&events);
    for event in &events {
        let effects = snapshot.apply(event, true).expect("valid");
        assert!(
            !effects
                .iter()
                .any(|e| matches!(e, Effect::OtherRunSuperseded { .. })),
            "{effects:?}"
        );
    }
}

#[test]
fn the_newest_release_is_deployed_whatever_the_order() {
    let creations = [created("c1", "r1", 0), created("c2", "r2", 1)];
    let orders = [
        vec![
            promoted("p1", "r1", "staging", "1.0", 10),
            promoted("p2", "r2", "staging", "2.0", 5),
        ],
        vec![
            promoted("p2", "r2", "staging", "2.0", 5),
            promoted("p1", "r1", "staging", "1.0", 10),
        ],
    ];
    for events in orders {
        let mut model = Model::default();
        model.ingest(&creations).expect("valid");
        for event in events {
            model.ingest(&[event]).expect("valid");
        }
        let (deployment, version) = &model.deployments[&("shop".into(), "staging".into())];
        assert_eq!(deployment.release, Some(2));
        assert_eq!(
            version.as_deref(),
            Some("2.0"),
            "the newest release's version"
        );
    }
}

#[test]
fn a_later_promotion_of_the_same_release_shows_its_version() {
    let mut model = Model::default();
    model.ingest(&[created("c1", "r1", 0)]).expect("valid");
    model
        .ingest(&[promoted("p2", "r1", "dev", "1.1", 20)])
        .expect("valid");
    model
        .ingest(&[promoted("p1", "r1", "dev", "1.0", 10)])
        .expect("valid");
    assert_eq!(
        model.deployments[&("shop".into(), "dev".into())]
            .1
            .as_deref(),
        Some("1.1")
    );
}

#[test]
fn an_older_health_report_is_skipped_and_a_newer_one_touches_the_deployed_release() {
    let mut model = Model::default();
    model.ingest(&[created("c1", "r1", 0)]).expect("valid");
    let events = [
        health("h2", "dev", Health::Degraded, 20),
        health("h1", "dev", Health::Healthy, 10),
    ];
    let mut snapshot = model.load(&events);
    let newer = snapshot.apply(&events[0], true).expect("valid");
    assert!(newer.contains(&Effect::ReleaseTouched {
        release: ("shop".into(), 1),
        at: None,
    }));
    let older = snapshot.apply(&events[1], true).expect("valid");
    assert!(older.is_empty(), "{older:?}");
}

#[test]
fn an_unknown_release_or_environment_names_the_field() {
    let mut model = Model::default();
    model.ingest(&[created("c1", "r1", 0)]).expect("valid");
    let mut batch = [
        workflow(
            "w1",
            "nope",
            "dev",
            Phase::Post,
            "a",
            "smoke",
            RunStatus::Running,
            1,
        ),
        workflow(
            "w2",
            "r1",
            "qa",
            Phase::Post,
            "a",
            "smoke",
            RunStatus::Running,
            1,
        ),
    ];
    batch[0].path = "events[0]".into();
    batch[1].path = "events[1]".into();
    for (event, field) in batch
        .iter()
        .zip(["events[0].data.release", "events[1].data.environment"])
    {
        match model.ingest(std::slice::from_ref(event)) {
            Err(AppError::Invalid { field: Some(f), .. }) => assert_eq!(f, field),
            other => panic!("{other:?}"),
        }
    }
    assert!(model.releases[&("shop".into(), 1)].facts.runs.is_empty());
}

const STATUSES: [RunStatus; 6] = [
    RunStatus::Pending,
    RunStatus::Running,
    RunStatus::Success,
    RunStatus::Failed,
    RunStatus::Error,
    RunStatus::Terminated,
];

/// After two creations: per run, snapshots with distinct times (ties
/// between two snapshots of a run would make arrival order matter); then
/// promotions, git errors and health. The two releases run in different
/// environments, so supersede (defined by arrival) is not in play.
fn stream(snapshots: &[(usize, usize, usize)], extras: &[usize]) -> Vec<Event> {
    let runs = [
        ("r-1", "dev", Phase::Post, "smoke"),
        ("r-1", "staging", Phase::Pre, "verify"),
        ("r-1", "staging", Phase::Post, "smoke"),
        ("r-2", "prod", Phase::Pre, "verify"),
    ];
    let mut events = Vec::new();
    for (n, &(run, status, t)) in snapshots.iter().enumerate() {
        let (release, env, phase, flow) = runs[run % runs.len()];
        events.push(workflow(
            &format!("w{n}"),
            release,
            env,
            phase,
            &format!("run-{run}"),
            flow,
            STATUSES[status % STATUSES.len()],
            100 + (t as i64) * 100 + n as i64,
        ));
    }
    for (n, &kind) in extras.iter().enumerate() {
        let at = 1000 + n as i64;
        events.push(match kind % 4 {
            0 => promoted(&format!("p{n}"), "r-1", "staging", &format!("1.{n}"), at),
            1 => git_failed(&format!("g{n}"), "r-2", "prod", at),
            2 => health(
                &format!("h{n}"),
                "prod",
                if n % 2 == 0 {
                    Health::Degraded
                } else {
                    Health::Healthy
                },
                at,
            ),
            _ => promoted(&format!("q{n}"), "r-2", "prod", &format!("2.{n}"), at),
        });
    }
    events
}

fn ingest_in_chunks(model: &mut Model, events: &[Event], chunk: usize) {
    for part in events.chunks(chunk.max(1)) {
        model.ingest(part).expect("valid");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_permutation_and_duplication_ends_in_the_same_view(
        snapshots in prop::collection::vec((0usize..4, 0usize..6, 0usize..5), 1..12),
        extras in prop::collection::vec(0usize..4, 0..6),
        shuffle in prop::collection::vec((any::<u32>(), any::<bool>()), 18),
        chunk in 1usize..6,
    ) {
        let creations = [created("c1", "r-1", 0), created("c2", "r-2", 1)];
        let events = stream(&snapshots, &extras);

        let mut reference = Model::default();
        ingest_in_chunks(&mut reference, &creations, 2);
        ingest_in_chunks(&mut reference, &events, events.len());

        let mut shuffled: Vec<(u32, Event)> = Vec::new();
        for (i, event) in events.iter().enumerate() {
            let (key, twice) = shuffle[i % shuffle.len()];
            let key = key.wrapping_add((i as u32).wrapping_mul(2_654_435_761));
            shuffled.push((key, event.clone()));
            if twice {
                shuffled.push((key.rotate_left(7), event.clone()));
            }
        }
        shuffled.sort_by_key(|(key, _)| *key);
        let shuffled: Vec<Event> = shuffled.into_iter().map(|(_, e)| e).collect();

        let mut model = Model::default();
        ingest_in_chunks(&mut model, &creations, 1);
        ingest_in_chunks(&mut model, &shuffled, chunk);
        // Redelivering everything changes nothing either.
        ingest_in_chunks(&mut model, &events, 7);
        prop_assert_eq!(model.views(), reference.views());
    }

    #[test]
    fn any_split_into_requests_ends_in_the_same_view(
        snapshots in prop::collection::vec(
            (0usize..3, 0usize..3, 0usize..2, 0usize..6, 0usize..30),
            1..24,
        ),
        third_at in 0usize..24,
        sizes in prop::collection::vec(1usize..8, 1..6),
    ) {
        let events = contended(&snapshots, third_at);
        let mut reference = Model::default();
        ingest_in_chunks(&mut reference, &events, 1);

        let mut model = Model::default();
        let mut rest = events.as_slice();
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (part, tail) = rest.split_at((*size).min(rest.len()));
            model.ingest(part).expect("valid");
            rest = tail;
        }
        prop_assert_eq!(model.views(), reference.views());
    }
}

/// Runs of three releases in the same environments and workflows, so newer
/// releases supersede older ones' runs: (release, group, run, status, time)
/// per snapshot; the third release is created part-way through.
fn contended(snapshots: &[(usize, usize, usize, usize, usize)], third_at: usize) -> Vec<Event> {
    let groups = [
        ("staging", Phase::Pre, "verify"),
        ("staging", Phase::Post, "smoke"),
        ("dev", Phase::Post, "smoke"),
    ];
    let mut events = vec![created("c1", "r-1", 0), created("c2", "r-2", 1)];
    let mut third = Some(created("c3", "r-3", 2));
    for (n, &(release, group, run, status, t)) in snapshots.iter().enumerate() {
        let release = release % 3;
        if third.is_some() && (n >= third_at || release == 2) {
            events.extend(third.take());
        }
        let (env, phase, flow) = groups[group % groups.len()];
        events.push(workflow(
            &format!("w{n}"),
            &format!("r-{}", release + 1),
            env,
            phase,
            &format!("run-{release}-{}-{}", group % groups.len(), run % 2),
            flow,
            STATUSES[status % STATUSES.len()],
            100 + t as i64,
        ));
        if n % 5 == 4 {
            events.push(promoted(
                &format!("p{n}"),
                &format!("r-{}", release + 1),
                env,
                &format!("{release}.{n}"),
                200 + n as i64,
            ));
        }
    }
    events.extend(third);
    events
}
