//! The JSON of every SPEC §4.3 read payload, from the demo's history of a
//! fixed seed, as insta snapshots: a renamed or reshaped field is a diff to
//! review (`cargo insta review`), not a silent change for API clients.

mod common;

use backend::auth::Role;
use chrono::{DateTime, Utc};
use common::TestServer;
use serde_json::Value;

fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

/// A server holding the demo history of seed 7, 8 releases per product.
async fn seeded() -> TestServer {
    let server = TestServer::sqlite().await;
    let token = server.token(Role::Ingest).await;
    let events = server::demo::history(7, fixed_now(), 8);
    for batch in events.chunks(500) {
        let response = server
            .post_events(
                &token,
                "application/cloudevents-batch+json",
                &Value::Array(batch.to_vec()),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    server
}

async fn get(server: &TestServer, path: &str) -> Value {
    let (status, body) = server.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[tokio::test]
async fn read_payloads_keep_their_shape() {
    let server = seeded().await;
    insta::assert_json_snapshot!("products", get(&server, "/api/v1/products").await);
    insta::assert_json_snapshot!(
        "releases_page",
        get(&server, "/api/v1/products/checkout/releases?limit=3").await
    );
    // The newest failed release: its errors, runs, steps and history.
    let mut failed = None;
    for product in ["checkout", "payments", "storefront", "platform"] {
        let page = get(
            &server,
            &format!("/api/v1/products/{product}/releases?status=failed&limit=1"),
        )
        .await;
        if let Some(id) = page["releases"][0]["id"].as_i64() {
            failed = Some(format!("/api/v1/products/{product}/releases/{id}"));
            break;
        }
    }
    let failed = failed.expect("the history holds a failed release");
    insta::assert_json_snapshot!("release_detail", get(&server, &failed).await);
    insta::assert_json_snapshot!(
        "release_notes",
        get(&server, "/api/v1/products/checkout/releases/5/notes").await
    );
    insta::assert_json_snapshot!(
        "error",
        server
            .get_json("/api/v1/products/checkout/releases?limit=500")
            .await
            .1
    );
    server.stop().await;
}
