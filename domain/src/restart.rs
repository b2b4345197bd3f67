//! Restarting a failed release (SPEC §2.6): which environments open a new
//! attempt, and at which number.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::flow::Flow;
use super::status::{EnvStatus, ReleaseStatus};
use super::view::ReleaseView;

/// What a restart changes: the environments that open a new attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPlan {
    /// `(environment, new attempt)`, in flow order.
    pub environments: Vec<(String, u32)>,
    /// The release's attempt once the plan is applied (its highest
    /// environment attempt), as sent in `release.restart_requested`.
    pub attempt: u32,
}

/// Why a release cannot be restarted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestartError {
    /// Only `failed` or `terminated` releases restart (HTTP 409).
    #[error("a {0} release cannot be restarted; only failed or terminated releases can")]
    NotRestartable(ReleaseStatus),
}

/// Plans the restart of a release: every `failed` environment and every
/// environment downstream of one, each at its current attempt + 1, in flow
/// order. Upstream and unrelated environments keep their attempt.
///
/// `flow` is the release's flow snapshot; environments of `view` missing
/// from it are ignored.
pub fn plan_restart(view: &ReleaseView, flow: &Flow) -> Result<RestartPlan, RestartError> {
    if !view.status.is_restartable() {
        return Err(RestartError::NotRestartable(view.status));
    }
    let n = flow.environments().len();
    let mut reopen = vec![false; n];
    for env in view
        .environments
        .iter()
        .filter(|e| e.status == EnvStatus::Failed)
    {
        if let Some(i) = flow.position(&env.name) {
            reopen[i] = true;
        }
    }
    // Parents precede children in flow order, so one forward pass marks
    // everything downstream.
    for i in 0..n {
        if reopen[i] {
            for &c in flow.child_positions(i) {
                reopen[c] = true;
            }
        }
    }
    let environments: Vec<(String, u32)> = flow
        .environments()
        .iter()
        .zip(reopen)
        .filter(|(_, r)| *r)
        .map(|(spec, _)| {
            let current = view.env(&spec.name).map_or(1, |e| e.attempt);
            (spec.name.clone(), current.saturating_add(1))
        })
        .collect();
    let attempt = environments
        .iter()
        .map(|(_, a)| *a)
        .fold(view.attempt, u32::max);
    Ok(RestartPlan {
        environments,
        attempt,
    })
}

/// The `type` of the webhook payload.
pub const RESTART_REQUESTED: &str = "release.restart_requested";

/// The body of the orchestrator webhook (SPEC §4.4), also published
/// in-process on `AppState::restarts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartRequested {
    /// Always `release.restart_requested`.
    #[serde(rename = "type")]
    pub kind: String,
    pub product: String,
    /// The per-product release id.
    pub release: i64,
    /// The sender's key of the release, as in its events.
    pub release_key: String,
    /// The release's attempt once restarted.
    pub attempt: u32,
    /// The environments to re-run, in flow order.
    pub environments: Vec<String>,
    /// The new attempt of each of them (they differ when some environments
    /// were restarted before).
    pub environment_attempts: BTreeMap<String, u32>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{arb_flow, flow, release_view};
    use proptest::prelude::*;

    /// dev → staging → prod, dev → qa → prod, staging → perf.
    fn diamond() -> Flow {
        flow(&[
            ("dev", &[]),
            ("staging", &["dev"]),
            ("qa", &["dev"]),
            ("prod", &["staging", "qa"]),
            ("perf", &["staging"]),
        ])
    }

    #[test]
    fn restart_refused_unless_failed_or_terminated() {
        let flow = diamond();
        for status in ReleaseStatus::ALL.iter().copied() {
            let envs: Vec<_> = flow
                .environments()
                .iter()
                .map(|e| (e.name.as_str(), EnvStatus::Failed, 1))
                .collect();
            let mut view = release_view(&flow, &envs);
            view.status = status;
            let result = plan_restart(&view, &flow);
            if matches!(status, ReleaseStatus::Failed | ReleaseStatus::Terminated) {
                assert!(result.is_ok(), "{status}");
            } else {
                assert_eq!(result, Err(RestartError::NotRestartable(status)));
            }
        }
    }

    #[test]
    fn restart_reopens_failed_envs_and_downstream_at_next_attempt() {
        let flow = diamond();
        let view = release_view(
            &flow,
            &[
                ("dev", EnvStatus::Successful, 1),
                ("staging", EnvStatus::Failed, 2),
                ("qa", EnvStatus::Successful, 1),
                ("prod", EnvStatus::Pending, 2),
                ("perf", EnvStatus::Pending, 1),
            ],
        );
        let plan = plan_restart(&view, &flow).expect("failed releases restart");
        assert_eq!(
            plan.environments,
            [
                ("staging".to_string(), 3),
                ("prod".to_string(), 3),
                ("perf".to_string(), 2)
            ]
        );
        assert_eq!(plan.attempt, 3);
    }

    #[test]
    fn restart_leaves_upstream_and_parallel_branches() {
        let flow = diamond();
        let view = release_view(
            &flow,
            &[
                ("dev", EnvStatus::Successful, 1),
                ("staging", EnvStatus::Successful, 1),
                ("qa", EnvStatus::Failed, 1),
                ("prod", EnvStatus::Pending, 1),
                ("perf", EnvStatus::Running, 1),
            ],
        );
        let plan = plan_restart(&view, &flow).expect("failed releases restart");
        assert_eq!(
            plan.environments,
            [("qa".to_string(), 2), ("prod".to_string(), 2)]
        );
        assert_eq!(plan.attempt, 2);
    }

    proptest! {
        #[test]
        fn restart_never_reopens_an_env_upstream_of_the_failure(
            (flow, statuses) in arb_flow(12)
                .prop_flat_map(|flow| {
                    let n = flow.environments().len();
                    (Just(flow), proptest::collection::vec(proptest::sample::select(EnvStatus::ALL), n))
                })
        ) {
            let envs: Vec<(&str, EnvStatus, u32)> = flow
                .environments()
                .iter()
                .zip(&statuses)
                .map(|(e, s)| (e.name.as_str(), *s, 1))
                .collect();
            let mut view = release_view(&flow, &envs);
            view.status = ReleaseStatus::Failed;
            let plan = plan_restart(&view, &flow).expect("failed releases restart");
            let failed: Vec<&str> = envs
                .iter()
                .filter(|(_, s, _)| *s == EnvStatus::Failed)
                .map(|(n, _, _)| *n)
                .collect();
            for (name, attempt) in &plan.environments {
                prop_assert_eq!(*attempt, 2);
                // Reopened: failed itself, or downstream of a failed environment.
                let reason = failed.contains(&name.as_str())
                    || failed.iter().any(|f| flow.downstream(f).contains(name));
                prop_assert!(reason, "{} reopened without a failed ancestor", name);
            }
            for f in &failed {
                prop_assert!(plan.environments.iter().any(|(n, _)| n == f));
            }
        }
    }
}
