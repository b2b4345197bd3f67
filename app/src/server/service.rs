//! The service layer: the ONE write path (`apply_events`) and the reads that
//! REST handlers and server functions share.
//!
//! A write runs in one transaction: every event is recorded (duplicates by
//! (source, id) skipped), applied, and every touched release re-derived with
//! `domain::derive_release` so its status and list item are stored
//! (derive-on-write: lists and the dashboard read indexed columns). Only
//! after the commit are change notices published on `AppState::changes`.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Utc;

use crate::domain::{
    derive_release, run_status, superseded_runs, EnvStatus, Flow, ReleaseStatus, ReleaseView,
    RunFact, RunStatus, SupersedeCandidate,
};
use crate::error::AppError;
use crate::views::{
    EnvNotes, EnvOverview, NoteChanges, ProductList, ProductOverview, ReleaseNotes, ReleasePage,
    ReleaseQuery, ReleaseRef,
};

use super::ingest::{Command, Event, WorkflowUpdated};
use super::notes;
use super::state::{AppState, ChangeNotice};
use super::store::releases::{NewRelease, PageFilter, Target};
use super::store::runs::RunPlace;
use super::store::{self, millis, Conn, OrInternal};

/// What `POST /api/v1/events` answers.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IngestOutcome {
    /// Events applied (stale snapshots included: they were valid).
    pub accepted: usize,
    /// Events ignored because their (source, id) was seen before.
    pub duplicates: usize,
    /// Every release the request named: key → id.
    pub releases: BTreeMap<String, i64>,
}

/// A release an event refers to, resolved once per request.
#[derive(Clone)]
struct Resolved {
    pk: i64,
    product_id: i64,
    id: i64,
    flow: Arc<Flow>,
}

/// The state of one write transaction. Besides what the request did, it
/// caches what the transaction itself reads and writes, so a batch does not
/// query the same rows once per event. Only this transaction writes while
/// it runs (the writer lock, and the advisory lock on PostgreSQL), so the
/// caches stay true until the commit.
#[derive(Default)]
struct Batch {
    outcome: IngestOutcome,
    releases: HashMap<(String, String), Resolved>,
    /// Releases to re-derive, with the latest event time that touched them.
    touched: BTreeMap<i64, i64>,
    new_products: BTreeSet<String>,
    /// Per release pk: run id → (seq, snapshot time) of every stored run.
    runs: HashMap<i64, HashMap<String, (i64, i64)>>,
    /// Per release pk: the current attempt of each restarted environment.
    attempts: HashMap<i64, HashMap<String, u32>>,
    /// Per (product id, environment): the newest release recorded as
    /// deployed there by this transaction.
    deployed: HashMap<(i64, String), i64>,
    /// Environments promoted to a version, or whose application health
    /// changed: (product, environment) → product id. Each is one
    /// `environment` change (a release's creation is its `release` change).
    environments: BTreeMap<(String, String), i64>,
}

impl Batch {
    fn touch(&mut self, pk: i64, at: i64) {
        let entry = self.touched.entry(pk).or_insert(at);
        *entry = (*entry).max(at);
    }

    /// The stored runs of release `pk`, loaded once per transaction.
    async fn runs_of(
        &mut self,
        conn: &mut Conn,
        pk: i64,
    ) -> Result<&mut HashMap<String, (i64, i64)>, AppError> {
        let runs = match self.runs.entry(pk) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => {
                let known = store::runs::known(conn, pk).await?;
                slot.insert(
                    known
                        .into_iter()
                        .map(|(run, seq, at)| (run, (seq, at)))
                        .collect(),
                )
            }
        };
        Ok(runs)
    }

    /// The current attempt of `environment` in release `pk` (1 when never
    /// restarted), loaded once per release and transaction.
    async fn attempt(
        &mut self,
        conn: &mut Conn,
        pk: i64,
        environment: &str,
    ) -> Result<u32, AppError> {
        let attempts = match self.attempts.entry(pk) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => {
                slot.insert(store::runs::attempts(conn, pk).await?.into_iter().collect())
            }
        };
        Ok(attempts.get(environment).copied().unwrap_or(1))
    }

    /// Records release `release_id` as promoting in `environment`. The
    /// stored value only ever moves to a newer release, so once this
    /// transaction recorded a release at least as new there, it is a no-op
    /// and skipped.
    async fn deploy(
        &mut self,
        conn: &mut Conn,
        product_id: i64,
        environment: &str,
        release_id: i64,
    ) -> Result<(), AppError> {
        let key = (product_id, environment.to_owned());
        if self
            .deployed
            .get(&key)
            .is_some_and(|&done| done >= release_id)
        {
            return Ok(());
        }
        store::health::deploy(conn, product_id, environment, release_id).await?;
        self.deployed.insert(key, release_id);
        Ok(())
    }

    /// Notes that `health::promote` recorded a deployment.
    fn promoted(&mut self, product_id: i64, environment: &str, release_id: i64) {
        let done = self
            .deployed
            .entry((product_id, environment.to_owned()))
            .or_insert(release_id);
        *done = (*done).max(release_id);
    }

    /// The release `key` of `product`, from this request's cache or the store.
    async fn find(
        &mut self,
        conn: &mut Conn,
        product: &str,
        key: &str,
    ) -> Result<Option<Resolved>, AppError> {
        let cache_key = (product.to_owned(), key.to_owned());
        if let Some(found) = self.releases.get(&cache_key) {
            return Ok(Some(found.clone()));
        }
        let Some(Target {
            pk,
            product_id,
            id,
            flow,
        }) = store::releases::find_key(conn, product, key).await?
        else {
            return Ok(None);
        };
        let resolved = Resolved {
            pk,
            product_id,
            id,
            flow: Arc::new(store::from_json(&flow)?),
        };
        self.releases.insert(cache_key, resolved.clone());
        Ok(Some(resolved))
    }

    /// The release an event names, which must exist and have `environment`
    /// in its flow; else 400 naming `data.release` or `data.environment`.
    async fn target(
        &mut self,
        conn: &mut Conn,
        event: &Event,
        product: &str,
        key: &str,
        environment: &str,
    ) -> Result<Resolved, AppError> {
        let release = self.find(conn, product, key).await?.ok_or_else(|| {
            AppError::invalid(
                event.field("data.release"),
                format!(
                    "product {product:?} has no release {key:?}: send release.created first \
                     (in this request or an earlier one)"
                ),
            )
        })?;
        if release.flow.env(environment).is_none() {
            return Err(AppError::invalid(
                event.field("data.environment"),
                format!(
                    "{environment:?} is not an environment of release {key:?} (flow {:?})",
                    release.flow.name()
                ),
            ));
        }
        self.outcome.releases.insert(key.to_owned(), release.id);
        Ok(release)
    }
}

/// Applies validated events in one transaction (all or none), then
/// publishes a change notice per changed release. Fails with 400 when an
/// event names an unknown release or an environment outside its flow, with
/// 500 when the database fails; either way nothing is stored.
pub async fn apply_events(state: &AppState, events: Vec<Event>) -> Result<IngestOutcome, AppError> {
    // One writer at a time, across replicas too: change ids then commit in
    // order, so a live stream reading them never skips one.
    let mut write = super::restart::Write::begin(state).await?;
    let tx = &mut write.tx;
    let now = Utc::now().timestamp_millis();
    let records: Vec<store::events::NewEvent<'_>> = events
        .iter()
        .map(|event| store::events::NewEvent {
            source: &event.source,
            id: &event.id,
            kind: event.kind(),
            time: millis(event.time),
        })
        .collect();
    let fresh = store::events::record(tx, &records, now).await?;
    let mut batch = Batch::default();
    for (event, fresh) in events.iter().zip(fresh) {
        apply(tx, &mut batch, event, fresh, now).await?;
    }
    let notices = rederive(tx, &batch, now).await?;
    write.commit(state, &notices).await?;
    Ok(batch.outcome)
}

/// Applies one recorded event; `fresh` is false for a duplicate, which is
/// only counted.
async fn apply(
    conn: &mut Conn,
    batch: &mut Batch,
    event: &Event,
    fresh: bool,
    now: i64,
) -> Result<(), AppError> {
    let at = millis(event.time);
    if !fresh {
        batch.outcome.duplicates += 1;
        if let Some(key) = event.command.release() {
            if let Some(release) = batch.find(conn, event.command.product(), key).await? {
                batch.outcome.releases.insert(key.to_owned(), release.id);
            }
        }
        return Ok(());
    }
    batch.outcome.accepted += 1;

    match &event.command {
        Command::ReleaseCreated(created) => {
            // A key seen before keeps its release: the first creation wins.
            if let Some(known) = batch.find(conn, &created.product, &created.release).await? {
                batch
                    .outcome
                    .releases
                    .insert(created.release.clone(), known.id);
                return Ok(());
            }
            let (product_id, new_product) =
                store::products::ensure(conn, &created.product, now).await?;
            if new_product {
                batch.new_products.insert(created.product.clone());
            }
            let id = store::products::next_release_id(conn, product_id).await?;
            let pk = store::releases::insert(
                conn,
                NewRelease {
                    product_id,
                    id,
                    key: &created.release,
                    flow: &created.flow,
                    commit: &created.commit,
                    version: created.version.as_deref(),
                    changes: &created.changes,
                    created_at: at,
                },
            )
            .await?;
            // The release starts in its trigger environment.
            let trigger = created.flow.trigger();
            match &created.version {
                Some(version) => {
                    store::health::promote(conn, product_id, trigger, id, version, at).await?;
                    batch.promoted(product_id, trigger, id);
                }
                None => batch.deploy(conn, product_id, trigger, id).await?,
            }
            // A new release has no runs and no restarted environment yet.
            batch.runs.insert(pk, HashMap::new());
            batch.attempts.insert(pk, HashMap::new());
            batch.releases.insert(
                (created.product.clone(), created.release.clone()),
                Resolved {
                    pk,
                    product_id,
                    id,
                    flow: Arc::new(created.flow.clone()),
                },
            );
            batch.outcome.releases.insert(created.release.clone(), id);
            batch.touch(pk, at);
        }
        Command::WorkflowUpdated(update) => {
            let release = batch
                .target(
                    conn,
                    event,
                    &update.product,
                    &update.release,
                    &update.environment,
                )
                .await?;
            workflow_updated(conn, batch, &release, update, at).await?;
            batch
                .deploy(conn, release.product_id, &update.environment, release.id)
                .await?;
        }
        Command::EnvironmentPromoted(promoted) => {
            let release = batch
                .target(
                    conn,
                    event,
                    &promoted.product,
                    &promoted.release,
                    &promoted.environment,
                )
                .await?;
            let attempt = batch
                .attempt(conn, release.pk, &promoted.environment)
                .await?;
            store::facts::insert_promotion(conn, release.pk, promoted, at, attempt).await?;
            store::health::promote(
                conn,
                release.product_id,
                &promoted.environment,
                release.id,
                &promoted.version,
                at,
            )
            .await?;
            batch.promoted(release.product_id, &promoted.environment, release.id);
            batch.environments.insert(
                (promoted.product.clone(), promoted.environment.clone()),
                release.product_id,
            );
            batch.touch(release.pk, at);
        }
        Command::GitFailed(failed) => {
            let release = batch
                .target(
                    conn,
                    event,
                    &failed.product,
                    &failed.release,
                    &failed.environment,
                )
                .await?;
            let attempt = batch.attempt(conn, release.pk, &failed.environment).await?;
            store::facts::insert_git_error(conn, release.pk, failed, at, attempt).await?;
            batch
                .deploy(conn, release.product_id, &failed.environment, release.id)
                .await?;
            batch.touch(release.pk, at);
        }
        Command::ApplicationHealth(health) => {
            let (product_id, new_product) =
                store::products::ensure(conn, &health.product, now).await?;
            if new_product {
                batch.new_products.insert(health.product.clone());
            }
            if store::health::report(conn, product_id, health, at).await? {
                batch.environments.insert(
                    (health.product.clone(), health.environment.clone()),
                    product_id,
                );
                // Health shows on the release deployed there; re-derive it
                // so its watchers hear of the change.
                if let Some(id) =
                    store::health::deployed(conn, product_id, &health.environment).await?
                {
                    if let Some(row) = store::releases::get(conn, product_id, id).await? {
                        // Health belongs to the environment, not the release:
                        // it does not move `updated_at` (which would then
                        // depend on whether the promotion arrived first).
                        batch.touch(row.pk, i64::MIN);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Stores a run snapshot: replaces a known run's snapshot unless this one
/// is older, or records a new run in the environment's current attempt (or
/// the explicit one) and applies supersede (SPEC §2.5).
async fn workflow_updated(
    conn: &mut Conn,
    batch: &mut Batch,
    release: &Resolved,
    update: &WorkflowUpdated,
    at: i64,
) -> Result<(), AppError> {
    let known = batch
        .runs_of(conn, release.pk)
        .await?
        .get(&update.run.id)
        .copied();
    if let Some((seq, stored_at)) = known {
        if at < stored_at {
            return Ok(());
        }
        store::runs::update(conn, seq, &update.run, &update.steps, at).await?;
        if let Some(run) = batch
            .runs
            .get_mut(&release.pk)
            .and_then(|runs| runs.get_mut(&update.run.id))
        {
            *run = (seq, at);
        }
        batch.touch(release.pk, at);
        return Ok(());
    }
    let attempt = match update.attempt {
        Some(attempt) => attempt,
        None => batch.attempt(conn, release.pk, &update.environment).await?,
    };
    let place = RunPlace {
        release_pk: release.pk,
        product_id: release.product_id,
        release_id: release.id,
        environment: &update.environment,
        phase: update.phase,
        attempt,
    };
    let seq = store::runs::insert(conn, &place, &update.run, &update.steps, at).await?;
    batch
        .runs
        .entry(release.pk)
        .or_default()
        .insert(update.run.id.clone(), (seq, at));
    batch.touch(release.pk, at);

    // First report of this run: older releases' pending or running runs of
    // the same workflow here are superseded by this release. The store
    // returns only runs of older releases, not superseded, that may still
    // be pending or running; their status is decided here.
    let candidates =
        store::runs::unfinished_older(conn, &place, &update.run.workflow, &update.run.application)
            .await?;
    let mut rows = BTreeMap::new();
    let mut older = Vec::new();
    for row in candidates {
        let (seq, pk) = (row.seq, row.release_pk);
        let fact = RunFact::try_from(row.clone())?;
        let status = run_status(&fact);
        if !matches!(status, RunStatus::Pending | RunStatus::Running) {
            // Only rows stored before the `unfinished` column get here.
            store::runs::set_finished(conn, seq).await?;
        }
        older.push(SupersedeCandidate {
            release: row.release_id,
            run_id: fact.id.clone(),
            status,
            superseded_by: fact.superseded_by,
        });
        rows.insert((row.release_id, fact.id), (seq, pk));
    }
    for superseded in superseded_runs(release.id, &older) {
        if let Some(&(seq, pk)) = rows.get(&(superseded.1, superseded.0)) {
            store::runs::set_superseded(conn, seq, release.id).await?;
            batch.touch(pk, at);
        }
    }
    Ok(())
}

/// Re-derives every touched release, stores what lists read, and appends
/// the change log; returns the notices to publish after commit.
async fn rederive(conn: &mut Conn, batch: &Batch, now: i64) -> Result<Vec<ChangeNotice>, AppError> {
    let mut notices = Vec::new();
    for product in &batch.new_products {
        let summary = serde_json::json!({ "product": product });
        let id = store::changes::append(conn, product, None, "product", &summary.to_string(), now)
            .await?;
        notices.push(ChangeNotice {
            id,
            kind: "product".into(),
            product: product.clone(),
            release: None,
            summary,
        });
    }
    if !batch.touched.is_empty() {
        notices.extend(rederive_touched(conn, batch, now).await?);
    }
    for ((product, environment), &product_id) in &batch.environments {
        let release = store::health::deployed(conn, product_id, environment).await?;
        let summary = serde_json::json!({
            "product": product,
            "environment": environment,
            "release": release,
        });
        let id = store::changes::append(
            conn,
            product,
            release,
            "environment",
            &summary.to_string(),
            now,
        )
        .await?;
        notices.push(ChangeNotice {
            id,
            kind: "environment".into(),
            product: product.clone(),
            release,
            summary,
        });
    }
    Ok(notices)
}

/// Re-derives the releases the batch touched; their `release` notices.
async fn rederive_touched(
    conn: &mut Conn,
    batch: &Batch,
    now: i64,
) -> Result<Vec<ChangeNotice>, AppError> {
    let mut notices = Vec::new();
    for (&pk, &at) in &batch.touched {
        store::releases::touch(conn, pk, at).await?;
    }
    let pks: Vec<i64> = batch.touched.keys().copied().collect();
    let rows = store::releases::by_pks(conn, &pks).await?;
    let places: Vec<(i64, i64)> = rows.iter().map(|r| (r.pk, r.product_id)).collect();
    let facts = store::facts::load_for_status(conn, rows).await?;
    for ((pk, product_id), facts) in places.into_iter().zip(facts) {
        let view = derive_release(&facts);
        store::releases::save_derived(conn, pk, product_id, &view).await?;
        let summary = change_summary(&view);
        let id = store::changes::append(
            conn,
            &view.product,
            Some(view.id),
            "release",
            &summary.to_string(),
            now,
        )
        .await?;
        notices.push(ChangeNotice {
            id,
            kind: "release".into(),
            product: view.product.clone(),
            release: Some(view.id),
            summary,
        });
    }
    Ok(notices)
}

/// Re-derives releases `pks` inside a write transaction other than ingest
/// (restart, webhook delivery) and appends their changes, as
/// `apply_events` does; `at` moves their `updated_at` (`i64::MIN`: not).
/// Returns the notices; the caller commits, then wakes the tailer.
pub(crate) async fn rederive_releases(
    conn: &mut Conn,
    pks: &[i64],
    at: i64,
    now: i64,
) -> Result<Vec<ChangeNotice>, AppError> {
    let mut batch = Batch::default();
    for &pk in pks {
        batch.touch(pk, at);
    }
    rederive(conn, &batch, now).await
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

/// The environments dashboard: every product with, per environment, the
/// version there, the release deployed there and its status. Three queries
/// whatever the number of products.
pub async fn list_products(state: &AppState) -> Result<ProductList, AppError> {
    let mut conn = state.db.pool.acquire().await.or_internal()?;
    let products = store::products::all(&mut conn).await?;
    let mut latest: HashMap<i64, store::releases::ReleaseRow> = HashMap::new();
    for row in store::releases::latest_per_product(&mut conn).await? {
        latest.insert(row.product_id, row);
    }
    let mut deployments: HashMap<i64, Vec<store::health::DeploymentRow>> = HashMap::new();
    for row in store::health::dashboard(&mut conn).await? {
        deployments.entry(row.product_id).or_default().push(row);
    }

    let mut list = Vec::with_capacity(products.len());
    for (product_id, slug) in products {
        let newest = latest.get(&product_id);
        let mut order: Vec<String> = match newest {
            Some(row) => row
                .flow()?
                .environments()
                .iter()
                .map(|e| e.name.clone())
                .collect(),
            None => Vec::new(),
        };
        let rows = deployments.remove(&product_id).unwrap_or_default();
        // Environments only older flows had, by name (rows come sorted).
        for row in &rows {
            if !order.contains(&row.environment) {
                order.push(row.environment.clone());
            }
        }
        let environments = order
            .into_iter()
            .map(|name| {
                let Some(row) = rows.iter().find(|r| r.environment == name) else {
                    return Ok(EnvOverview {
                        name,
                        version: None,
                        release: None,
                        status: None,
                    });
                };
                Ok(EnvOverview {
                    version: row.version.clone(),
                    release: Some(ReleaseRef {
                        id: row.release_id,
                        key: row.release_key.clone(),
                        status: parse_release_status(&row.release_status)?,
                    }),
                    status: row.env_status.as_deref().and_then(EnvStatus::parse),
                    name,
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        list.push(ProductOverview {
            product: slug,
            latest_release: newest
                .map(|row| {
                    Ok::<_, AppError>(ReleaseRef {
                        id: row.id,
                        key: row.release_key.clone(),
                        status: row.status()?,
                    })
                })
                .transpose()?,
            environments,
        });
    }
    Ok(ProductList { products: list })
}

fn parse_release_status(status: &str) -> Result<ReleaseStatus, AppError> {
    ReleaseStatus::parse(status)
        .ok_or_else(|| AppError::internal(format!("stored status {status:?}")))
}

/// Default and largest page size of the releases list.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// One page of the releases of `product`, newest first. 404 for an unknown
/// product; 400 naming `status`, `limit` or `cursor` when one is malformed.
pub async fn list_releases(
    state: &AppState,
    product: &str,
    query: &ReleaseQuery,
) -> Result<ReleasePage, AppError> {
    let filter = page_filter(query)?;
    let mut conn = state.db.pool.acquire().await.or_internal()?;
    let product_id = store::products::get(&mut conn, product).await?;
    let mut fetch = filter.clone();
    fetch.limit = filter.limit + 1;
    let mut rows = store::releases::page(&mut conn, product_id, &fetch).await?;
    let more = rows.len() > filter.limit as usize;
    rows.truncate(filter.limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| encode_cursor(r.id))
    } else {
        None
    };
    Ok(ReleasePage {
        releases: rows
            .into_iter()
            .map(TryFrom::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor,
    })
}

fn page_filter(query: &ReleaseQuery) -> Result<PageFilter, AppError> {
    let statuses = match query.status.as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                ReleaseStatus::parse(s.trim()).ok_or_else(|| {
                    AppError::invalid(
                        "status",
                        format!(
                            "unknown release status {s:?}: expected successful, progressing, \
                             terminated or failed"
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let limit = match query.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(AppError::invalid(
                    "limit",
                    format!("limit must be an integer from 1 to {MAX_LIMIT}, got {text:?}"),
                ))
            }
        },
    };
    let before = match query.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(cursor) => Some(
            decode_cursor(cursor)
                .ok_or_else(|| AppError::invalid("cursor", "the cursor is not one we issued"))?,
        ),
    };
    let q = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_owned);
    Ok(PageFilter {
        statuses,
        q,
        before,
        limit,
    })
}

/// Cursors are opaque to clients: a versioned id, hex-encoded.
fn encode_cursor(id: i64) -> String {
    hex::encode(format!("v1:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = hex::decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    text.strip_prefix("v1:")?
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
}

/// Release `id` of `product` with every derived status (the release page);
/// 404 when either is unknown.
pub async fn release_detail(
    state: &AppState,
    product: &str,
    id: i64,
) -> Result<ReleaseView, AppError> {
    let mut conn = state.db.pool.acquire().await.or_internal()?;
    let row = release_row(&mut conn, product, id).await?;
    let pk = row.pk;
    let facts = store::facts::load(&mut conn, vec![row]).await?;
    let mut view = facts
        .first()
        .map(derive_release)
        .ok_or_else(|| AppError::internal("release facts vanished"))?;
    view.restarts = store::restarts::of_release(&mut conn, pk).await?;
    Ok(view)
}

async fn release_row(
    conn: &mut Conn,
    product: &str,
    id: i64,
) -> Result<store::releases::ReleaseRow, AppError> {
    let product_id = store::products::get(conn, product).await?;
    store::releases::get(conn, product_id, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("product {product:?} has no release {id}")))
}

/// Most releases read to gather an environment's changes.
const NOTES_RELEASES: i64 = 200;

/// The release notes of release `id`: its changes, and per environment the
/// changes since the last older release that succeeded there. 404 when
/// unknown. Four queries whatever the number of environments.
pub async fn release_notes(
    state: &AppState,
    product: &str,
    id: i64,
) -> Result<ReleaseNotes, AppError> {
    let mut conn = state.db.pool.acquire().await.or_internal()?;
    let row = release_row(&mut conn, product, id).await?;
    let flow = row.flow()?;
    let names: Vec<String> = flow.environments().iter().map(|e| e.name.clone()).collect();
    let since: HashMap<String, Option<i64>> =
        store::releases::last_successful(&mut conn, row.product_id, id, &names)
            .await?
            .into_iter()
            .collect();
    let oldest = since.values().map(|s| s.unwrap_or(0)).min().unwrap_or(id);
    let range =
        store::releases::range(&mut conn, row.product_id, oldest, id, NOTES_RELEASES).await?;
    let mut per_release: Vec<(i64, NoteChanges)> = Vec::with_capacity(range.len());
    for release in &range {
        per_release.push((
            release.id,
            notes::release_changes(&release.commit()?, &release.changes()?),
        ));
    }
    // Releases older than the last one read were cut off.
    let cut_below = if range.len() as i64 == NOTES_RELEASES {
        range.last().map(|r| r.id)
    } else {
        None
    };

    let environments = names
        .into_iter()
        .map(|name| {
            let last = since.get(&name).copied().flatten();
            let floor = last.unwrap_or(0);
            let mut changes = NoteChanges::default();
            let mut releases = Vec::new();
            for (release, notes) in per_release.iter().filter(|(r, _)| *r > floor) {
                releases.push(*release);
                notes::merge(&mut changes, notes.clone());
            }
            EnvNotes {
                since: last,
                releases,
                truncated: cut_below.is_some_and(|cut| cut > floor + 1),
                changes,
                name,
            }
        })
        .collect();
    Ok(ReleaseNotes {
        product: row.product.clone(),
        release: row.id,
        key: row.release_key.clone(),
        commit: row.commit()?,
        changes: notes::release_changes(&row.commit()?, &row.changes()?),
        environments,
    })
}

/// Sets the orchestrator webhook of `product` (404 if unknown). The URL
/// must be http(s); the secret is stored and never returned or logged.
pub async fn set_webhook(
    state: &AppState,
    product: &str,
    url: &str,
    secret: &str,
) -> Result<(), AppError> {
    let parsed_scheme = url.split_once("://");
    match parsed_scheme {
        Some(("http" | "https", rest))
            if !rest.is_empty() && !rest.contains(char::is_whitespace) => {}
        _ => {
            return Err(AppError::invalid(
                "url",
                "the webhook URL must be an absolute http:// or https:// URL",
            ))
        }
    }
    if url.len() > 2048 {
        return Err(AppError::invalid(
            "url",
            "the webhook URL is longer than 2048 bytes",
        ));
    }
    if secret.is_empty() || secret.len() > 1024 {
        return Err(AppError::invalid(
            "secret",
            "the secret must be 1 to 1024 bytes long",
        ));
    }
    let _writer = state.writer().await;
    let mut conn = state.db.pool.acquire().await.or_internal()?;
    let product_id = store::products::get(&mut conn, product).await?;
    store::webhooks::put(
        &mut conn,
        product_id,
        url,
        secret,
        Utc::now().timestamp_millis(),
    )
    .await
}

/// Removes the orchestrator webhook of `product` (404 if the product is unknown).
pub async fn delete_webhook(state: &AppState, product: &str) -> Result<(), AppError> {
    let _writer = state.writer().await;
    let mut conn = state.db.pool.acquire().await.or_internal()?;
    let product_id = store::products::get(&mut conn, product).await?;
    store::webhooks::delete(&mut conn, product_id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor(&hex::encode("v1:-3")), None);
        assert_eq!(decode_cursor(&hex::encode("v2:3")), None);
    }

    #[test]
    fn page_filter_validates_each_parameter() {
        let query = |status: &str, limit: &str, cursor: &str| ReleaseQuery {
            status: Some(status.into()),
            q: Some("  ".into()),
            cursor: Some(cursor.into()),
            limit: Some(limit.into()),
        };
        let filter = page_filter(&query("failed,terminated", "10", "")).expect("valid");
        assert_eq!(
            filter.statuses,
            [ReleaseStatus::Failed, ReleaseStatus::Terminated]
        );
        assert_eq!(filter.limit, 10);
        assert_eq!(filter.q, None);
        for (bad, field) in [
            (query("done", "", ""), "status"),
            (query("", "0", ""), "limit"),
            (query("", "201", ""), "limit"),
            (query("", "ten", ""), "limit"),
            (query("", "", "nope"), "cursor"),
        ] {
            match page_filter(&bad) {
                Err(AppError::Invalid { field: Some(f), .. }) => assert_eq!(f, field),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
