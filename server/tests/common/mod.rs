//! A real server on port 0 with a fresh SQLite file (or the PostgreSQL
//! database named by `TEST_POSTGRES_URL`), for integration tests.

#![allow(dead_code)]

use std::net::SocketAddr;

use app::server::db::Db;
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
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/releases.db", dir.path().display());
        Self::start(&url, Some(dir)).await
    }

    /// A server on the PostgreSQL test database, when `TEST_POSTGRES_URL` is
    /// set (the test command always sets it; see scripts/test).
    pub async fn postgres() -> Option<TestServer> {
        let url = std::env::var("TEST_POSTGRES_URL").ok()?;
        Some(Self::start(&url, None).await)
    }

    async fn start(url: &str, dir: Option<TempDir>) -> TestServer {
        let db = Db::connect(url).await.expect("connect");
        db.migrate().await.expect("migrate");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let launch = server::Launch {
            db: db.clone(),
            anonymous_read: true,
        };
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
