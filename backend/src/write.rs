//! Every write transaction (ingest, restart, webhook delivery) goes through
//! `Write`: writers queue (SQLite) or take the writers' advisory lock
//! (PostgreSQL), so change ids commit in order and a live stream reading
//! them never skips one. A write re-derives the releases it changed with
//! `domain::derive_release`, stores what lists read (derive-on-write: lists
//! and the dashboard read indexed columns) and appends the changes to the
//! change log; committing notifies other replicas and wakes this one's live
//! tailer. Nothing is published before the commit.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio::sync::OwnedMutexGuard;

use domain::live::{EnvironmentChanged, ReleaseChanged};
use domain::{derive_release, AppError, ReleaseView, RunFact};

use crate::db::Backend;
use crate::state::{Core, WriteGroup};
use crate::store::changes::NewChange;
use crate::store::{self, OrInternal};

/// One write. On PostgreSQL, a transaction of its own (behind the writers'
/// advisory lock). On SQLite, a part of the open commit group
/// (`WriteGroup`): if other writers queue while it works, it leaves the
/// group open for them and waits for the last of them to commit it, so
/// concurrent writes share one fsync. A write that joins a group holding
/// other writes works in a savepoint: if it fails, it rolls back to it and
/// the others go on. The first write of a group needs none (a savepoint
/// costs a copy of every page it changes): if it fails, the whole group,
/// only its own work, rolls back.
pub(crate) struct Write {
    core: Core,
    /// SQLite: the writer lock, holding the group.
    group: Option<OwnedMutexGuard<WriteGroup>>,
    /// PostgreSQL: the transaction.
    tx: Option<sqlx::Transaction<'static, sqlx::Any>>,
    /// Whether this write appended to the change log.
    changed: bool,
    /// SQLite: whether it works in a savepoint (it joined a group holding
    /// other writes).
    savepoint: bool,
}

/// Most writes in one commit group.
const MAX_GROUP: usize = 64;

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

/// What `Write::rederive` leaves the caller.
pub(crate) struct Rederived {
    /// The new change id of each release derived, by pk.
    pub tags: HashMap<i64, i64>,
    /// The runs given in `Changed::known_runs`, as they were given.
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

impl Write {
    pub async fn begin(core: &Core) -> Result<Write, AppError> {
        if core.db.backend == Backend::Postgres {
            let mut tx = core.db.pool.begin().await.or_internal()?;
            sqlx::query("SELECT pg_advisory_xact_lock(7283730)")
                .execute(&mut *tx)
                .await
                .or_internal()?;
            return Ok(Write {
                core: core.clone(),
                group: None,
                tx: Some(tx),
                changed: false,
                savepoint: false,
            });
        }
        let mut group = core.lock_writer().await;
        group.open(core).await?;
        let savepoint = group.members > 0;
        if savepoint {
            let Some(conn) = group.conn() else {
                return Err(AppError::internal("the commit group has no transaction"));
            };
            if let Err(error) = sqlx::query("SAVEPOINT write").execute(&mut *conn).await {
                group.abandon("the commit group failed").await;
                return Err(AppError::internal(error));
            }
        }
        Ok(Write {
            core: core.clone(),
            group: Some(group),
            tx: None,
            changed: false,
            savepoint,
        })
    }

    /// The connection this write runs on.
    pub fn conn(&mut self) -> Result<&mut sqlx::AnyConnection, AppError> {
        let conn = match (&mut self.group, &mut self.tx) {
            (Some(group), _) => group.conn(),
            (None, tx) => tx.as_mut().map(|tx| &mut **tx),
        };
        conn.ok_or_else(|| AppError::internal("a write without its transaction"))
    }

    /// Re-derives every release `changed` touched, stores what lists read,
    /// and appends to the change log: a `product` change per new product,
    /// a `release` change per touched release and an `environment` change
    /// per changed environment. A handful of statements whatever the number
    /// of releases. Returns the new change id of each release it derived,
    /// and gives back the runs of `Changed::known_runs`.
    pub async fn rederive(&mut self, changed: Changed, now: i64) -> Result<Rederived, AppError> {
        let mut appended = false;
        let mut tags = HashMap::new();
        let mut known_runs = HashMap::new();
        let conn = self.conn()?;
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
            let known: BTreeSet<i64> = changed.known_runs.keys().copied().collect();
            let mut facts = store::facts::load_for_status(conn, rows, changed.known_runs).await?;
            views = places
                .iter()
                .zip(facts.iter().map(derive_release))
                .map(|(&(pk, product_id), view)| (pk, product_id, view))
                .collect();
            for (&(pk, _), facts) in places.iter().zip(&mut facts) {
                if known.contains(&pk) {
                    known_runs.insert(pk, std::mem::take(&mut facts.runs));
                }
            }
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
            tags.extend(derived.iter().map(|d| (d.pk, d.change_id)));
            appended = true;
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
            appended = true;
        }
        self.changed |= appended;
        Ok(Rederived { tags, known_runs })
    }

    /// Commits (SQLite: releases the savepoint and commits the group, or
    /// leaves it to a queued writer and waits for its commit); when the
    /// change log grew, notifies the other replicas (PostgreSQL) and wakes
    /// this process's live tailer. Returns once the write is durable.
    pub async fn commit(mut self) -> Result<(), AppError> {
        if let Some(mut tx) = self.tx.take() {
            if self.changed {
                sqlx::query("SELECT pg_notify($1, '')")
                    .bind(crate::change::NOTIFY_CHANNEL)
                    .execute(&mut *tx)
                    .await
                    .or_internal()?;
            }
            tx.commit().await.or_internal()?;
            if self.changed {
                self.core.committed.notify_one();
            }
            return Ok(());
        }
        let Some(mut group) = self.group.take() else {
            return Err(AppError::internal("a write committed twice"));
        };
        let released = match group.conn() {
            Some(_) if !self.savepoint => Ok(()),
            Some(conn) => sqlx::query("RELEASE SAVEPOINT write")
                .execute(&mut *conn)
                .await
                .map(|_| ())
                .map_err(AppError::internal),
            None => Err(AppError::internal("the commit group has no transaction")),
        };
        if let Err(error) = released {
            group.abandon("the commit group failed").await;
            return Err(error);
        }
        group.changed |= self.changed;
        group.members += 1;
        if self.core.writers_waiting() && group.members < MAX_GROUP {
            // The next writer joins this group; the last one commits it.
            let Some(mut done) = group.done.as_ref().map(|done| done.subscribe()) else {
                return Err(AppError::internal("the commit group has no outcome"));
            };
            drop(group);
            let outcome = done
                .wait_for(Option::is_some)
                .await
                .map_err(|_| AppError::internal("the commit group ended without an outcome"))?
                .clone();
            return match outcome {
                Some(Ok(())) => Ok(()),
                Some(Err(error)) => Err(AppError::internal(error)),
                None => Err(AppError::internal(
                    "the commit group ended without an outcome",
                )),
            };
        }
        group.finish(&self.core).await
    }
}

impl Drop for Write {
    /// A write dropped before its commit (an error on the way) is undone:
    /// back to its savepoint, the group going on for the others (or all of
    /// it rolled back if that fails); nobody left waiting, the group commits.
    /// The first write of a group rolls the group back: it holds nothing else.
    fn drop(&mut self) {
        let Some(mut group) = self.group.take() else {
            return;
        };
        let core = self.core.clone();
        let savepoint = self.savepoint;
        tokio::spawn(async move {
            if !savepoint {
                group.abandon("the write failed").await;
                return;
            }
            let undone = match group.conn() {
                Some(conn) => sqlx::raw_sql("ROLLBACK TO SAVEPOINT write; RELEASE SAVEPOINT write")
                    .execute(&mut *conn)
                    .await
                    .is_ok(),
                None => true,
            };
            if !undone {
                group.abandon("the commit group failed").await;
                return;
            }
            if !core.writers_waiting() {
                if let Err(error) = group.finish(&core).await {
                    tracing::warn!(%error, "commit group failed");
                }
            }
        });
    }
}
