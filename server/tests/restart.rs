//! Restarting a failed release (SPEC §2.6, §4.4) against a real server on
//! port 0, on SQLite and (with `TEST_POSTGRES_URL`) PostgreSQL: status
//! codes, reopening rules, attempts, and the signed orchestrator webhook
//! delivered from the durable outbox by a test receiver.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use backend::auth::{create_token, Role};
use backend::db::{Backend, Db};
use common::fixtures::{created, workflow};
use common::{backends, delivery_when, TestServer};
use serde_json::{json, Value};
use tokio::net::TcpListener;

const BATCH: &str = "application/cloudevents-batch+json";
const SECRET: &str = "s3cret-for-tests";

/// Posts events with a fresh ingest token; asserts 200.
async fn ingest(server: &TestServer, events: Value) {
    let token = server.token(Role::Ingest).await;
    let response = server.post_events(&token, BATCH, &events).await;
    let status = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(status, 200, "{body}");
}

/// Release `key` of `product`: dev's post-action succeeded, staging's
/// pre-action failed, prod never started.
fn failed_release(product: &str, key: &str) -> Value {
    json!([
        created(&format!("{key}-c"), product, key, "abc1234", "Fix it", 0),
        workflow(
            &format!("{key}-w1"),
            product,
            key,
            "dev",
            "post",
            &format!("{key}-dev-1"),
            "smoke",
            "Succeeded",
            10
        ),
        workflow(
            &format!("{key}-w2"),
            product,
            key,
            "staging",
            "pre",
            &format!("{key}-stg-1"),
            "verify",
            "Failed",
            20
        ),
    ])
}

async fn restart(server: &TestServer, token: Option<&str>, path: &str) -> (u16, Value) {
    let mut request = server.client.post(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn env<'a>(detail: &'a Value, name: &str) -> &'a Value {
    detail["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .find(|e| e["name"] == name)
        .expect("environment")
}

#[tokio::test]
async fn restart_answers_202_409_404_401_403() {
    for backend in backends() {
        let server = TestServer::on(backend, true).await.expect("backend");
        ingest(&server, failed_release("shop", "r-1")).await;
        ingest(
            &server,
            json!([created("c2", "shop", "r-2", "def5678", "Other", 30)]),
        )
        .await;
        let operator = server.token(Role::Operator).await;
        let viewer = server.token(Role::Viewer).await;
        let ingest_token = server.token(Role::Ingest).await;
        let path = "/api/v1/products/shop/releases/1/restart";

        let (status, body) = restart(&server, None, path).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (401, &json!("unauthorized"))
        );
        assert_eq!(restart(&server, Some("rls_unknown"), path).await.0, 401);
        let (status, body) = restart(&server, Some(&viewer), path).await;
        assert_eq!((status, &body["error"]["code"]), (403, &json!("forbidden")));
        assert_eq!(restart(&server, Some(&ingest_token), path).await.0, 403);
        let (status, body) = restart(
            &server,
            Some(&operator),
            "/api/v1/products/shop/releases/99/restart",
        )
        .await;
        assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
        assert_eq!(
            restart(
                &server,
                Some(&operator),
                "/api/v1/products/nope/releases/1/restart"
            )
            .await
            .0,
            404
        );
        // Release 2 is progressing: nothing to restart.
        let (status, body) = restart(
            &server,
            Some(&operator),
            "/api/v1/products/shop/releases/2/restart",
        )
        .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (409, &json!("conflict")),
            "{body}"
        );

        let (status, body) = restart(&server, Some(&operator), path).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["type"], "release.restart_requested");
        assert_eq!(body["release"], 1);
        assert_eq!(body["release_key"], "r-1");
        assert_eq!(body["attempt"], 2);
        assert_eq!(body["environments"], json!(["staging", "prod"]));
        assert_eq!(body["delivery"], "none");
        // Now progressing: a second restart conflicts.
        let (status, body) = restart(&server, Some(&operator), path).await;
        assert_eq!(status, 409, "{body}");
        server.stop().await;
    }
}

#[tokio::test]
async fn restart_reopens_failed_and_downstream_at_the_next_attempt() {
    for backend in backends() {
        let server = TestServer::on(backend, true).await.expect("backend");
        ingest(&server, failed_release("shop", "r-1")).await;
        let operator = create_token(&server.db, Role::Operator, "alice-ops")
            .await
            .expect("token");
        let path = "/api/v1/products/shop/releases/1/restart";
        let (status, body) = restart(&server, Some(&operator), path).await;
        assert_eq!(status, 202, "{body}");

        let (_, detail) = server.get_json("/api/v1/products/shop/releases/1").await;
        assert_eq!(detail["status"], "progressing", "{detail}");
        assert_eq!(detail["attempt"], 2);
        let dev = env(&detail, "dev");
        assert_eq!(
            (&dev["status"], &dev["attempt"]),
            (&json!("successful"), &json!(1))
        );
        let staging = env(&detail, "staging");
        assert_eq!(
            (&staging["status"], &staging["attempt"]),
            (&json!("pending"), &json!(2))
        );
        assert_eq!(staging["runs"], json!([]));
        assert_eq!(staging["history"][0]["id"], "r-1-stg-1");
        assert_eq!(staging["history"][0]["attempt"], 1);
        let prod = env(&detail, "prod");
        assert_eq!(
            (&prod["status"], &prod["attempt"]),
            (&json!("pending"), &json!(2))
        );
        let restarts = detail["restarts"].as_array().expect("restarts");
        assert_eq!(restarts.len(), 1);
        assert_eq!(restarts[0]["requested_by"], "alice-ops");
        assert_eq!(restarts[0]["attempt"], 2);
        assert_eq!(
            restarts[0]["environments"],
            json!([["staging", 2], ["prod", 2]])
        );
        assert!(restarts[0]["requested_at"].is_string());
        // No webhook: the page can say nobody was notified.
        assert_eq!(restarts[0]["delivery"]["state"], "none");

        // A run first reported now lands in the new attempt; a late
        // snapshot of the old run keeps its attempt; an explicit attempt wins.
        let mut explicit = workflow(
            "w4",
            "shop",
            "r-1",
            "staging",
            "post",
            "r-1-stg-old",
            "smoke",
            "Failed",
            41,
        );
        explicit["data"]["attempt"] = json!(1);
        ingest(
            &server,
            json!([
                workflow(
                    "w3",
                    "shop",
                    "r-1",
                    "staging",
                    "pre",
                    "r-1-stg-2",
                    "verify",
                    "Running",
                    40
                ),
                workflow(
                    "w2b",
                    "shop",
                    "r-1",
                    "staging",
                    "pre",
                    "r-1-stg-1",
                    "verify",
                    "Failed",
                    45
                ),
                explicit,
            ]),
        )
        .await;
        let (_, detail) = server.get_json("/api/v1/products/shop/releases/1").await;
        let staging = env(&detail, "staging");
        assert_eq!(staging["status"], "running", "{staging}");
        assert_eq!(staging["runs"].as_array().map(Vec::len), Some(1));
        assert_eq!(staging["runs"][0]["id"], "r-1-stg-2");
        assert_eq!(staging["runs"][0]["attempt"], 2);
        let history: Vec<(String, u64)> = staging["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap_or_default().to_owned(),
                    r["attempt"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        assert!(history.contains(&("r-1-stg-1".into(), 1)), "{history:?}");
        assert!(history.contains(&("r-1-stg-old".into(), 1)), "{history:?}");

        // It fails again: the next restart opens attempt 3.
        ingest(
            &server,
            json!([workflow(
                "w5",
                "shop",
                "r-1",
                "staging",
                "pre",
                "r-1-stg-2",
                "verify",
                "Failed",
                50
            )]),
        )
        .await;
        let (status, body) = restart(&server, Some(&operator), path).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["attempt"], 3);
        let (_, detail) = server.get_json("/api/v1/products/shop/releases/1").await;
        assert_eq!(env(&detail, "staging")["attempt"], 3);
        assert_eq!(env(&detail, "dev")["attempt"], 1);
        let attempts: Vec<&Value> = detail["restarts"]
            .as_array()
            .expect("restarts")
            .iter()
            .map(|r| &r["attempt"])
            .collect();
        assert_eq!(attempts, [&json!(3), &json!(2)]);
        server.stop().await;
    }
}

#[tokio::test]
async fn restart_of_a_parallel_branch_leaves_upstream_and_siblings() {
    for backend in backends() {
        let server = TestServer::on(backend, true).await.expect("backend");
        let flow = json!({"name": "fan", "trigger": "dev", "environments": [
            {"name": "dev", "depends_on": [], "applications": ["api"], "pre_action": null, "post_action": "smoke"},
            {"name": "qa", "depends_on": ["dev"], "applications": ["api"], "pre_action": "verify", "post_action": null},
            {"name": "staging", "depends_on": ["dev"], "applications": ["api"], "pre_action": "verify", "post_action": null},
            {"name": "prod", "depends_on": ["qa", "staging"], "applications": ["api"], "pre_action": "verify", "post_action": null}
        ]});
        let mut create = created("c", "fan", "f-1", "abc", "Fan out", 0);
        create["data"]["flow"] = flow;
        ingest(
            &server,
            json!([
                create,
                workflow(
                    "w1",
                    "fan",
                    "f-1",
                    "dev",
                    "post",
                    "d1",
                    "smoke",
                    "Succeeded",
                    10
                ),
                workflow("w2", "fan", "f-1", "qa", "pre", "q1", "verify", "Error", 20),
                workflow("w3", "fan", "f-1", "staging", "pre", "s1", "verify", "Running", 20),
            ]),
        )
        .await;
        let operator = server.token(Role::Operator).await;
        let (status, body) = restart(
            &server,
            Some(&operator),
            "/api/v1/products/fan/releases/1/restart",
        )
        .await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["environments"], json!(["qa", "prod"]));
        let (_, detail) = server.get_json("/api/v1/products/fan/releases/1").await;
        assert_eq!(env(&detail, "dev")["attempt"], 1);
        assert_eq!(env(&detail, "staging")["attempt"], 1);
        assert_eq!(env(&detail, "staging")["status"], "running");
        assert_eq!(env(&detail, "qa")["attempt"], 2);
        assert_eq!(env(&detail, "qa")["status"], "pending");
        assert_eq!(env(&detail, "prod")["attempt"], 2);
        server.stop().await;
    }
}

/// One request the receiver got: its headers and exact body.
type Hit = (HeaderMap, Vec<u8>);

/// A webhook receiver on 127.0.0.1:0 that records each request and answers
/// with the next status of its script (200 once the script is used up).
#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    async fn serve_on(self, listener: TcpListener) -> Receiver {
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    |axum::extract::State(receiver): axum::extract::State<Receiver>,
                     headers: HeaderMap,
                     body: axum::body::Bytes| async move {
                        receiver
                            .hits
                            .lock()
                            .expect("lock")
                            .push((headers, body.to_vec()));
                        let mut script = receiver.script.lock().expect("lock");
                        let status = if script.is_empty() {
                            200
                        } else {
                            script.remove(0)
                        };
                        StatusCode::from_u16(status).expect("status")
                    },
                ),
            )
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        self
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("lock").clone()
    }
}

async fn set_webhook(server: &TestServer, operator: &str, product: &str, url: &str) {
    let response = server
        .client
        .put(server.url(&format!("/api/v1/products/{product}/webhook")))
        .bearer_auth(operator)
        .json(&json!({"url": url, "secret": SECRET}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}

fn assert_signed(headers: &HeaderMap, body: &[u8]) {
    let signature = headers
        .get("x-releases-signature")
        .and_then(|v| v.to_str().ok())
        .expect("signature header");
    // `sign` is checked against RFC 4231's vectors in its unit tests.
    assert_eq!(signature, backend::webhook::sign(SECRET.as_bytes(), body));
    assert_ne!(signature, backend::webhook::sign(b"another secret", body));
    assert_eq!(headers["content-type"], "application/json");
}

#[tokio::test]
async fn webhook_is_signed_and_retried_after_a_failing_receiver() {
    for backend in backends() {
        let server = TestServer::on(backend, true).await.expect("backend");
        ingest(&server, failed_release("shop", "r-1")).await;
        let receiver = Receiver::default();
        receiver.script.lock().expect("lock").push(500);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let receiver = receiver.serve_on(listener).await;
        let operator = server.token(Role::Operator).await;
        set_webhook(&server, &operator, "shop", &hook).await;

        let (status, body) = restart(
            &server,
            Some(&operator),
            "/api/v1/products/shop/releases/1/restart",
        )
        .await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["delivery"], "pending");

        let base = server.url("");
        let delivery = delivery_when(
            &base,
            &server.client,
            "/api/v1/products/shop/releases/1",
            "delivered",
        )
        .await;
        assert_eq!(delivery["attempts"], 2, "{delivery}");
        // Anonymous readers (and viewers) see no error text; operators do.
        assert!(delivery["last_error"].is_null(), "{delivery}");
        let detail: Value = server
            .client
            .get(server.url("/api/v1/products/shop/releases/1"))
            .bearer_auth(&operator)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        let delivery = &detail["restarts"][0]["delivery"];
        assert!(
            delivery["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("500")),
            "{delivery}"
        );
        let hits = receiver.hits();
        assert_eq!(hits.len(), 2);
        for (headers, body) in &hits {
            assert_signed(headers, body);
        }
        assert_eq!(hits[0].1, hits[1].1, "a retry sends the same bytes");
        let payload: Value = serde_json::from_slice(&hits[1].1).expect("json body");
        assert_eq!(payload["type"], "release.restart_requested");
        assert_eq!(payload["product"], "shop");
        assert_eq!(payload["release"], 1);
        assert_eq!(payload["release_key"], "r-1");
        assert_eq!(payload["attempt"], 2);
        assert_eq!(payload["environments"], json!(["staging", "prod"]));
        // The secret is never returned.
        let (_, detail) = server.get_json("/api/v1/products/shop/releases/1").await;
        assert!(!detail.to_string().contains(SECRET));
        server.stop().await;
    }
}

/// A server launched on an existing database, stopped on demand.
struct Node {
    addr: std::net::SocketAddr,
    shutdown: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Node {
    async fn launch(db: &Db) -> Node {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
        let launch = server::Launch {
            db: db.clone(),
            anonymous_read: true,
            loopback_hosts_only: false,
            streams: Default::default(),
            request_timeout: std::time::Duration::from_secs(30),
            demo: None,
            adapters: Default::default(),
        };
        let handle = tokio::spawn(server::launch(launch, listener, async move {
            let _ = rx.await;
        }));
        Node {
            addr,
            shutdown,
            handle,
        }
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.handle.await.expect("join").expect("serve");
    }
}

#[tokio::test]
async fn the_outbox_survives_a_server_restart() {
    for backend in backends() {
        // A database that outlives the first server.
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}/releases.db", dir.path().display()),
            Backend::Postgres => {
                let base = std::env::var("TEST_POSTGRES_URL").expect("TEST_POSTGRES_URL");
                fresh_postgres_database(&base).await
            }
        };
        let db = Db::connect(&url).await.expect("connect");
        db.migrate().await.expect("migrate");
        let client = reqwest::Client::new();
        let ingest_token = create_token(&db, Role::Ingest, "ci").await.expect("token");
        let operator = create_token(&db, Role::Operator, "ops")
            .await
            .expect("token");

        // The receiver's port, not listening yet: deliveries fail.
        let reserved = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let hook_addr = reserved.local_addr().expect("addr");
        drop(reserved);

        let first = Node::launch(&db).await;
        let base = format!("http://{}", first.addr);
        let response = client
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(&ingest_token)
            .header("content-type", BATCH)
            .body(failed_release("shop", "r-1").to_string())
            .send()
            .await
            .expect("ingest");
        assert_eq!(response.status(), 200);
        let response = client
            .put(format!("{base}/api/v1/products/shop/webhook"))
            .bearer_auth(&operator)
            .json(&json!({"url": format!("http://{hook_addr}/hook"), "secret": SECRET}))
            .send()
            .await
            .expect("webhook");
        assert_eq!(response.status(), 200);
        let response = client
            .post(format!("{base}/api/v1/products/shop/releases/1/restart"))
            .bearer_auth(&operator)
            .send()
            .await
            .expect("restart");
        assert_eq!(response.status(), 202);
        // The first try failed and is settled (pending, to be retried).
        let path = "/api/v1/products/shop/releases/1";
        let mut tried = false;
        for _ in 0..200 {
            let detail: Value = client
                .get(format!("{base}{path}"))
                .bearer_auth(&operator)
                .send()
                .await
                .expect("detail")
                .json()
                .await
                .expect("json");
            let delivery = &detail["restarts"][0]["delivery"];
            assert_eq!(delivery["state"], "pending", "{delivery}");
            if delivery["attempts"].as_u64().unwrap_or(0) >= 1 {
                assert!(
                    delivery["last_error"].is_string(),
                    "operators read the error"
                );
                tried = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(tried, "the first try never happened");
        first.stop().await;

        // The receiver comes up; a new server on the same database delivers.
        let listener = TcpListener::bind(hook_addr).await.expect("rebind");
        let receiver = Receiver::default().serve_on(listener).await;
        let second = Node::launch(&db).await;
        let base = format!("http://{}", second.addr);
        let delivery = delivery_when(&base, &client, path, "delivered").await;
        assert!(
            delivery["attempts"].as_u64().unwrap_or(0) >= 2,
            "{delivery}"
        );
        let hits = receiver.hits();
        assert_eq!(hits.len(), 1);
        assert_signed(&hits[0].0, &hits[0].1);
        let payload: Value = serde_json::from_slice(&hits[0].1).expect("json body");
        assert_eq!(payload["release_key"], "r-1");
        second.stop().await;
    }
}

/// A uniquely named database beside `base`.
async fn fresh_postgres_database(base: &str) -> String {
    let name = format!(
        "releases_restart_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let admin = Db::connect(base).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin.pool)
        .await
        .expect("create database");
    admin.pool.close().await;
    let (server, _) = base.rsplit_once('/').expect("database URL with a path");
    format!("{server}/{name}")
}

#[tokio::test]
async fn a_dead_webhook_delays_only_its_own_product() {
    let server = TestServer::sqlite().await;
    ingest(&server, failed_release("stuck", "s-1")).await;
    ingest(&server, failed_release("shop", "r-1")).await;
    // A receiver that accepts connections and never answers: each try
    // waits for the whole request timeout (10 s).
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_url = format!("http://{}/hook", silent.local_addr().expect("addr"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let receiver = Receiver::default().serve_on(listener).await;
    let operator = server.token(Role::Operator).await;
    set_webhook(&server, &operator, "stuck", &silent_url).await;
    set_webhook(&server, &operator, "shop", &hook).await;

    let (status, _) = restart(
        &server,
        Some(&operator),
        "/api/v1/products/stuck/releases/1/restart",
    )
    .await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = restart(
        &server,
        Some(&operator),
        "/api/v1/products/shop/releases/1/restart",
    )
    .await;
    assert_eq!(status, 202);
    let base = server.url("");
    delivery_when(
        &base,
        &server.client,
        "/api/v1/products/shop/releases/1",
        "delivered",
    )
    .await;
    assert_eq!(receiver.hits().len(), 1);
    // Shop's delivery did not wait for stuck's first try to end.
    let (_, stuck) = server.get_json("/api/v1/products/stuck/releases/1").await;
    let delivery = &stuck["restarts"][0]["delivery"];
    assert_eq!(delivery["state"], "pending", "{delivery}");
    assert_eq!(delivery["attempts"], 0, "{delivery}");
    held.abort();
    server.stop().await;
}
