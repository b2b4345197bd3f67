//! `cargo bench -p server --bench api` (or `scripts/bench`): the store and
//! API figures on SQLite, against a real server on a loopback port:
//! - ingest rate for batches of 500 `workflow.updated` snapshots,
//! - the Argo Workflows adapter's rate for 200-node `Workflow` objects,
//! - single-event requests per second (8 concurrent clients),
//! - release-detail latency p50/p99 for a 10-environment × 3-application ×
//!   10-step release,
//! - releases-page latency with 100,000 releases in the product.
//!
//! `API_BENCH=argo` (or `ingest`, `single`, `detail`, `page`; several
//! comma-separated) runs only those parts.

use std::time::{Duration, Instant};

use backend::auth::{create_token, Role};
use backend::db::Db;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const ENVS: usize = 10;
const APPS: usize = 3;
const STEPS: usize = 10;

fn at(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(1_714_557_600 + seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn envelope(id: String, kind: &str, seconds: i64, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "bench", "type": kind, "time": at(seconds), "data": data})
}

/// A linear flow of `ENVS` environments, each deploying `APPS` applications
/// with a pre-action (except the trigger) and a post-action.
fn flow() -> Value {
    let envs: Vec<Value> = (0..ENVS)
        .map(|e| {
            json!({
                "name": format!("env{e}"),
                "depends_on": if e == 0 { vec![] } else { vec![format!("env{}", e - 1)] },
                "applications": (0..APPS).map(|a| format!("app{a}")).collect::<Vec<_>>(),
                "pre_action": if e == 0 { Value::Null } else { json!("pre") },
                "post_action": "post",
            })
        })
        .collect();
    json!({"name": "big", "trigger": "env0", "environments": envs})
}

fn created(product: &str, key: &str, n: i64) -> Value {
    envelope(
        format!("{product}-{key}"),
        "release.created",
        n,
        json!({"product": product, "release": key, "flow": flow(), "version": "1.0.0",
               "commit": {"sha": format!("{n:040x}"), "message": format!("Change {n} for ABC-{n}"),
                          "author": {"name": "Bench", "email": "bench@example.com"}}}),
    )
}

/// One `workflow.updated` event: a snapshot of run `run` of release `key`.
struct Snapshot<'a> {
    product: &'a str,
    key: &'a str,
    /// The CloudEvent id.
    id: String,
    run: String,
    env: usize,
    app: usize,
    phase: &'a str,
    seconds: i64,
}

impl Snapshot<'_> {
    fn event(self) -> Value {
        let Snapshot {
            product,
            key,
            id,
            run,
            env,
            app,
            phase,
            seconds,
        } = self;
        let steps: Vec<Value> = (0..STEPS)
            .map(|s| json!({"name": format!("step-{s}"), "status": if s % 3 == 0 { "success" } else { "running" },
                            "started_at": at(seconds), "logs": "ok\n".repeat(20)}))
            .collect();
        envelope(
            id,
            "workflow.updated",
            seconds,
            json!({"product": product, "release": key, "environment": format!("env{env}"), "phase": phase,
                   "run": {"id": run, "workflow": phase, "application": format!("app{app}"), "status": "running",
                           "started_at": at(seconds), "url": "https://argo.example.com/wf"},
                   "steps": steps}),
        )
    }
}

struct Bench {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Bench {
    async fn post(&self, body: &Value, content_type: &str) {
        self.post_bytes(serde_json::to_vec(body).expect("json"), content_type)
            .await;
    }

    /// Releases `r0`, `r1`, … of `product`, in one batch.
    async fn create_releases(&self, product: &str, count: i64) {
        let releases: Vec<Value> = (0..count)
            .map(|r| created(product, &format!("r{r}"), r))
            .collect();
        self.post(
            &Value::Array(releases),
            "application/cloudevents-batch+json",
        )
        .await;
    }

    async fn post_bytes(&self, body: Vec<u8>, content_type: &str) {
        self.post_to("/api/v1/events", body, content_type).await;
    }

    async fn post_to(&self, path: &str, body: Vec<u8>, content_type: &str) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("post");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "{text}");
        // A duplicate is acknowledged without being applied: a figure that
        // counted them would not be the ingest rate.
        let answer: Value = serde_json::from_str(&text).unwrap_or_default();
        assert!(
            answer["duplicates"].as_u64().unwrap_or(0) == 0,
            "the bench posted duplicates: {text}"
        );
    }

    async fn latency(&self, path: &str, n: usize) -> (Duration, Duration) {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            let response = self
                .client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .expect("get");
            assert_eq!(response.status(), 200);
            response.bytes().await.expect("body");
            times.push(start.elapsed());
        }
        times.sort();
        (times[n / 2], times[(n * 99 / 100).min(n - 1)])
    }
}

/// Nodes of the Argo Workflows adapter's bench object.
const NODES: usize = 200;
/// Workflows per adapter request: as many as fit the 1 MiB body limit.
const WORKFLOWS_PER_REQUEST: usize = 16;

/// Run `n` as an Argo Workflows `Workflow` of a DAG with `NODES` `Pod`
/// nodes, as `kubectl get wf -o json` gives it, for release `r{n % 20}` of
/// product `argo`.
fn argo_workflow(n: usize) -> Value {
    let name = format!("promote-{n:05}");
    let mut nodes = serde_json::Map::new();
    nodes.insert(
        name.clone(),
        json!({"id": name, "name": name, "displayName": name, "type": "DAG", "phase": "Running",
               "startedAt": at(1000), "children": [format!("{name}-0")]}),
    );
    for i in 0..NODES {
        let id = format!("{name}-{i}");
        let done = i < NODES / 2;
        nodes.insert(
            id.clone(),
            json!({"id": id, "name": format!("{name}.task-{i}"), "displayName": format!("task-{i}"),
                   "type": "Pod", "templateName": "task", "phase": if done { "Succeeded" } else { "Running" },
                   "boundaryID": name, "startedAt": at(1000 + i as i64),
                   "finishedAt": if done { json!(at(1001 + i as i64)) } else { Value::Null },
                   "progress": "1/1", "hostNodeName": "node-a"}),
        );
    }
    let env = (n / 20) % ENVS;
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": name, "namespace": "promotions", "uid": format!("uid-{n}"),
            "resourceVersion": format!("{n}"), "creationTimestamp": at(999),
            "labels": {
                "workflows.argoproj.io/workflow-template": "promote",
                "releases/release": format!("r{}", n % 20),
                "releases/environment": format!("env{env}"),
                "releases/phase": if env == 0 { "post" } else { "pre" },
                "releases/application": format!("app{}", n % APPS),
            }
        },
        "spec": {"workflowTemplateRef": {"name": "promote"}},
        "status": {"phase": "Running", "startedAt": at(1000), "progress": format!("{}/{NODES}", NODES / 2),
                   "nodes": nodes}
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::connect(&format!("sqlite://{}/bench.db", dir.path().display()))
        .await
        .expect("db");
    db.migrate().await.expect("migrate");
    let token = create_token(&db, Role::Ingest, "bench")
        .await
        .expect("token");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let launch = server::Launch {
        db: db.clone(),
        anonymous_read: true,
        loopback_hosts_only: false,
        streams: Default::default(),
        request_timeout: std::time::Duration::from_secs(30),
        demo: None,
        adapters: Default::default(),
    };
    tokio::spawn(server::launch(launch, listener, std::future::pending()));
    let bench = Bench {
        client: reqwest::Client::new(),
        base,
        token,
    };
    let only = std::env::var("API_BENCH").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|only| only.split(',').any(|part| part.trim() == name))
    };

    if wanted("ingest") {
        // 1. Batches of 500 snapshots: new runs spread over 20 releases.
        //    Five rounds, each on a product of its own: one round takes
        //    about a second, and a figure counts when it holds run after run.
        let mut rates = Vec::new();
        for round in 0..5 {
            let product = format!("ingest{round}");
            bench.create_releases(&product, 20).await;
            // The request bodies are made before the clock starts: the figure is
            // the server's, not the client's JSON encoding.
            let batches = 20;
            let bodies: Vec<Vec<u8>> = (0..batches)
                .map(|b| {
                    let events: Vec<Value> = (0..500)
                        .map(|i| {
                            let n = b * 500 + i;
                            Snapshot {
                                product: &product,
                                key: &format!("r{}", n % 20),
                                id: format!("s{round}-{n}"),
                                run: format!("run{}", n % 3000),
                                env: (n / 20) % ENVS,
                                app: n % APPS,
                                phase: if (n / 20) % ENVS == 0 { "post" } else { "pre" },
                                seconds: 100 + n as i64,
                            }
                            .event()
                        })
                        .collect();
                    serde_json::to_vec(&events).expect("json")
                })
                .collect();
            let start = Instant::now();
            for body in bodies {
                bench
                    .post_bytes(body, "application/cloudevents-batch+json")
                    .await;
            }
            rates.push((batches * 500) as f64 / start.elapsed().as_secs_f64());
        }
        let each: Vec<String> = rates.iter().map(|rate| format!("{rate:.0}")).collect();
        rates.sort_by(f64::total_cmp);
        println!(
            "ingest, batches of 500 workflow.updated: median {:.0} events/s, min {:.0}, max {:.0} over {} rounds ({}) (target >= 10000)",
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
            rates.len(),
            each.join(", ")
        );
    }
    if wanted("argo") {
        // 1b. The Argo Workflows adapter: 200-node Workflows, batched in
        //     `{"items": [...]}` lists, mapped and applied.
        bench.create_releases("argo", 20).await;
        // The same number of objects from one client, then from four at
        // once (an Argo Events sensor's triggers run concurrently).
        let requests = 60;
        for (clients, round) in [(1, 0), (4, 1)] {
            let bodies: Vec<Vec<u8>> = (0..requests)
                .map(|b| {
                    let items: Vec<Value> = (0..WORKFLOWS_PER_REQUEST)
                        .map(|i| argo_workflow((round * requests + b) * WORKFLOWS_PER_REQUEST + i))
                        .collect();
                    serde_json::to_vec(&json!({"items": items})).expect("json")
                })
                .collect();
            let mut shares: Vec<Vec<Vec<u8>>> = vec![Vec::new(); clients];
            for (i, body) in bodies.into_iter().enumerate() {
                shares[i % clients].push(body);
            }
            let start = Instant::now();
            let mut tasks = Vec::new();
            for share in shares {
                let client = bench.client.clone();
                let (base, token) = (bench.base.clone(), bench.token.clone());
                tasks.push(tokio::spawn(async move {
                    let bench = Bench {
                        client,
                        base,
                        token,
                    };
                    for body in share {
                        bench
                            .post_to(
                                "/api/v1/adapters/argo-workflows?product=argo",
                                body,
                                "application/json",
                            )
                            .await;
                    }
                }));
            }
            for task in tasks {
                task.await.expect("client");
            }
            let rate = (requests * WORKFLOWS_PER_REQUEST) as f64 / start.elapsed().as_secs_f64();
            println!(
                "argo-workflows adapter, {NODES}-node Workflows in lists of {WORKFLOWS_PER_REQUEST}, \
                 {clients} client(s): {rate:.0} objects/s (target >= 1000)"
            );
        }
    }
    if wanted("single") {
        // 2. Single-event requests, 8 clients at once.
        bench
            .post(&created("single", "s", 0), "application/cloudevents+json")
            .await;
        let total = 2000;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..8 {
            let client = bench.client.clone();
            let (base, token) = (bench.base.clone(), bench.token.clone());
            tasks.push(tokio::spawn(async move {
            for i in (c..total).step_by(8) {
                let event = envelope(format!("h{i}"), "application.health", i as i64,
                    json!({"product": "single", "environment": format!("env{}", i % ENVS), "application": "app0", "health": "Healthy"}));
                let response = client.post(format!("{base}/api/v1/events")).bearer_auth(&token)
                    .header("content-type", "application/cloudevents+json").json(&event).send().await.expect("post");
                assert_eq!(response.status(), 200);
            }
        }));
        }
        for task in tasks {
            task.await.expect("client");
        }
        let rate = total as f64 / start.elapsed().as_secs_f64();
        println!("single-event requests: {rate:.0} requests/s (target >= 1000)");
    }
    if wanted("detail") {
        // 3. Release detail: 10 environments x 3 applications x 10 steps, every run reported.
        bench
            .post(&created("detail", "d", 0), "application/cloudevents+json")
            .await;
        let mut events = Vec::new();
        for env in 0..ENVS {
            for app in 0..APPS {
                for phase in ["pre", "post"] {
                    if env == 0 && phase == "pre" {
                        continue;
                    }
                    let run = format!("d-{env}-{app}-{phase}");
                    events.push(
                        Snapshot {
                            product: "detail",
                            key: "d",
                            id: run.clone(),
                            run,
                            env,
                            app,
                            phase,
                            seconds: 10,
                        }
                        .event(),
                    );
                }
            }
        }
        bench
            .post(&Value::Array(events), "application/cloudevents-batch+json")
            .await;
        let (p50, p99) = bench
            .latency("/api/v1/products/detail/releases/1", 300)
            .await;
        println!(
            "release detail (10 env x 3 app x 10 steps): p50 {} p99 {} (target p50 < 5 ms)",
            ms(p50),
            ms(p99)
        );
    }
    if wanted("page") {
        // 4. Releases page at 100,000 releases: one ingested, the rest copied in SQL.
        bench
            .post(&created("page", "p1", 0), "application/cloudevents+json")
            .await;
        let fill = Instant::now();
        sqlx::query(
        "INSERT INTO releases (product_id, id, release_key, flow, flow_name, commit_sha, commit_message, \
         author_name, author_email, commit_url, commit_time, version, changes, created_at, updated_at, \
         status, superseded_by, environments) \
         WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
         SELECT r.product_id, n.i, 'p' || n.i, r.flow, r.flow_name, printf('%040x', n.i), \
         'Change ' || n.i || ' by the bench', r.author_name, r.author_email, r.commit_url, r.commit_time, \
         r.version, r.changes, r.created_at + n.i, r.updated_at + n.i, \
         CASE n.i % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'terminated' ELSE 'successful' END, NULL, r.environments \
         FROM n, releases r JOIN products p ON p.id = r.product_id WHERE p.slug = 'page' AND r.id = 1",
    )
    .execute(&db.pool)
    .await
    .expect("fill");
        sqlx::query("UPDATE products SET last_release_id = 100000 WHERE slug = 'page'")
            .execute(&db.pool)
            .await
            .expect("counter");
        sqlx::query("ANALYZE")
            .execute(&db.pool)
            .await
            .expect("analyze");
        println!(
            "(filled 100,000 releases in {:.1} s)",
            fill.elapsed().as_secs_f64()
        );
        for (what, path) in [
            ("first page", "/api/v1/products/page/releases"),
            (
                "status=failed",
                "/api/v1/products/page/releases?status=failed",
            ),
            (
                "q=sha prefix",
                "/api/v1/products/page/releases?q=00000000000000000000000000000000000186a0",
            ),
            ("q=message word", "/api/v1/products/page/releases?q=bench"),
            (
                "q=text no release has",
                "/api/v1/products/page/releases?q=no-such-change",
            ),
            ("limit=200", "/api/v1/products/page/releases?limit=200"),
        ] {
            let (p50, p99) = bench.latency(path, 100).await;
            println!(
                "releases page at 100,000 releases, {what}: p50 {} p99 {} (target < 20 ms)",
                ms(p50),
                ms(p99)
            );
        }
    }
}
