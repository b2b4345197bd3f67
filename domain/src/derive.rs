//! The status rules of SPEC §2.1–2.4 and the error list of §3: turns the
//! stored facts of one release into the `ReleaseView` every page and API
//! response shows. Pure and deterministic: the same facts give the same view,
//! whatever order the store returned them in (ties fall back to arrival `seq`).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::facts::{
    steps_status, GitErrorFact, HealthFact, PromotionFact, ReleaseFacts, RunFact, StepFact,
};
use super::flow::{EnvSpec, Flow};
use super::status::{aggregate, EnvStatus, FailReason, Health, Phase, ReleaseStatus, RunStatus};
use super::view::{
    Counts, EnvView, ErrorKind, ErrorView, FlowView, HealthView, ReleaseView, RunStepView, RunView,
    StepView, StepsView,
};

/// Derives every status, version and error of a release (SPEC §2–3).
///
/// Facts naming an environment outside the flow snapshot are ignored.
pub fn derive_release(facts: &ReleaseFacts) -> ReleaseView {
    let flow = &facts.flow;
    let per_env = EnvFacts::group(facts);
    let attempts = current_attempts(flow, &facts.env_attempts);
    let versions = versions(flow, &per_env, facts.version.as_deref());
    let mut error_ids = ErrorIds::default();

    let environments: Vec<EnvView> = flow
        .environments()
        .iter()
        .zip(per_env)
        .zip(attempts)
        .zip(versions)
        .map(|(((spec, env_facts), attempt), version)| {
            EnvDerivation::new(spec, &env_facts, attempt).into_view(
                &env_facts,
                version,
                &mut error_ids,
            )
        })
        .collect();

    let mut counts = Counts::default();
    for env in &environments {
        match env.status {
            EnvStatus::Failed => counts.failed += 1,
            EnvStatus::Successful => counts.successful += 1,
            EnvStatus::Running => counts.running += 1,
            EnvStatus::Pending => counts.pending += 1,
        }
    }

    ReleaseView {
        id: facts.id,
        key: facts.key.clone(),
        product: facts.product.clone(),
        status: ReleaseStatus::of_environments(environments.iter().map(|e| (e.status, e.reason))),
        superseded_by: environments
            .iter()
            .flat_map(|e| &e.runs)
            .filter_map(|r| r.superseded_by)
            .max(),
        attempt: environments.iter().map(|e| e.attempt).max().unwrap_or(1),
        created_at: facts.created_at,
        updated_at: facts.updated_at,
        commit: facts.commit.clone(),
        version: facts.version.clone(),
        counts,
        flow: FlowView {
            name: flow.name().to_owned(),
            trigger: flow.trigger().to_owned(),
            edges: flow.edges().into_iter().map(|(p, c)| [p, c]).collect(),
        },
        environments,
        // Restarts change no status (their attempts do): the release page's
        // reader attaches them, the write path never needs them.
        restarts: Vec::new(),
    }
}

/// A workflow run's status per SPEC §2.1: the aggregation of its steps plus
/// its reported status when that is `error`, `failed` or `terminated`; with no
/// steps, the reported status. A superseded run is `terminated` (§2.5).
pub fn run_status(run: &RunFact) -> RunStatus {
    if run.superseded_by.is_some() {
        return RunStatus::Terminated;
    }
    snapshot_status(run.status, steps_status(&run.steps))
}

/// The status of a run that is not superseded, from its reported status
/// and the aggregate of its steps (`None`: it has none), per SPEC §2.1.
pub fn snapshot_status(reported: RunStatus, steps: Option<RunStatus>) -> RunStatus {
    match steps {
        None => reported,
        Some(steps) => aggregate(
            [steps]
                .into_iter()
                .chain(reported.is_failure().then_some(reported)),
        ),
    }
}

/// A step's status as shown: a superseded run was stopped, so its steps that
/// had not finished show `terminated` rather than spinning forever.
fn step_status(run: &RunFact, step: &StepFact) -> RunStatus {
    if run.superseded_by.is_some() && !step.status.is_finished() {
        RunStatus::Terminated
    } else {
        step.status
    }
}

/// The facts of one environment, borrowed from `ReleaseFacts`.
#[derive(Default)]
struct EnvFacts<'a> {
    runs: Vec<&'a RunFact>,
    promotions: Vec<&'a PromotionFact>,
    git_errors: Vec<&'a GitErrorFact>,
    health: Vec<&'a HealthFact>,
}

impl<'a> EnvFacts<'a> {
    /// Splits the facts per environment, indexed by flow position.
    fn group(facts: &'a ReleaseFacts) -> Vec<EnvFacts<'a>> {
        let flow = &facts.flow;
        let mut envs: Vec<EnvFacts<'a>> = flow
            .environments()
            .iter()
            .map(|_| EnvFacts::default())
            .collect();
        for run in &facts.runs {
            if let Some(i) = flow.position(&run.environment) {
                envs[i].runs.push(run);
            }
        }
        for promotion in &facts.promotions {
            if let Some(i) = flow.position(&promotion.environment) {
                envs[i].promotions.push(promotion);
            }
        }
        for error in &facts.git_errors {
            if let Some(i) = flow.position(&error.environment) {
                envs[i].git_errors.push(error);
            }
        }
        for health in &facts.health {
            if let Some(i) = flow.position(&health.environment) {
                envs[i].health.push(health);
            }
        }
        envs
    }

    /// The latest promotion by time in any attempt (a failed restart does
    /// not roll the version back, §2.4); on a tie, the later fact.
    fn latest_promotion(&self) -> Option<&'a PromotionFact> {
        self.promotions
            .iter()
            .copied()
            .max_by_key(|p| (p.time, p.attempt))
    }
}

/// Current attempt per environment, by flow position; unlisted is 1.
fn current_attempts(flow: &Flow, env_attempts: &[(String, u32)]) -> Vec<u32> {
    let mut attempts = vec![1; flow.environments().len()];
    for (name, attempt) in env_attempts {
        if let Some(slot) = flow.position(name).and_then(|i| attempts.get_mut(i)) {
            *slot = (*slot).max(*attempt);
        }
    }
    attempts
}

/// Version per environment (SPEC §2.4), by flow position, with whether it is
/// inherited: the latest promotion there; else, for the trigger, the
/// release's own version; else the version of the first parent in flow order
/// that has one. Parents come first in flow order, so one pass suffices.
fn versions(
    flow: &Flow,
    per_env: &[EnvFacts<'_>],
    release_version: Option<&str>,
) -> Vec<(Option<String>, bool)> {
    let mut versions: Vec<(Option<String>, bool)> = Vec::with_capacity(per_env.len());
    for (pos, (spec, facts)) in flow.environments().iter().zip(per_env).enumerate() {
        let version = if let Some(promotion) = facts.latest_promotion() {
            (Some(promotion.version.clone()), false)
        } else if spec.name == flow.trigger() {
            (release_version.map(str::to_owned), false)
        } else {
            flow.parent_positions(pos)
                .iter()
                .find_map(|&p| versions.get(p).and_then(|(v, _)| v.clone()))
                .map_or((None, false), |v| (Some(v), true))
        };
        versions.push(version);
    }
    versions
}

/// Identifies a current run: phase, then application as declared (unknown
/// applications last, by name), then workflow. Also the display order.
type RunKey<'a> = (Phase, usize, &'a str, &'a str);

fn run_key<'a>(spec: &EnvSpec, phase: Phase, workflow: &'a str, app: &'a str) -> RunKey<'a> {
    let declared = spec.applications.iter().position(|a| a == app);
    (phase, declared.unwrap_or(usize::MAX), app, workflow)
}

/// A run and its derived status.
type Derived<'a> = (&'a RunFact, RunStatus);

/// The rules of §2.1–2.2 applied to one environment's runs.
struct EnvDerivation<'a> {
    spec: &'a EnvSpec,
    attempt: u32,
    /// Current runs in display order.
    current: BTreeMap<RunKey<'a>, Derived<'a>>,
    history: Vec<Derived<'a>>,
    status: EnvStatus,
    reason: Option<FailReason>,
}

impl<'a> EnvDerivation<'a> {
    fn new(spec: &'a EnvSpec, facts: &EnvFacts<'a>, attempt: u32) -> Self {
        let key = |run: &'a RunFact| run_key(spec, run.phase, &run.workflow, &run.application);
        // The current run per key is the one that started last, then arrived last.
        let recency = |run: &RunFact| (run.started_at, run.seq);

        let mut current: BTreeMap<RunKey<'a>, &'a RunFact> = BTreeMap::new();
        for &run in facts.runs.iter().filter(|r| r.attempt == attempt) {
            current
                .entry(key(run))
                .and_modify(|kept| {
                    if recency(run) > recency(kept) {
                        *kept = run;
                    }
                })
                .or_insert(run);
        }
        let current_seqs: BTreeSet<(&str, i64)> =
            current.values().map(|r| (r.id.as_str(), r.seq)).collect();
        let mut history: Vec<Derived<'a>> = facts
            .runs
            .iter()
            .filter(|r| !current_seqs.contains(&(r.id.as_str(), r.seq)))
            .map(|&r| (r, run_status(r)))
            .collect();
        history.sort_by_key(|&(r, _)| Reverse((r.attempt, recency(r))));
        let current: BTreeMap<RunKey<'a>, Derived<'a>> = current
            .into_iter()
            .map(|(k, r)| (k, (r, run_status(r))))
            .collect();

        let expected: Vec<RunKey<'a>> = spec
            .expected_runs()
            .map(|(phase, workflow, app)| run_key(spec, phase, workflow, app))
            .collect();
        let git_failed = facts.git_errors.iter().any(|e| e.attempt == attempt);
        let promoted = facts.promotions.iter().any(|p| p.attempt == attempt);
        let (status, reason) = env_status(&expected, &current, git_failed, promoted);
        EnvDerivation {
            spec,
            attempt,
            current,
            history,
            status,
            reason,
        }
    }

    fn into_view(
        self,
        facts: &EnvFacts<'_>,
        (version, version_inherited): (Option<String>, bool),
        error_ids: &mut ErrorIds,
    ) -> EnvView {
        let spec = self.spec;
        let errors = self.errors(facts, error_ids);
        let steps = self.steps();
        EnvView {
            name: spec.name.clone(),
            status: self.status,
            reason: self.reason,
            version,
            version_inherited,
            attempt: self.attempt,
            errors,
            runs: self
                .current
                .values()
                .map(|&(r, s)| run_view(r, s))
                .collect(),
            steps,
            history: self.history.iter().map(|&(r, s)| run_view(r, s)).collect(),
            applications: spec.applications.clone(),
            pre_action: spec.pre_action.clone(),
            post_action: spec.post_action.clone(),
            health: health_views(spec, &facts.health),
        }
    }

    /// Steps aggregated by name per phase over the current runs (§2.1), in
    /// first-seen order: runs by arrival, steps as listed.
    fn steps(&self) -> StepsView {
        let mut runs: Vec<&RunFact> = self.current.values().map(|&(r, _)| r).collect();
        runs.sort_by_key(|r| r.seq);
        StepsView {
            pre: aggregate_steps(runs.iter().filter(|r| r.phase == Phase::Pre).copied()),
            post: aggregate_steps(runs.iter().filter(|r| r.phase == Phase::Post).copied()),
        }
    }

    /// Errors of §3, newest first; ties keep workflow, git, application order.
    fn errors(&self, facts: &EnvFacts<'_>, ids: &mut ErrorIds) -> Vec<ErrorView> {
        let env = self.spec.name.as_str();
        let mut errors = Vec::new();
        for &(run, status) in self.current.values().filter(|(_, s)| s.is_failure()) {
            errors.extend(workflow_errors(env, run, status, ids));
        }

        let mut git: Vec<&GitErrorFact> = facts
            .git_errors
            .iter()
            .copied()
            .filter(|e| e.attempt == self.attempt)
            .collect();
        git.sort_by_key(|e| e.seq);
        errors.extend(git.into_iter().map(|e| ErrorView {
            operation: Some(e.operation.clone()),
            repo: e.repo.clone(),
            details: e.details.clone(),
            ..ErrorView::new(
                ids.claim(&format!("git-{}", e.seq)),
                ErrorKind::Git,
                env,
                e.message.clone(),
                Some(e.time),
            )
        }));

        for h in health_views(self.spec, &facts.health) {
            if h.health != Health::Degraded {
                continue;
            }
            let id = ids.claim(&format!("app-{env}-{}", h.application));
            let message = h
                .message
                .unwrap_or_else(|| format!("application `{}` is degraded", h.application));
            errors.push(ErrorView {
                application: Some(h.application),
                health: Some(h.health),
                url: h.url,
                ..ErrorView::new(id, ErrorKind::Application, env, message, Some(h.time))
            });
        }

        // `None` sorts lowest, so undated errors go last; the sort is stable.
        errors.sort_by_key(|e| Reverse(e.time));
        errors
    }
}

/// Environment status and failure reason per SPEC §2.2.
///
/// A run failure wins over a git error as the reason; among runs the
/// aggregation order decides (`error` > `failed` > `terminated`).
/// Environments downstream of a failed one need no special case: nothing
/// runs there until their parents succeed, so they come out `pending`.
fn env_status(
    expected: &[RunKey<'_>],
    current: &BTreeMap<RunKey<'_>, Derived<'_>>,
    git_failed: bool,
    promoted: bool,
) -> (EnvStatus, Option<FailReason>) {
    let failures = current.values().map(|&(_, s)| s).filter(|s| s.is_failure());
    let run_reason = FailReason::of_run(aggregate(failures));
    if let Some(reason) = run_reason.or(git_failed.then_some(FailReason::Git)) {
        return (EnvStatus::Failed, Some(reason));
    }

    let find = |key: &RunKey<'_>| current.get(key).copied();
    let started = |(run, status): Derived<'_>| {
        run.started_at.is_some() || run.status != RunStatus::Pending || status != RunStatus::Pending
    };
    // A run whose steps all succeeded may still be reported running: it has
    // not finished until both agree.
    let finished = |(run, status): Derived<'_>| status.is_finished() && run.status.is_finished();

    let any_running = current.values().any(|&(_, s)| s == RunStatus::Running);
    let any_started = current.values().any(|&d| started(d));
    let expected_unfinished = expected.iter().any(|e| !find(e).is_some_and(finished));
    if any_running || (any_started && expected_unfinished) {
        return (EnvStatus::Running, None);
    }

    let all_succeeded = if expected.is_empty() {
        promoted
    } else {
        expected
            .iter()
            .all(|e| find(e).is_some_and(|(_, s)| s == RunStatus::Success))
    };
    if all_succeeded {
        (EnvStatus::Successful, None)
    } else {
        (EnvStatus::Pending, None)
    }
}

/// Aggregates steps of `runs` by name, in first-seen order.
fn aggregate_steps<'a>(runs: impl Iterator<Item = &'a RunFact>) -> Vec<StepView> {
    struct Acc {
        view: StepView,
        all_finished: bool,
    }
    let mut order: Vec<Acc> = Vec::new();
    let mut index: BTreeMap<&'a str, usize> = BTreeMap::new();
    for run in runs {
        for step in &run.steps {
            let status = step_status(run, step);
            let i = *index.entry(&step.name).or_insert_with(|| {
                order.push(Acc {
                    view: StepView {
                        name: step.name.clone(),
                        status,
                        started_at: step.started_at,
                        finished_at: None,
                    },
                    all_finished: true,
                });
                order.len() - 1
            });
            let acc = &mut order[i];
            acc.view.status = aggregate([acc.view.status, status]);
            acc.view.started_at = earliest(acc.view.started_at, step.started_at);
            acc.view.finished_at = acc.view.finished_at.max(step.finished_at);
            acc.all_finished &= status.is_finished();
        }
    }
    order
        .into_iter()
        .map(|mut acc| {
            if !acc.all_finished {
                acc.view.finished_at = None;
            }
            acc.view
        })
        .collect()
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Workflow errors of one failed current run (§3): one per step that ended
/// `failed`/`error`/`terminated`, or one for the run when no step did (it
/// failed before any step, or was superseded).
fn workflow_errors(
    env: &str,
    run: &RunFact,
    status: RunStatus,
    ids: &mut ErrorIds,
) -> Vec<ErrorView> {
    let base = |id: String, message: String, time, status| ErrorView {
        run_id: Some(run.id.clone()),
        workflow: Some(run.workflow.clone()),
        application: Some(run.application.clone()),
        phase: Some(run.phase),
        status: Some(status),
        superseded_by: run.superseded_by,
        url: run.url.clone(),
        ..ErrorView::new(id, ErrorKind::Workflow, env, message, time)
    };

    let run_time = run.finished_at.or(run.started_at);
    if let Some(newer) = run.superseded_by {
        let message = format!("superseded by release {newer}");
        return vec![ErrorView {
            manifest: run.manifest.clone(),
            ..base(
                ids.claim(&format!("wf-{}", run.id)),
                message,
                run_time,
                status,
            )
        }];
    }
    let mut failed_steps: Vec<ErrorView> = run
        .steps
        .iter()
        .filter(|s| s.status.is_failure())
        .map(|step| {
            let message = step
                .message
                .clone()
                .or_else(|| run.message.clone())
                .unwrap_or_else(|| format!("step `{}` {}", step.name, outcome(step.status)));
            let time = step.finished_at.or(step.started_at).or(run_time);
            ErrorView {
                step: Some(step.name.clone()),
                logs: step.logs.clone(),
                ..base(
                    ids.claim(&format!("wf-{}-{}", run.id, step.name)),
                    message,
                    time,
                    step.status,
                )
            }
        })
        .collect();
    if let Some(first) = failed_steps.first_mut() {
        // The run's manifest once, on its first error (the error panel of
        // any of them shows it): a run of many failed steps does not copy it
        // per step.
        first.manifest = run.manifest.clone();
        return failed_steps;
    }
    let message = run
        .message
        .clone()
        .unwrap_or_else(|| format!("workflow `{}` {}", run.workflow, outcome(status)));
    vec![ErrorView {
        manifest: run.manifest.clone(),
        ..base(
            ids.claim(&format!("wf-{}", run.id)),
            message,
            run_time,
            status,
        )
    }]
}

fn outcome(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Error => "has a syntax or configuration error",
        RunStatus::Terminated => "was terminated",
        _ => "failed",
    }
}

/// Health per application, declared applications first; the latest report
/// wins if the store sent several for one application.
fn health_views(spec: &EnvSpec, health: &[&HealthFact]) -> Vec<HealthView> {
    let mut latest: BTreeMap<(usize, &str), &HealthFact> = BTreeMap::new();
    for &h in health {
        let app = spec
            .applications
            .iter()
            .position(|a| *a == h.application)
            .unwrap_or(usize::MAX);
        latest
            .entry((app, &h.application))
            .and_modify(|kept| {
                if h.time >= kept.time {
                    *kept = h;
                }
            })
            .or_insert(h);
    }
    latest
        .into_values()
        .map(|h| HealthView {
            application: h.application.clone(),
            health: h.health,
            message: h.message.clone(),
            url: h.url.clone(),
            time: h.time,
        })
        .collect()
}

fn run_view(run: &RunFact, status: RunStatus) -> RunView {
    RunView {
        id: run.id.clone(),
        phase: run.phase,
        workflow: run.workflow.clone(),
        application: run.application.clone(),
        status,
        reported_status: run.status,
        superseded_by: run.superseded_by,
        url: run.url.clone(),
        started_at: run.started_at,
        finished_at: run.finished_at,
        attempt: run.attempt,
        message: run.message.clone(),
        steps: run
            .steps
            .iter()
            .map(|step| RunStepView {
                name: step.name.clone(),
                status: step_status(run, step),
                started_at: step.started_at,
                finished_at: step.finished_at,
                message: step.message.clone(),
            })
            .collect(),
    }
}

/// Hands out error ids that are URL-safe (`[A-Za-z0-9._-]`) and unique within
/// a release: names are sanitised, and a clash gets `-2`, `-3`, ….
#[derive(Default)]
struct ErrorIds {
    used: BTreeSet<String>,
}

impl ErrorIds {
    fn claim(&mut self, raw: &str) -> String {
        let base: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut id = base.clone();
        let mut n = 2;
        while self.used.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        self.used.insert(id.clone());
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{GitErrorFact, HealthFact, PromotionFact, StepFact};
    use crate::testing::{arb_flow, commit, spec};
    use proptest::prelude::*;
    use Phase::{Post, Pre};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("in range")
    }

    fn step(name: &str, status: RunStatus) -> StepFact {
        StepFact {
            name: name.into(),
            status,
            started_at: None,
            finished_at: None,
            message: None,
            logs: None,
        }
    }

    /// dev (post `smoke`) → qa (pre `backup`, post `e2e`) → prod (no
    /// workflows); applications `api` and `web` everywhere.
    fn linear() -> Flow {
        let none: &[&str] = &[];
        Flow::new(spec(
            "dev",
            &[
                ("dev", none, None, Some("smoke")),
                ("qa", &["dev"], Some("backup"), Some("e2e")),
                ("prod", &["qa"], None, None),
            ],
        ))
        .expect("valid flow")
    }

    /// A release under construction; facts arrive in call order.
    struct Release {
        facts: ReleaseFacts,
    }

    impl Release {
        fn new(flow: Flow) -> Release {
            Release {
                facts: ReleaseFacts {
                    product: "shop".into(),
                    id: 12,
                    key: "rel-12".into(),
                    flow,
                    commit: commit(),
                    version: Some("1.0.0".into()),
                    created_at: t(0),
                    updated_at: t(0),
                    env_attempts: Vec::new(),
                    runs: Vec::new(),
                    promotions: Vec::new(),
                    git_errors: Vec::new(),
                    health: Vec::new(),
                },
            }
        }

        fn current_attempt(&self, env: &str) -> u32 {
            let listed = self.facts.env_attempts.iter().filter(|(e, _)| e == env);
            listed.map(|(_, a)| *a).max().unwrap_or(1)
        }

        fn next_seq(&self) -> i64 {
            (self.facts.runs.len() + self.facts.git_errors.len()) as i64 + 1
        }

        /// Reports a run of the environment's action for `phase`, started
        /// after everything before it, in the environment's current attempt.
        fn run(&mut self, env: &str, phase: Phase, app: &str, status: RunStatus) -> &mut RunFact {
            let spec = self.facts.flow.env(env).expect("environment of the flow");
            let action = match phase {
                Pre => &spec.pre_action,
                Post => &spec.post_action,
            };
            let seq = self.next_seq();
            let run = RunFact {
                id: format!("{env}-{phase}-{app}-{seq}"),
                seq,
                environment: env.into(),
                phase,
                workflow: action.clone().unwrap_or_else(|| "extra".into()),
                application: app.into(),
                status,
                started_at: Some(t(seq * 10)),
                finished_at: status.is_finished().then(|| t(seq * 10 + 5)),
                url: Some(format!("https://argo.example/{seq}")),
                manifest: Some("kind: Workflow".into()),
                message: None,
                attempt: self.current_attempt(env),
                superseded_by: None,
                steps: Vec::new(),
            };
            self.facts.runs.push(run);
            self.facts.runs.last_mut().expect("just pushed")
        }

        /// Reports every expected run of `env` as successful.
        fn succeed(&mut self, env: &str) {
            for (phase, _, app) in self.facts.flow.expected_runs(env) {
                self.run(env, phase, &app, RunStatus::Success);
            }
        }

        fn promote(&mut self, env: &str, version: &str, time: i64) {
            let attempt = self.current_attempt(env);
            self.facts.promotions.push(PromotionFact {
                environment: env.into(),
                version: version.into(),
                commit_sha: None,
                commit_url: None,
                time: t(time),
                attempt,
            });
        }

        fn git_error(&mut self, env: &str, time: i64) {
            let seq = self.next_seq();
            let attempt = self.current_attempt(env);
            self.facts.git_errors.push(GitErrorFact {
                seq,
                environment: env.into(),
                operation: "push".into(),
                message: "rejected: non-fast-forward".into(),
                repo: Some("git@example.com:deploy.git".into()),
                details: None,
                time: t(time),
                attempt,
            });
        }

        fn health(&mut self, env: &str, app: &str, health: Health, time: i64) {
            self.facts.health.push(HealthFact {
                environment: env.into(),
                application: app.into(),
                health,
                message: None,
                url: Some(format!("https://cd.example/{app}")),
                time: t(time),
            });
        }

        fn restart(&mut self, env: &str) {
            let next = self.current_attempt(env) + 1;
            self.facts.env_attempts.push((env.into(), next));
        }

        fn derive(&self) -> ReleaseView {
            derive_release(&self.facts)
        }

        fn env(&self, name: &str) -> EnvView {
            self.derive()
                .env(name)
                .expect("environment of the flow")
                .clone()
        }
    }

    fn statuses(view: &ReleaseView) -> Vec<(&str, EnvStatus)> {
        view.environments
            .iter()
            .map(|e| (e.name.as_str(), e.status))
            .collect()
    }

    // §2.1 Step and workflow status

    #[test]
    fn run_status_aggregates_steps_plus_reported_failure() {
        use RunStatus::*;
        let table: &[(RunStatus, &[RunStatus], RunStatus)] = &[
            (Running, &[Success, Running], Running),
            (Success, &[Success, Failed], Failed),
            (Running, &[Success, Pending], Pending),
            // The reported status counts only when error, failed or terminated.
            (Failed, &[Success], Failed),
            (Error, &[Success, Failed], Error),
            (Terminated, &[Success, Running], Terminated),
            (Running, &[Success, Success], Success),
            (Success, &[Pending], Pending),
        ];
        for &(reported, steps, expected) in table {
            let mut release = Release::new(linear());
            let run = release.run("qa", Pre, "api", reported);
            run.steps = steps.iter().map(|&s| step("s", s)).collect();
            assert_eq!(run_status(run), expected, "{reported} {steps:?}");
        }
    }

    #[test]
    fn run_without_steps_takes_reported_status() {
        for &reported in RunStatus::ALL {
            let mut release = Release::new(linear());
            let run = release.run("qa", Pre, "api", reported);
            assert_eq!(run_status(run), reported);
        }
    }

    #[test]
    fn superseded_run_counts_as_terminated() {
        let mut release = Release::new(linear());
        let run = release.run("qa", Pre, "api", RunStatus::Running);
        run.superseded_by = Some(13);
        run.steps = vec![
            step("build", RunStatus::Success),
            step("deploy", RunStatus::Running),
        ];
        assert_eq!(run_status(run), RunStatus::Terminated);

        let qa = release.env("qa");
        let steps: Vec<_> = qa.runs[0].steps.iter().map(|s| s.status).collect();
        assert_eq!(steps, [RunStatus::Success, RunStatus::Terminated]);
        assert_eq!(qa.steps.pre[1].status, RunStatus::Terminated);
    }

    #[test]
    fn step_status_in_env_aggregates_same_step_over_current_runs() {
        use RunStatus::*;
        let mut release = Release::new(linear());
        release.run("qa", Pre, "api", Running).steps =
            vec![step("checkout", Success), step("migrate", Running)];
        release.run("qa", Pre, "web", Failed).steps =
            vec![step("checkout", Failed), step("migrate", Success)];
        release.run("qa", Post, "api", Pending).steps = vec![step("checkout", Pending)];

        let qa = release.env("qa");
        let pre: Vec<_> = qa
            .steps
            .pre
            .iter()
            .map(|s| (s.name.as_str(), s.status))
            .collect();
        assert_eq!(pre, [("checkout", Failed), ("migrate", Running)]);
        let post: Vec<_> = qa
            .steps
            .post
            .iter()
            .map(|s| (s.name.as_str(), s.status))
            .collect();
        assert_eq!(post, [("checkout", Pending)], "phases aggregate separately");
    }

    #[test]
    fn steps_listed_in_first_seen_order() {
        use RunStatus::*;
        let mut release = Release::new(linear());
        // `web` arrives first, so its steps lead even though `api` is listed first.
        release.run("qa", Pre, "web", Running).steps = vec![step("z", Success), step("y", Running)];
        release.run("qa", Pre, "api", Running).steps =
            vec![step("y", Success), step("x", Running), step("z", Success)];

        let qa = release.env("qa");
        let names: Vec<_> = qa.steps.pre.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["z", "y", "x"]);
        let apps: Vec<_> = qa.runs.iter().map(|r| r.application.as_str()).collect();
        assert_eq!(
            apps,
            ["api", "web"],
            "runs are listed as applications are declared"
        );
    }

    #[test]
    fn step_times_span_runs_and_finish_when_every_run_has() {
        use RunStatus::*;
        let mut release = Release::new(linear());
        let timed = |status, start, end: Option<i64>| StepFact {
            started_at: Some(t(start)),
            finished_at: end.map(t),
            ..step("deploy", status)
        };
        release.run("qa", Pre, "api", Running).steps = vec![timed(Success, 20, Some(30))];
        release.run("qa", Pre, "web", Running).steps = vec![timed(Running, 10, None)];
        let pending = release.env("qa").steps.pre[0].clone();
        assert_eq!(
            (pending.started_at, pending.finished_at),
            (Some(t(10)), None)
        );

        release.facts.runs[1].steps = vec![timed(Success, 10, Some(40))];
        let done = release.env("qa").steps.pre[0].clone();
        assert_eq!(
            (done.started_at, done.finished_at),
            (Some(t(10)), Some(t(40)))
        );
    }

    // §2.2 Environment status

    #[test]
    fn current_run_is_latest_started_then_latest_arrival() {
        use RunStatus::*;
        // (first reported, its start, second reported, its start, the current one)
        type Case = (RunStatus, Option<i64>, RunStatus, Option<i64>, RunStatus);
        let table: &[Case] = &[
            (Failed, Some(10), Success, Some(20), Success),
            (Failed, Some(20), Success, Some(10), Failed),
            (Failed, Some(10), Success, Some(10), Success),
            (Failed, Some(10), Success, None, Failed),
            (Failed, None, Success, None, Success),
        ];
        for &(first, first_start, second, second_start, current) in table {
            let mut release = Release::new(linear());
            release.run("dev", Post, "api", first).started_at = first_start.map(t);
            release.run("dev", Post, "api", second).started_at = second_start.map(t);
            let dev = release.env("dev");
            assert_eq!(dev.runs.len(), 1);
            assert_eq!(
                dev.runs[0].status, current,
                "{first_start:?} vs {second_start:?}"
            );
            assert_eq!(dev.history.len(), 1, "the other run is history");
        }
    }

    #[test]
    fn current_runs_only_from_current_attempt() {
        let mut release = Release::new(linear());
        release.succeed("dev");
        release.run("qa", Pre, "api", RunStatus::Failed);
        release.restart("qa");
        release.restart("prod");

        let view = release.derive();
        let qa = view.env("qa").expect("qa is in the flow");
        assert_eq!((qa.status, qa.attempt), (EnvStatus::Pending, 2));
        assert!(qa.runs.is_empty() && qa.errors.is_empty());
        assert_eq!(qa.history.len(), 1);
        assert_eq!(qa.history[0].attempt, 1);
        assert_eq!(view.status, ReleaseStatus::Progressing);
        assert_eq!(view.attempt, 2);

        release.run("qa", Pre, "api", RunStatus::Running);
        let qa = release.env("qa");
        assert_eq!(qa.status, EnvStatus::Running);
        assert_eq!(qa.runs[0].attempt, 2);
    }

    #[test]
    fn env_failed_when_current_run_failed_error_or_terminated() {
        let table = [
            (RunStatus::Failed, FailReason::Failed),
            (RunStatus::Error, FailReason::Error),
            (RunStatus::Terminated, FailReason::Terminated),
        ];
        for (status, reason) in table {
            let mut release = Release::new(linear());
            release.run("qa", Pre, "api", RunStatus::Success);
            release.run("qa", Pre, "web", status);
            let qa = release.env("qa");
            assert_eq!(
                (qa.status, qa.reason),
                (EnvStatus::Failed, Some(reason)),
                "{status}"
            );
        }
    }

    #[test]
    fn env_failure_reason_follows_aggregation_then_runs_before_git() {
        use RunStatus::*;
        let table: &[(&[RunStatus], bool, FailReason)] = &[
            (&[Terminated, Failed], false, FailReason::Failed),
            (&[Failed, Error], false, FailReason::Error),
            (&[Terminated, Running], false, FailReason::Terminated),
            (&[Terminated], true, FailReason::Terminated),
            (&[Success], true, FailReason::Git),
        ];
        for &(runs, git, reason) in table {
            let mut release = Release::new(linear());
            for (status, app) in runs.iter().zip(["api", "web"]) {
                release.run("qa", Pre, app, *status);
            }
            if git {
                release.git_error("qa", 100);
            }
            assert_eq!(release.env("qa").reason, Some(reason), "{runs:?} git={git}");
        }
    }

    #[test]
    fn env_failed_when_git_error_in_current_attempt() {
        let mut release = Release::new(linear());
        release.succeed("dev");
        release.git_error("dev", 100);
        let dev = release.env("dev");
        assert_eq!(
            (dev.status, dev.reason),
            (EnvStatus::Failed, Some(FailReason::Git))
        );
    }

    #[test]
    fn env_ignores_git_error_of_earlier_attempt() {
        let mut release = Release::new(linear());
        release.git_error("dev", 100);
        release.restart("dev");
        release.succeed("dev");
        let dev = release.env("dev");
        assert_eq!((dev.status, dev.reason), (EnvStatus::Successful, None));
        assert!(dev.errors.is_empty());
    }

    #[test]
    fn env_running_when_any_current_run_running() {
        let mut release = Release::new(linear());
        release.run("qa", Pre, "api", RunStatus::Running);
        assert_eq!(release.env("qa").status, EnvStatus::Running);
    }

    #[test]
    fn env_running_when_started_and_expected_run_not_finished() {
        let mut release = Release::new(linear());
        // Both pre-actions done, post-actions not reported yet.
        release.run("qa", Pre, "api", RunStatus::Success);
        release.run("qa", Pre, "web", RunStatus::Success);
        assert_eq!(release.env("qa").status, EnvStatus::Running);

        // A run whose steps all succeeded but which still reports `running`.
        release.run("qa", Post, "api", RunStatus::Success);
        release.run("qa", Post, "web", RunStatus::Running).steps =
            vec![step("test", RunStatus::Success)];
        assert_eq!(release.env("qa").status, EnvStatus::Running);

        // A started run whose steps have not begun.
        let mut release = Release::new(linear());
        release
            .run("dev", Post, "api", RunStatus::Pending)
            .started_at = Some(t(5));
        assert_eq!(release.env("dev").status, EnvStatus::Running);
    }

    #[test]
    fn env_successful_when_every_expected_run_succeeded() {
        let mut release = Release::new(linear());
        release.run("qa", Pre, "api", RunStatus::Success);
        release.run("qa", Pre, "web", RunStatus::Success);
        release.run("qa", Post, "api", RunStatus::Success);
        assert_ne!(release.env("qa").status, EnvStatus::Successful);
        release.run("qa", Post, "web", RunStatus::Success);
        assert_eq!(release.env("qa").status, EnvStatus::Successful);
    }

    #[test]
    fn env_without_workflows_successful_once_promoted_in_current_attempt() {
        let mut release = Release::new(linear());
        assert_eq!(release.env("prod").status, EnvStatus::Pending);
        release.promote("prod", "1.0.0", 50);
        assert_eq!(release.env("prod").status, EnvStatus::Successful);
        release.restart("prod");
        assert_eq!(release.env("prod").status, EnvStatus::Pending);
    }

    #[test]
    fn env_pending_when_nothing_started() {
        let mut release = Release::new(linear());
        release
            .run("dev", Post, "api", RunStatus::Pending)
            .started_at = None;
        assert_eq!(release.env("dev").status, EnvStatus::Pending);
        assert_eq!(release.env("qa").status, EnvStatus::Pending);
    }

    #[test]
    fn env_downstream_of_failed_stays_pending() {
        let mut release = Release::new(linear());
        release.run("dev", Post, "api", RunStatus::Failed);
        let view = release.derive();
        assert_eq!(
            statuses(&view),
            [
                ("dev", EnvStatus::Failed),
                ("qa", EnvStatus::Pending),
                ("prod", EnvStatus::Pending)
            ]
        );
    }

    #[test]
    fn health_does_not_change_env_status() {
        let mut release = Release::new(linear());
        release.succeed("dev");
        release.health("dev", "api", Health::Degraded, 100);
        release.health("dev", "web", Health::Missing, 100);
        let dev = release.env("dev");
        assert_eq!((dev.status, dev.reason), (EnvStatus::Successful, None));
        let health: Vec<_> = dev
            .health
            .iter()
            .map(|h| (h.application.as_str(), h.health))
            .collect();
        assert_eq!(
            health,
            [("api", Health::Degraded), ("web", Health::Missing)]
        );
    }

    // §2.3 Release status

    #[test]
    fn release_status_rules_from_facts() {
        type Setup = fn(&mut Release);
        let table: &[(&str, Setup, ReleaseStatus)] = &[
            (
                "failed run",
                |r| {
                    r.run("dev", Post, "api", RunStatus::Failed);
                },
                ReleaseStatus::Failed,
            ),
            (
                "git error",
                |r| r.git_error("dev", 1),
                ReleaseStatus::Failed,
            ),
            (
                "failed beats terminated",
                |r| {
                    r.run("dev", Post, "api", RunStatus::Terminated);
                    r.run("dev", Post, "web", RunStatus::Success);
                    r.run("qa", Pre, "api", RunStatus::Error);
                },
                ReleaseStatus::Failed,
            ),
            (
                "terminated run",
                |r| {
                    r.run("dev", Post, "api", RunStatus::Terminated);
                },
                ReleaseStatus::Terminated,
            ),
            (
                "every env successful",
                |r| {
                    r.succeed("dev");
                    r.succeed("qa");
                    r.promote("prod", "1.0.0", 99);
                },
                ReleaseStatus::Successful,
            ),
            (
                "some env pending",
                |r| {
                    r.succeed("dev");
                    r.succeed("qa");
                },
                ReleaseStatus::Progressing,
            ),
            ("nothing reported", |_| {}, ReleaseStatus::Progressing),
        ];
        for (name, setup, expected) in table {
            let mut release = Release::new(linear());
            setup(&mut release);
            assert_eq!(release.derive().status, *expected, "{name}");
        }
    }

    #[test]
    fn release_counts_environments_by_status() {
        let mut release = Release::new(linear());
        release.succeed("dev");
        release.run("qa", Pre, "api", RunStatus::Failed);
        let view = release.derive();
        assert_eq!(
            view.counts,
            Counts {
                failed: 1,
                successful: 1,
                running: 0,
                pending: 1
            }
        );
    }

    // §2.4 Versions

    #[test]
    fn version_from_latest_promotion_in_any_attempt() {
        let mut release = Release::new(linear());
        release.promote("qa", "1.2.0", 50);
        release.restart("qa");
        release.promote("qa", "1.2.1", 40);
        let qa = release.env("qa");
        assert_eq!(
            (qa.version.as_deref(), qa.version_inherited),
            (Some("1.2.0"), false)
        );
    }

    #[test]
    fn version_kept_when_post_action_fails_after_promotion() {
        let mut release = Release::new(linear());
        release.succeed("dev");
        release.run("qa", Pre, "api", RunStatus::Success);
        release.run("qa", Pre, "web", RunStatus::Success);
        release.promote("qa", "1.4.2", 100);
        release.run("qa", Post, "api", RunStatus::Failed);
        let qa = release.env("qa");
        assert_eq!(qa.status, EnvStatus::Failed);
        assert_eq!(
            (qa.version.as_deref(), qa.version_inherited),
            (Some("1.4.2"), false)
        );
    }

    #[test]
    fn version_inherited_from_preceding_env_when_not_promoted() {
        let mut release = Release::new(linear());
        release.promote("dev", "2.0.0", 10);
        let view = release.derive();
        let versions: Vec<_> = view
            .environments
            .iter()
            .map(|e| (e.name.as_str(), e.version.as_deref(), e.version_inherited))
            .collect();
        assert_eq!(
            versions,
            [
                ("dev", Some("2.0.0"), false),
                ("qa", Some("2.0.0"), true),
                ("prod", Some("2.0.0"), true)
            ]
        );
    }

    #[test]
    fn version_inherited_from_first_parent_in_flow_order_that_has_one() {
        let flow = crate::testing::flow(&[
            ("dev", &[]),
            ("qa", &["dev"]),
            ("perf", &["dev"]),
            ("prod", &["perf", "qa"]),
        ]);
        let mut release = Release::new(flow);
        release.facts.version = None;
        release.promote("perf", "3.1.0", 10);
        let prod = release.env("prod");
        assert_eq!(
            (prod.version.as_deref(), prod.version_inherited),
            (Some("3.1.0"), true)
        );
        release.promote("qa", "3.0.0", 5);
        let prod = release.env("prod");
        assert_eq!(
            prod.version.as_deref(),
            Some("3.0.0"),
            "qa precedes perf in flow order"
        );
        assert_eq!(release.env("dev").version, None);
    }

    #[test]
    fn trigger_without_promotion_shows_release_version() {
        let release = Release::new(linear());
        let view = release.derive();
        let dev = view.env("dev").expect("dev is in the flow");
        assert_eq!(
            (dev.version.as_deref(), dev.version_inherited),
            (Some("1.0.0"), false)
        );
        let qa = view.env("qa").expect("qa is in the flow");
        assert_eq!(
            (qa.version.as_deref(), qa.version_inherited),
            (Some("1.0.0"), true)
        );
    }

    // §2.5 Concurrent promotions

    #[test]
    fn superseded_release_is_terminated_and_names_newest_superseder() {
        let mut release = Release::new(linear());
        release.succeed("dev");
        release
            .run("qa", Pre, "api", RunStatus::Running)
            .superseded_by = Some(14);
        release
            .run("qa", Pre, "web", RunStatus::Running)
            .superseded_by = Some(15);
        let view = release.derive();
        assert_eq!(view.status, ReleaseStatus::Terminated);
        assert_eq!(view.superseded_by, Some(15));
        let qa = view.env("qa").expect("qa is in the flow");
        assert_eq!(
            (qa.status, qa.reason),
            (EnvStatus::Failed, Some(FailReason::Terminated))
        );
        assert_eq!(qa.runs[0].superseded_by, Some(14));
        assert_eq!(qa.runs[0].reported_status, RunStatus::Running);
        let messages: Vec<_> = qa.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            ["superseded by release 15", "superseded by release 14"]
        );
    }

    // §3 Errors shown per environment

    #[test]
    fn workflow_error_per_failed_step_with_logs() {
        let mut release = Release::new(linear());
        let run = release.run("qa", Pre, "api", RunStatus::Failed);
        run.steps = vec![
            step("checkout", RunStatus::Success),
            StepFact {
                logs: Some("boom".into()),
                message: Some("exit code 1".into()),
                ..step("migrate", RunStatus::Failed)
            },
            step("lint", RunStatus::Error),
        ];
        let run_id = run.id.clone();
        let qa = release.env("qa");
        let errors: Vec<_> = qa
            .errors
            .iter()
            .map(|e| (e.kind, e.step.as_deref(), e.status, e.message.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (
                    ErrorKind::Workflow,
                    Some("migrate"),
                    Some(RunStatus::Failed),
                    "exit code 1"
                ),
                (
                    ErrorKind::Workflow,
                    Some("lint"),
                    Some(RunStatus::Error),
                    "step `lint` has a syntax or configuration error"
                ),
            ]
        );
        let migrate = &qa.errors[0];
        assert_eq!(migrate.logs.as_deref(), Some("boom"));
        assert_eq!(migrate.run_id.as_deref(), Some(run_id.as_str()));
        assert_eq!(migrate.manifest.as_deref(), Some("kind: Workflow"));
        // The run's manifest is on its first error only, not copied per step.
        assert_eq!(qa.errors[1].run_id.as_deref(), Some(run_id.as_str()));
        assert_eq!(qa.errors[1].manifest, None);
        assert!(migrate.url.is_some());
        assert_eq!(migrate.application.as_deref(), Some("api"));
    }

    #[test]
    fn workflow_error_for_run_when_no_step_failed() {
        let mut release = Release::new(linear());
        let run = release.run("qa", Pre, "web", RunStatus::Error);
        run.message = Some("invalid spec: unknown template".into());
        run.steps = vec![step("checkout", RunStatus::Success)];
        release.run("dev", Post, "api", RunStatus::Terminated);

        let view = release.derive();
        let qa = &view.env("qa").expect("qa is in the flow").errors;
        assert_eq!(qa.len(), 1);
        assert_eq!(
            (qa[0].step.as_deref(), qa[0].message.as_str()),
            (None, "invalid spec: unknown template")
        );
        let dev = &view.env("dev").expect("dev is in the flow").errors;
        assert_eq!(dev[0].message, "workflow `smoke` was terminated");
    }

    #[test]
    fn git_errors_of_current_attempt_listed() {
        let mut release = Release::new(linear());
        release.git_error("qa", 10);
        release.restart("qa");
        release.git_error("qa", 20);
        let qa = release.env("qa");
        assert_eq!(qa.errors.len(), 1);
        let git = &qa.errors[0];
        assert_eq!((git.kind, git.time), (ErrorKind::Git, Some(t(20))));
        assert_eq!(git.operation.as_deref(), Some("push"));
        assert!(git.repo.is_some());
    }

    #[test]
    fn application_error_when_degraded() {
        let mut release = Release::new(linear());
        release.health("dev", "api", Health::Healthy, 10);
        release.health("dev", "web", Health::Degraded, 20);
        let dev = release.env("dev");
        assert_eq!(dev.errors.len(), 1);
        let app = &dev.errors[0];
        assert_eq!(app.kind, ErrorKind::Application);
        assert_eq!(app.application.as_deref(), Some("web"));
        assert_eq!(app.url.as_deref(), Some("https://cd.example/web"));
        assert_eq!(app.message, "application `web` is degraded");
    }

    #[test]
    fn errors_newest_first() {
        let mut release = Release::new(linear());
        release.run("qa", Pre, "api", RunStatus::Failed).finished_at = Some(t(30));
        release.git_error("qa", 50);
        release.health("qa", "web", Health::Degraded, 40);
        release.run("qa", Pre, "web", RunStatus::Failed).finished_at = None;
        let kinds: Vec<_> = release.env("qa").errors.iter().map(|e| e.time).collect();
        let mut sorted = kinds.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(kinds, sorted);
        assert_eq!(release.env("qa").errors[0].kind, ErrorKind::Git);
    }

    #[test]
    fn error_ids_unique_and_url_safe() {
        let mut release = Release::new(linear());
        // Three run ids that sanitise alike, in two environments.
        for (env, app, id) in [
            ("dev", "api", "run/1"),
            ("qa", "api", "run 1"),
            ("qa", "web", "run?1"),
        ] {
            let phase = if env == "dev" { Post } else { Pre };
            let run = release.run(env, phase, app, RunStatus::Failed);
            run.id = id.into();
            run.steps = vec![step("unit tests", RunStatus::Failed)];
        }
        release.health("dev", "web", Health::Degraded, 1);
        release.health("qa", "web", Health::Degraded, 1);
        release.git_error("qa", 1);
        let view = release.derive();
        let ids: Vec<&str> = view
            .environments
            .iter()
            .flat_map(|e| &e.errors)
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(ids.len(), 6);
        let unique: BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        for id in ids {
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "{id}"
            );
        }
    }

    // API shape (SPEC §4.3)

    #[test]
    fn release_view_json_has_spec_fields() {
        let mut release = Release::new(linear());
        release.succeed("dev");
        let json = serde_json::to_value(release.derive()).expect("serializes");
        for field in [
            "id",
            "key",
            "product",
            "status",
            "superseded_by",
            "attempt",
            "created_at",
            "updated_at",
            "commit",
            "counts",
            "flow",
            "environments",
        ] {
            assert!(json.get(field).is_some(), "{field}");
        }
        assert_eq!(json["superseded_by"], serde_json::Value::Null);
        assert_eq!(
            json["flow"]["edges"],
            serde_json::json!([["dev", "qa"], ["qa", "prod"]])
        );
        assert_eq!(json["commit"]["author"]["name"], "Ada");
        let dev = &json["environments"][0];
        for field in [
            "name",
            "status",
            "reason",
            "version",
            "version_inherited",
            "attempt",
            "errors",
            "runs",
            "steps",
            "history",
        ] {
            assert!(dev.get(field).is_some(), "{field}");
        }
        assert_eq!(dev["status"], "successful");
        assert!(dev["steps"]["pre"].is_array() && dev["steps"]["post"].is_array());
        let run = &dev["runs"][0];
        for field in [
            "id",
            "phase",
            "workflow",
            "application",
            "status",
            "superseded_by",
            "url",
            "started_at",
            "finished_at",
        ] {
            assert!(run.get(field).is_some(), "{field}");
        }
        let back: ReleaseView = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, release.derive());
    }

    #[test]
    fn summary_lists_env_statuses_in_flow_order() {
        let mut release = Release::new(linear());
        release.succeed("dev");
        let summary = release.derive().summary();
        let envs: Vec<_> = summary
            .environments
            .iter()
            .map(|e| (e.name.as_str(), e.status))
            .collect();
        assert_eq!(
            envs,
            [
                ("dev", EnvStatus::Successful),
                ("qa", EnvStatus::Pending),
                ("prod", EnvStatus::Pending)
            ]
        );
        assert_eq!((summary.id, summary.flow.as_str()), (12, "flow"));
    }

    // Properties

    /// Random facts over a random flow whose environments run a `post`
    /// workflow for `api` and `web`; some runs are extra `pre` runs.
    fn arb_facts() -> impl Strategy<Value = ReleaseFacts> {
        let run = (
            any::<proptest::sample::Index>(),
            any::<bool>(),
            any::<bool>(),
            proptest::sample::select(RunStatus::ALL),
            proptest::option::of(0..20i64),
            1..=2u32,
            proptest::collection::vec(proptest::sample::select(RunStatus::ALL), 0..3),
        );
        let per_env = (
            1..=2u32,
            proptest::option::of(1..=2u32),
            proptest::option::weighted(0.2, 1..=2u32),
        );
        arb_flow(6)
            .prop_flat_map(move |flow| {
                let n = flow.environments().len();
                (
                    Just(flow),
                    proptest::collection::vec(per_env.clone(), n),
                    proptest::collection::vec(run.clone(), 0..24),
                )
            })
            .prop_map(|(flow, envs, runs)| {
                let mut release = Release::new(flow);
                let names: Vec<String> = release
                    .facts
                    .flow
                    .environments()
                    .iter()
                    .map(|e| e.name.clone())
                    .collect();
                for (name, (attempt, promoted, git)) in names.iter().zip(envs) {
                    release.facts.env_attempts.push((name.clone(), attempt));
                    if let Some(a) = promoted {
                        release.promote(name, "1.0.0", 5);
                        release
                            .facts
                            .promotions
                            .last_mut()
                            .expect("just pushed")
                            .attempt = a;
                    }
                    if let Some(a) = git {
                        release.git_error(name, 5);
                        release
                            .facts
                            .git_errors
                            .last_mut()
                            .expect("just pushed")
                            .attempt = a;
                    }
                }
                for (env, pre, web, status, start, attempt, steps) in runs {
                    let env = &names[env.index(names.len())];
                    let run = release.run(
                        env,
                        if pre { Pre } else { Post },
                        if web { "web" } else { "api" },
                        status,
                    );
                    run.started_at = start.map(t);
                    run.attempt = attempt;
                    run.steps = steps.into_iter().map(|s| step("s", s)).collect();
                }
                release.facts
            })
    }

    proptest! {
        #[test]
        fn adding_a_failed_run_never_yields_successful(
            facts in arb_facts(),
            env in any::<proptest::sample::Index>(),
            web in any::<bool>(),
        ) {
            let mut release = Release { facts };
            let names: Vec<String> = release.facts.flow.environments().iter().map(|e| e.name.clone()).collect();
            let env = &names[env.index(names.len())];
            release.run(env, Post, if web { "web" } else { "api" }, RunStatus::Failed).started_at = Some(t(1_000));
            let view = release.derive();
            prop_assert_ne!(view.status, ReleaseStatus::Successful);
            prop_assert_eq!(view.status, ReleaseStatus::Failed);
        }

        #[test]
        fn release_successful_exactly_when_all_its_envs_are(facts in arb_facts()) {
            let view = derive_release(&facts);
            let all = view.environments.iter().all(|e| e.status == EnvStatus::Successful);
            prop_assert_eq!(view.status == ReleaseStatus::Successful, all);
        }

        #[test]
        fn the_facts_the_write_path_loads_derive_the_same_statuses(facts in arb_facts()) {
            let full = derive_release(&facts);
            let lean = derive_release(&facts.for_status());
            prop_assert_eq!(lean.summary(), full.summary());
            prop_assert_eq!((lean.counts, lean.attempt), (full.counts, full.attempt));
            let envs = |view: &ReleaseView| -> Vec<_> {
                view.environments
                    .iter()
                    .map(|e| (e.status, e.reason, e.version_inherited, e.attempt))
                    .collect()
            };
            prop_assert_eq!(envs(&lean), envs(&full));
            let runs = |view: &ReleaseView| -> Vec<_> {
                view.environments
                    .iter()
                    .flat_map(|e| e.runs.iter().chain(&e.history))
                    .map(|r| (r.id.clone(), r.status, r.superseded_by))
                    .collect()
            };
            prop_assert_eq!(runs(&lean), runs(&full));
        }

        #[test]
        fn derivation_ignores_fact_order(
            (facts, shuffled) in arb_facts().prop_flat_map(|f| {
                let runs = Just(f.runs.clone()).prop_shuffle();
                (Just(f), runs)
            })
        ) {
            let mut reordered = facts.clone();
            reordered.runs = shuffled;
            prop_assert_eq!(derive_release(&facts), derive_release(&reordered));
        }
    }

    proptest! {
        /// A live patch between any two states of a release's page brings
        /// the older to the newer, facts arriving or (a restart) leaving.
        #[test]
        fn a_patch_brings_a_page_from_one_state_to_another(
            facts in arb_facts(),
            cut in any::<proptest::sample::Index>(),
            promotions in any::<bool>(),
        ) {
            let mut earlier = facts.clone();
            let keep = cut.index(facts.runs.len() + 1);
            earlier.runs.truncate(keep);
            if promotions {
                earlier.promotions.clear();
                earlier.git_errors.clear();
            }
            let (a, b) = (derive_release(&earlier), derive_release(&facts));
            for (old, new) in [(&a, &b), (&b, &a)] {
                let patch = crate::live::ReleasePatch::between(old, new, 1, 2)
                    .expect("the same release");
                let mut patched = old.clone();
                patched.apply(&patch);
                prop_assert_eq!(&patched, new);
            }
        }
    }
}
