//! Benchmarks of the pure domain on a large release: deriving the view of a
//! 30-environment × 5-application × 12-step release, and laying out a
//! 50-environment flow. Both run on every page render; the target is < 1 ms.

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use domain::layout::layout;
use domain::{
    derive_release, Author, Commit, EnvSpec, Flow, FlowSpec, GitErrorFact, Health, HealthFact,
    Phase, PromotionFact, ReleaseFacts, RunFact, RunStatus, StepFact,
};

const APPS: usize = 5;
const STEPS: usize = 12;

/// A flow of `n` environments, a few per layer, each depending on one or
/// two environments of the previous layer (fan-out and fan-in).
fn flow(n: usize) -> Flow {
    const WIDTH: usize = 4;
    let environments = (0..n)
        .map(|i| {
            let depends_on = if i == 0 {
                Vec::new()
            } else if i <= WIDTH {
                vec!["env-0".to_string()]
            } else {
                let prev = i - WIDTH;
                let mut deps = vec![format!("env-{prev}")];
                if i % 3 == 0 {
                    deps.push(format!("env-{}", prev - 1));
                }
                deps
            };
            EnvSpec {
                name: format!("env-{i}"),
                depends_on,
                applications: (0..APPS).map(|a| format!("app-{a}")).collect(),
                pre_action: (i > 0).then(|| "pre-checks".to_string()),
                post_action: Some("smoke-tests".to_string()),
            }
        })
        .collect();
    Flow::new(FlowSpec {
        name: "big".into(),
        trigger: "env-0".into(),
        environments,
    })
    .expect("the benchmark flow is valid")
}

/// A release mid-way: most runs succeeded, one environment failed with a
/// failed step, later ones still running or pending, plus a git error and a
/// degraded application.
fn release(n: usize) -> ReleaseFacts {
    let flow = flow(n);
    let start = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
    let at = |seq: i64| Some(start + Duration::seconds(seq));
    let mut runs = Vec::new();
    for (e, env) in flow.environments().iter().enumerate() {
        for (phase, workflow, application) in flow.expected_runs(&env.name) {
            let seq = runs.len() as i64 + 1;
            let status = match e {
                _ if e < n / 2 => RunStatus::Success,
                _ if e == n / 2 && application == "app-3" => RunStatus::Failed,
                _ if e < n * 3 / 4 => RunStatus::Running,
                _ => RunStatus::Pending,
            };
            let steps = (0..STEPS)
                .map(|s| StepFact {
                    name: format!("step-{s}"),
                    status: if status == RunStatus::Failed && s == STEPS - 1 {
                        RunStatus::Failed
                    } else if status == RunStatus::Running && s > STEPS / 2 {
                        RunStatus::Pending
                    } else {
                        status
                    },
                    started_at: at(seq + s as i64),
                    finished_at: status
                        .is_finished()
                        .then(|| start + Duration::seconds(seq + s as i64 + 1)),
                    message: None,
                    logs: (status == RunStatus::Failed)
                        .then(|| "error: assertion failed\n".repeat(50)),
                })
                .collect();
            runs.push(RunFact {
                id: format!("{}-{phase}-{application}", env.name),
                seq,
                environment: env.name.clone(),
                phase,
                workflow,
                application,
                status,
                started_at: at(seq),
                finished_at: status
                    .is_finished()
                    .then(|| start + Duration::seconds(seq + 60)),
                url: Some(format!("https://argo.example/workflows/{seq}")),
                manifest: Some("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n".into()),
                message: None,
                attempt: 1,
                superseded_by: None,
                steps,
            });
        }
    }
    let promotions = flow.environments()[..n / 2]
        .iter()
        .map(|env| PromotionFact {
            environment: env.name.clone(),
            version: "1.4.2".into(),
            commit_sha: Some("0123abcd".into()),
            commit_url: None,
            time: start,
            attempt: 1,
        })
        .collect();
    let last_done = flow.environments()[n / 2 - 1].name.clone();
    ReleaseFacts {
        product: "checkout".into(),
        id: 42,
        key: "checkout-42".into(),
        commit: Commit {
            sha: "0123abcd".into(),
            message: "Speed up checkout".into(),
            author: Author {
                name: "Ada".into(),
                email: None,
            },
            url: None,
            timestamp: None,
        },
        version: Some("1.4.2".into()),
        created_at: start,
        updated_at: start,
        env_attempts: Vec::new(),
        runs,
        promotions,
        git_errors: vec![GitErrorFact {
            seq: 1_000_000,
            environment: flow.environments()[n / 2 + 1].name.clone(),
            operation: "push".into(),
            message: "rejected".into(),
            repo: None,
            details: None,
            time: start,
            attempt: 1,
        }],
        health: vec![HealthFact {
            environment: last_done,
            application: "app-0".into(),
            health: Health::Degraded,
            message: None,
            url: None,
            time: start,
        }],
        flow,
    }
}

fn benches(c: &mut Criterion) {
    let facts = release(30);
    assert_eq!(facts.runs.len(), 30 * APPS * 2 - APPS);
    assert!(facts.runs.iter().all(|r| r.steps.len() == STEPS));
    assert!(facts.runs.iter().any(|r| r.phase == Phase::Pre));
    c.bench_function("derive_release 30 env × 5 app × 12 steps", |b| {
        b.iter(|| derive_release(black_box(&facts)))
    });

    let flow = flow(50);
    c.bench_function("layout 50 envs", |b| b.iter(|| layout(black_box(&flow))));

    // The worst the ingest limits allow (SPEC §4.2.1): 250 environments and
    // 2,500 dependencies, most of them spanning 150 layers or more. Target:
    // well under the 50 ms a release page of it may take to render.
    let largest = largest_flow();
    assert_eq!(largest.environments().len(), 250);
    assert_eq!(largest.edge_positions().count(), 2_500);
    c.bench_function("layout of the largest allowed flow", |b| {
        b.iter(|| layout(black_box(&largest)))
    });

    // The longest commit message allowed (64 KiB), made of distinct issue
    // keys: once quadratic in their number.
    let mut message = String::new();
    let mut key = 0;
    while message.len() < 64 * 1024 - 16 {
        key += 1;
        message.push_str(&format!("#{key} ABC-{key} "));
    }
    c.bench_function("issue keys of a 64 KiB message of keys", |b| {
        b.iter(|| domain::notes::issue_keys(black_box(&message)))
    });
}

/// A chain of 250 environments, plus dependencies from each of the first
/// ones on the last ones: 2,500 in all, the longest the limits allow.
fn largest_flow() -> Flow {
    const N: usize = 250;
    let mut depends: Vec<Vec<String>> = (0..N)
        .map(|i| {
            if i == 0 {
                Vec::new()
            } else {
                vec![format!("env-{}", i - 1)]
            }
        })
        .collect();
    let mut extra = 2_500 - (N - 1);
    'fill: for from in 0..N {
        for to in (from + 2..N).rev() {
            if extra == 0 {
                break 'fill;
            }
            depends[to].push(format!("env-{from}"));
            extra -= 1;
        }
    }
    let environments = depends
        .into_iter()
        .enumerate()
        .map(|(i, depends_on)| EnvSpec {
            name: format!("env-{i}"),
            depends_on,
            applications: vec!["app".to_string()],
            pre_action: None,
            post_action: None,
        })
        .collect();
    Flow::new(FlowSpec {
        name: "largest".into(),
        trigger: "env-0".into(),
        environments,
    })
    .expect("the largest allowed flow is valid")
}

criterion_group!(domain, benches);
criterion_main!(domain);
