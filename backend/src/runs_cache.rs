//! What ingest reads of each release it touches — its flow and every run as
//! status derivation reads it (`store::runs::statuses_of_releases`) — kept
//! in memory after a committed write, so that the next write to the same
//! releases reads only their rows, not all their runs again.
//!
//! An entry is tagged with the release's `last_change_id` after the write
//! that made it. Every write that changes a release's runs re-derives the
//! release and gives it a new change id (derive-on-write), and change ids
//! are never reused (the change log's ids only grow, on SQLite as on
//! PostgreSQL); so an entry is used only when its tag is the id the store
//! holds now, read in the reader's own transaction. A write that was rolled
//! back, another process's or replica's write, or a write made while this
//! one read: each leaves the store with another id, and the entry is not
//! used. Entries are added only once their write is durable (`commit`
//! returned), never from a transaction that could still roll back.
//!
//! A write takes its releases' entries out (`take`) rather than copying
//! them: the write lock makes it the only reader, and it puts back what
//! it leaves once committed. A write that fails leaves them out, and the
//! next one reads the store.

use std::sync::{Arc, Mutex, PoisonError};

use domain::Flow;
use lru::LruCache;

use crate::store::runs::RunStatusFact;

/// Most runs held in all (about 500 bytes each, so about 25 MB): the least
/// recently used releases are dropped beyond.
const MAX_RUNS: usize = 50_000;
/// A release with more runs than this is not held (it would push out many
/// others).
const MAX_RUNS_OF_ONE: usize = 5_000;

/// A release as ingest reads it, at one change id.
#[cfg_attr(test, derive(Clone))]
pub struct Held {
    pub flow: Arc<Flow>,
    /// Its runs, in `seq` order.
    pub runs: Vec<RunStatusFact>,
}

struct Entry {
    tag: i64,
    held: Held,
}

/// The releases recently written, by pk (see the module's note).
pub struct RunsCache {
    inner: Mutex<Inner>,
}

struct Inner {
    entries: LruCache<i64, Entry>,
    /// Runs held in all.
    runs: usize,
}

impl Default for RunsCache {
    fn default() -> RunsCache {
        RunsCache {
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                runs: 0,
            }),
        }
    }
}

impl RunsCache {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map stays consistent whatever panicked while it was held.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Release `pk` as it was at change `tag`, if held, taken out: an
    /// entry of another change stays (it is never used).
    pub fn take(&self, pk: i64, tag: i64) -> Option<Held> {
        let mut inner = self.inner();
        if inner.entries.peek(&pk)?.tag != tag {
            return None;
        }
        let entry = inner.entries.pop(&pk)?;
        inner.runs -= entry.held.runs.len();
        Some(entry.held)
    }

    /// A copy of what `take` would give, left in place.
    #[cfg(test)]
    fn peek(&self, pk: i64, tag: i64) -> Option<Held> {
        let mut inner = self.inner();
        match inner.entries.get(&pk) {
            Some(entry) if entry.tag == tag => Some(entry.held.clone()),
            _ => None,
        }
    }

    /// Holds release `pk` as a committed write left it, at change `tag`;
    /// an entry of a later change stays.
    pub fn put(&self, pk: i64, tag: i64, held: Held) {
        let size = held.runs.len();
        let mut inner = self.inner();
        if inner.entries.peek(&pk).is_some_and(|entry| entry.tag > tag) {
            return;
        }
        if let Some(old) = inner.entries.pop(&pk) {
            inner.runs -= old.held.runs.len();
        }
        if size > MAX_RUNS_OF_ONE {
            return;
        }
        inner.entries.put(pk, Entry { tag, held });
        inner.runs += size;
        while inner.runs > MAX_RUNS {
            match inner.entries.pop_lru() {
                Some((_, old)) => inner.runs -= old.held.runs.len(),
                None => break,
            }
        }
    }

    /// Drops what is held of release `pk`.
    pub fn forget(&self, pk: i64) {
        let mut inner = self.inner();
        if let Some(old) = inner.entries.pop(&pk) {
            inner.runs -= old.held.runs.len();
        }
    }

    /// How many releases are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner().entries.len()
    }

    /// How many runs are held, as counted for the bound.
    #[cfg(test)]
    fn held_runs(&self) -> usize {
        self.inner().runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(runs: usize) -> Held {
        let run = RunStatusFact {
            release_pk: 1,
            snapshot_time: 0,
            fact: domain::RunFact {
                id: "r".into(),
                seq: 1,
                environment: "dev".into(),
                phase: domain::Phase::Post,
                workflow: "w".into(),
                application: "a".into(),
                status: domain::RunStatus::Running,
                started_at: None,
                finished_at: None,
                url: None,
                manifest: None,
                message: None,
                attempt: 1,
                superseded_by: None,
                steps: Vec::new(),
            },
        };
        let flow = serde_json::json!({
            "name": "f", "trigger": "dev",
            "environments": [{"name": "dev", "applications": ["a"],
                              "pre_action": null, "post_action": "w"}]
        });
        Held {
            flow: Arc::new(serde_json::from_value(flow).expect("a flow")),
            runs: vec![run; runs],
        }
    }

    #[test]
    fn an_entry_serves_only_its_own_change() {
        let cache = RunsCache::default();
        cache.put(1, 10, held(2));
        assert!(cache.take(1, 11).is_none(), "a later change");
        assert!(cache.take(1, 9).is_none(), "an earlier change");
        assert!(cache.take(2, 10).is_none(), "another release");
        assert_eq!(cache.take(1, 10).map(|held| held.runs.len()), Some(2));
        assert!(cache.take(1, 10).is_none(), "taken out");
        assert_eq!(cache.held_runs(), 0);
        // A write that finishes late does not replace a later one's entry.
        cache.put(1, 12, held(3));
        cache.put(1, 11, held(1));
        assert_eq!(cache.peek(1, 12).map(|held| held.runs.len()), Some(3));
        cache.forget(1);
        assert!(cache.take(1, 12).is_none());
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.held_runs(), 0);
    }

    #[test]
    fn the_least_recently_used_go_beyond_the_bound() {
        let cache = RunsCache::default();
        let each = MAX_RUNS / 10;
        assert!(each <= MAX_RUNS_OF_ONE);
        for pk in 0..10 {
            cache.put(pk, 1, held(each));
        }
        assert!(cache.peek(0, 1).is_some(), "used: now the most recent");
        cache.put(10, 1, held(each));
        assert!(cache.peek(1, 1).is_none(), "the least recently used went");
        assert!(cache.peek(0, 1).is_some());
        assert_eq!(cache.len(), 10);
        assert_eq!(cache.held_runs(), MAX_RUNS);
        cache.put(11, 1, held(MAX_RUNS_OF_ONE + 1));
        assert!(cache.peek(11, 1).is_none(), "too large to hold");
    }
}

/// Ingest on a real SQLite file: after every request, each release held
/// is exactly what the store gives back for it at its current change.
#[cfg(test)]
mod store_tests {
    use serde_json::{json, Value};

    use crate::ingest::tests::post_batch;
    use crate::store::runs::statuses_of_releases;

    fn time(n: u64) -> String {
        // Microseconds: the store keeps milliseconds.
        format!(
            "2024-05-01T10:{:02}:{:02}.{:06}Z",
            n / 60 % 60,
            n % 60,
            n * 7919 % 1_000_000
        )
    }

    fn created(product: &str, key: &str, n: u64) -> Value {
        json!({
            "specversion": "1.0", "id": format!("c-{key}"), "source": "t",
            "type": "release.created", "time": time(n),
            "data": {
                "product": product, "release": key,
                "flow": {"name": "main", "trigger": "dev", "environments": [
                    {"name": "dev", "applications": ["api", "web"], "post_action": "smoke"},
                    {"name": "prod", "depends_on": ["dev"], "applications": ["api"],
                     "pre_action": "verify"}
                ]},
                "commit": {"sha": format!("sha{key}"), "message": "m", "author": {"name": "A"}}
            }
        })
    }

    /// A snapshot of one of a few runs of each release, whose groups
    /// (environment, phase, workflow, application) the releases share, so
    /// that a new release's run supersedes an older one's.
    fn updated(product: &str, n: u64, seed: u64) -> Value {
        const STATUSES: [&str; 6] = [
            "Pending",
            "Running",
            "Succeeded",
            "Failed",
            "Error",
            "Skipped",
        ];
        let release = seed % 3;
        let (environment, phase, workflow, application) = match seed / 3 % 3 {
            0 => ("dev", "post", "smoke", "api"),
            1 => ("dev", "post", "smoke", "web"),
            _ => ("prod", "pre", "verify", "api"),
        };
        let steps: Vec<Value> = (0..seed % 4)
            .map(|s| {
                json!({"name": format!("s{s}"), "status": STATUSES[((seed >> 3) + s) as usize % 6],
                            "logs": "x"})
            })
            .collect();
        json!({
            "specversion": "1.0", "id": format!("u-{n}"), "source": "t",
            "type": "workflow.updated", "time": time(n),
            "data": {
                "product": product, "release": format!("r{release}"),
                "environment": environment, "phase": phase,
                "run": {"id": format!("run-{release}-{}-{}", seed / 3 % 3, seed / 9 % 2),
                        "workflow": workflow, "application": application,
                        "status": STATUSES[(seed >> 5) as usize % 6],
                        "started_at": time(n), "url": "https://ci.example.com/1",
                        "message": "msg"},
                "steps": steps
            }
        })
    }

    #[tokio::test]
    async fn what_is_held_is_what_the_store_holds() {
        let (_dir, core) = crate::state::on_temporary_sqlite().await;
        let db = core.db.clone();
        post_batch(&core, &[created("p", "r0", 0)]).await;
        let mut n = 1;
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut checked = 0;
        for request in 0..60 {
            if request == 10 {
                post_batch(&core, &[created("p", "r1", n)]).await;
            }
            if request == 25 {
                post_batch(&core, &[created("p", "r2", n)]).await;
            }
            let releases = if request < 10 {
                1
            } else if request < 25 {
                2
            } else {
                3
            };
            let mut events = Vec::new();
            for _ in 0..1 + request % 7 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let pick = seed % 1024 / 3 * 3 + (seed % 3) % releases;
                events.push(updated("p", n, pick));
                if seed.is_multiple_of(5) {
                    // A duplicate, in the same request or the next.
                    events.push(updated("p", n, pick));
                }
                n += 1;
            }
            post_batch(&core, &events).await;

            let mut conn = db.pool.acquire().await.expect("conn");
            let releases: Vec<(i64, i64)> =
                sqlx::query_as("SELECT pk, last_change_id FROM releases")
                    .fetch_all(&mut *conn)
                    .await
                    .expect("releases");
            for (pk, tag) in releases {
                let Some(held) = core.runs_cache.peek(pk, tag) else {
                    continue;
                };
                let stored = statuses_of_releases(&mut conn, &[pk]).await.expect("runs");
                let held: Vec<_> = held
                    .runs
                    .iter()
                    .map(|r| (r.snapshot_time, &r.fact))
                    .collect();
                let stored: Vec<_> = stored.iter().map(|r| (r.snapshot_time, &r.fact)).collect();
                assert_eq!(held, stored, "release {pk} after request {request}");
                checked += 1;
            }
        }
        assert!(checked > 100, "the releases were held ({checked} checks)");
        let (superseded,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM runs WHERE superseded_by IS NOT NULL")
                .fetch_one(&db.pool)
                .await
                .expect("count");
        assert!(
            superseded > 0,
            "newer releases superseded runs of older ones"
        );
    }
}
