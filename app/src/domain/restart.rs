//! Restarting a failed release (SPEC §2.6): which environments open a new
//! attempt, and at which number.

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

/// A restart that happened: who asked, when, what reopened, and whether
/// the orchestrator was told. Shown on the release page, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restart {
    /// The release's attempt the restart opened.
    pub attempt: u32,
    /// `(environment, attempt)` reopened, in flow order.
    pub environments: Vec<(String, u32)>,
    /// The name of the operator token (or its session) that asked.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// The `release.restart_requested` webhook delivery.
    pub delivery: Delivery,
}

/// Where the orchestrator webhook delivery of a restart stands (SPEC §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// The product has no webhook: nobody was notified.
    None,
    /// Not delivered yet; retried with backoff.
    Pending,
    Delivered,
    /// Given up after the last attempt.
    Failed,
}

impl DeliveryState {
    /// The state as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::None => "none",
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    /// The state called `value`, if any.
    pub fn parse(value: &str) -> Option<DeliveryState> {
        match value {
            "none" => Some(DeliveryState::None),
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One webhook delivery: its state, how often it was tried, and the last
/// error (an HTTP status or a connection failure, never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next try is due, while `pending`.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// No webhook was configured when the restart happened.
    pub fn none() -> Delivery {
        Delivery {
            state: DeliveryState::None,
            attempts: 0,
            last_error: None,
            last_attempt_at: None,
            next_attempt_at: None,
            delivered_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::{arb_flow, flow, release_view};
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
