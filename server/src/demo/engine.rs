//! The simulated promotion engine: releases move through their flows one
//! environment at a time — pre-action runs per application, the promotion
//! commit, post-action runs — and every change comes out as a CloudEvent,
//! exactly what a real orchestrator would post. The clock is the caller's,
//! so the same engine writes 60 days of history in an instant and runs live
//! in real time; with the same seed and clock it emits the same events.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::catalog::{self, ProductDef, PRODUCTS};

/// How a release is destined to end, drawn when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Succeed,
    /// A step of one run fails (`error`: the workflow is misconfigured).
    Fail {
        env: usize,
        pre: bool,
        app: usize,
        error: bool,
    },
    /// The promotion commit of an environment fails.
    Git {
        env: usize,
    },
}

/// The outcome of a finished release, as the simulator saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Successful,
    Failed,
    Errored,
    GitFailed,
    Superseded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Waiting,
    Pre,
    Post,
    Done,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepState {
    Pending,
    Running,
    Success,
    Failed,
    Error,
    Terminated,
}

impl StepState {
    fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Success => "success",
            StepState::Failed => "failed",
            StepState::Error => "error",
            StepState::Terminated => "terminated",
        }
    }
}

struct Step {
    name: &'static str,
    state: StepState,
    duration: Duration,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    message: Option<String>,
    logs: Option<String>,
}

struct Run {
    id: String,
    workflow: &'static str,
    app: usize,
    app_name: &'static str,
    pre: bool,
    steps: Vec<Step>,
    state: StepState,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    message: Option<String>,
    /// The step that is to fail, and whether as `error`.
    fails_at: Option<(usize, bool)>,
}

struct Release {
    product: usize,
    key: String,
    version: String,
    fate: Fate,
    stages: Vec<Stage>,
    runs: Vec<Vec<Run>>,
    outcome: Option<Outcome>,
}

/// The simulated orchestrator of every demo product.
pub struct Engine {
    rng: StdRng,
    source: String,
    /// Emit only the last snapshot of each run (history), or every change (live).
    final_snapshots_only: bool,
    /// Scales every step's duration.
    pace: f64,
    next_event: u64,
    next_release: Vec<u64>,
    versions: Vec<(u64, u64, u64)>,
    releases: Vec<Release>,
    finished: Vec<(usize, Outcome)>,
}

impl Engine {
    /// An engine whose randomness comes from `seed`; events carry `source`.
    pub fn new(
        seed: u64,
        source: impl Into<String>,
        final_snapshots_only: bool,
        pace: f64,
    ) -> Engine {
        Engine {
            rng: StdRng::seed_from_u64(seed),
            source: source.into(),
            final_snapshots_only,
            pace,
            next_event: 1,
            next_release: vec![1; PRODUCTS.len()],
            versions: (0..PRODUCTS.len())
                .map(|i| (1 + i as u64 % 3, 0, 0))
                .collect(),
            releases: Vec::new(),
            finished: Vec::new(),
        }
    }

    /// Continues numbering after `count` releases of `product` (the ones
    /// already stored), so keys never collide with earlier runs.
    pub fn resume_after(&mut self, product: usize, count: u64) {
        if let Some(next) = self.next_release.get_mut(product) {
            *next = (*next).max(count + 1);
            let (major, minor, patch) = self.versions[product];
            self.versions[product] = (major, minor + count / 20, patch + count % 20);
        }
    }

    /// Whether `product` has a release still moving.
    pub fn is_active(&self, product: usize) -> bool {
        self.releases
            .iter()
            .any(|r| r.product == product && r.outcome.is_none())
    }

    pub fn active_count(&self) -> usize {
        self.releases.iter().filter(|r| r.outcome.is_none()).count()
    }

    /// Outcomes of the releases that finished since the last call.
    pub fn take_finished(&mut self) -> Vec<(usize, Outcome)> {
        std::mem::take(&mut self.finished)
    }

    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// Starts a release of `product` at `now`: its `release.created` event.
    pub fn start_release(&mut self, product: usize, now: DateTime<Utc>) -> Vec<Value> {
        let def = &PRODUCTS[product];
        let number = self.next_release[product];
        self.next_release[product] += 1;
        let version = self.bump_version(product);
        let sha: String = (0..40)
            .map(|_| char::from(b"0123456789abcdef"[self.rng.random_range(0..16)]))
            .collect();
        let key = format!("{}-{number:04}", def.slug);
        let fate = self.draw_fate(def);

        let author = &catalog::AUTHORS[self.rng.random_range(0..catalog::AUTHORS.len())];
        let subject = self.commit_subject();
        let issue = format!("{}-{}", def.issue_prefix, self.rng.random_range(100..999));
        let pr_number = 1000 + number * 3 + self.rng.random_range(0..3);
        let message = format!("{subject} (#{pr_number})\n\nFixes {issue}.");
        let commit = json!({
            "sha": sha,
            "message": message,
            "author": {"name": author.name, "email": author.email},
            "url": format!("https://git.acme.dev/acme/{}/commit/{sha}", def.slug),
            "timestamp": rfc3339(now - Duration::minutes(self.rng.random_range(3..90))),
        });
        let mut commits = vec![commit.clone()];
        for _ in 0..self.rng.random_range(0..3) {
            let other = &catalog::AUTHORS[self.rng.random_range(0..catalog::AUTHORS.len())];
            let extra_sha: String = (0..40)
                .map(|_| char::from(b"0123456789abcdef"[self.rng.random_range(0..16)]))
                .collect();
            let extra_subject = self.commit_subject();
            commits.push(json!({
                "sha": extra_sha,
                "message": extra_subject,
                "author": {"name": other.name, "email": other.email},
                "url": format!("https://git.acme.dev/acme/{}/commit/{extra_sha}", def.slug),
                "timestamp": rfc3339(now - Duration::hours(self.rng.random_range(2..48))),
            }));
        }
        let environments: Vec<Value> = def
            .environments
            .iter()
            .map(|env| {
                json!({
                    "name": env.name,
                    "depends_on": env.depends_on,
                    "applications": def.applications,
                    "pre_action": env.pre,
                    "post_action": env.post,
                })
            })
            .collect();
        let data = json!({
            "product": def.slug,
            "release": key,
            "version": version,
            "flow": {"name": def.flow, "trigger": def.environments[0].name, "environments": environments},
            "commit": commit,
            "changes": {
                "commits": commits,
                "pull_requests": [{
                    "number": pr_number,
                    "title": subject,
                    "url": format!("https://git.acme.dev/acme/{}/pull/{pr_number}", def.slug),
                    "author": author.login,
                }],
                "issues": [{
                    "key": issue,
                    "title": format!("{} in {}", subject.split(": ").nth(1).unwrap_or(&subject), def.slug),
                    "url": format!("https://issues.acme.dev/browse/{issue}"),
                }],
            },
        });
        self.releases.push(Release {
            product,
            key,
            version,
            fate,
            stages: vec![Stage::Waiting; def.environments.len()],
            runs: (0..def.environments.len()).map(|_| Vec::new()).collect(),
            outcome: None,
        });
        vec![self.event("release.created", now, data)]
    }

    /// Re-runs environments `envs` of release `key` of `product`, as an
    /// orchestrator does on `release.restart_requested`: they wait for their
    /// parents again, and this time they succeed. Their new runs are first
    /// reported after the restart, so the server files them under the new
    /// attempt. A release the engine no longer tracks (it ended, or comes
    /// from the history or an earlier process) is taken up again with its
    /// other environments counted as done.
    pub fn restart(&mut self, product: usize, key: &str, version: &str, envs: &[String]) {
        let def = &PRODUCTS[product];
        let count = def.environments.len();
        let index = match self
            .releases
            .iter()
            .position(|r| r.product == product && r.key == key)
        {
            Some(index) => index,
            None => {
                self.releases.push(Release {
                    product,
                    key: key.to_owned(),
                    version: version.to_owned(),
                    fate: Fate::Succeed,
                    stages: vec![Stage::Done; count],
                    runs: (0..count).map(|_| Vec::new()).collect(),
                    outcome: None,
                });
                self.releases.len() - 1
            }
        };
        let release = &mut self.releases[index];
        release.fate = Fate::Succeed;
        release.outcome = None;
        for (env, spec) in def.environments.iter().enumerate() {
            if envs.iter().any(|e| e == spec.name) {
                release.stages[env] = Stage::Waiting;
                release.runs[env].clear();
            } else if release.stages[env] == Stage::Stopped {
                // Stopped when the release ended, without failing itself:
                // it carries on where it stopped.
                release.stages[env] = Stage::Waiting;
            }
        }
    }

    /// Advances every moving release to `now`; returns the events that
    /// happened, in order.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Value> {
        let mut events = Vec::new();
        for index in 0..self.releases.len() {
            self.advance(index, now, &mut events);
        }
        // A release that ended is kept while runs it started still finish.
        self.releases
            .retain(|r| r.outcome.is_none() || r.has_unfinished_runs());
        events
    }

    /// An `application.health` event.
    pub fn health(
        &mut self,
        product: usize,
        env: &str,
        app: &str,
        health: &str,
        now: DateTime<Utc>,
    ) -> Value {
        let message = if health == "degraded" {
            let template = catalog::DEGRADED_MESSAGES
                [self.rng.random_range(0..catalog::DEGRADED_MESSAGES.len())];
            Some(template.replace("{app}", app))
        } else {
            None
        };
        let data = json!({
            "product": PRODUCTS[product].slug,
            "environment": env,
            "application": app,
            "health": health,
            "message": message,
            "url": format!("https://argocd.acme.dev/applications/{app}-{env}"),
        });
        self.event("application.health", now, data)
    }

    fn advance(&mut self, index: usize, now: DateTime<Utc>, events: &mut Vec<Value>) {
        let def = &PRODUCTS[self.releases[index].product];
        for env in 0..def.environments.len() {
            // A release that ended starts nothing new; its runs still finish.
            let ended = self.releases[index].outcome.is_some();
            match self.releases[index].stages[env] {
                Stage::Waiting if ended => {}
                Stage::Waiting => {
                    let ready = def.environments[env].depends_on.iter().all(|parent| {
                        def.environments
                            .iter()
                            .position(|e| e.name == *parent)
                            .is_some_and(|p| self.releases[index].stages[p] == Stage::Done)
                    });
                    if ready {
                        self.enter(index, env, true, now, events);
                    }
                }
                Stage::Pre | Stage::Post => self.progress(index, env, now, events),
                Stage::Done | Stage::Stopped => {}
            }
        }
        let release = &self.releases[index];
        if release.outcome.is_none() && release.stages.iter().all(|s| *s == Stage::Done) {
            self.finish(index, Outcome::Successful);
        }
    }

    /// Starts the pre-action of `env` (or, without one, promotes it).
    fn enter(
        &mut self,
        index: usize,
        env: usize,
        pre: bool,
        now: DateTime<Utc>,
        events: &mut Vec<Value>,
    ) {
        let def = &PRODUCTS[self.releases[index].product];
        let spec = &def.environments[env];
        let trigger = env == 0;
        let workflow = if pre { spec.pre } else { spec.post };
        match workflow {
            Some(workflow) => {
                let stage = if pre { Stage::Pre } else { Stage::Post };
                self.releases[index].stages[env] = stage;
                for app in 0..def.applications.len() {
                    let run = self.new_run(index, env, app, workflow, pre, now);
                    self.releases[index].runs[env].push(run);
                    let run = self.releases[index].runs[env].len() - 1;
                    if !self.final_snapshots_only {
                        let snapshot = self.snapshot(index, env, run, now);
                        events.push(snapshot);
                    }
                    self.supersede_older(index, env, run, now, events);
                }
            }
            // The trigger promotes after its post-action; the others after
            // their pre-action, then run the post-action.
            None if pre && !trigger => {
                if self.promote(index, env, now, events) {
                    self.enter(index, env, false, now, events);
                }
            }
            None if pre => self.enter(index, env, false, now, events),
            None => {
                if !trigger || self.promote(index, env, now, events) {
                    self.releases[index].stages[env] = Stage::Done;
                }
            }
        }
    }

    /// Moves the runs of `env` forward; when they all finished, moves the
    /// environment on (or stops the release on a failure).
    fn progress(&mut self, index: usize, env: usize, now: DateTime<Utc>, events: &mut Vec<Value>) {
        let pre = self.releases[index].stages[env] == Stage::Pre;
        for run in 0..self.releases[index].runs[env].len() {
            let changed = {
                let r = &mut self.releases[index].runs[env][run];
                r.pre == pre && step_run(r, now)
            };
            let finished = self.releases[index].runs[env][run].finished_at.is_some();
            if changed && (!self.final_snapshots_only || finished) {
                events.push(self.snapshot(index, env, run, now));
            }
        }
        let runs: Vec<&Run> = self.releases[index].runs[env]
            .iter()
            .filter(|r| r.pre == pre)
            .collect();
        if runs.iter().any(|r| r.finished_at.is_none()) {
            return;
        }
        if self.releases[index].outcome.is_some() {
            self.releases[index].stages[env] = Stage::Stopped;
            return;
        }
        if let Some(failed) = runs.iter().find(|r| r.state != StepState::Success) {
            let outcome = if failed.state == StepState::Error {
                Outcome::Errored
            } else {
                Outcome::Failed
            };
            self.releases[index].stages[env] = Stage::Stopped;
            self.finish(index, outcome);
            return;
        }
        let trigger = env == 0;
        if pre {
            if self.promote(index, env, now, events) {
                self.enter(index, env, false, now, events);
            }
        } else if !trigger || self.promote(index, env, now, events) {
            self.releases[index].stages[env] = Stage::Done;
        }
    }

    /// The promotion commit of `env`: `environment.promoted`, or
    /// `git.failed` when that is the release's fate. Returns whether it worked.
    fn promote(
        &mut self,
        index: usize,
        env: usize,
        now: DateTime<Utc>,
        events: &mut Vec<Value>,
    ) -> bool {
        let release = &self.releases[index];
        let def = &PRODUCTS[release.product];
        let env_name = def.environments[env].name;
        if release.fate == (Fate::Git { env }) {
            let (operation, message, details) =
                catalog::GIT_FAILURES[self.rng.random_range(0..catalog::GIT_FAILURES.len())];
            let data = json!({
                "product": def.slug,
                "release": release.key,
                "environment": env_name,
                "operation": operation,
                "message": message,
                "repo": "git.acme.dev/acme/gitops",
                "details": details.replace("{env}", env_name),
            });
            events.push(self.event("git.failed", now, data));
            self.releases[index].stages[env] = Stage::Stopped;
            self.finish(index, Outcome::GitFailed);
            return false;
        }
        let promotion_sha: String = (0..40)
            .map(|_| char::from(b"0123456789abcdef"[self.rng.random_range(0..16)]))
            .collect();
        let data = json!({
            "product": def.slug,
            "release": release.key,
            "environment": env_name,
            "version": release.version,
            "commit": {
                "sha": promotion_sha,
                "url": format!("https://git.acme.dev/acme/gitops/commit/{promotion_sha}"),
            },
        });
        events.push(self.event("environment.promoted", now, data));
        true
    }

    /// A newer release reached `env` with the same workflow: the older
    /// release's unfinished run of it is stopped, and with it the rest of
    /// that release. The server marks the older run superseded when the new
    /// run is first reported while the old one still runs, so the events go
    /// in that order: old run running, new run, old runs terminated.
    fn supersede_older(
        &mut self,
        index: usize,
        env: usize,
        run: usize,
        now: DateTime<Utc>,
        events: &mut Vec<Value>,
    ) {
        let product = self.releases[index].product;
        let (workflow, app, pre) = {
            let r = &self.releases[index].runs[env][run];
            (r.workflow, r.app, r.pre)
        };
        for older in 0..self.releases.len() {
            if older == index
                || self.releases[older].product != product
                || self.releases[older].outcome.is_some()
            {
                continue;
            }
            let Some(old_run) = self.releases[older].runs[env].iter().position(|r| {
                r.workflow == workflow && r.app == app && r.pre == pre && r.finished_at.is_none()
            }) else {
                continue;
            };
            if self.final_snapshots_only {
                events.push(self.snapshot(older, env, old_run, now));
                events.push(self.snapshot(index, env, run, now));
            }
            let message = format!("terminated: superseded by {}", self.releases[index].key);
            for env in 0..self.releases[older].runs.len() {
                for r in 0..self.releases[older].runs[env].len() {
                    if self.releases[older].runs[env][r].finished_at.is_some() {
                        continue;
                    }
                    terminate(&mut self.releases[older].runs[env][r], now, &message);
                    events.push(self.snapshot(older, env, r, now));
                }
                if matches!(self.releases[older].stages[env], Stage::Pre | Stage::Post) {
                    self.releases[older].stages[env] = Stage::Stopped;
                }
            }
            self.finish(older, Outcome::Superseded);
        }
    }

    fn finish(&mut self, index: usize, outcome: Outcome) {
        let release = &mut self.releases[index];
        if release.outcome.is_none() {
            release.outcome = Some(outcome);
            self.finished.push((release.product, outcome));
        }
    }

    fn new_run(
        &mut self,
        index: usize,
        env: usize,
        app: usize,
        workflow: &'static str,
        pre: bool,
        now: DateTime<Utc>,
    ) -> Run {
        let release = &self.releases[index];
        let def = &PRODUCTS[release.product];
        let names = catalog::workflow_steps(workflow);
        let fails_at = match release.fate {
            Fate::Fail {
                env: e,
                pre: p,
                app: a,
                error,
            } if e == env && p == pre && a == app => Some(if error {
                (0, true)
            } else {
                (self.rng.random_range(0..names.len()), false)
            }),
            _ => None,
        };
        let steps = names
            .iter()
            .map(|name| Step {
                name,
                state: StepState::Pending,
                duration: Duration::milliseconds(
                    (self.rng.random_range(2.0..9.0) * self.pace * 1000.0) as i64,
                ),
                started_at: None,
                finished_at: None,
                message: None,
                logs: None,
            })
            .collect();
        let id = format!(
            "{}-{}-{}-{}",
            workflow,
            def.environments[env].name,
            def.applications[app],
            &release.key[release.key.len() - 4..]
        );
        let mut run = Run {
            id: format!("{id}-{:05x}", self.rng.random_range(0..0xfffff)),
            workflow,
            app,
            app_name: def.applications[app],
            pre,
            steps,
            state: StepState::Running,
            started_at: now,
            finished_at: None,
            message: None,
            fails_at,
        };
        start_step(&mut run, 0, now);
        run
    }

    fn snapshot(&mut self, index: usize, env: usize, run: usize, now: DateTime<Utc>) -> Value {
        let release = &self.releases[index];
        let def = &PRODUCTS[release.product];
        let env_name = def.environments[env].name;
        let r = &release.runs[env][run];
        let app = def.applications[r.app];
        let steps: Vec<Value> = r
            .steps
            .iter()
            .filter(|s| s.state != StepState::Pending || r.finished_at.is_none())
            .map(|s| {
                json!({
                    "name": s.name,
                    "status": s.state.as_str(),
                    "started_at": s.started_at.map(rfc3339),
                    "finished_at": s.finished_at.map(rfc3339),
                    "message": s.message,
                    "logs": s.logs,
                })
            })
            .collect();
        let data = json!({
            "product": def.slug,
            "release": release.key,
            "environment": env_name,
            "phase": if r.pre { "pre" } else { "post" },
            "run": {
                "id": r.id,
                "workflow": r.workflow,
                "application": app,
                "status": r.state.as_str(),
                "started_at": rfc3339(r.started_at),
                "finished_at": r.finished_at.map(rfc3339),
                "url": format!("https://argo.acme.dev/workflows/promotions/{}", r.id),
                // History keeps the manifest only where someone will open
                // it: runs that did not succeed.
                "manifest": (!self.final_snapshots_only || !matches!(r.state, StepState::Success))
                    .then(|| catalog::manifest(r.workflow, app, env_name, &r.id)),
                "message": r.message,
            },
            "steps": steps,
        });
        self.event("workflow.updated", now, data)
    }

    fn event(&mut self, kind: &str, now: DateTime<Utc>, data: Value) -> Value {
        let id = self.next_event;
        self.next_event += 1;
        json!({
            "specversion": "1.0",
            "id": format!("{id}"),
            "source": self.source,
            "type": kind,
            "time": rfc3339(now),
            "datacontenttype": "application/json",
            "data": data,
        })
    }

    fn draw_fate(&mut self, def: &ProductDef) -> Fate {
        let roll: f64 = self.rng.random();
        let envs = def.environments.len();
        let env = self.rng.random_range(0..envs);
        let spec = &def.environments[env];
        let pre = spec.pre.is_some() && (spec.post.is_none() || self.rng.random_bool(0.5));
        let has_workflow = spec.pre.is_some() || spec.post.is_some();
        let app = self.rng.random_range(0..def.applications.len());
        if roll < 0.13 && has_workflow {
            Fate::Fail {
                env,
                pre,
                app,
                error: false,
            }
        } else if roll < 0.16 && has_workflow {
            Fate::Fail {
                env,
                pre,
                app,
                error: true,
            }
        } else if roll < 0.19 && env > 0 {
            Fate::Git { env }
        } else {
            Fate::Succeed
        }
    }

    fn bump_version(&mut self, product: usize) -> String {
        let (major, minor, patch) = &mut self.versions[product];
        let roll: f64 = self.rng.random();
        if roll < 0.01 {
            *major += 1;
            *minor = 0;
            *patch = 0;
        } else if roll < 0.12 {
            *minor += 1;
            *patch = 0;
        } else {
            *patch += 1;
        }
        format!("{major}.{minor}.{patch}")
    }

    fn commit_subject(&mut self) -> String {
        let template =
            catalog::COMMIT_SUBJECTS[self.rng.random_range(0..catalog::COMMIT_SUBJECTS.len())];
        let area = catalog::AREAS[self.rng.random_range(0..catalog::AREAS.len())];
        template.replace("{area}", area)
    }
}

/// Stops `run` and its unfinished steps.
fn terminate(run: &mut Run, now: DateTime<Utc>, message: &str) {
    for step in &mut run.steps {
        if matches!(step.state, StepState::Running | StepState::Pending)
            && step.started_at.is_some()
        {
            step.state = StepState::Terminated;
            step.finished_at = Some(now);
        }
    }
    run.state = StepState::Terminated;
    run.finished_at = Some(now);
    run.message = Some(message.to_string());
}

impl Release {
    fn has_unfinished_runs(&self) -> bool {
        self.runs.iter().flatten().any(|r| r.finished_at.is_none())
    }
}

/// Starts step `index` of `run` at `at`.
fn start_step(run: &mut Run, index: usize, at: DateTime<Utc>) {
    if let Some(step) = run.steps.get_mut(index) {
        step.state = StepState::Running;
        step.started_at = Some(at);
    }
}

/// Moves `run` forward to `now`: finishes the running step when its time
/// is up (failing it if that is its fate) and starts the next. Returns
/// whether anything changed.
fn step_run(run: &mut Run, now: DateTime<Utc>) -> bool {
    if run.finished_at.is_some() {
        return false;
    }
    let mut changed = false;
    while let Some(current) = run.steps.iter().position(|s| s.state == StepState::Running) {
        let step = &run.steps[current];
        let Some(started) = step.started_at else {
            break;
        };
        let due = started + step.duration;
        if due > now {
            break;
        }
        changed = true;
        match run.fails_at {
            Some((at, error)) if at == current => {
                let (workflow, app_name) = (run.workflow, run.app_name);
                let step = &mut run.steps[current];
                step.finished_at = Some(due);
                if error {
                    step.state = StepState::Error;
                    let message = catalog::config_error(workflow);
                    step.message = Some(message.clone());
                    run.state = StepState::Error;
                    run.message = Some(message);
                } else {
                    let (message, logs) = catalog::failure(workflow, step.name, app_name);
                    step.state = StepState::Failed;
                    step.message = Some(message.clone());
                    step.logs = Some(logs);
                    run.state = StepState::Failed;
                    run.message = Some(format!("step {} failed: {message}", step.name));
                }
                run.finished_at = Some(due);
                return true;
            }
            _ => {
                let step = &mut run.steps[current];
                step.state = StepState::Success;
                step.finished_at = Some(due);
                step.logs = Some(format!(
                    "{} finished in {:.1}s",
                    step.name,
                    step.duration.num_milliseconds() as f64 / 1000.0
                ));
                if current + 1 < run.steps.len() {
                    start_step(run, current + 1, due);
                } else {
                    run.state = StepState::Success;
                    run.finished_at = Some(due);
                    return true;
                }
            }
        }
    }
    changed
}

pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_for(engine: &mut Engine, start: DateTime<Utc>, minutes: i64) -> Vec<Value> {
        let mut events = Vec::new();
        let mut now = start;
        for tick in 0..minutes * 6 {
            if tick % 3 == 0 {
                let product = engine.rng().random_range(0..PRODUCTS.len());
                events.extend(engine.start_release(product, now));
            }
            events.extend(engine.tick(now));
            now += Duration::seconds(10);
        }
        events
    }

    #[test]
    fn the_same_seed_and_clock_give_the_same_events() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let a = run_for(&mut Engine::new(7, "test", false, 1.0), start, 10);
        let b = run_for(&mut Engine::new(7, "test", false, 1.0), start, 10);
        assert_eq!(a, b);
        let c = run_for(&mut Engine::new(8, "test", false, 1.0), start, 10);
        assert_ne!(a, c);
    }

    #[test]
    fn a_restarted_release_reruns_the_reopened_environments_to_success() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let mut engine = Engine::new(1, "test", false, 1.0);
        let def = &PRODUCTS[0];
        let reopened: Vec<String> = def.environments[1..]
            .iter()
            .map(|e| e.name.to_owned())
            .collect();
        // A release the engine never saw (from the history), restarted from
        // its second environment on.
        engine.restart(0, "hist-0001", "9.9.9", &reopened);
        let mut events = Vec::new();
        let mut now = start;
        while engine.active_count() > 0 && now < start + Duration::hours(2) {
            events.extend(engine.tick(now));
            now += Duration::seconds(10);
        }
        assert_eq!(engine.take_finished(), [(0, Outcome::Successful)]);
        let envs: std::collections::BTreeSet<&str> = events
            .iter()
            .filter(|e| e["data"]["release"] == "hist-0001")
            .filter_map(|e| e["data"]["environment"].as_str())
            .collect();
        assert!(
            !envs.contains(def.environments[0].name),
            "the trigger re-ran"
        );
        for env in &reopened {
            assert!(envs.contains(env.as_str()), "{env} did not re-run");
        }
        assert!(events
            .iter()
            .filter(|e| e["type"] == "environment.promoted")
            .all(|e| e["data"]["version"] == "9.9.9"));
    }

    #[test]
    fn a_few_simulated_minutes_produce_every_kind_of_outcome() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let mut engine = Engine::new(42, "test", false, 1.0);
        let events = run_for(&mut engine, start, 60);
        let outcomes: std::collections::BTreeSet<Outcome> =
            engine.take_finished().into_iter().map(|(_, o)| o).collect();
        for expected in [
            Outcome::Successful,
            Outcome::Failed,
            Outcome::Errored,
            Outcome::GitFailed,
            Outcome::Superseded,
        ] {
            assert!(
                outcomes.contains(&expected),
                "no {expected:?} in {outcomes:?}"
            );
        }
        let kinds: std::collections::BTreeSet<&str> =
            events.iter().filter_map(|e| e["type"].as_str()).collect();
        for kind in [
            "release.created",
            "workflow.updated",
            "environment.promoted",
            "git.failed",
        ] {
            assert!(kinds.contains(kind), "no {kind} event");
        }
    }
}
