//! Concurrent promotions (SPEC §2.5): which runs of older releases a newer
//! release's run terminates.

use serde::{Deserialize, Serialize};

use super::status::RunStatus;

/// A stored run of the same product, environment, phase, workflow and
/// application as a run being ingested, in another release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupersedeCandidate {
    /// The release (per-product id) the run belongs to.
    pub release: i64,
    pub run_id: String,
    /// The run's current status (derived per §2.1 where the steps are at hand).
    pub status: RunStatus,
    pub superseded_by: Option<i64>,
}

/// The runs that a run of release `new_release` supersedes, as
/// `(run id, release id)`, in the order given.
///
/// A candidate is superseded when it belongs to an older release (lower id),
/// is still `pending` or `running`, and was not superseded before; the store
/// then sets its `superseded_by = new_release`, which makes it `terminated`.
///
/// Call this only when the new run is **first** reported: a later snapshot of
/// a known run, or a run of an older release, supersedes nothing.
pub fn superseded_runs(new_release: i64, older: &[SupersedeCandidate]) -> Vec<(String, i64)> {
    older
        .iter()
        .filter(|c| {
            c.release < new_release
                && matches!(c.status, RunStatus::Pending | RunStatus::Running)
                && c.superseded_by.is_none()
        })
        .map(|c| (c.run_id.clone(), c.release))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(
        release: i64,
        status: RunStatus,
        superseded_by: Option<i64>,
    ) -> SupersedeCandidate {
        SupersedeCandidate {
            release,
            run_id: format!("run-{release}-{status}"),
            status,
            superseded_by,
        }
    }

    #[test]
    fn older_pending_or_running_run_superseded_by_newer_release() {
        let older = [
            candidate(10, RunStatus::Running, None),
            candidate(11, RunStatus::Pending, None),
        ];
        assert_eq!(
            superseded_runs(12, &older),
            [
                ("run-10-running".to_string(), 10),
                ("run-11-pending".to_string(), 11)
            ]
        );
    }

    #[test]
    fn supersede_leaves_finished_newer_and_already_superseded_runs() {
        let table = [
            (candidate(10, RunStatus::Success, None), "finished"),
            (candidate(10, RunStatus::Failed, None), "finished"),
            (candidate(10, RunStatus::Error, None), "finished"),
            (candidate(10, RunStatus::Terminated, None), "finished"),
            (candidate(13, RunStatus::Running, None), "newer release"),
            (candidate(12, RunStatus::Running, None), "same release"),
            (
                candidate(10, RunStatus::Running, Some(11)),
                "already superseded",
            ),
        ];
        for (c, why) in table {
            assert!(
                superseded_runs(12, std::slice::from_ref(&c)).is_empty(),
                "{why}: {c:?}"
            );
        }
    }
}
