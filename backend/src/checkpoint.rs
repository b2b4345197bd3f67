//! SQLite: checkpoints of the write-ahead log in the background.
//!
//! By default SQLite checkpoints inside the commit that takes the log past
//! 1,000 pages: that write copies the log into the database file and syncs
//! it before it is acknowledged, a few milliseconds of every few batches.
//! Here the writers' connection does not checkpoint (`WriteGroup`); after
//! commits, a task of its own does, on another connection, at most every
//! `PERIOD`. Its `PASSIVE` checkpoints never wait for readers or writers;
//! what a reader still needs stays in the log for the next one. Durability
//! is unchanged: a commit is on disk (in the log) when acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::db::Backend;
use crate::state::Core;

/// The shortest time between two checkpoints under a steady write load:
/// about what SQLite's default threshold of 1,000 pages amounts to at the
/// ingest rate of a small machine, so each page changed again and again is
/// copied once per checkpoint rather than after each commit.
const PERIOD: Duration = Duration::from_millis(250);

/// The background checkpoints' state, shared through `Core`.
#[derive(Debug, Default)]
pub struct Checkpoints {
    running: AtomicBool,
    commits: Notify,
}

impl Checkpoints {
    /// Whether checkpoints are made in the background.
    pub fn in_background(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// A write committed: the log grew.
    pub fn committed(&self) {
        if self.in_background() {
            self.commits.notify_one();
        }
    }
}

/// Makes the checkpoints of `core`'s SQLite database, after commits, until
/// the process ends; returns at once on PostgreSQL. Start it before
/// anything writes: the writers' connection is set up for it when first
/// acquired.
pub fn start(core: &Core) {
    if core.db.backend != Backend::Sqlite {
        return;
    }
    core.checkpoints.running.store(true, Ordering::SeqCst);
    let core = core.clone();
    tokio::spawn(async move {
        loop {
            core.checkpoints.commits.notified().await;
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&core.db.pool)
                .await
            {
                tracing::warn!(%error, "checkpoint failed");
            }
            tokio::time::sleep(PERIOD).await;
        }
    });
}
