//! `Core`: the state the REST handlers, page renders and server functions
//! share — the database, the live-change channel, the writer queue, and the
//! signals between the write path and its background workers.

use std::sync::Arc;

use tokio::sync::{broadcast, watch, Mutex, Notify};

use crate::change::{Rendered, Watching};
use crate::db::{Backend, Db};
use domain::RestartRequested;

/// Settings that change behaviour at run time.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether reads are allowed without a token.
    pub anonymous_read: bool,
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
    /// writer got there first, so writers queue here instead. Unused on
    /// PostgreSQL, whose row locks do the job.
    pub write_lock: Arc<Mutex<()>>,
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
            write_lock: Arc::new(Mutex::new(())),
            outbox: Arc::new(Notify::new()),
            restarts: broadcast::channel(RESTART_CHANNEL_CAPACITY).0,
            watching: Arc::new(Watching::default()),
        }
    }

    /// Holds the writer lock when the backend needs it (SQLite), else nothing.
    pub async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.db.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        }
    }
}
