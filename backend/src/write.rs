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

use domain::live::{EnvironmentChanged, ReleaseChanged};
use domain::{derive_release, AppError, ReleaseView, RunFact};

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
    /// changed: (product, environment) → (product id, the release deployed
    /// there). Each is one `environment` change (a release's creation is
    /// its `release` change).
    pub environments: BTreeMap<(String, String), (i64, Option<i64>)>,
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

        let mut views: Vec<(i64, i64, ReleaseView)> = Vec::new();
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
            views = places
                .into_iter()
                .zip(facts.iter().map(derive_release))
                .map(|((pk, product_id), view)| (pk, product_id, view))
                .collect();
            changes.extend(views.iter().map(|(_, _, view)| {
                NewChange {
                    kind: "release",
                    product: view.product.clone(),
                    release: Some(view.id),
                    summary: serde_json::to_value(ReleaseChanged::of(view))
                        .unwrap_or(serde_json::Value::Null),
                }
            }));
        }
        if !changes.is_empty() {
            let ids: HashMap<(String, i64), i64> = store::changes::append_all(conn, &changes, now)
                .await?
                .into_iter()
                .map(|(product, release, id)| ((product, release), id))
                .collect();
            let derived = views
                .iter()
                .map(|(pk, product_id, view)| {
                    let change_id = ids
                        .get(&(view.product.clone(), view.id))
                        .copied()
                        .ok_or_else(|| AppError::internal("a release change has no id"))?;
                    Ok(store::releases::Derived {
                        pk: *pk,
                        product_id: *product_id,
                        view,
                        change_id,
                    })
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            store::releases::save_derived(conn, &derived).await?;
            self.changed = true;
        }

        // After the releases: a cell names the status of the release there.
        let mut environments = Vec::with_capacity(changed.environments.len());
        for ((product, environment), &(product_id, release)) in &changed.environments {
            let cell = store::health::cell(conn, product_id, environment)
                .await?
                .map(|row| row.cell())
                .transpose()?;
            let summary = EnvironmentChanged {
                product: product.clone(),
                environment: environment.clone(),
                release,
                cell,
            };
            environments.push(NewChange {
                kind: "environment",
                product: product.clone(),
                release,
                summary: serde_json::to_value(summary).unwrap_or(serde_json::Value::Null),
            });
        }
        if !environments.is_empty() {
            store::changes::append_all(conn, &environments, now).await?;
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
