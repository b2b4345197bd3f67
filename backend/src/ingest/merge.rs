//! Reports of *part* of a run, merged into the run as held.
//!
//! `workflow.updated` is a full snapshot: it replaces the run it names. An
//! engine that reports changes rather than snapshots (CDEvents: a pipeline
//! run started, a task run finished) says only part of it; its adapter
//! marks those events (`Merge`), and in the write transaction, before the
//! fold, each is completed from the run as the store holds it, or as an
//! earlier event of the same request left it:
//!
//! - `Merge::Run` (a change of the run itself): what the report leaves out
//!   — its times, link, manifest, message, and its steps — is kept. A
//!   report older than the held snapshot is stale, as a snapshot would be.
//! - `Merge::Step` (a change of one step): the held run stays as it was,
//!   with the step added, or in place of the held step of its name; a step
//!   that has finished stays finished when an older "started" arrives late.
//!   It takes the held snapshot's time, so it never makes the run's own
//!   later reports stale and never goes stale itself.
//!
//! A step of a run that is neither held nor reported earlier in the request
//! is left out (and not recorded, so a redelivery once the run is known
//! lands): a run is made by the reports of the run, which name its
//! workflow. Only fresh events are merged (a duplicate changes nothing),
//! and a merged run keeps to the limit on steps.

use std::collections::{HashMap, HashSet};

use domain::{AppError, RunStatus, StepFact};

use super::events::MAX_STEPS;
use super::{Command, Event, RunSnapshot, WorkflowUpdated};
use crate::store::{self, millis, Conn};

/// How an adapter's `workflow.updated` joins the run it reports part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// A change of the run itself (a pipeline run queued, started or
    /// finished).
    Run,
    /// A change of one of its steps (a task run started or finished).
    Step,
}

/// A run by product, release key and run id.
type Key = (String, String, String);

fn key_of(update: &WorkflowUpdated) -> Key {
    (
        update.product.clone(),
        update.release.clone(),
        update.run.id.clone(),
    )
}

/// A run as held: its latest snapshot and that snapshot's time.
struct Held {
    run: RunSnapshot,
    steps: Vec<StepFact>,
    time: i64,
}

/// The runs a request's partial reports change, as held, and which of its
/// events are partial.
pub(super) struct Reports {
    held: HashMap<Key, Held>,
    merges: HashMap<usize, Merge>,
}

impl Reports {
    /// Reads the stored runs that `merges` (indices into `events`) report
    /// part of, and leaves out of `events` the step reports of runs neither
    /// stored nor reported earlier in the request; says how many.
    pub async fn prepare(
        conn: &mut Conn,
        events: &mut Vec<Event>,
        merges: &[(usize, Merge)],
    ) -> Result<(Reports, usize), AppError> {
        if merges.is_empty() {
            let none = Reports {
                held: HashMap::new(),
                merges: HashMap::new(),
            };
            return Ok((none, 0));
        }
        let by_index: HashMap<usize, Merge> = merges.iter().copied().collect();
        let mut held: HashMap<Key, Held> = HashMap::new();
        let mut read: HashSet<Key> = HashSet::new();
        let mut reported: HashSet<Key> = HashSet::new();
        let mut keep = vec![true; events.len()];
        for (i, event) in events.iter().enumerate() {
            let Command::WorkflowUpdated(update) = &event.command else {
                continue;
            };
            let key = key_of(update);
            let merge = by_index.get(&i).copied();
            if merge.is_some() && read.insert(key.clone()) {
                if let Some((fact, time)) = store::runs::held(conn, &key.0, &key.1, &key.2).await? {
                    let run = RunSnapshot {
                        id: fact.id,
                        workflow: fact.workflow,
                        application: fact.application,
                        status: fact.status,
                        started_at: fact.started_at,
                        finished_at: fact.finished_at,
                        url: fact.url,
                        manifest: fact.manifest,
                        message: fact.message,
                    };
                    held.insert(
                        key.clone(),
                        Held {
                            run,
                            steps: fact.steps,
                            time,
                        },
                    );
                }
            }
            if merge == Some(Merge::Step) && !held.contains_key(&key) && !reported.contains(&key) {
                keep[i] = false;
                continue;
            }
            reported.insert(key);
        }

        let left_out = keep.iter().filter(|kept| !**kept).count();
        let mut index = Vec::with_capacity(events.len());
        let mut next = 0;
        for kept in &keep {
            index.push(kept.then_some(next));
            next += usize::from(*kept);
        }
        let mut position = 0;
        events.retain(|_| {
            position += 1;
            keep[position - 1]
        });
        let merges = by_index
            .into_iter()
            .filter_map(|(i, merge)| index.get(i).copied().flatten().map(|j| (j, merge)))
            .collect();
        Ok((Reports { held, merges }, left_out))
    }

    /// Completes each fresh partial report of `events` from its run as held,
    /// in request order. Fails (400) when a merged run would have more
    /// steps than one snapshot may carry.
    pub fn merge(mut self, events: &mut [Event], fresh: &[bool]) -> Result<(), AppError> {
        if self.merges.is_empty() {
            return Ok(());
        }
        for (i, event) in events.iter_mut().enumerate() {
            if !fresh.get(i).copied().unwrap_or(false) {
                continue;
            }
            let mut at = millis(event.time);
            let path = event.field("data.steps");
            let Command::WorkflowUpdated(update) = &mut event.command else {
                continue;
            };
            let key = key_of(update);
            let held = self.held.get(&key);
            if held.is_some_and(|held| at < held.time) && self.merges.get(&i) != Some(&Merge::Step)
            {
                // Stale: the fold skips it, and it changes nothing held.
                continue;
            }
            match (self.merges.get(&i), held) {
                (Some(Merge::Run), Some(held)) => {
                    let mine = &mut update.run;
                    mine.started_at = mine.started_at.or(held.run.started_at);
                    mine.finished_at = mine.finished_at.or(held.run.finished_at);
                    mine.url = mine.url.take().or_else(|| held.run.url.clone());
                    mine.manifest = mine.manifest.take().or_else(|| held.run.manifest.clone());
                    mine.message = mine.message.take().or_else(|| held.run.message.clone());
                    if update.steps.is_empty() {
                        update.steps = held.steps.clone();
                    }
                }
                (Some(Merge::Step), Some(held)) => {
                    let mut steps = held.steps.clone();
                    for step in update.steps.drain(..) {
                        upsert_step(&mut steps, step);
                    }
                    if steps.len() > MAX_STEPS {
                        return Err(AppError::invalid(
                            path,
                            format!(
                                "this step would give run {:?} more than {MAX_STEPS} steps",
                                held.run.id
                            ),
                        ));
                    }
                    update.run = held.run.clone();
                    update.steps = steps;
                    at = held.time;
                    event.time = store::time(at)?;
                }
                // A snapshot, or the first report of the run: as it is.
                _ => {}
            }
            let Command::WorkflowUpdated(update) = &event.command else {
                continue;
            };
            self.held.insert(
                key,
                Held {
                    run: update.run.clone(),
                    steps: update.steps.clone(),
                    time: at,
                },
            );
        }
        Ok(())
    }
}

/// Puts `step` in `steps`: in place of the step of the same name, keeping
/// what the new report leaves out (its start, say), or at the end. A step
/// that has finished is not made running again by a report of its start
/// that arrives after its end.
fn upsert_step(steps: &mut Vec<StepFact>, step: StepFact) {
    let Some(held) = steps.iter_mut().find(|held| held.name == step.name) else {
        steps.push(step);
        return;
    };
    let finished = |status: RunStatus| !matches!(status, RunStatus::Pending | RunStatus::Running);
    if finished(held.status) && !finished(step.status) {
        held.started_at = held.started_at.or(step.started_at);
        return;
    }
    held.status = step.status;
    held.started_at = step.started_at.or(held.started_at);
    held.finished_at = if finished(step.status) {
        step.finished_at.or(held.finished_at)
    } else {
        None
    };
    held.message = step.message.or_else(|| held.message.take());
    held.logs = step.logs.or_else(|| held.logs.take());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A `workflow.updated` of run `run-1` at second `seconds` of 2024.
    fn report(id: &str, seconds: i64, status: &str, steps: serde_json::Value) -> Event {
        let time = |s: i64| format!("2024-05-01T10:00:{s:02}Z");
        super::super::parse_event(
            &json!({"specversion": "1.0", "id": id, "source": "/tekton", "type": "workflow.updated",
                    "time": time(seconds),
                    "data": {"product": "p", "release": "r", "environment": "dev", "phase": "post",
                             "run": {"id": "run-1", "workflow": "build", "application": "api", "status": status},
                             "steps": steps}}),
            String::new(),
        )
        .expect("valid")
    }

    /// Reports over a run held since second 10 with step `build` running.
    fn reports(steps: usize, merges: &[(usize, Merge)]) -> Reports {
        let mut held = report("held", 10, "running", json!([]));
        let Command::WorkflowUpdated(update) = &mut held.command else {
            unreachable!("a workflow.updated");
        };
        update.run.started_at = Some(held.time);
        let mut all = vec![step("build", RunStatus::Running, Some(10), None)];
        all.extend((1..steps).map(|i| step(&format!("s{i}"), RunStatus::Success, None, None)));
        let key = key_of(update);
        Reports {
            held: HashMap::from([(
                key,
                Held {
                    run: update.run.clone(),
                    steps: all,
                    time: millis(held.time),
                },
            )]),
            merges: merges.iter().copied().collect(),
        }
    }

    fn names(event: &Event) -> Vec<String> {
        match &event.command {
            Command::WorkflowUpdated(update) => {
                update.steps.iter().map(|s| s.name.clone()).collect()
            }
            _ => Vec::new(),
        }
    }

    #[test]
    fn a_step_report_keeps_the_held_time_so_the_runs_later_report_is_not_stale() {
        // A task run started at :15, then the pipeline run's end stamped :14.
        let mut events = vec![
            report(
                "t",
                15,
                "running",
                json!([{"name": "test", "status": "running"}]),
            ),
            report("f", 14, "failed", json!([])),
        ];
        reports(1, &[(0, Merge::Step), (1, Merge::Run)])
            .merge(&mut events, &[true, true])
            .expect("merges");
        assert_eq!(
            millis(events[0].time),
            millis(report("x", 10, "running", json!([])).time)
        );
        assert_eq!(names(&events[0]), ["build", "test"]);
        let Command::WorkflowUpdated(end) = &events[1].command else {
            unreachable!("a workflow.updated");
        };
        assert_eq!(end.run.status, RunStatus::Failed, "not stale");
        assert_eq!(names(&events[1]), ["build", "test"], "the steps kept");
        assert!(end.run.started_at.is_some(), "the start kept");
    }

    #[test]
    fn a_duplicate_is_not_merged_and_a_run_keeps_to_the_step_limit() {
        let mut events = vec![
            report(
                "t",
                15,
                "running",
                json!([{"name": "test", "status": "running"}]),
            ),
            report("f", 16, "failed", json!([])),
        ];
        reports(1, &[(0, Merge::Step), (1, Merge::Run)])
            .merge(&mut events, &[false, true])
            .expect("merges");
        assert_eq!(names(&events[0]), ["test"], "a duplicate as it came");
        assert_eq!(names(&events[1]), ["build"], "without the duplicate's step");

        let mut events = vec![report(
            "t",
            15,
            "running",
            json!([{"name": "one too many", "status": "running"}]),
        )];
        match reports(MAX_STEPS, &[(0, Merge::Step)]).merge(&mut events, &[true]) {
            Err(AppError::Invalid { field, .. }) => {
                assert_eq!(field.as_deref(), Some("data.steps"))
            }
            other => panic!("{other:?}"),
        }
        let mut events = vec![report(
            "t",
            15,
            "running",
            json!([{"name": "s1", "status": "failed"}]),
        )];
        reports(MAX_STEPS, &[(0, Merge::Step)])
            .merge(&mut events, &[true])
            .expect("a known step within the limit");
    }

    fn step(
        name: &str,
        status: RunStatus,
        started: Option<i64>,
        finished: Option<i64>,
    ) -> StepFact {
        let time = |s: i64| chrono::DateTime::from_timestamp(s, 0);
        StepFact {
            name: name.into(),
            status,
            started_at: started.and_then(time),
            finished_at: finished.and_then(time),
            message: None,
            logs: None,
        }
    }

    #[test]
    fn a_step_report_updates_its_step_by_name_and_never_reopens_a_finished_one() {
        let mut steps = vec![step("build", RunStatus::Running, Some(10), None)];
        upsert_step(&mut steps, step("test", RunStatus::Running, Some(11), None));
        upsert_step(
            &mut steps,
            step("build", RunStatus::Success, None, Some(12)),
        );
        assert_eq!(
            steps,
            [
                step("build", RunStatus::Success, Some(10), Some(12)),
                step("test", RunStatus::Running, Some(11), None)
            ]
        );
        // The start of `build` arriving after its end changes nothing.
        upsert_step(
            &mut steps,
            step("build", RunStatus::Running, Some(10), None),
        );
        assert_eq!(
            steps[0],
            step("build", RunStatus::Success, Some(10), Some(12))
        );
        // A finished report replaces the status and keeps the start.
        let mut failed = step("test", RunStatus::Failed, None, Some(13));
        failed.message = Some("2 failed".into());
        upsert_step(&mut steps, failed);
        assert_eq!(steps[1].status, RunStatus::Failed);
        assert_eq!(steps[1].message.as_deref(), Some("2 failed"));
        assert_eq!(steps[1].started_at, chrono::DateTime::from_timestamp(11, 0));
    }
}
