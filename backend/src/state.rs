//! `Core`: the state the REST handlers, page renders and server functions
//! share — the database, the live-change channel, the writer queue, and the
//! signals between the write path and its background workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use domain::AppError;
use tokio::sync::{broadcast, watch, Mutex, Notify, OwnedMutexGuard};

use crate::change::{Rendered, Watching};
use crate::db::{Backend, Db};
use domain::RestartRequested;

/// Settings that change behaviour at run time.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether reads are allowed without a token.
    pub anonymous_read: bool,
    /// The most live streams open at once.
    pub streams: crate::change::StreamLimits,
}

/// How many notices a slow subscriber may fall behind before it lags (and
/// must replay from the `changes` table).
const CHANGE_CHANNEL_CAPACITY: usize = 1024;

/// How many restarts an in-process subscriber may fall behind.
const RESTART_CHANNEL_CAPACITY: usize = 64;

#[derive(Clone)]
pub struct Core {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Change notices for the live streams, in id order (sent by the
    /// tailer in `live`, which reads them back from the `changes` table).
    pub changes: broadcast::Sender<Arc<Rendered>>,
    /// Woken after each committed write, so the tailer reads the new changes.
    pub committed: Arc<Notify>,
    /// Set to `true` when the server shuts down: live streams end, so the
    /// graceful shutdown does not wait for them forever.
    pub shutdown: watch::Sender<bool>,
    /// Serialises writers on SQLite: a deferred SQLite transaction that
    /// starts reading and then writes fails with `SQLITE_BUSY` when another
    /// writer got there first, so writers queue here instead. It holds the
    /// open commit group (see `write`). Unused on PostgreSQL, whose row
    /// locks do the job.
    pub write_lock: Arc<Mutex<WriteGroup>>,
    /// Writers queued for `write_lock`: while some are, a finished write
    /// leaves its group open for them, and the last one commits it.
    pub write_waiting: Arc<AtomicUsize>,
    /// Woken after a restart commits a webhook delivery, so the delivery
    /// worker sends it at once instead of at its next poll.
    pub outbox: Arc<Notify>,
    /// Every committed restart, as the `release.restart_requested` payload
    /// the webhook sends; in-process consumers (the demo's simulated
    /// orchestrator) subscribe here.
    pub restarts: broadcast::Sender<RestartRequested>,
    /// The release pages the open live streams watch.
    pub watching: Arc<Watching>,
}

impl Core {
    /// State around `db`, with a fresh change channel.
    pub fn new(db: Db, settings: Settings) -> Core {
        let (changes, _) = broadcast::channel(CHANGE_CHANNEL_CAPACITY);
        let (shutdown, _) = watch::channel(false);
        Core {
            db,
            settings: Arc::new(settings),
            changes,
            committed: Arc::new(Notify::new()),
            shutdown,
            write_lock: Arc::new(Mutex::new(WriteGroup::default())),
            write_waiting: Arc::new(AtomicUsize::new(0)),
            outbox: Arc::new(Notify::new()),
            restarts: broadcast::channel(RESTART_CHANNEL_CAPACITY).0,
            watching: Arc::new(Watching::default()),
        }
    }

    /// Takes the writer lock when the backend needs it (SQLite), else
    /// nothing, for a write outside `Write` (on a connection of its own):
    /// the open commit group, if any, is committed first.
    pub async fn writer(&self) -> Result<Option<OwnedMutexGuard<WriteGroup>>, AppError> {
        match self.db.backend {
            Backend::Sqlite => {
                let mut group = self.lock_writer().await;
                group.finish(self).await?;
                Ok(Some(group))
            }
            Backend::Postgres => Ok(None),
        }
    }

    /// The writer lock (SQLite), counted as waiting until it is held.
    pub(crate) async fn lock_writer(&self) -> OwnedMutexGuard<WriteGroup> {
        // Counted down however the wait ends (a request dropped while it
        // waits is no longer waiting).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.write_waiting.fetch_add(1, Ordering::SeqCst);
        let waiting = Waiting(&self.write_waiting);
        let group = self.write_lock.clone().lock_owned().await;
        drop(waiting);
        group
    }

    /// Whether writers are queued for the writer lock.
    pub(crate) fn writers_waiting(&self) -> bool {
        self.write_waiting.load(Ordering::SeqCst) > 0
    }
}

/// The commit group of SQLite writes (group commit): one transaction that
/// writes which queued behind each other join, each in a savepoint, and
/// that the last of them commits, so that one fsync acknowledges them all.
#[derive(Default)]
pub struct WriteGroup {
    pub(crate) tx: Option<sqlx::Transaction<'static, sqlx::Any>>,
    /// Writes done in `tx`, waiting for its commit.
    pub(crate) members: usize,
    /// Whether a write of the group appended to the change log.
    pub(crate) changed: bool,
    /// Where the group's outcome is told to its members.
    pub(crate) done: Option<watch::Sender<Option<Result<(), String>>>>,
}

impl WriteGroup {
    /// Commits the open group, if any: tells its members, and wakes the live
    /// tailer when the change log grew.
    pub(crate) async fn finish(&mut self, core: &Core) -> Result<(), AppError> {
        let Some(tx) = self.tx.take() else {
            return Ok(());
        };
        let result = tx.commit().await.map_err(|e| e.to_string());
        if let Some(done) = self.done.take() {
            done.send_replace(Some(result.clone()));
        }
        if result.is_ok() && self.changed {
            core.committed.notify_one();
        }
        self.members = 0;
        self.changed = false;
        result.map_err(AppError::internal)
    }

    /// Rolls the open group back, if any, telling its members it failed.
    pub(crate) async fn abandon(&mut self, why: &str) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.rollback().await;
        }
        if let Some(done) = self.done.take() {
            done.send_replace(Some(Err(why.to_owned())));
        }
        self.members = 0;
        self.changed = false;
    }
}
