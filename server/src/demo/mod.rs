//! `server demo`: a believable organisation whose promotions happen right
//! now. On an empty database it first writes 60 days of history; then a
//! simulator keeps starting releases and moving them through their flows.
//! Every event goes through the same ingest path as `POST /api/v1/events`
//! (parsed and validated as CloudEvents, then `ingest::apply_events`):
//! the demo exercises the real product and never writes tables itself. The
//! live simulator reports part of it as the engines' own objects, through
//! the adapters (`native`).

pub mod catalog;
pub mod engine;
pub mod native;

use std::time::Duration as StdDuration;

use backend::ingest::{self, parse_event};
use backend::read;
use backend::Core;
use chrono::{DateTime, Duration, Utc};
use domain::AppError;
use domain::RestartRequested;
use rand::Rng;
use serde_json::Value;
use tokio::sync::broadcast;

use catalog::PRODUCTS;
use engine::Engine;

/// `--seed` and `--speed` of `server demo`.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Makes the seeded history (and the simulator's choices) deterministic.
    pub seed: u64,
    /// How much faster than real time the simulator runs (1 = real time).
    pub speed: f64,
}

/// Releases of history per product.
pub const HISTORY_RELEASES: usize = 300;
/// The span of the history, ending now.
const HISTORY_DAYS: i64 = 60;
/// Events per ingest call while seeding (a batch request's worth).
const SEED_BATCH: usize = 500;

/// Whether the database needs the history written: it holds no product
/// yet. Refuses a database that holds products the demo does not know, so
/// demo data never mixes with real data.
pub async fn needs_history(state: &Core) -> Result<bool, String> {
    let existing = read::list_products(state).await.map_err(describe)?;
    if let Some(foreign) = existing
        .products
        .iter()
        .find(|p| !PRODUCTS.iter().any(|d| d.slug == p.product))
    {
        return Err(format!(
            "this database holds product {:?}, which is not demo data: give `demo` its own --database-url",
            foreign.product
        ));
    }
    Ok(existing.products.is_empty())
}

/// Runs the demo in the background: writes the history first when
/// `with_history`, then the live simulator. The pages show the history as
/// it arrives.
pub async fn run(state: Core, options: DemoOptions, with_history: bool) {
    if with_history {
        tracing::info!(
            seed = options.seed,
            "seeding {} releases of demo history",
            HISTORY_RELEASES * PRODUCTS.len()
        );
        let started = std::time::Instant::now();
        let events = history(options.seed, Utc::now(), HISTORY_RELEASES);
        match seed(&state, &events).await {
            Ok(count) => tracing::info!(
                events = count,
                seconds = started.elapsed().as_secs_f64(),
                "demo history seeded"
            ),
            Err(error) => {
                tracing::error!(error = %describe(error), "the demo history was rejected");
                return;
            }
        }
    }
    simulate(state, options).await;
}

/// Ingests `events` in batches of a request's size; returns how many.
pub async fn seed(state: &Core, events: &[Value]) -> Result<usize, AppError> {
    for batch in events.chunks(SEED_BATCH) {
        ingest(state, batch).await?;
    }
    Ok(events.len())
}

/// The seeded history: `per_product` releases of each product over the last
/// `HISTORY_DAYS` days before `now`, every one run to its end, plus the
/// current health of the applications. Deterministic for `seed` and `now`.
pub fn history(seed: u64, now: DateTime<Utc>, per_product: usize) -> Vec<Value> {
    let mut engine = Engine::new(seed, format!("releases-demo/seed-{seed}"), true, 25.0);
    let start = now - Duration::days(HISTORY_DAYS);
    let spacing = Duration::days(HISTORY_DAYS).num_seconds() / per_product.max(1) as i64;

    let mut schedule: Vec<(DateTime<Utc>, usize)> = Vec::new();
    for product in 0..PRODUCTS.len() {
        let mut at = start + Duration::seconds(engine.rng().random_range(0..spacing));
        for _ in 0..per_product {
            schedule.push((at, product));
            // Now and then a release follows closely and supersedes the last.
            at += if engine.rng().random_bool(0.08) {
                Duration::minutes(engine.rng().random_range(3..12))
            } else {
                Duration::seconds(engine.rng().random_range(spacing / 2..spacing * 3 / 2))
            };
        }
    }
    schedule.sort_by_key(|(at, product)| (*at, *product));
    // The newest releases end before `now`.
    let end = now - Duration::hours(2);
    let first = schedule.first().map(|(at, _)| *at).unwrap_or(start);
    let last = schedule.last().map(|(at, _)| *at).unwrap_or(end);
    let scale = (end - first).num_seconds() as f64 / (last - first).num_seconds().max(1) as f64;
    let schedule: Vec<(DateTime<Utc>, usize)> = schedule
        .into_iter()
        .map(|(at, product)| {
            (
                first + Duration::seconds(((at - first).num_seconds() as f64 * scale) as i64),
                product,
            )
        })
        .collect();

    let mut events = Vec::new();
    let mut next = 0;
    let mut clock = first;
    let tick = Duration::seconds(20);
    while next < schedule.len() || engine.active_count() > 0 {
        while next < schedule.len() && schedule[next].0 <= clock {
            events.extend(engine.start_release(schedule[next].1, clock));
            next += 1;
        }
        events.extend(engine.tick(clock));
        clock = if engine.active_count() == 0 && next < schedule.len() {
            schedule[next].0.max(clock + tick)
        } else {
            clock + tick
        };
    }
    // A few applications are unwell right now.
    for (product, env, app) in [
        (0, "prod", "checkout-api"),
        (2, "eu-prod", "catalog-api"),
        (3, "prod-us-2", "rate-limiter"),
    ] {
        events.push(engine.health(product, env, app, "degraded", now - Duration::minutes(20)));
    }
    events
}

/// Runs the live simulator until the process ends: a new release every 20–40
/// seconds (divided by `speed`) across the products, steps progressing over
/// seconds, failures, supersedes and flapping application health.
pub async fn simulate(state: Core, options: DemoOptions) {
    let speed = if options.speed.is_finite() && options.speed > 0.0 {
        options.speed
    } else {
        1.0
    };
    let started = Utc::now();
    let mut engine = Engine::new(
        options.seed ^ started.timestamp_millis() as u64,
        format!("releases-demo/live-{}", started.timestamp_millis()),
        false,
        1.0 / speed,
    );
    for (index, product) in PRODUCTS.iter().enumerate() {
        if let Ok(page) = read::list_releases(&state, product.slug, &Default::default()).await {
            if let Some(newest) = page.releases.first() {
                engine.resume_after(index, newest.id.max(0) as u64);
            }
        }
    }
    let scaled = |seconds: f64| Duration::milliseconds((seconds * 1000.0 / speed) as i64);
    let mut next_release = Utc::now() + scaled(2.0);
    let mut next_health = Utc::now() + scaled(60.0);
    let mut recoveries: Vec<(DateTime<Utc>, usize, &'static str, &'static str)> = Vec::new();
    // The simulated orchestrator hears of restarts as the webhook would
    // tell a real one: the same `release.restart_requested` payload.
    let mut restarts = state.restarts.subscribe();
    let mut interval =
        tokio::time::interval(StdDuration::from_millis((1000.0 / speed.max(1.0)) as u64));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = Utc::now();
        let mut events = Vec::new();
        loop {
            match restarts.try_recv() {
                Ok(request) => honour_restart(&state, &mut engine, &request).await,
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the demo simulator missed restarts");
                }
                Err(_) => break,
            }
        }
        if now >= next_release {
            let product = pick_product(&mut engine);
            events.extend(engine.start_release(product, now));
            next_release = now + scaled(engine.rng().random_range(20.0..40.0));
        }
        events.extend(engine.tick(now));
        if now >= next_health {
            let product = engine.rng().random_range(0..PRODUCTS.len());
            let def = &PRODUCTS[product];
            let env = def.environments[engine.rng().random_range(1..def.environments.len())].name;
            let app = def.applications[engine.rng().random_range(0..def.applications.len())];
            events.push(engine.health(product, env, app, "degraded", now));
            recoveries.push((
                now + scaled(engine.rng().random_range(30.0..90.0)),
                product,
                env,
                app,
            ));
            next_health = now + scaled(engine.rng().random_range(90.0..180.0));
        }
        let (due, later): (Vec<_>, Vec<_>) =
            recoveries.into_iter().partition(|(at, ..)| *at <= now);
        recoveries = later;
        for (_, product, env, app) in due {
            events.push(engine.health(product, env, app, "healthy", now));
        }
        let mut mapped = Vec::with_capacity(events.len());
        for event in events {
            match native::through_adapters(event) {
                Ok(events) => mapped.extend(events),
                Err(error) => tracing::warn!(%error, "an adapter refused a simulated object"),
            }
        }
        if let Err(error) = ingest(&state, &mapped).await {
            tracing::warn!(%error, "the demo simulator's events were rejected");
        }
    }
}

/// Re-runs what a restart of a demo release reopened.
async fn honour_restart(state: &Core, engine: &mut Engine, request: &RestartRequested) {
    let Some(product) = PRODUCTS.iter().position(|p| p.slug == request.product) else {
        return;
    };
    let version = match read::release_detail(state, &request.product, request.release).await {
        Ok(view) => view.version.unwrap_or_default(),
        Err(error) => {
            tracing::warn!(%error, "the demo simulator cannot read a restarted release");
            return;
        }
    };
    engine.restart(
        product,
        &request.release_key,
        &version,
        &request.environments,
    );
}

/// Usually a product with nothing moving; now and then one that has, so the
/// newer release supersedes the older.
fn pick_product(engine: &mut Engine) -> usize {
    let idle: Vec<usize> = (0..PRODUCTS.len())
        .filter(|p| !engine.is_active(*p))
        .collect();
    if idle.is_empty() || engine.rng().random_bool(0.15) {
        engine.rng().random_range(0..PRODUCTS.len())
    } else {
        idle[engine.rng().random_range(0..idle.len())]
    }
}

/// Parses `events` as the ingest endpoint does and applies them.
async fn ingest(state: &Core, events: &[Value]) -> Result<(), AppError> {
    if events.is_empty() {
        return Ok(());
    }
    let parsed = events
        .iter()
        .enumerate()
        .map(|(i, event)| parse_event(event, format!("events[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    ingest::apply_events(state, parsed).await.map(|_| ())
}

fn describe(error: AppError) -> String {
    match error {
        AppError::Invalid { field, message } => {
            format!("{message} (at {})", field.unwrap_or_default())
        }
        other => other.to_string(),
    }
}
