//! `cargo bench -p server --bench viewers` (or `scripts/bench`): what live
//! viewers cost the server. The real `server` binary runs as a child
//! process on a loopback port; this process emulates V browsers that follow
//! the browser client's rules (`app::live`: one event stream per browser;
//! a release page applies the patch its event carries when its base is the
//! state shown, and fetches the page again through `get_release`
//! otherwise), while changes arrive at R per second — run snapshots of one
//! busy release (10 environments × 3 applications × 10 steps). It prints,
//! for a release page and for a Releases table, with V = 100 and 1,000 at
//! R = 10: the server's CPU per change (and as a share of one core), the
//! bytes each viewer receives per change, and how many page fetches the
//! viewers made.
//!
//! Targets: 1,000 viewers at 10 changes/s within one core; at most 4 KB per
//! viewer per change. `VIEWERS_BENCH_SECONDS` overrides the 20 s of changes
//! per case. Needs an open-files limit above twice the viewers (scripts/bench
//! raises it).

#[path = "../tests/common/process.rs"]
mod process;
#[path = "../tests/common/sse.rs"]
mod sse;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use process::ServerProcess;
use serde_json::{json, Value};

const PRODUCT: &str = "bench";
const ENVS: usize = 10;
const APPS: usize = 3;
const STEPS: usize = 10;
const RATE: usize = 10;

fn at(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(1_714_557_600 + seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn envelope(id: String, kind: &str, seconds: i64, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "viewers", "type": kind, "time": at(seconds), "data": data})
}

fn created() -> Value {
    let environments: Vec<Value> = (0..ENVS)
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
    envelope(
        "created".into(),
        "release.created",
        0,
        json!({
            "product": PRODUCT, "release": "busy", "version": "1.0.0",
            "flow": {"name": "long", "trigger": "env0", "environments": environments},
            "commit": {"sha": "0123456789abcdef0123456789abcdef01234567",
                       "message": "feat: the busy release\n\nWith a body.",
                       "author": {"name": "Bench", "email": "bench@example.com"}},
        }),
    )
}

/// Change `n`: a snapshot of one run of the busy release, its steps
/// progressing.
fn change(n: usize) -> Value {
    let env = n % ENVS;
    let app = (n / ENVS) % APPS;
    let round = n / (ENVS * APPS);
    let done = (round % (STEPS + 1)).min(STEPS);
    let steps: Vec<Value> = (0..STEPS)
        .map(|s| {
            let status = if s < done {
                "success"
            } else if s == done {
                "running"
            } else {
                "pending"
            };
            json!({"name": format!("step-{s}"), "status": status, "started_at": at(10),
                   "logs": format!("step {s} of run {env}/{app}: round {round}")})
        })
        .collect();
    envelope(
        format!("w{n}"),
        "workflow.updated",
        100 + n as i64,
        json!({"product": PRODUCT, "release": "busy", "environment": format!("env{env}"),
               "phase": "post",
               "run": {"id": format!("run-{env}-{app}"), "workflow": "post", "application": format!("app{app}"),
                       "status": "running", "started_at": at(10)},
               "steps": steps}),
    )
}

/// User plus system CPU time of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[derive(Clone, Copy, PartialEq)]
enum Scene {
    /// Every viewer shows the busy release's page.
    ReleasePage,
    /// Every viewer shows the product's Releases table.
    Table,
}

impl Scene {
    fn name(self) -> &'static str {
        match self {
            Scene::ReleasePage => "release page",
            Scene::Table => "Releases table",
        }
    }
}

/// What the viewers did.
#[derive(Default)]
struct Tally {
    bytes: AtomicU64,
    fetches: AtomicU64,
    patches: AtomicU64,
}

/// The page as a release-page viewer holds it: the id of its last change.
async fn fetch_page(client: &reqwest::Client, address: &str) -> (i64, i64) {
    let response = client
        .post(format!("{address}/api/get_release"))
        .form(&[("product", PRODUCT), ("id", "1")])
        .send()
        .await
        .expect("get_release");
    let page: Value = response.json().await.expect("a page");
    (
        page["as_of"].as_i64().unwrap_or(0),
        page["read_at"].as_i64().unwrap_or(0),
    )
}

/// One emulated browser: its stream, and for a release page the client's
/// rules for applying what arrives.
async fn viewer(
    scene: Scene,
    address: String,
    client: reqwest::Client,
    tally: Arc<Tally>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let (mut as_of, read_at) = match scene {
        Scene::ReleasePage => fetch_page(&client, &address).await,
        Scene::Table => (0, 0),
    };
    let query = match scene {
        Scene::ReleasePage => format!("?details={PRODUCT}/1&last_event_id={read_at}"),
        Scene::Table => String::new(),
    };
    let response = client
        .get(format!("{address}/api/v1/stream{query}"))
        .send()
        .await
        .expect("stream");
    let mut reader = CountingReader::new(response, tally.clone());
    // A change without a patch: fetch unless a patch catches up in time.
    let mut pending: Option<(tokio::time::Instant, i64)> = None;
    loop {
        let deadline = pending.map(|(at, _)| at);
        let event = tokio::select! {
            event = reader.next_event() => event,
            _ = stop.changed() => break,
            _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await }, if deadline.is_some() => {
                if let Some((_, id)) = pending.take() {
                    if as_of < id {
                        tally.fetches.fetch_add(1, Ordering::Relaxed);
                        as_of = fetch_page(&client, &address).await.0;
                    }
                }
                continue;
            }
        };
        let Some(event) = event else { break };
        if scene == Scene::Table || event.event != "release" {
            continue;
        }
        let data = event.json();
        if data["release"] != 1 {
            continue;
        }
        let detail = &data["detail"];
        if let Some(full) = detail.get("full") {
            as_of = as_of.max(full["as_of"].as_i64().unwrap_or(0));
        } else if let Some(patch) = detail.get("patch") {
            let (base, to) = (patch["base"].as_i64(), patch["to"].as_i64().unwrap_or(0));
            if to <= as_of {
            } else if base == Some(as_of) {
                as_of = to;
                tally.patches.fetch_add(1, Ordering::Relaxed);
            } else {
                tally.fetches.fetch_add(1, Ordering::Relaxed);
                as_of = fetch_page(&client, &address).await.0;
            }
        } else if event.id() > as_of {
            pending = Some((
                tokio::time::Instant::now() + Duration::from_millis(300),
                event.id(),
            ));
        }
    }
}

/// An SSE reader that counts the bytes it receives.
struct CountingReader {
    response: reqwest::Response,
    parser: sse::Parser,
    tally: Arc<Tally>,
}

impl CountingReader {
    fn new(response: reqwest::Response, tally: Arc<Tally>) -> Self {
        CountingReader {
            response,
            parser: sse::Parser::default(),
            tally,
        }
    }

    async fn next_event(&mut self) -> Option<sse::Event> {
        loop {
            while let Some(item) = self.parser.next() {
                if let sse::Item::Event(event) = item {
                    return Some(event);
                }
            }
            let chunk = self.response.chunk().await.ok()??;
            self.tally
                .bytes
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            self.parser.feed(&chunk);
        }
    }
}

struct Case {
    scene: Scene,
    viewers: usize,
    cpu_per_change_ms: f64,
    core_share: f64,
    bytes_per_viewer_change: f64,
    fetches: u64,
    patches: u64,
}

async fn run_case(
    address: &str,
    pid: u32,
    post: &(impl Fn(Value) -> tokio::task::JoinHandle<()> + Sync),
    scene: Scene,
    viewers: usize,
    seconds: usize,
    next_change: &mut usize,
) -> Case {
    let tally = Arc::new(Tally::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut tasks = Vec::with_capacity(viewers);
    for chunk in (0..viewers).collect::<Vec<_>>().chunks(100) {
        for _ in chunk {
            tasks.push(tokio::spawn(viewer(
                scene,
                address.to_owned(),
                client.clone(),
                tally.clone(),
                stop_rx.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Everyone connected and settled.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bytes_before = tally.bytes.load(Ordering::Relaxed);
    let fetches_before = tally.fetches.load(Ordering::Relaxed);
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let total = RATE * seconds;
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / RATE as f64));
    let mut posts = Vec::with_capacity(total);
    for _ in 0..total {
        interval.tick().await;
        posts.push(post(json!([change(*next_change)])));
        *next_change += 1;
    }
    for posted in posts {
        posted.await.expect("post");
    }
    // The last changes reach every viewer.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu_before;
    let bytes = tally.bytes.load(Ordering::Relaxed) - bytes_before;
    let fetches = tally.fetches.load(Ordering::Relaxed) - fetches_before;
    let patches = tally.patches.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    Case {
        scene,
        viewers,
        cpu_per_change_ms: 1000.0 * cpu / total as f64,
        core_share: cpu / elapsed,
        bytes_per_viewer_change: bytes as f64 / viewers as f64 / total as f64,
        fetches,
        patches,
    }
}

#[tokio::main]
async fn main() {
    let seconds: usize = std::env::var("VIEWERS_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let most = 1000;
    if let Some(limit) = open_files_limit() {
        if limit < most * 2 + 256 {
            eprintln!(
                "the open-files limit is {limit}: raise it (ulimit -n {}) or run scripts/bench",
                most * 2 + 256
            );
            std::process::exit(1);
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/releases.db", dir.path().display());
    let env = [
        (
            "LEPTOS_SITE_ROOT",
            dir.path().join("site").display().to_string(),
        ),
        ("RUST_LOG", "warn,server::cli=info".to_string()),
        // The emulated browsers all connect from this machine's address:
        // the per-address cap (64 by default) is for real clients.
        ("MAX_STREAMS_PER_CLIENT", "0".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = process::server()
        .envs(env.iter().copied())
        .args([
            "--database-url",
            &url,
            "token",
            "create",
            "--role",
            "ingest",
        ])
        .output()
        .expect("server token create");
    assert!(output.status.success());
    let token = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    let mut server = ServerProcess::serve(&url, &env);
    let pid = server.pid();
    let address = server.address.clone();

    let poster = reqwest::Client::new();
    let post = {
        let address = address.clone();
        move |body: Value| {
            let request = poster
                .post(format!("{address}/api/v1/events"))
                .bearer_auth(&token)
                .header("content-type", "application/cloudevents-batch+json")
                .json(&body);
            tokio::spawn(async move {
                let response = request.send().await.expect("post");
                assert_eq!(response.status(), 200);
            })
        }
    };
    post(json!([created()])).await.expect("created");
    // Every run reported once, so the page has its full size.
    let mut next_change = 0;
    let warm: Vec<Value> = (0..ENVS * APPS).map(change).collect();
    post(Value::Array(warm)).await.expect("warm");
    next_change += ENVS * APPS;

    println!(
        "viewers bench: a release of {ENVS} environments × {APPS} applications × {STEPS} steps, {RATE} changes/s for {seconds} s per case, SQLite, server pid {pid}"
    );
    let mut met = true;
    for scene in [Scene::ReleasePage, Scene::Table] {
        for viewers in [100, most] {
            let case = run_case(
                &address,
                pid,
                &post,
                scene,
                viewers,
                seconds,
                &mut next_change,
            )
            .await;
            let ok = case.core_share < 1.0 && case.bytes_per_viewer_change <= 4096.0;
            met &= ok || viewers < most;
            println!(
                "{:>14}, V = {:>4}: server CPU {:.2} ms per change ({:.0}% of one core), {:.0} bytes per viewer per change, {} patches applied, {} page fetches   (target at V = 1000: < 100% of a core, ≤ 4096 bytes)",
                case.scene.name(),
                case.viewers,
                case.cpu_per_change_ms,
                100.0 * case.core_share,
                case.bytes_per_viewer_change,
                case.patches,
                case.fetches,
            );
        }
    }
    println!("targets: {}", if met { "met" } else { "NOT met" });
    if server.stop().is_none() {
        eprintln!("the server did not stop within 15 s of SIGTERM");
    }
    for line in server.log().iter().filter(|l| !l.contains("\"address\"")) {
        eprintln!("server: {line}");
    }
}
