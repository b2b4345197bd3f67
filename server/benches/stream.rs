//! `cargo bench -p server --bench stream` (or `scripts/bench`): the live
//! stream figures on SQLite. The real `server` binary runs as a
//! child process (so its RSS is its own) on a loopback port; this process
//! opens 1,000 SSE clients, posts 200 events/s for 30 s (one
//! `release.created` per request, so one change each) and prints:
//! - delivery latency p50/p99, from the start of the POST to the moment a
//!   client has parsed the event, over every (event, client) pair,
//! - missed events (each client must get every event) and duplicates,
//! - the server's RSS (`VmRSS`, sampled each second, and its peak `VmHWM`).
//!
//! `STREAM_BENCH_CLIENTS`, `STREAM_BENCH_RATE` and `STREAM_BENCH_SECONDS`
//! override 1000, 200 and 30. Needs an open-files limit above the number
//! of clients (scripts/bench raises it).

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

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn created(n: usize) -> Value {
    let time = chrono::DateTime::from_timestamp(1_714_557_600 + n as i64, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "specversion": "1.0", "id": format!("c{n}"), "source": "bench", "type": "release.created",
        "time": time,
        "data": {
            "product": PRODUCT, "release": format!("b{n}"), "version": format!("1.0.{n}"),
            "flow": {"name": "main", "trigger": "dev", "environments": [
                {"name": "dev", "depends_on": [], "applications": ["api"], "pre_action": null, "post_action": "smoke"},
                {"name": "prod", "depends_on": ["dev"], "applications": ["api"], "pre_action": "verify", "post_action": null}
            ]},
            "commit": {"sha": format!("{n:040x}"), "message": format!("Change {n}"),
                       "author": {"name": "Bench", "email": "bench@example.com"}},
        },
    })
}

/// The `n` of release key `b{n}` in a change summary.
fn key_of(data: &str) -> Option<usize> {
    let start = data.find("\"key\":\"b")? + "\"key\":\"b".len();
    let digits = &data[start..];
    let end = digits.find('"')?;
    digits[..end].parse().ok()
}

/// The soft open-files limit of this process (inherited by the server).
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// User plus system CPU time of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command, which is in parentheses.
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
    // utime and stime are fields 14 and 15 of stat, indices 11 and 12 here; the
    // clock tick is 100 Hz on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

/// The server's environment: its own site directory, warnings only.
fn server_env(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("LEPTOS_SITE_ROOT", dir.join("site").display().to_string()),
        ("RUST_LOG", "warn,server::cli=info".to_string()),
        // The emulated browsers all connect from this machine's address:
        // the per-address cap (64 by default) is for real clients.
        ("MAX_STREAMS_PER_CLIENT", "0".to_string()),
    ]
}

struct Received {
    /// Delivery latency of each event this client got, in microseconds.
    latencies: Vec<u32>,
    /// How many times each event arrived (index `n`).
    counts: Vec<u8>,
    ended_early: bool,
}

#[tokio::main]
async fn main() {
    let clients = setting("STREAM_BENCH_CLIENTS", 1000);
    let rate = setting("STREAM_BENCH_RATE", 200);
    let seconds = setting("STREAM_BENCH_SECONDS", 30);
    let total = rate * seconds;
    if let Some(limit) = open_files_limit() {
        if limit < clients * 2 + 256 {
            eprintln!(
                "the open-files limit is {limit}: raise it (ulimit -n {}) or run scripts/bench",
                clients * 2 + 256
            );
            std::process::exit(1);
        }
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/releases.db", dir.path().display());
    let env = server_env(dir.path());
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
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string();

    let mut server = ServerProcess::serve(&url, &env);
    let pid = server.pid();
    let address = server.address.clone();
    let (idle_rss, _) = memory(pid);

    let poster = reqwest::Client::new();
    let post = {
        let poster = poster.clone();
        let address = address.clone();
        let token = token.clone();
        move |body: Value| {
            let request = poster
                .post(format!("{address}/api/v1/events"))
                .bearer_auth(&token)
                .header("content-type", "application/cloudevents-batch+json")
                .json(&body);
            async move {
                let response = request.send().await.expect("post");
                let status = response.status();
                assert_eq!(status, 200, "{}", response.text().await.unwrap_or_default());
            }
        }
    };
    // The product exists before the clients connect: every later request
    // is one change.
    post(json!([created(0)])).await;

    // Clients connect 100 at a time (the listen backlog is finite).
    let base = Instant::now();
    let posted_at: Arc<Vec<AtomicU64>> = Arc::new((0..=total).map(|_| AtomicU64::new(0)).collect());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let connect_started = Instant::now();
    let mut readers = Vec::with_capacity(clients);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    for chunk in (0..clients).collect::<Vec<_>>().chunks(100) {
        let mut opening = Vec::new();
        for _ in chunk {
            let request = client.get(format!("{address}/api/v1/stream")).send();
            opening.push(tokio::spawn(request));
        }
        for open in opening {
            let response = open.await.expect("join").expect("connect");
            assert_eq!(response.status(), 200);
            readers.push(response);
        }
    }
    let connect_time = connect_started.elapsed();
    let (connected_rss, _) = memory(pid);

    let mut tasks = Vec::with_capacity(clients);
    for response in readers {
        let posted_at = posted_at.clone();
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut reader = sse::Reader::new(response);
            let mut received = Received {
                latencies: Vec::with_capacity(total),
                counts: vec![0; total + 1],
                ended_early: false,
            };
            let mut got = 0;
            while got < total {
                let event = tokio::select! {
                    event = reader.next_event() => event,
                    _ = stop.changed() => break,
                };
                let Some(event) = event else {
                    received.ended_early = true;
                    break;
                };
                let now = base.elapsed().as_micros() as u64;
                let Some(n) = key_of(&event.data) else {
                    continue;
                };
                if n == 0 || n > total {
                    continue;
                }
                if received.counts[n] == 0 {
                    got += 1;
                    let sent = posted_at[n].load(Ordering::Acquire);
                    received
                        .latencies
                        .push(now.saturating_sub(sent).min(u64::from(u32::MAX)) as u32);
                }
                received.counts[n] = received.counts[n].saturating_add(1);
            }
            received
        }));
    }

    // Samples the server's memory while the events flow.
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = tokio::spawn({
        let peak = peak.clone();
        async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            loop {
                interval.tick().await;
                peak.fetch_max(memory(pid).0, Ordering::Relaxed);
            }
        }
    });

    println!(
        "stream bench: {clients} SSE clients (connected in {:.1} s), {rate} events/s for {seconds} s = {total} events, SQLite, server pid {pid} as a child process",
        connect_time.as_secs_f64()
    );
    let cpu_before = cpu_seconds(pid);
    let posting_started = Instant::now();
    // At most 32 requests in flight, as a few busy ingesters would send:
    // if the server cannot keep up, the achieved rate below falls short
    // instead of thousands of requests queueing in the server.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(32));
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut posts = Vec::with_capacity(total);
    for n in 1..=total {
        interval.tick().await;
        let posted_at = posted_at.clone();
        let request = post(json!([created(n)]));
        let permit = in_flight.clone().acquire_owned().await.expect("semaphore");
        posts.push(tokio::spawn(async move {
            let _permit = permit;
            let started = Instant::now();
            posted_at[n].store(base.elapsed().as_micros() as u64, Ordering::Release);
            request.await;
            started.elapsed()
        }));
    }
    let mut post_latencies = Vec::with_capacity(total);
    for post in posts {
        post_latencies.push(
            post.await
                .expect("post")
                .as_micros()
                .min(u128::from(u32::MAX)) as u32,
        );
    }
    let posting_time = posting_started.elapsed();
    let server_cpu = cpu_seconds(pid) - cpu_before;

    // Every client should have every event soon; give them 10 s at most.
    let timer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let _ = stop_tx.send(true);
    });
    let mut done = Vec::with_capacity(clients);
    for task in tasks {
        done.push(task.await.expect("client"));
    }
    timer.abort();
    let (end_rss, hwm) = memory(pid);
    sampling.abort();
    let sampled_peak = peak.load(Ordering::Relaxed).max(end_rss);

    let mut latencies: Vec<u32> = Vec::with_capacity(clients * total);
    let mut missed = 0usize;
    let mut duplicates = 0usize;
    let mut ended_early = 0usize;
    for received in &done {
        latencies.extend_from_slice(&received.latencies);
        for count in &received.counts[1..] {
            match count {
                0 => missed += 1,
                1 => {}
                more => duplicates += usize::from(*more) - 1,
            }
        }
        ended_early += usize::from(received.ended_early);
    }
    latencies.sort_unstable();
    post_latencies.sort_unstable();
    let p99 = percentile(&latencies, 0.99);
    let rss_mb = |kib: u64| kib as f64 / 1024.0;

    println!(
        "posted {total} events in {:.1} s ({:.0}/s); POST latency p50 {:.1} ms, p99 {:.1} ms",
        posting_time.as_secs_f64(),
        total as f64 / posting_time.as_secs_f64(),
        percentile(&post_latencies, 0.5),
        percentile(&post_latencies, 0.99),
    );
    println!(
        "server CPU while posting: {server_cpu:.1} s in {:.1} s ({:.0}% of one core)",
        posting_time.as_secs_f64(),
        100.0 * server_cpu / posting_time.as_secs_f64()
    );
    println!(
        "delivery latency (POST start to client receipt, {} deliveries): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms   (target p99 < 100 ms)",
        latencies.len(),
        percentile(&latencies, 0.5),
        p99,
        percentile(&latencies, 1.0),
    );
    println!(
        "missed events: {missed} of {} (target 0); duplicates: {duplicates}; streams that ended early: {ended_early}",
        clients * total
    );
    println!(
        "server RSS: idle {:.1} MB, with {clients} clients {:.1} MB, peak sampled {:.1} MB, VmHWM {:.1} MB, at end {:.1} MB   (target < 200 MB)",
        rss_mb(idle_rss),
        rss_mb(connected_rss),
        rss_mb(sampled_peak),
        rss_mb(hwm),
        rss_mb(end_rss),
    );
    let met = p99 < 100.0 && missed == 0 && duplicates == 0 && hwm < 200 * 1024;
    println!("targets: {}", if met { "met" } else { "NOT met" });

    drop(done);
    if server.stop().is_none() {
        eprintln!("the server did not stop within 15 s of SIGTERM");
    }
    // Warnings and errors it logged (the address line aside).
    for line in server.log().iter().filter(|l| !l.contains("\"address\"")) {
        eprintln!("server: {line}");
    }
}
