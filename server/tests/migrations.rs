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

/// Posts `events` as one batch; the answer's status.
async fn post_batch(server: &TestServer, token: &str, events: Vec<Value>) -> u16 {
    server
        .post_events(
            token,
            "application/cloudevents-batch+json",
            &Value::Array(events),
        )
        .await
        .status()
        .as_u16()
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
        assert_eq!(
            post_batch(&server, &token, events).await,
            200,
            "{backend:?}"
        );

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

#[tokio::test]
async fn the_0011_rebuild_keeps_every_run_and_stores_the_large_columns_last() {
    let server = TestServer::on(Backend::Sqlite, true).await.expect("sqlite");
    let token = server.token(Role::Ingest).await;
    let mut events = vec![created("c1", "shop", "r1", "abc123", "Change", 0)];
    events.extend((0..3).map(|n| snapshot(n, "running", &["success", "failed"])));
    assert_eq!(post_batch(&server, &token, events).await, 200);
    let columns = || async {
        sqlx::query_as::<_, (String,)>("SELECT name FROM pragma_table_info('runs') ORDER BY cid")
            .fetch_all(&server.db.pool)
            .await
            .expect("columns")
            .into_iter()
            .map(|(name,)| name)
            .collect::<Vec<_>>()
    };
    let rows = |columns: Vec<String>| {
        let pool = server.db.pool.clone();
        async move {
            let pairs: Vec<String> = columns.iter().map(|c| format!("'{c}', {c}")).collect();
            sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(format!(
                "SELECT json_object({}) FROM runs ORDER BY seq",
                pairs.join(", ")
            )))
            .fetch_all(&pool)
            .await
            .expect("rows")
            .into_iter()
            .map(|(row,)| serde_json::from_str::<Value>(&row).expect("json"))
            .collect::<Vec<_>>()
        }
    };
    let names = columns().await;
    assert_eq!(
        names[names.len() - 4..],
        ["url", "message", "manifest", "steps"],
        "the large columns last: {names:?}"
    );
    let (status, release) = server.get_json("/api/v1/products/shop/releases/1").await;
    assert_eq!(status, 200, "{release}");
    assert!(release["environments"].is_array(), "{release}");
    let before = rows(names.clone()).await;
    assert_eq!(before.len(), 3);

    // Rebuilt again from what it holds: every column of every row lands
    // in its place, and new runs keep counting from the last.
    let rebuild = include_str!("../../backend/migrations/sqlite/0011_runs_large_columns_last.sql");
    sqlx::raw_sql(sqlx::AssertSqlSafe(rebuild))
        .execute(&server.db.pool)
        .await
        .expect("rebuild");
    assert_eq!(columns().await, names);
    assert_eq!(rows(names.clone()).await, before);
    assert_eq!(
        server.get_json("/api/v1/products/shop/releases/1").await.1,
        release
    );
    assert_eq!(
        post_batch(&server, &token, vec![snapshot(7, "running", &["running"])]).await,
        200
    );
    let seqs = sqlx::query_as::<_, (i64,)>("SELECT seq FROM runs ORDER BY seq")
        .fetch_all(&server.db.pool)
        .await
        .expect("seqs");
    assert_eq!(seqs.len(), 4);
    assert!(seqs[3].0 > seqs[2].0, "{seqs:?}");
    server.stop().await;
}
