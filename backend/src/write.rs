//! Every write transaction (ingest, restart, webhook delivery) goes through
//! `Write`: writers queue (SQLite) or take the writers' advisory lock
//! (PostgreSQL), so change ids commit in order and a live stream reading
//! them never skips one. A write re-derives the releases it changed with
//! `domain::derive_release`, stores what lists read (derive-on-write: lists
//! and the dashboard read indexed columns) and appends the changes to the
//! change log; committing notifies other replicas and wakes this one's live
//! tailer. Nothing is published before the commit.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio::sync::MutexGuard;

use domain::AppError;
use domain::{derive_release, ReleaseView, RunFact};

use crate::db::Backend;
use crate::state::Core;
use crate::store::changes::NewChange;
use crate::store::{self, OrInternal};

/// One write transaction.
pub(crate) struct Write<'a> {
    _writer: Option<MutexGuard<'a, ()>>,
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    /// Whether this write appended to the change log.
    changed: bool,
}

/// What a write changed, for `Write::rederive`.
#[derive(Default)]
pub(crate) struct Changed {
    /// Products this write created.
    pub new_products: BTreeSet<String>,
    /// Releases to re-derive, by pk, with the latest event time that
    /// touched them (`i64::MIN`: leave `updated_at` as it is).
    pub touched: BTreeMap<i64, i64>,
    /// Environments promoted to a version, or whose application health
    /// changed: (product, environment) → the release deployed there. Each
    /// is one `environment` change (a release's creation is its `release`
    /// change).
    pub environments: BTreeMap<(String, String), Option<i64>>,
    /// The runs of some touched releases, as status derivation reads them
    /// (`ReleaseFacts::for_status`), when the write has them at hand; the
    /// others' are read from the store.
    pub known_runs: HashMap<i64, Vec<RunFact>>,
}

impl Changed {
    /// Releases `pks`, touched at `at`.
    pub fn releases(pks: &[i64], at: i64) -> Changed {
        let mut changed = Changed::default();
        for &pk in pks {
            changed.touch(pk, at);
        }
        changed
    }

    /// Marks release `pk` as changed by an event of time `at`.
    pub fn touch(&mut self, pk: i64, at: i64) {
        let entry = self.touched.entry(pk).or_insert(at);
        *entry = (*entry).max(at);
    }
}

impl<'a> Write<'a> {
    pub async fn begin(core: &'a Core) -> Result<Write<'a>, AppError> {
        let writer = core.writer().await;
        let mut tx = core.db.pool.begin().await.or_internal()?;
        if core.db.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7283730)")
                .execute(&mut *tx)
                .await
                .or_internal()?;
        }
        Ok(Write {
            _writer: writer,
            tx,
            changed: false,
        })
    }

    /// Re-derives every release `changed` touched, stores what lists read,
    /// and appends to the change log: a `product` change per new product,
    /// a `release` change per touched release and an `environment` change
    /// per changed environment. A handful of statements whatever the number
    /// of releases.
    pub async fn rederive(&mut self, changed: Changed, now: i64) -> Result<(), AppError> {
        let conn = &mut *self.tx;
        let mut changes: Vec<NewChange> = changed
            .new_products
            .iter()
            .map(|product| NewChange {
                kind: "product",
                product: product.clone(),
                release: None,
                summary: serde_json::json!({ "product": product }),
            })
            .collect();

        if !changed.touched.is_empty() {
            let pks: Vec<i64> = changed.touched.keys().copied().collect();
            let mut rows = store::releases::by_pks(conn, &pks).await?;
            rows.sort_by_key(|row| row.pk);
            // `updated_at` only moves forward, so the order events arrive
            // in does not matter.
            for row in &mut rows {
                if let Some(&at) = changed.touched.get(&row.pk) {
                    row.updated_at = row.updated_at.max(at);
                }
            }
            let places: Vec<(i64, i64)> = rows.iter().map(|r| (r.pk, r.product_id)).collect();
            let facts = store::facts::load_for_status(conn, rows, changed.known_runs).await?;
            let views: Vec<ReleaseView> = facts.iter().map(derive_release).collect();
            let derived: Vec<(i64, i64, &ReleaseView)> = places
                .iter()
                .zip(&views)
                .map(|(&(pk, product_id), view)| (pk, product_id, view))
                .collect();
            store::releases::save_derived(conn, &derived).await?;
            changes.extend(views.iter().map(|view| NewChange {
                kind: "release",
                product: view.product.clone(),
                release: Some(view.id),
                summary: change_summary(view),
            }));
        }

        for ((product, environment), &release) in &changed.environments {
            changes.push(NewChange {
                kind: "environment",
                product: product.clone(),
                release,
                summary: serde_json::json!({
                    "product": product,
                    "environment": environment,
                    "release": release,
                }),
            });
        }

        if !changes.is_empty() {
            store::changes::append_all(conn, &changes, now).await?;
            self.changed = true;
        }
        Ok(())
    }

    /// Commits; when the change log grew, notifies the other replicas
    /// (PostgreSQL) and wakes this process's live tailer.
    pub async fn commit(mut self, core: &Core) -> Result<(), AppError> {
        if core.db.backend == Backend::Postgres && self.changed {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(crate::change::NOTIFY_CHANNEL)
                .execute(&mut *self.tx)
                .await
                .or_internal()?;
        }
        self.tx.commit().await.or_internal()?;
        if self.changed {
            core.committed.notify_one();
        }
        Ok(())
    }
}

/// The small JSON summary of a changed release that live clients receive.
fn change_summary(view: &ReleaseView) -> serde_json::Value {
    let summary = view.summary();
    serde_json::json!({
        "product": view.product,
        "id": view.id,
        "key": view.key,
        "status": view.status,
        "superseded_by": view.superseded_by,
        "updated_at": view.updated_at,
        "counts": view.counts,
        "environments": summary.environments,
    })
}
