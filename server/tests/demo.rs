//! The demo data: deterministic for a seed, and every seeded release, when
//! derived again from its stored facts, agrees with what was stored.

use backend::db::Db;
use backend::read;
use backend::{Core, Settings};
use chrono::{DateTime, Utc};
use domain::ReleaseQuery;
use server::demo::{self, catalog::PRODUCTS};

fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

#[test]
fn seeding_is_deterministic_for_a_seed() {
    let a = demo::history(11, fixed_now(), 20);
    let b = demo::history(11, fixed_now(), 20);
    assert_eq!(a, b);
    assert_ne!(a, demo::history(12, fixed_now(), 20));
    let created = a.iter().filter(|e| e["type"] == "release.created").count();
    assert_eq!(created, 20 * PRODUCTS.len());
    // All of it happened in the past.
    for event in &a {
        let time = event["time"].as_str().expect("time");
        let time = DateTime::parse_from_rfc3339(time).expect("rfc3339");
        assert!(time <= fixed_now(), "{time} is in the future");
    }
}

#[tokio::test]
async fn every_seeded_release_agrees_with_its_rederived_view() {
    let dir = tempfile::tempdir().expect("dir");
    let state = seeded(dir.path(), "demo", &demo::history(5, fixed_now(), 40)).await;

    let mut statuses = std::collections::BTreeSet::new();
    for product in PRODUCTS {
        let query = ReleaseQuery {
            limit: Some("200".into()),
            ..Default::default()
        };
        let page = read::list_releases(&state, product.slug, &query)
            .await
            .expect("list");
        assert_eq!(page.releases.len(), 40, "{}", product.slug);
        for summary in &page.releases {
            let detail = read::release_detail(&state, product.slug, summary.id)
                .await
                .expect("detail");
            let fresh = detail.summary();
            assert_eq!(
                summary.status, fresh.status,
                "{} #{}",
                product.slug, summary.id
            );
            assert_eq!(
                summary.environments, fresh.environments,
                "{} #{}",
                product.slug, summary.id
            );
            assert_eq!(
                summary.superseded_by, fresh.superseded_by,
                "{} #{}",
                product.slug, summary.id
            );
            statuses.insert(summary.status.as_str());
        }
    }
    for expected in ["successful", "failed", "terminated"] {
        assert!(
            statuses.contains(expected),
            "no {expected} release in {statuses:?}"
        );
    }
}

/// A database of its own for `events`.
async fn seeded(dir: &std::path::Path, name: &str, events: &[serde_json::Value]) -> Core {
    let db = Db::connect(&format!("sqlite://{}/{name}.db", dir.display()))
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    let state = Core::new(
        db,
        Settings {
            anonymous_read: true,
            streams: Default::default(),
        },
    );
    demo::seed(&state, events).await.expect("seed");
    state
}

#[tokio::test]
async fn the_simulator_through_the_adapters_shows_what_its_cloudevents_show() {
    use demo::engine::Engine;
    use demo::native::{through_adapters, ARGO_PRODUCT};
    use rand::Rng;

    // Forty simulated minutes of the live simulator, with health changes.
    let mut engine = Engine::new(9, "releases-demo/test", false, 1.0);
    let mut now = fixed_now();
    let mut events = Vec::new();
    for tick in 0..240 {
        if tick % 3 == 0 {
            let product = engine.rng().random_range(0..PRODUCTS.len());
            events.extend(engine.start_release(product, now));
        }
        events.extend(engine.tick(now));
        if tick % 20 == 0 {
            let def = &PRODUCTS[tick / 20 % PRODUCTS.len()];
            let health = if tick % 40 == 0 {
                "degraded"
            } else {
                "healthy"
            };
            events.push(engine.health(
                tick / 20 % PRODUCTS.len(),
                def.environments[1].name,
                def.applications[0],
                health,
                now,
            ));
        }
        now += chrono::Duration::seconds(10);
    }
    let adapted: Vec<serde_json::Value> = events
        .iter()
        .cloned()
        .map(through_adapters)
        .collect::<Result<Vec<_>, _>>()
        .expect("every simulated object maps")
        .into_iter()
        .flatten()
        .collect();
    let from_adapters = adapted
        .iter()
        .filter(|e| {
            e["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("adapters/"))
        })
        .count();
    assert!(
        from_adapters > 20,
        "{from_adapters} events through the adapters"
    );

    let dir = tempfile::tempdir().expect("dir");
    let plain = seeded(dir.path(), "plain", &events).await;
    let native = seeded(dir.path(), "native", &adapted).await;
    let mut runs = 0;
    for product in PRODUCTS {
        let query = ReleaseQuery {
            limit: Some("200".into()),
            ..Default::default()
        };
        let a = read::list_releases(&plain, product.slug, &query)
            .await
            .expect("list");
        let b = read::list_releases(&native, product.slug, &query)
            .await
            .expect("list");
        assert_eq!(a.releases.len(), b.releases.len(), "{}", product.slug);
        for (a, b) in a.releases.iter().zip(&b.releases) {
            assert_eq!(
                (a.status, &a.environments),
                (b.status, &b.environments),
                "{} #{}",
                product.slug,
                a.id
            );
            if product.slug != ARGO_PRODUCT {
                continue;
            }
            let a = read::release_detail(&plain, product.slug, a.id)
                .await
                .expect("detail");
            let b = read::release_detail(&native, product.slug, b.id)
                .await
                .expect("detail");
            for (a, b) in a.environments.iter().zip(&b.environments) {
                assert_eq!(a.runs.len(), b.runs.len());
                for (a, b) in a.runs.iter().zip(&b.runs) {
                    runs += 1;
                    assert_eq!(
                        (a.status, &a.workflow, &a.url),
                        (b.status, &b.workflow, &b.url)
                    );
                    let steps = |run: &domain::RunView| {
                        run.steps
                            .iter()
                            // A stopped node carries Argo's own message.
                            .map(|s| {
                                let stopped = s.status == domain::RunStatus::Terminated;
                                (
                                    s.name.clone(),
                                    s.status,
                                    s.message.clone().filter(|_| !stopped),
                                )
                            })
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(steps(a), steps(b), "run {}", a.id);
                }
            }
        }
    }
    assert!(runs > 0, "no {ARGO_PRODUCT} run was simulated");
}
