//! `Core`: the state the REST handlers, page renders and server functions
//! share — the database, the live-change channel, the writer queue, and the
//! signals between the write path and its background workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use domain::AppError;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection};
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
    /// SQLite: checkpoints of the write-ahead log, once `checkpoint::run`
    /// makes them in the background (the writers' commits then never do).
    pub checkpoints: Arc<crate::checkpoint::Checkpoints>,
    /// What ingest read of the releases it wrote last, kept for its next
    /// write to them (`runs_cache`).
    pub runs_cache: Arc<crate::runs_cache::RunsCache>,
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
            checkpoints: Arc::default(),
            runs_cache: Arc::default(),
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
///
/// Every group runs on the writers' own connection, kept from one group to
/// the next. SQLite drops a connection's page cache whenever another
/// connection has written since it last read; writes that took turns over
/// the pool's connections each started cold and read every page they
/// touched again.
#[derive(Default)]
pub struct WriteGroup {
    /// The writers' connection, once acquired; dropped (closed) after a
    /// failure, so the next group starts on a fresh one.
    conn: Option<PoolConnection<Any>>,
    /// Whether a transaction (the group) is open on `conn`.
    open: bool,
    /// Writes done in the group, waiting for its commit.
    pub(crate) members: usize,
    /// Whether a write of the group appended to the change log.
    pub(crate) changed: bool,
    /// Where the group's outcome is told to its members.
    pub(crate) done: Option<watch::Sender<Option<Result<(), String>>>>,
}

impl WriteGroup {
    /// The open group's connection; `None` when no group is open.
    pub(crate) fn conn(&mut self) -> Option<&mut AnyConnection> {
        if !self.open {
            return None;
        }
        self.conn.as_deref_mut()
    }

    /// Opens a group on the writers' connection (acquired from `pool` the
    /// first time), unless one is open.
    pub(crate) async fn open(&mut self, core: &Core) -> Result<(), AppError> {
        if self.open {
            return Ok(());
        }
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let mut conn = core.db.pool.acquire().await.map_err(AppError::internal)?;
                if core.checkpoints.in_background() {
                    // Its commits leave checkpoints to the background.
                    sqlx::raw_sql("PRAGMA wal_autocheckpoint = 0")
                        .execute(&mut *conn)
                        .await
                        .map_err(AppError::internal)?;
                }
                self.conn.insert(conn)
            }
        };
        // Marked open first: a statement may run to its end even when the
        // future awaiting it is dropped (a client gone), so the state must
        // already say what it leaves.
        self.open = true;
        self.done = Some(watch::channel(None).0);
        if let Err(error) = sqlx::raw_sql("BEGIN").execute(&mut **conn).await {
            self.drop_conn();
            self.done = None;
            return Err(AppError::internal(error));
        }
        Ok(())
    }

    /// Commits the open group, if any: tells its members, and wakes the live
    /// tailer when the change log grew.
    pub(crate) async fn finish(&mut self, core: &Core) -> Result<(), AppError> {
        if !self.open {
            return Ok(());
        }
        // The group is closed before its commit runs: if this future is
        // dropped meanwhile (the commit may still complete), the next write
        // opens a new group and the members hear no outcome (an error).
        self.open = false;
        let done = self.done.take();
        let changed = std::mem::take(&mut self.changed);
        self.members = 0;
        let Some(conn) = self.conn.as_deref_mut() else {
            return Ok(());
        };
        let result = sqlx::raw_sql("COMMIT")
            .execute(&mut *conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        if result.is_err() {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
            self.drop_conn();
        }
        if let Some(done) = done {
            done.send_replace(Some(result.clone()));
        }
        if result.is_ok() {
            core.checkpoints.committed();
            if changed {
                core.committed.notify_one();
            }
        }
        result.map_err(AppError::internal)
    }

    /// Rolls the open group back, if any, telling its members it failed.
    pub(crate) async fn abandon(&mut self, why: &str) {
        if let Some(conn) = self.conn() {
            if sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_err() {
                self.drop_conn();
            }
        }
        self.open = false;
        if let Some(done) = self.done.take() {
            done.send_replace(Some(Err(why.to_owned())));
        }
        self.members = 0;
        self.changed = false;
    }

    /// Closes the writers' connection (after a failure: it may be in any
    /// state), so that the next group acquires a fresh one.
    fn drop_conn(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.close_on_drop();
        }
        self.open = false;
    }
}

/// For tests: the state around a fresh, migrated SQLite file in a
/// temporary directory, which lives as long as the returned guard.
#[cfg(test)]
pub(crate) async fn on_temporary_sqlite() -> (tempfile::TempDir, Core) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .expect("db");
    db.migrate().await.expect("migrate");
    let settings = Settings {
        anonymous_read: true,
        streams: Default::default(),
    };
    (dir, Core::new(db, settings))
}
