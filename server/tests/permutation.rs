//! Properties of ingest on SQLite and PostgreSQL, the same as the ingest
//! fold's (`domain::ingest`, 256 cases without a database): here they check
//! that the store loads and writes what the fold needs, so fewer cases run.
//! - any permutation and any duplication of an event stream ends in the
//!   same stored view (SPEC §4.2: "delivery order does not matter");
//! - the same events in the same order end in the same view however they
//!   are split into requests, supersede (§2.5) included: a request applies
//!   its events in memory and writes them together, which must come to
//!   what one request per event does.
//!
//! The stream: two releases (created first, since creation order assigns
//! their ids), then a shuffled, partly duplicated mix of run snapshots
//! (several per run, with distinct times), promotions, git errors and health
//! reports, posted in random chunks. The releases run in different
//! environments, so supersede (which SPEC §2.5 defines by arrival: "first
//! reported … while a run is pending or running") is not in play. Error ids
//! embed arrival numbers and are left out of the comparison.

mod common;

use backend::auth::Role;
use backend::db::Backend;
use common::fixtures::{created, git_failed, health, promoted, workflow};
use common::{backends, TestServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

const STATUSES: &[&str] = &[
    "pending",
    "running",
    "success",
    "failed",
    "error",
    "terminated",
];

/// The events after the two creations: per run, snapshots with rising
/// times and the given statuses; then promotions, git errors, health.
fn stream(snapshots: &[(usize, usize, usize)], extras: &[usize]) -> Vec<Value> {
    // (release, environment, phase/workflow) of each run.
    let runs = [
        ("r-1", "dev", "post", "smoke"),
        ("r-1", "staging", "pre", "verify"),
        ("r-1", "staging", "post", "smoke"),
        ("r-2", "prod", "pre", "verify"),
    ];
    let mut events = Vec::new();
    for (n, &(run, status, time)) in snapshots.iter().enumerate() {
        let (release, env, phase, flow) = runs[run % runs.len()];
        events.push(workflow(
            &format!("w{n}"),
            "shop",
            release,
            env,
            phase,
            &format!("run-{run}"),
            flow,
            STATUSES[status % STATUSES.len()],
            100 + (time as i64) * 100 + n as i64,
        ));
    }
    for (n, &kind) in extras.iter().enumerate() {
        let time = 1000 + n as i64;
        events.push(match kind % 4 {
            0 => promoted(
                &format!("p{n}"),
                "shop",
                "r-1",
                "staging",
                &format!("1.{n}"),
                time,
            ),
            1 => git_failed(&format!("g{n}"), "shop", "r-2", "prod", time),
            2 => health(
                &format!("h{n}"),
                "shop",
                "prod",
                if n % 2 == 0 { "degraded" } else { "healthy" },
                time,
            ),
            _ => promoted(
                &format!("q{n}"),
                "shop",
                "r-2",
                "prod",
                &format!("2.{n}"),
                time,
            ),
        });
    }
    events
}

/// The stored view: releases `ids` in detail (without error ids), the list and the dashboard.
async fn view(server: &TestServer, ids: &[i64]) -> Value {
    let mut details = Vec::new();
    for &id in ids {
        let (status, mut detail) = server
            .get_json(&format!("/api/v1/products/shop/releases/{id}"))
            .await;
        assert_eq!(status, 200);
        if let Some(envs) = detail["environments"].as_array_mut() {
            for env in envs {
                if let Some(errors) = env["errors"].as_array_mut() {
                    for error in errors {
                        if let Some(error) = error.as_object_mut() {
                            error.remove("id");
                        }
                    }
                }
            }
        }
        details.push(detail);
    }
    let (_, list) = server.get_json("/api/v1/products/shop/releases").await;
    let (_, products) = server.get_json("/api/v1/products").await;
    json!({"details": details, "list": list, "products": products})
}

async fn ingest(server: &TestServer, token: &str, events: &[Value], chunk: usize) {
    for part in events.chunks(chunk.max(1)) {
        let response = server
            .post_events(
                token,
                "application/cloudevents-batch+json",
                &Value::Array(part.to_vec()),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
}

fn check(backend: Backend, cases: u32) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let strategy = (
        prop::collection::vec((0usize..4, 0usize..6, 0usize..5), 1..12),
        prop::collection::vec(0usize..4, 0..6),
        // A permutation (as sort keys) and which events are sent twice.
        prop::collection::vec((any::<u32>(), any::<bool>()), 18),
        1usize..6,
    );
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    runner
        .run(&strategy, |(snapshots, extras, shuffle, chunk)| {
            runtime.block_on(async {
                let creations = vec![
                    created("c1", "shop", "r-1", "aaa", "one", 0),
                    created("c2", "shop", "r-2", "bbb", "two", 1),
                ];
                let events = stream(&snapshots, &extras);

                let reference = TestServer::on(backend, true).await.expect("backend");
                let token = reference.token(Role::Ingest).await;
                ingest(&reference, &token, &creations, 2).await;
                ingest(&reference, &token, &events, events.len()).await;
                let expected = view(&reference, &[1, 2]).await;
                reference.stop().await;

                let mut shuffled: Vec<(u32, Value)> = Vec::new();
                for (i, event) in events.iter().enumerate() {
                    let (key, twice) = shuffle[i % shuffle.len()];
                    let key = key.wrapping_add((i as u32).wrapping_mul(2_654_435_761));
                    shuffled.push((key, event.clone()));
                    if twice {
                        shuffled.push((key.rotate_left(7), event.clone()));
                    }
                }
                shuffled.sort_by_key(|(key, _)| *key);
                let shuffled: Vec<Value> = shuffled.into_iter().map(|(_, e)| e).collect();

                let server = TestServer::on(backend, true).await.expect("backend");
                let token = server.token(Role::Ingest).await;
                ingest(&server, &token, &creations, 1).await;
                ingest(&server, &token, &shuffled, chunk).await;
                // Redelivering everything changes nothing either.
                ingest(&server, &token, &events, 7).await;
                let actual = view(&server, &[1, 2]).await;
                server.stop().await;
                prop_assert_eq!(actual, expected);
                Ok(())
            })
        })
        .expect("the stored view does not depend on delivery order or duplicates");
}

#[test]
fn any_permutation_and_duplication_ends_in_the_same_view() {
    for backend in backends() {
        check(backend, if backend == Backend::Sqlite { 12 } else { 6 });
    }
}

/// Runs of three releases in the same environments and workflows, so newer
/// releases supersede older ones' runs: (release, group, run, status, time)
/// per snapshot; the third release is created part-way through.
fn contended(snapshots: &[(usize, usize, usize, usize, usize)], third_at: usize) -> Vec<Value> {
    let groups = [
        ("staging", "pre", "verify"),
        ("staging", "post", "smoke"),
        ("dev", "post", "smoke"),
    ];
    let mut events = vec![
        created("c1", "shop", "r-1", "aaa", "one", 0),
        created("c2", "shop", "r-2", "bbb", "two", 1),
    ];
    let mut third = Some(created("c3", "shop", "r-3", "ccc", "three", 2));
    for (n, &(release, group, run, status, time)) in snapshots.iter().enumerate() {
        let release = release % 3;
        if third.is_some() && (n >= third_at || release == 2) {
            events.extend(third.take());
        }
        let (env, phase, flow) = groups[group % groups.len()];
        events.push(workflow(
            &format!("w{n}"),
            "shop",
            &format!("r-{}", release + 1),
            env,
            phase,
            &format!("run-{release}-{}-{}", group % groups.len(), run % 2),
            flow,
            STATUSES[status % STATUSES.len()],
            100 + time as i64,
        ));
        if n % 5 == 4 {
            events.push(promoted(
                &format!("p{n}"),
                "shop",
                &format!("r-{}", release + 1),
                env,
                &format!("{release}.{n}"),
                200 + n as i64,
            ));
        }
    }
    events.extend(third);
    events
}

fn check_chunking(backend: Backend, cases: u32) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let strategy = (
        prop::collection::vec(
            (0usize..3, 0usize..3, 0usize..2, 0usize..6, 0usize..30),
            1..24,
        ),
        0usize..24,
        prop::collection::vec(1usize..8, 1..6),
    );
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    runner
        .run(&strategy, |(snapshots, third_at, sizes)| {
            runtime.block_on(async {
                let events = contended(&snapshots, third_at);

                let reference = TestServer::on(backend, true).await.expect("backend");
                let token = reference.token(Role::Ingest).await;
                ingest(&reference, &token, &events, 1).await;
                let expected = view(&reference, &[1, 2, 3]).await;
                reference.stop().await;

                let server = TestServer::on(backend, true).await.expect("backend");
                let token = server.token(Role::Ingest).await;
                let mut rest = events.as_slice();
                for size in sizes.iter().cycle() {
                    if rest.is_empty() {
                        break;
                    }
                    let (part, tail) = rest.split_at((*size).min(rest.len()));
                    ingest(&server, &token, part, part.len()).await;
                    rest = tail;
                }
                let actual = view(&server, &[1, 2, 3]).await;
                server.stop().await;
                prop_assert_eq!(actual, expected);
                Ok(())
            })
        })
        .expect("the stored view does not depend on how events are split into requests");
}

#[test]
fn any_split_into_requests_ends_in_the_same_view() {
    for backend in backends() {
        check_chunking(backend, if backend == Backend::Sqlite { 12 } else { 6 });
    }
}
