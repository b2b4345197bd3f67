//! Fixtures shared by the domain and graph tests: flows written as tables,
//! proptest strategies for random flows, and minimal release views.

use chrono::DateTime;
use proptest::prelude::*;
use proptest::sample::Index;

use super::facts::{Author, Commit};
use super::flow::{EnvSpec, Flow, FlowSpec};
use super::status::{EnvStatus, FailReason, ReleaseStatus};
use super::view::{Counts, EnvView, FlowView, ReleaseView, StepsView};

/// An environment row: `(name, depends_on, pre_action, post_action)`.
pub type EnvRow<'a> = (&'a str, &'a [&'a str], Option<&'a str>, Option<&'a str>);

/// A spec whose environments all deploy applications `api` and `web`.
pub fn spec(trigger: &str, envs: &[EnvRow<'_>]) -> FlowSpec {
    FlowSpec {
        name: "flow".into(),
        trigger: trigger.into(),
        environments: envs
            .iter()
            .map(|(name, deps, pre, post)| EnvSpec {
                name: (*name).into(),
                depends_on: deps.iter().map(|d| (*d).into()).collect(),
                applications: vec!["api".into(), "web".into()],
                pre_action: pre.map(Into::into),
                post_action: post.map(Into::into),
            })
            .collect(),
    }
}

/// A valid flow of `(name, depends_on)` without actions; the first row is the trigger.
pub fn flow(envs: &[(&str, &[&str])]) -> Flow {
    let rows: Vec<EnvRow<'_>> = envs.iter().map(|(n, d)| (*n, *d, None, None)).collect();
    Flow::new(spec(envs[0].0, &rows)).expect("valid flow")
}

/// Random valid flows of up to `max` environments: `e0` is the trigger and
/// every later environment depends on one to three earlier ones.
pub fn arb_flow(max: usize) -> impl Strategy<Value = Flow> {
    let parents = (
        any::<Index>(),
        proptest::collection::vec(any::<Index>(), 0..3),
    );
    proptest::collection::vec(parents, 0..max).prop_map(|rows| {
        build(rows.iter().enumerate().map(|(i, (first, extra))| {
            let mut deps: Vec<usize> = std::iter::once(first)
                .chain(extra)
                .map(|ix| ix.index(i + 1))
                .collect();
            deps.sort_unstable();
            deps.dedup();
            deps
        }))
    })
}

/// Random out-trees of up to `max` environments: each depends on exactly one earlier.
pub fn arb_tree(max: usize) -> impl Strategy<Value = Flow> {
    proptest::collection::vec(any::<Index>(), 0..max)
        .prop_map(|rows| build(rows.iter().enumerate().map(|(i, ix)| vec![ix.index(i + 1)])))
}

/// Builds `e0..eN` where `e{i+1}` depends on the given earlier indices.
fn build(deps: impl Iterator<Item = Vec<usize>>) -> Flow {
    let mut environments = vec![env("e0", Vec::new())];
    for (i, deps) in deps.enumerate() {
        let deps = deps.into_iter().map(|d| format!("e{d}")).collect();
        environments.push(env(&format!("e{}", i + 1), deps));
    }
    Flow::new(FlowSpec {
        name: "random".into(),
        trigger: "e0".into(),
        environments,
    })
    .expect("random flows are valid by construction")
}

fn env(name: &str, depends_on: Vec<String>) -> EnvSpec {
    EnvSpec {
        name: name.into(),
        depends_on,
        applications: vec!["api".into(), "web".into()],
        pre_action: None,
        post_action: Some("post".into()),
    }
}

/// A release view with the given `(environment, status, attempt)` and
/// nothing else; failed environments fail for reason `failed`.
pub fn release_view(flow: &Flow, envs: &[(&str, EnvStatus, u32)]) -> ReleaseView {
    let environments: Vec<EnvView> = envs
        .iter()
        .map(|&(name, status, attempt)| EnvView {
            name: name.into(),
            status,
            reason: (status == EnvStatus::Failed).then_some(FailReason::Failed),
            version: None,
            version_inherited: false,
            attempt,
            errors: Vec::new(),
            runs: Vec::new(),
            steps: StepsView::default(),
            history: Vec::new(),
            applications: Vec::new(),
            pre_action: None,
            post_action: None,
            health: Vec::new(),
        })
        .collect();
    let epoch = DateTime::UNIX_EPOCH;
    ReleaseView {
        id: 1,
        key: "r1".into(),
        product: "shop".into(),
        status: ReleaseStatus::of_environments(environments.iter().map(|e| (e.status, e.reason))),
        superseded_by: None,
        attempt: environments.iter().map(|e| e.attempt).max().unwrap_or(1),
        created_at: epoch,
        updated_at: epoch,
        commit: commit(),
        version: None,
        counts: Counts::default(),
        flow: FlowView {
            name: flow.name().into(),
            trigger: flow.trigger().into(),
            edges: flow.edges().into_iter().map(|(p, c)| [p, c]).collect(),
        },
        environments,
        restarts: Vec::new(),
    }
}

/// A trigger commit.
pub fn commit() -> Commit {
    Commit {
        sha: "0123abc".into(),
        message: "Add checkout".into(),
        author: Author {
            name: "Ada".into(),
            email: Some("ada@example.com".into()),
        },
        url: None,
        timestamp: None,
    }
}
