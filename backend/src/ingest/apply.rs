//! Applying the validated events of one ingest request (SPEC §4.2) in one
//! write transaction, all or nothing: the IO shell around the domain's
//! ingest fold (`domain::ingest::Snapshot`).
//!
//! A request is a unit of work. It loads once what its events need
//! (`Needs`): their products and releases with every run and the current
//! attempts, the unfinished runs of the groups its new runs join, the
//! deployments of their environments and the health times of their
//! applications. The fold applies the events to that snapshot in memory and
//! says what changed; the effects are written with a few multi-row
//! statements, and the touched releases are re-derived from the same state
//! (`Write::rederive`). What a committed write leaves of the releases it
//! held whole — their flows and runs — is kept in memory (`RunsCache`),
//! so the next write to them reads their rows but not all their runs
//! again. Only this transaction writes while it runs (the
//! writer lock, and the advisory lock on PostgreSQL), so what it read stays
//! true until the commit; and a batch costs a few round trips to the
//! database rather than several per event.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Utc;
use domain::ingest::{Deployment, Effect, Needs, ReleaseId, RunKey, Snapshot};
use domain::{AppError, RunFact};

use super::merge::{Merge, Reports};
use super::{Command, Event, IngestOutcome};
use crate::runs_cache::{Held, RunsCache};
use crate::state::Core;
use crate::store::releases::NewRelease;
use crate::store::runs::{NewRun, RunStatusFact, RunWrite};
use crate::store::{self, millis, Conn};
use crate::write::{Changed, Rederived, Write};

/// Applies validated events in one transaction (all or none), then
/// publishes the changes. Fails with 400 when an event names an unknown
/// release or an environment outside its flow, with 500 when the database
/// fails; either way nothing is stored.
#[tracing::instrument(skip_all, fields(events = events.len()))]
pub async fn apply_events(core: &Core, events: Vec<Event>) -> Result<IngestOutcome, AppError> {
    Ok(apply_merging(core, events, &[]).await?.0)
}

/// `apply_events`, with the events at the indices of `merges` merged into
/// the runs they report part of (`Merge`), in the same transaction. Also
/// says how many step reports were left out: those of a run not reported
/// yet (`Reports::prepare`).
#[tracing::instrument(skip_all, fields(events = events.len(), merges = merges.len()))]
pub async fn apply_merging(
    core: &Core,
    mut events: Vec<Event>,
    merges: &[(usize, Merge)],
) -> Result<(IngestOutcome, usize), AppError> {
    let mut write = Write::begin(core).await?;
    let tx = write.conn()?;
    let now = Utc::now().timestamp_millis();
    configured_flows(tx, &mut events).await?;
    let (reports, left_out) = Reports::prepare(tx, &mut events, merges).await?;
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
    drop(records);
    reports.merge(&mut events, &fresh)?;
    let (mut snapshot, mut ids) = load(tx, &core.runs_cache, &events).await?;
    let mut effects = Vec::new();
    for (event, fresh) in events.iter().zip(fresh) {
        effects.extend(snapshot.apply(event, fresh)?);
    }
    let (changed, mut held) = store_effects(tx, &snapshot, &mut ids, effects, now).await?;
    let touched: Vec<i64> = changed.touched.keys().copied().collect();
    let Rederived {
        tags,
        mut known_runs,
    } = write.rederive(changed, now).await?;
    write.commit().await?;
    // Durable: what the next write to these releases reads.
    for pk in touched {
        let entry = held
            .remove(&pk)
            .zip(known_runs.remove(&pk))
            .and_then(|(whole, runs)| whole.with(pk, runs));
        match (entry, tags.get(&pk)) {
            (Some(entry), Some(&tag)) => core.runs_cache.put(pk, tag, entry),
            _ => core.runs_cache.forget(pk),
        }
    }
    Ok((snapshot.into_outcome(), left_out))
}

/// Gives each `release.created` without a `flow` its product's configured
/// flow (SPEC §4.6), read in this transaction; one without either is
/// refused by the fold (422, `flow`).
async fn configured_flows(conn: &mut Conn, events: &mut [Event]) -> Result<(), AppError> {
    let flowless = |event: &Event| match &event.command {
        Command::ReleaseCreated(created) if created.flow.is_none() => Some(created.product.clone()),
        _ => None,
    };
    let products: BTreeSet<String> = events.iter().filter_map(flowless).collect();
    if products.is_empty() {
        return Ok(());
    }
    let slugs: Vec<&str> = products.iter().map(String::as_str).collect();
    let mut flows: HashMap<String, domain::Flow> = HashMap::new();
    for (slug, json) in store::products::flows(conn, &slugs).await? {
        flows.insert(slug, store::from_json(&json)?);
    }
    for event in events {
        if let Command::ReleaseCreated(created) = &mut event.command {
            if created.flow.is_none() {
                created.flow = flows.get(&created.product).cloned();
            }
        }
    }
    Ok(())
}

/// The store's names for what the fold names by product slug and release
/// id: product ids, release pks and run seqs.
#[derive(Default)]
struct Ids {
    products: HashMap<String, i64>,
    releases: HashMap<ReleaseId, i64>,
    runs: HashMap<RunKey, i64>,
    /// The flows of the stored releases an event names, by pk.
    flows: HashMap<i64, Arc<domain::Flow>>,
}

impl Ids {
    fn product(&self, slug: &str) -> Result<i64, AppError> {
        self.products
            .get(slug)
            .copied()
            .ok_or_else(|| AppError::internal(format!("product {slug:?} has no id")))
    }

    fn release(&self, release: &ReleaseId) -> Result<i64, AppError> {
        self.releases.get(release).copied().ok_or_else(|| {
            AppError::internal(format!(
                "release {} of {:?} has no pk",
                release.1, release.0
            ))
        })
    }

    fn run(&self, run: &RunKey) -> Result<i64, AppError> {
        self.runs
            .get(run)
            .copied()
            .ok_or_else(|| AppError::internal(format!("run {:?} has no seq", run.2)))
    }
}

/// A release the write holds whole, but for its runs (lent to the
/// re-derivation, which gives them back): its flow, and the time of each
/// run's snapshot in `seq` order.
struct HeldWhole {
    flow: Arc<domain::Flow>,
    snapshot_times: Vec<i64>,
}

impl HeldWhole {
    /// What the cache holds of release `pk`, with its `runs` back.
    fn with(self, pk: i64, runs: Vec<RunFact>) -> Option<Held> {
        if runs.len() != self.snapshot_times.len() {
            return None;
        }
        let runs = runs
            .into_iter()
            .zip(self.snapshot_times)
            .map(|(fact, snapshot_time)| RunStatusFact {
                release_pk: pk,
                snapshot_time,
                fact,
            })
            .collect();
        Some(Held {
            flow: self.flow,
            runs,
        })
    }
}

/// Loads the snapshot `events` need. One query per product named and per
/// group a new run joins, and a few more, whatever the number of events.
/// The flow and runs of a release written since come from `cache` (taken
/// out) when it holds them at the release's current change.
async fn load<'e>(
    conn: &mut Conn,
    cache: &RunsCache,
    events: &'e [Event],
) -> Result<(Snapshot<'e>, Ids), AppError> {
    let needs = Needs::of(events);
    let mut snapshot = Snapshot::new();
    let mut ids = Ids::default();
    let slugs: Vec<&str> = needs.products.iter().map(String::as_str).collect();
    for (id, slug, last_release_id) in store::products::find_all(conn, &slugs).await? {
        snapshot.add_product(&slug, last_release_id);
        ids.products.insert(slug, id);
    }

    let mut by_pk: HashMap<i64, ReleaseId> = HashMap::new();
    let mut runs: Vec<RunStatusFact> = Vec::new();
    let mut unread: Vec<i64> = Vec::new();
    for (product, keys) in &needs.releases {
        if !ids.products.contains_key(product) {
            continue;
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        for target in store::releases::find_keys(conn, product, &keys).await? {
            let release: ReleaseId = (product.clone(), target.id);
            let flow = match cache.take(target.pk, target.last_change_id) {
                Some(Held { flow, runs: held }) => {
                    runs.extend(held);
                    flow
                }
                None => {
                    unread.push(target.pk);
                    Arc::new(store::from_json(&target.flow)?)
                }
            };
            snapshot.add_release(product, &target.release_key, target.id, flow.clone());
            ids.flows.insert(target.pk, flow);
            by_pk.insert(target.pk, release.clone());
            ids.releases.insert(release, target.pk);
        }
    }
    // Every run in arrival order, as the store gives them.
    runs.extend(store::runs::statuses_of_releases(conn, &unread).await?);
    runs.sort_by_key(|run| run.fact.seq);
    let pks: Vec<i64> = by_pk.keys().copied().collect();
    for stored in runs {
        let Some((product, release)) = by_pk.get(&stored.release_pk) else {
            continue;
        };
        ids.runs.insert(
            (product.clone(), *release, stored.fact.id.clone()),
            stored.fact.seq,
        );
        snapshot.add_run(product, *release, stored.fact, stored.snapshot_time);
    }
    for (pk, environment, attempt) in store::runs::attempts_of(conn, &pks).await? {
        if let Some((product, release)) = by_pk.get(&pk) {
            snapshot.add_attempt(product, *release, &environment, attempt);
        }
    }

    // The other supersede candidates, for the groups a new run joins.
    for group in snapshot.groups_with_new_runs(events) {
        let Some(&product_id) = ids.products.get(&group.product) else {
            continue;
        };
        for run in store::runs::unfinished_in(conn, product_id, &group).await? {
            ids.releases
                .insert((group.product.clone(), run.release_id), run.release_pk);
            ids.runs.insert(
                (group.product.clone(), run.release_id, run.run_id.clone()),
                run.seq,
            );
            snapshot.add_unfinished(&group, run.release_id, &run.run_id, run.status);
        }
    }

    let mut environments: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (product, environment) in &needs.deployments {
        environments
            .entry(product.as_str())
            .or_default()
            .push(environment.as_str());
    }
    for (product, environments) in environments {
        let Some(&product_id) = ids.products.get(product) else {
            continue;
        };
        for row in store::health::deployments_of(conn, product_id, &environments).await? {
            ids.releases
                .insert((product.to_owned(), row.release_id), row.release_pk);
            snapshot.add_deployment(product, &row.environment, row.deployment());
        }
        for (environment, application, time) in
            store::health::report_times(conn, product_id, &environments).await?
        {
            snapshot.add_health(product, &environment, &application, time);
        }
    }
    Ok((snapshot, ids))
}

/// Writes what the fold's `effects` ask for, in the order the store needs
/// (products, releases, deployments, runs, records, health), and says what
/// changed for `Write::rederive`.
async fn store_effects<'e>(
    conn: &mut Conn,
    snapshot: &Snapshot<'e>,
    ids: &mut Ids,
    effects: Vec<Effect<'e>>,
    now: i64,
) -> Result<(Changed, HashMap<i64, HeldWhole>), AppError> {
    let mut changed = Changed::default();
    let mut deployments: BTreeMap<(String, String), (Deployment, Option<String>)> = BTreeMap::new();
    let mut new_runs: Vec<RunKey> = Vec::new();
    let mut known_runs: BTreeSet<RunKey> = BTreeSet::new();
    let mut others: BTreeMap<RunKey, i64> = BTreeMap::new();
    let mut touched: BTreeMap<ReleaseId, Option<i64>> = BTreeMap::new();
    let mut environments: BTreeSet<(String, String)> = BTreeSet::new();
    let mut records = Vec::new();

    for effect in effects {
        match effect {
            Effect::ProductCreated { product } => {
                let id = store::products::insert(conn, &product, now).await?;
                ids.products.insert(product.clone(), id);
                changed.new_products.insert(product);
            }
            Effect::ReleaseCreated {
                product,
                id,
                created,
                flow,
                at,
            } => {
                let product_id = ids.product(&product)?;
                let pk = store::releases::insert(
                    conn,
                    NewRelease {
                        product_id,
                        id,
                        key: &created.release,
                        flow,
                        commit: &created.commit,
                        version: created.version.as_deref(),
                        changes: &created.changes,
                        created_at: at,
                    },
                )
                .await?;
                store::products::set_last_release_id(conn, product_id, id).await?;
                ids.releases.insert((product, id), pk);
            }
            Effect::DeploymentChanged {
                product,
                environment,
                deployment,
                version,
            } => {
                let entry = deployments
                    .entry((product, environment))
                    .or_insert((deployment, None));
                entry.0 = deployment;
                if version.is_some() {
                    entry.1 = version;
                }
            }
            Effect::RunChanged { run, new } => {
                if new {
                    if !new_runs.contains(&run) {
                        new_runs.push(run);
                    }
                } else {
                    known_runs.insert(run);
                }
            }
            Effect::OtherRunSuperseded { run, by } => {
                others.insert(run, by);
            }
            record @ (Effect::PromotionRecorded { .. }
            | Effect::GitErrorRecorded { .. }
            | Effect::HealthReported { .. }) => records.push(record),
            Effect::ReleaseTouched { release, at } => {
                let entry = touched.entry(release).or_insert(at);
                *entry = (*entry).max(at);
            }
            Effect::EnvironmentChanged {
                product,
                environment,
            } => {
                environments.insert((product, environment));
            }
        }
    }

    // Deployments, then the versions shown there.
    let mut deployed = Vec::with_capacity(deployments.len());
    let mut versions = Vec::new();
    for ((product, environment), (deployment, version)) in &deployments {
        let product_id = ids.product(product)?;
        if let Some(release) = deployment.release {
            deployed.push((product_id, environment.as_str(), release));
        }
        if let (Some(version), Some(mark)) = (version, deployment.version) {
            versions.push((
                product_id,
                environment.as_str(),
                version.as_str(),
                mark.release,
                mark.time,
            ));
        }
    }
    store::health::save_deployments(conn, &deployed).await?;
    store::health::save_versions(conn, &versions).await?;

    // New runs in the order first reported (their arrival order), then the
    // new snapshots of known runs and the supersede marks.
    let mut inserts = Vec::with_capacity(new_runs.len());
    for key in &new_runs {
        let (fact, snapshot_of, snapshot_time) = snapshot
            .run(key)
            .ok_or_else(|| AppError::internal(format!("new run {:?} is not held", key.2)))?;
        let update = snapshot_of
            .ok_or_else(|| AppError::internal(format!("new run {:?} has no snapshot", key.2)))?;
        let release = (key.0.clone(), key.1);
        inserts.push(NewRun {
            release_pk: ids.release(&release)?,
            product_id: ids.product(&key.0)?,
            release_id: key.1,
            run_id: &fact.id,
            environment: &fact.environment,
            phase: fact.phase,
            workflow: &fact.workflow,
            application: &fact.application,
            attempt: fact.attempt,
            write: RunWrite {
                run: &update.run,
                steps: &update.steps,
                snapshot_time,
                superseded_by: fact.superseded_by,
            },
        });
    }
    let stored = store::runs::insert_all(conn, &inserts).await?;
    if stored.len() != inserts.len() {
        return Err(AppError::internal(format!(
            "{} new runs, {} stored",
            inserts.len(),
            stored.len()
        )));
    }
    drop(inserts);
    for (key, (_, _, seq)) in new_runs.iter().zip(stored) {
        ids.runs.insert(key.clone(), seq);
    }
    let mut updated = Vec::new();
    let mut superseded = Vec::new();
    for key in &known_runs {
        let (fact, snapshot_of, snapshot_time) = snapshot
            .run(key)
            .ok_or_else(|| AppError::internal(format!("run {:?} is not held", key.2)))?;
        let seq = ids.run(key)?;
        match snapshot_of {
            Some(update) => updated.push((
                seq,
                RunWrite {
                    run: &update.run,
                    steps: &update.steps,
                    snapshot_time,
                    superseded_by: fact.superseded_by,
                },
            )),
            None => {
                if let Some(by) = fact.superseded_by {
                    superseded.push((seq, by));
                }
            }
        }
    }
    for (key, by) in &others {
        superseded.push((ids.run(key)?, *by));
    }
    updated.sort_by_key(|(seq, _)| *seq);
    superseded.sort_unstable();
    store::runs::update_all(conn, &updated).await?;
    store::runs::supersede_all(conn, &superseded).await?;

    for record in records {
        match record {
            Effect::PromotionRecorded {
                release,
                promoted,
                at,
                attempt,
            } => {
                store::facts::insert_promotion(conn, ids.release(&release)?, promoted, at, attempt)
                    .await?;
            }
            Effect::GitErrorRecorded {
                release,
                failed,
                at,
                attempt,
            } => {
                store::facts::insert_git_error(conn, ids.release(&release)?, failed, at, attempt)
                    .await?;
            }
            Effect::HealthReported { health, at } => {
                store::health::save_report(conn, ids.product(&health.product)?, health, at).await?;
            }
            _ => {}
        }
    }

    for (product, environment) in environments {
        let product_id = ids.product(&product)?;
        let release = snapshot.deployed(&product, &environment);
        changed
            .environments
            .insert((product, environment), (product_id, release));
    }
    // The runs of each touched release held whole, as the store now holds
    // them: for the re-derivation, and for the next write (`RunsCache`).
    let mut held = HashMap::new();
    for (release, at) in touched {
        let pk = ids.release(&release)?;
        changed.touch(pk, at.unwrap_or(i64::MIN));
        if !snapshot.holds(&release) {
            continue;
        }
        let (runs, snapshot_times) = stored_runs(snapshot, ids, &release)?.into_iter().unzip();
        changed.known_runs.insert(pk, runs);
        if let Some(flow) = ids.flows.get(&pk) {
            let flow = flow.clone();
            held.insert(
                pk,
                HeldWhole {
                    flow,
                    snapshot_times,
                },
            );
        }
    }
    Ok((changed, held))
}

/// Every run of `release`, which the snapshot holds whole, as the store
/// gives it back after this write (`store::runs::statuses_of_releases`):
/// in `seq` order, as status derivation reads it (`RunFact::for_status`),
/// its times to the millisecond; with the time of its snapshot.
fn stored_runs(
    snapshot: &Snapshot<'_>,
    ids: &Ids,
    release: &ReleaseId,
) -> Result<Vec<(RunFact, i64)>, AppError> {
    let mut runs = Vec::new();
    for (fact, snapshot_time) in snapshot.runs_of(release) {
        let mut fact = fact.for_status();
        if fact.seq == 0 {
            fact.seq = ids.run(&(release.0.clone(), release.1, fact.id.clone()))?;
        }
        fact.started_at = store::opt_time(fact.started_at.map(millis))?;
        runs.push((fact, snapshot_time));
    }
    runs.sort_by_key(|(run, _)| run.seq);
    Ok(runs)
}
