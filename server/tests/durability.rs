//! Durable before the answer (SPEC §4.2): a server killed with SIGKILL in
//! the middle of a concurrent write load has stored every event it
//! acknowledged, on SQLite (synchronous=FULL, group commit) and on
//! PostgreSQL.

mod common;
#[path = "common/process.rs"]
mod process;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Connection;

use backend::auth::Role;
use backend::db::{Backend, Db};
use common::backends;
use common::fixtures::created;
use process::ServerProcess;

#[tokio::test]
async fn every_acknowledged_event_survives_a_sigkill() {
    for backend in backends() {
        let dir = tempfile::tempdir().expect("dir");
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}/releases.db", dir.path().display()),
            Backend::Postgres => {
                let base = std::env::var("TEST_POSTGRES_URL").expect("TEST_POSTGRES_URL");
                common::fresh_postgres_database(&base).await
            }
        };
        let db = Db::connect(&url).await.expect("connect");
        db.migrate().await.expect("migrate");
        let token = backend::auth::create_token(&db, Role::Ingest, "load")
            .await
            .expect("token");
        let mut server = ServerProcess::serve(&url, &[("RUST_LOG", "info,sqlx=warn")]);
        let events = format!("{}/api/v1/events", server.address);

        // Eight clients, each posting one release at a time, recording what
        // was acknowledged (200) until the server is gone.
        let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut clients = Vec::new();
        for client in 0..8 {
            let (events, token, acknowledged) =
                (events.clone(), token.clone(), acknowledged.clone());
            clients.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                for n in 0.. {
                    let key = format!("c{client}-{n}");
                    let body = created(&format!("{key}-e"), "load", &key, "abc1234", "Load", 0);
                    let sent = http
                        .post(&events)
                        .bearer_auth(&token)
                        .header("content-type", "application/cloudevents+json")
                        .body(body.to_string())
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == 200 => {
                            if let Ok(mut acknowledged) = acknowledged.lock() {
                                acknowledged.push(key);
                            }
                        }
                        Ok(response) => panic!("unexpected {}", response.status()),
                        Err(_) => return,
                    }
                }
            }));
        }
        // Kill it mid-load, once a good number of writes went through.
        while acknowledged.lock().map(|a| a.len()).unwrap_or(0) < 200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.kill();
        for client in clients {
            client.await.expect("a client ends when the server is gone");
        }
        let acknowledged = acknowledged.lock().expect("lock").clone();
        assert!(acknowledged.len() >= 200, "{backend:?}");

        // After a restart, every acknowledged release is there.
        let mut server = ServerProcess::serve(&url, &[("RUST_LOG", "info,sqlx=warn")]);
        let db = Db::connect(&url).await.expect("connect again");
        let stored: Vec<String> = sqlx::query_scalar("SELECT release_key FROM releases")
            .fetch_all(&db.pool)
            .await
            .expect("releases");
        let stored: std::collections::HashSet<String> = stored.into_iter().collect();
        let lost: Vec<&String> = acknowledged
            .iter()
            .filter(|k| !stored.contains(*k))
            .collect();
        assert!(
            lost.is_empty(),
            "{backend:?}: {} acknowledged events lost: {lost:?}",
            lost.len()
        );
        server.stop();
    }
}

/// SQLite: the write-ahead log is checkpointed in the background (the
/// writers' commits never do it): what the server acknowledged reaches the
/// database file itself soon after, not only the log. Fails when nothing
/// checkpoints: one release is far below SQLite's own threshold.
#[tokio::test]
async fn the_log_is_checkpointed_in_the_background() {
    let server = common::TestServer::sqlite().await;
    let token = server.token(Role::Ingest).await;
    for n in 0..3 {
        let key = format!("k{n}");
        let event = created(&format!("{key}-e"), "shop", &key, "abc1234", "Change", n);
        let response = server
            .post_events(&token, "application/cloudevents+json", &event)
            .await;
        assert_eq!(response.status(), 200);
    }

    // `immutable=1`: SQLite reads the database file alone, without the log.
    let path = server.db.url().split('?').next().unwrap_or_default();
    let file = format!("{path}?immutable=1");
    let mut in_file = 0;
    for _ in 0..100 {
        let mut reader = sqlx::AnyConnection::connect(&file)
            .await
            .expect("read the file");
        // No table yet in the file: nothing checkpointed yet.
        in_file = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM releases")
            .fetch_one(&mut reader)
            .await
            .unwrap_or(0);
        reader.close().await.expect("close");
        if in_file == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(in_file, 3, "the releases never reached the database file");
    server.stop().await;
}
