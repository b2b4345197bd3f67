//! `https` webhooks are delivered over TLS (SPEC §4.4): a local HTTPS
//! receiver whose certificate a test CA signed, trusted through
//! `SSL_CERT_FILE` (which names the roots to use instead of the system's).
//! Alone in its test binary, since it sets that variable for the process.

mod common;

use std::sync::{Arc, Mutex};

use backend::auth::Role;
use common::fixtures::{created, workflow};
use common::{delivery_when, TestServer};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A TLS listener for `axum::serve`: handshakes that fail are skipped.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((socket, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(socket).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[tokio::test]
async fn an_https_webhook_is_delivered_over_tls() {
    // A CA, and a certificate for localhost it signed.
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("certificate");
    let dir = tempfile::tempdir().expect("dir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write the CA");
    // Before the server (and its webhook client) starts.
    std::env::set_var("SSL_CERT_FILE", &ca_file);

    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("server config");
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = tcp.local_addr().expect("addr").port();
    let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let received = bodies.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let received = received.clone();
            async move {
                received.lock().expect("lock").push(body.to_vec());
                "ok"
            }
        }),
    );
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    };
    tokio::spawn(async move { axum::serve(listener, app).await });

    let server = TestServer::sqlite().await;
    let ingest = server.token(Role::Ingest).await;
    let events = json!([
        created("t-c", "tls", "t-1", "abc1234", "Fix it", 0),
        workflow("t-w", "tls", "t-1", "dev", "post", "t-dev-1", "smoke", "Failed", 10),
    ]);
    let response = server
        .post_events(&ingest, "application/cloudevents-batch+json", &events)
        .await;
    assert_eq!(response.status(), 200);
    let operator = server.token(Role::Operator).await;
    let set = server
        .client
        .put(server.url("/api/v1/products/tls/webhook"))
        .bearer_auth(&operator)
        .json(&json!({"url": format!("https://localhost:{port}/hook"), "secret": "s3cret"}))
        .send()
        .await
        .expect("request");
    assert_eq!(set.status(), 200);
    let restart = server
        .client
        .post(server.url("/api/v1/products/tls/releases/1/restart"))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("request");
    assert_eq!(restart.status(), 202);

    let base = server.url("");
    let delivery = delivery_when(
        &base,
        &server.client,
        "/api/v1/products/tls/releases/1",
        "delivered",
    )
    .await;
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    let bodies = bodies.lock().expect("lock").clone();
    assert_eq!(bodies.len(), 1);
    let payload: Value = serde_json::from_slice(&bodies[0]).expect("json");
    assert_eq!(payload["type"], "release.restart_requested");
    server.stop().await;
}
