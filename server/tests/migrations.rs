//! Data migrations on SQLite and PostgreSQL: the SQL that fills a column
//! for rows stored before it existed agrees with what ingest writes.

mod common;

use backend::auth::Role;
use backend::db::Backend;
use common::fixtures::{at, created, envelope};
use common::{backends, TestServer};
use serde_json::{json, Value};

/// The data statement of a migration: everything from its first `UPDATE`.
fn backfill(migration: &str) -> &str {
    let start = migration
        .find("UPDATE ")
        .expect("the migration fills the column");
    &migration[start..]
}

/// A snapshot of run `run` with steps of these statuses.
fn snapshot(n: usize, run_status: &str, steps: &[&str]) -> Value {
    let steps: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, status)| json!({"name": format!("step-{i}"), "status": status, "logs": "…"}))
        .collect();
    envelope(
        &format!("w{n}"),
        "workflow.updated",
        10 + n as i64,
        json!({"product": "shop", "release": "r1", "environment": "staging", "phase": "pre",
               "run": {"id": format!("run-{n}"), "workflow": format!("verify-{n}"), "application": "api",
                       "status": run_status, "started_at": at(1)},
               "steps": steps}),
    )
}

#[tokio::test]
async fn the_0006_and_0007_backfills_compute_the_columns_ingest_stores() {
    let cases: &[(&str, &[&str])] = &[
        ("running", &[]),
        ("failed", &[]),
        ("running", &["success"]),
        ("running", &["Succeeded", "Skipped"]),
        ("running", &["success", "running", "pending"]),
        ("running", &["pending", "success"]),
        ("failed", &["success", "failed", "running"]),
        ("running", &["terminated", "running"]),
        ("error", &["error", "failed", "terminated"]),
        ("running", &["Failed", "Error"]),
    ];
    for backend in backends() {
        let server = TestServer::on(backend, true).await.expect("backend");
        let token = server.token(Role::Ingest).await;
        let mut events = vec![created("c1", "shop", "r1", "abc123", "Change", 0)];
        events.extend(
            cases
                .iter()
                .enumerate()
                .map(|(n, (run, steps))| snapshot(n, run, steps)),
        );
        let response = server
            .post_events(
                &token,
                "application/cloudevents-batch+json",
                &Value::Array(events),
            )
            .await;
        assert_eq!(response.status(), 200, "{backend:?}");

        let stored = || async {
            sqlx::query_as::<_, (String, Option<String>, i64)>(
                "SELECT run_id, steps_status, unfinished FROM runs ORDER BY seq",
            )
            .fetch_all(&server.db.pool)
            .await
            .expect("runs")
        };
        let written = stored().await;
        let expected: Vec<Option<&str>> = vec![
            None,
            None,
            Some("success"),
            Some("success"),
            Some("running"),
            Some("pending"),
            Some("failed"),
            Some("terminated"),
            Some("error"),
            Some("error"),
        ];
        assert_eq!(
            written
                .iter()
                .map(|(_, s, _)| s.as_deref())
                .collect::<Vec<_>>(),
            expected,
            "{backend:?}: what ingest stores"
        );
        // Pending or running: the first, and the ones whose steps are
        // unfinished and whose reported status is no failure.
        assert_eq!(
            written.iter().map(|(_, _, u)| *u).collect::<Vec<_>>(),
            [1, 0, 0, 0, 1, 1, 0, 0, 0, 0],
            "{backend:?}: which runs ingest marks unfinished"
        );

        // As rows stored before the migration: no aggregate, and every run
        // marked unfinished (the default of the column when it was added).
        sqlx::query("UPDATE runs SET steps_status = NULL, unfinished = 1")
            .execute(&server.db.pool)
            .await
            .expect("clear");
        let migrations = match backend {
            Backend::Sqlite => [
                include_str!("../../backend/migrations/sqlite/0006_steps_status.sql"),
                include_str!("../../backend/migrations/sqlite/0007_unfinished_exact.sql"),
            ],
            Backend::Postgres => [
                include_str!("../../backend/migrations/postgres/0006_steps_status.sql"),
                include_str!("../../backend/migrations/postgres/0007_unfinished_exact.sql"),
            ],
        };
        for migration in migrations {
            sqlx::raw_sql(sqlx::AssertSqlSafe(backfill(migration)))
                .execute(&server.db.pool)
                .await
                .expect("backfill");
        }
        assert_eq!(
            stored().await,
            written,
            "{backend:?}: what the migration fills in"
        );
        server.stop().await;
    }
}
