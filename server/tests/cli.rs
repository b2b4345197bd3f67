//! The `server` binary: token creation, migrations, bad input, JSON logs,
//! graceful shutdown on SIGTERM, and pages and static files served at once.

#[path = "common/headers.rs"]
mod headers;
#[path = "common/process.rs"]
mod process;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use headers::header;
use process::{server, ServerProcess};

#[tokio::test]
async fn token_create_prints_only_the_token_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().expect("dir");
    let db_path = dir.path().join("releases.db");
    let url = format!("sqlite://{}", db_path.display());
    let output = server()
        .args([
            "--database-url",
            &url,
            "token",
            "create",
            "--role",
            "ingest",
            "--name",
            "ci",
        ])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let token = stdout.trim_end();
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(token.starts_with("rls_") && token.len() == 68, "{token:?}");

    let db = backend::db::Db::connect(&url).await.expect("connect");
    let rows: Vec<(String, String, String)> = sqlx::query_as("SELECT name, role, hash FROM tokens")
        .fetch_all(&db.pool)
        .await
        .expect("rows");
    assert_eq!(
        rows,
        vec![(
            "ci".to_string(),
            "ingest".to_string(),
            backend::auth::hash_token(token)
        )]
    );
    let _ = db_path;
}

#[test]
fn token_create_rejects_an_unknown_role() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/releases.db", dir.path().display());
    let output = server()
        .args(["--database-url", &url, "token", "create", "--role", "admin"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown role \"admin\""), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn an_unsupported_database_url_is_a_clear_error() {
    let output = server()
        .args(["--database-url", "mysql://u:hunter2@db/x", "migrate"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
}

#[test]
fn migrate_creates_the_database_file_and_its_directory() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("nested/dir/releases.db");
    let output = server()
        .env("DATABASE_URL", format!("sqlite://{}", path.display()))
        .arg("migrate")
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(path.is_file());
}

#[test]
fn serve_logs_json_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/releases.db", dir.path().display());
    let mut server = ServerProcess::serve(&url, &[("RUST_LOG", "info")]);
    let address = server.address.clone();
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");
    assert!(!address.ends_with(":0"), "{address}");

    let status = server.stop().expect("the server stops on SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    let log = server.log();
    assert!(!log.is_empty());
    for line in log {
        serde_json::from_str::<serde_json::Value>(&line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}

#[tokio::test]
async fn every_log_line_of_a_request_names_its_request_id() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/releases.db", dir.path().display());
    let mut server = ServerProcess::serve(&url, &[("RUST_LOG", "info,tower_http=debug")]);
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/api/v1/products/nope/releases", server.address))
        .header("x-request-id", "test-42")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers().get("x-request-id").map(|v| v.as_bytes()),
        Some(b"test-42".as_slice()),
        "the id is echoed"
    );
    let fresh = client
        .get(format!("{}/healthz", server.address))
        .send()
        .await
        .expect("request");
    assert!(
        fresh.headers().contains_key("x-request-id"),
        "a request without an id gets one"
    );
    server.stop().expect("stops");
    let lines: Vec<serde_json::Value> = server
        .log()
        .iter()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .filter(|entry: &serde_json::Value| {
            entry["span"]["path"] == "/api/v1/products/nope/releases"
        })
        .collect();
    assert!(!lines.is_empty(), "the request was logged");
    for entry in lines {
        assert_eq!(entry["span"]["request_id"], "test-42", "{entry}");
    }
}

#[test]
fn demo_prints_where_to_open_the_ui_and_a_working_token() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = server()
        .env("RUST_LOG", "warn")
        .args([
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &format!("sqlite://{}/demo.db", dir.path().display()),
            "demo",
            "--seed",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut address = None;
    let mut token = None;
    while token.is_none() {
        let line = lines.next().expect("a line").expect("utf-8");
        if let Some(url) = line.strip_prefix("Releases demo: open ") {
            address = Some(url.trim().to_string());
        }
        if let Some(rest) = line.split("Bearer ").nth(1) {
            token = rest.split('\'').next().map(str::to_string);
        }
    }
    let address = address.expect("the UI address is printed first");
    let token = token.expect("token");
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");
    assert!(token.starts_with("rls_"), "{token}");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{address}/api/v1/products"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request")
            .status()
    });
    assert_eq!(status, 200);
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{address}/api/v1/products"))
            .bearer_auth("rls_not-a-token")
            .send()
            .await
            .expect("request")
            .status()
    });
    assert_eq!(status, 401);

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "the demo did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn token_list_shows_no_secret_and_token_delete_revokes() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/releases.db", dir.path().display());
    let create = |name: &str| {
        let output = server()
            .args([
                "--database-url",
                &url,
                "token",
                "create",
                "--role",
                "viewer",
                "--name",
                name,
            ])
            .output()
            .expect("run");
        assert!(output.status.success());
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    };
    let first = create("laptop");
    let _second = create("ci");
    let list = server()
        .args(["--database-url", &url, "token", "list"])
        .output()
        .expect("run");
    assert!(list.status.success());
    let text = String::from_utf8(list.stdout).expect("utf-8");
    assert!(
        text.contains("laptop") && text.contains("ci") && text.contains("viewer"),
        "{text}"
    );
    assert!(!text.contains(&first[4..]), "no token in the list: {text}");
    let id = text
        .lines()
        .find(|line| line.ends_with("laptop"))
        .and_then(|line| line.split_whitespace().next())
        .expect("the laptop token's id")
        .to_string();

    let delete = server()
        .args(["--database-url", &url, "token", "delete", &id])
        .output()
        .expect("run");
    assert!(
        delete.status.success(),
        "{}",
        String::from_utf8_lossy(&delete.stderr)
    );
    let db = backend::db::Db::connect(&url).await.expect("connect");
    assert!(backend::auth::find_token(&db, &first)
        .await
        .expect("find")
        .is_none());

    let again = server()
        .args(["--database-url", &url, "token", "delete", &id])
        .output()
        .expect("run");
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains(&format!("no token has id {id}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn on_loopback_anonymous_read_answers_loopback_names_only_and_can_be_turned_off() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/releases.db", dir.path().display());
    let client = reqwest::Client::new();

    let mut server = ServerProcess::serve(&url, &[]);
    let products = format!("{}/api/v1/products", server.address);
    let port = server
        .address
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let local = client.get(&products).send().await.expect("request");
    assert_eq!(local.status(), 200);
    for host in ["localhost", "[::1]", "app.localhost"] {
        let named = client
            .get(&products)
            .header("Host", format!("{host}:{port}"))
            .send()
            .await
            .expect("request");
        assert_eq!(named.status(), 200, "{host}");
    }
    // DNS rebinding: a page of evil.example resolved to 127.0.0.1.
    let rebound = client
        .get(&products)
        .header("Host", format!("evil.example:{port}"))
        .send()
        .await
        .expect("request");
    assert_eq!(rebound.status(), 421);
    let body: serde_json::Value = rebound.json().await.expect("json");
    assert_eq!(body["error"]["field"], "Host", "{body}");
    server.stop().expect("stops");

    let mut server = ServerProcess::serve(&url, &[("ANONYMOUS_READ", "false")]);
    let products = format!("{}/api/v1/products", server.address);
    let anonymous = client.get(&products).send().await.expect("request");
    assert_eq!(anonymous.status(), 401);
    server.stop().expect("stops");
}

#[tokio::test]
async fn product_set_flow_stores_a_valid_flow_and_names_the_problem_of_a_bad_one() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/releases.db", dir.path().display());
    let file = dir.path().join("flow.json");
    std::fs::write(
        &file,
        r#"{"name": "main", "trigger": "dev", "environments": [
            {"name": "dev", "depends_on": [], "applications": ["api"]},
            {"name": "prod", "depends_on": ["dev"], "applications": ["api"], "pre_action": "verify"}]}"#,
    )
    .expect("write");
    let set = |file: &std::path::Path| {
        server()
            .args(["--database-url", &url, "product", "set-flow", "shop"])
            .arg(file)
            .output()
            .expect("run")
    };
    let output = set(&file);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("product shop: flow \"main\" with 2 environments"),
        "{stdout}"
    );
    let db = backend::db::Db::connect(&url).await.expect("connect");
    let (flow,): (String,) = sqlx::query_as("SELECT flow FROM products WHERE slug = 'shop'")
        .fetch_one(&db.pool)
        .await
        .expect("row");
    let flow: serde_json::Value = serde_json::from_str(&flow).expect("json");
    assert_eq!(flow["environments"][1]["pre_action"], "verify");

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"name": "main", "trigger": "dev", "environments": [
            {"name": "dev", "depends_on": ["nowhere"], "applications": []}]}"#,
    )
    .expect("write");
    let output = set(&bad);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(": environments: "), "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
    let output = set(&dir.path().join("missing.json"));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
    // The bad ones changed nothing.
    let (again,): (String,) = sqlx::query_as("SELECT flow FROM products WHERE slug = 'shop'")
        .fetch_one(&db.pool)
        .await
        .expect("row");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&again).expect("json"),
        flow
    );
}

/// Static files and pages served at once keep their own headers: a file
/// served while a page renders on the same worker thread once took that
/// page's headers (its nonce policy, its status), leaving the page without
/// the policy that lets its hydration script run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn static_files_and_pages_served_at_once_keep_their_own_headers() {
    let dir = tempfile::tempdir().expect("dir");
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).expect("site dir");
    std::fs::write(
        site.join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .expect("favicon");
    let url = format!("sqlite://{}/releases.db", dir.path().display());
    let site_root = site.display().to_string();
    let mut server = ServerProcess::serve(&url, &[("LEPTOS_SITE_ROOT", &site_root)]);
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let client = client.clone();
        let base = server.address.clone();
        tasks.push(tokio::spawn(async move {
            let mut wrong = Vec::new();
            for round in 0..60 {
                let path = ["/", "/favicon.svg", "/products/nope/releases"][(task + round) % 3];
                let Ok(response) = client.get(format!("{base}{path}")).send().await else {
                    wrong.push(format!("{path}: no answer"));
                    continue;
                };
                let status = response.status().as_u16();
                let policy = header(&response, "content-security-policy");
                let expected = match path {
                    "/" => status == 200 && policy.contains("'nonce-"),
                    "/favicon.svg" => status == 200 && !policy.contains("'nonce-"),
                    _ => status == 404 && policy.contains("'nonce-"),
                };
                if !expected {
                    wrong.push(format!("{path}: {status} {policy}"));
                }
            }
            wrong
        }));
    }
    let mut wrong = Vec::new();
    for task in tasks {
        wrong.extend(task.await.expect("task"));
    }
    server.stop().expect("stops");
    assert!(
        wrong.is_empty(),
        "{} of 480 answers had another's headers: {wrong:#?}",
        wrong.len()
    );
}
