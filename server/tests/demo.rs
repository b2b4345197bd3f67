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
    let db = Db::connect(&format!("sqlite://{}/demo.db", dir.path().display()))
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
    let events = demo::history(5, fixed_now(), 40);
    demo::seed(&state, &events).await.expect("seed");

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
