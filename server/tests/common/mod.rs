//! A real server on port 0 with a fresh SQLite file (or the PostgreSQL
//! database named by `TEST_POSTGRES_URL`), for integration tests.

#![allow(dead_code)]

use std::net::SocketAddr;

use std::sync::atomic::{AtomicUsize, Ordering};

use backend::auth::{create_token, Role};
use backend::db::{Backend, Db};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub addr: SocketAddr,
    pub db: Db,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    _dir: Option<TempDir>,
}

impl TestServer {
    /// A server on a fresh SQLite file.
    pub async fn sqlite() -> TestServer {
        Self::on(Backend::Sqlite, true)
            .await
            .expect("SQLite is always there")
    }

    /// A server on a fresh PostgreSQL database, created beside the one
    /// `TEST_POSTGRES_URL` names (the test command always sets it; see
    /// scripts/test), so tests running in parallel never share data.
    pub async fn postgres() -> Option<TestServer> {
        Self::on(Backend::Postgres, true).await
    }

    /// A server on `backend` (`None` for PostgreSQL without
    /// `TEST_POSTGRES_URL`), with anonymous read on or off.
    pub async fn on(backend: Backend, anonymous_read: bool) -> Option<TestServer> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/releases.db", dir.path().display());
                Some(Self::start(&url, Some(dir), anonymous_read, |_| {}).await)
            }
            Backend::Postgres => {
                let base = std::env::var("TEST_POSTGRES_URL").ok()?;
                let url = fresh_postgres_database(&base).await;
                Some(Self::start(&url, None, anonymous_read, |_| {}).await)
            }
        }
    }

    /// A server on a fresh SQLite file, launched as `configure` sets.
    #[allow(dead_code)]
    pub async fn sqlite_with(configure: impl FnOnce(&mut server::Launch)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/releases.db", dir.path().display());
        Self::start(&url, Some(dir), true, configure).await
    }

    /// A server on a fresh PostgreSQL database (`None` without
    /// `TEST_POSTGRES_URL`), launched as `configure` sets.
    #[allow(dead_code)]
    pub async fn postgres_with(configure: impl FnOnce(&mut server::Launch)) -> Option<TestServer> {
        let base = std::env::var("TEST_POSTGRES_URL").ok()?;
        let url = fresh_postgres_database(&base).await;
        Some(Self::start(&url, None, true, configure).await)
    }

    async fn start(
        url: &str,
        dir: Option<TempDir>,
        anonymous_read: bool,
        configure: impl FnOnce(&mut server::Launch),
    ) -> TestServer {
        let db = Db::connect(url).await.expect("connect");
        db.migrate().await.expect("migrate");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let mut launch = server::Launch {
            db: db.clone(),
            anonymous_read,
            loopback_hosts_only: false,
            streams: Default::default(),
            request_timeout: std::time::Duration::from_secs(30),
            demo: None,
            adapters: Default::default(),
        };
        configure(&mut launch);
        let handle = tokio::spawn(server::launch(launch, listener, async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            db,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            shutdown: Some(tx),
            handle: Some(handle),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// A new token with `role`.
    pub async fn token(&self, role: Role) -> String {
        create_token(&self.db, role, "test").await.expect("token")
    }

    /// Posts `body` to `/api/v1/events` with `token` and `content_type`.
    pub async fn post_events(
        &self,
        token: &str,
        content_type: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/events"))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(serde_json::to_vec(body).expect("json"))
            .send()
            .await
            .expect("request")
    }

    /// GETs `path` and returns the status and the JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        let body = response.json().await.expect("json body");
        (status, body)
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("join").expect("serve");
        }
    }
}

/// The backends every API test runs on: SQLite always, PostgreSQL when
/// `TEST_POSTGRES_URL` is set. Set `SKIP_POSTGRES=1` to make its absence
/// explicit; CI always sets the URL.
pub fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Sqlite];
    if std::env::var("TEST_POSTGRES_URL").is_ok() {
        backends.push(Backend::Postgres);
    } else if std::env::var("SKIP_POSTGRES").is_err() {
        eprintln!(
            "TEST_POSTGRES_URL is not set: PostgreSQL is skipped (set SKIP_POSTGRES=1 to silence)"
        );
    }
    backends
}

/// Creates a uniquely named database on the server of `base` and returns its URL.
pub async fn fresh_postgres_database(base: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "releases_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default()
    );
    let admin = Db::connect(base)
        .await
        .expect("connect to TEST_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin.pool)
        .await
        .expect("create database");
    admin.pool.close().await;
    let (server, _) = base.rsplit_once('/').expect("database URL with a path");
    format!("{server}/{name}")
}

/// Polls the release until its newest restart's delivery is `state`.
pub async fn delivery_when(
    base: &str,
    client: &reqwest::Client,
    path: &str,
    state: &str,
) -> serde_json::Value {
    for _ in 0..200 {
        let detail: serde_json::Value = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        let delivery = &detail["restarts"][0]["delivery"];
        if delivery["state"] == state {
            return delivery.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the delivery never became {state}");
}

pub mod fixtures;
pub mod headers;
