//! The HTTP surface of the foundation: health, readiness, metrics, pages,
//! the 404 page and a server function, on a real server on port 0.

mod common;

use common::headers::header;
use common::TestServer;

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::sqlite().await;
    let response = server.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "ok");
    server.stop().await;
}

#[tokio::test]
async fn readyz_reports_the_database() {
    let server = TestServer::sqlite().await;
    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["database"], "SQLite");
    server.stop().await;
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_gone() {
    let server = TestServer::sqlite().await;
    server.db.pool.close().await;
    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unavailable");
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_and_time_them_by_route() {
    let server = TestServer::sqlite().await;
    server.get("/healthz").await;
    server.get("/healthz").await;
    server.get("/no/such/page/42").await;
    let response = server.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_request_duration_seconds_bucket{"#),
        "{text}"
    );
    // Unknown paths share one label value, so they cannot grow the label set.
    assert!(!text.contains("/no/such/page/42"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn the_dashboard_is_rendered_on_the_server() {
    let server = TestServer::sqlite().await;
    let response = server.get("/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("body");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains(r#"data-testid="site-header""#), "{html}");
    assert!(
        html.contains(r#"<h1 tabindex="-1">Environments</h1>"#),
        "{html}"
    );
    assert!(html.contains(r#"data-theme="system""#), "{html}");
    server.stop().await;
}

/// Launching a server lists the app's routes by rendering it with every
/// resource's loading suppressed, process-wide. Pages that another server of
/// the same process renders meanwhile must still load their data: each one
/// answers at once, not after the request timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_other_servers_launch() {
    let server = std::sync::Arc::new(TestServer::sqlite().await);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    let launched = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (server, client, launched) = (server.clone(), client.clone(), launched.clone());
        readers.push(tokio::spawn(async move {
            while !launched.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client.get(server.url("/")).send().await;
                let status = response.map(|r| r.status().as_u16());
                assert!(matches!(status, Ok(200)), "{status:?}");
            }
        }));
    }
    let mut launches = Vec::new();
    for _ in 0..16 {
        launches.push(tokio::spawn(async {
            let other = TestServer::sqlite().await;
            assert_eq!(other.get("/healthz").await.status(), 200);
            other.stop().await;
        }));
    }
    for task in launches {
        task.await.expect("launch");
    }
    launched.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in readers {
        task.await.expect("reader");
    }
    if let Ok(server) = std::sync::Arc::try_unwrap(server) {
        server.stop().await;
    }
}

/// Many renders of every page at once: each answers (the Releases table's
/// title was once read after its page's values were disposed, a panic that
/// dropped the connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_renders_of_every_page_all_answer() {
    let server = TestServer::sqlite().await;
    let token = server.token(backend::auth::Role::Ingest).await;
    let body = serde_json::json!([common::fixtures::created(
        "c1",
        "checkout",
        "r-1",
        "abc1234",
        "Fix ABC-12 crash",
        0
    )]);
    let response = server
        .post_events(&token, "application/cloudevents-batch+json", &body)
        .await;
    assert_eq!(response.status(), 200);
    let server = std::sync::Arc::new(server);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..80 {
                let path = [
                    "/products/checkout/releases",
                    "/products/checkout/releases/1",
                    "/products/checkout/releases/1/notes",
                    "/",
                ][round % 4];
                let response = server.client.get(server.url(path)).send().await;
                let status = response.map(|r| r.status().as_u16());
                assert!(matches!(status, Ok(200)), "{path}: {status:?}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    if let Ok(server) = std::sync::Arc::try_unwrap(server) {
        server.stop().await;
    }
}

#[tokio::test]
async fn the_theme_cookie_is_rendered_on_first_paint() {
    let server = TestServer::sqlite().await;
    let response = server
        .client
        .get(server.url("/"))
        .header("Cookie", "theme=dark")
        .send()
        .await
        .expect("request");
    let html = response.text().await.expect("body");
    assert!(
        html.contains(r#"<html lang="en" data-theme="dark""#),
        "{html}"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_page_answers_404() {
    let server = TestServer::sqlite().await;
    let response = server.get("/products/x/y/z/nothing").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.expect("body");
    assert!(html.contains("Page not found"), "{html}");
    server.stop().await;
}

#[tokio::test]
async fn set_theme_sets_the_cookie_and_rejects_unknown_themes() {
    let server = TestServer::sqlite().await;
    let response = server
        .client
        .post(server.url("/api/set_theme"))
        .header("Accept", "application/json")
        .form(&[("theme", "dark")])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let cookie = header(&response, "set-cookie");
    assert!(cookie.starts_with("theme=dark;"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");

    let response = server
        .client
        .post(server.url("/api/set_theme"))
        .header("Accept", "application/json")
        .form(&[("theme", "purple")])
        .send()
        .await
        .expect("request");
    assert!(response.status().is_client_error(), "{}", response.status());
    assert!(response.headers().get("set-cookie").is_none());
    let body = response.text().await.expect("body");
    assert!(body.contains("unknown theme"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn postgres_serves_the_same() {
    let Some(server) = TestServer::postgres().await else {
        eprintln!("TEST_POSTGRES_URL is not set: skipping (the test command always sets it)");
        return;
    };
    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["database"], "PostgreSQL");
    let token = backend::auth::create_token(&server.db, backend::auth::Role::Viewer, "pg")
        .await
        .expect("token");
    let (stored,): (String,) = sqlx::query_as("SELECT hash FROM tokens WHERE name = $1")
        .bind("pg")
        .fetch_one(&server.db.pool)
        .await
        .expect("row");
    assert_eq!(stored, backend::auth::hash_token(&token));
    server.stop().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_page_its_nonce_policy() {
    let server = TestServer::sqlite().await;
    let page = server.get("/").await;
    let policy = header(&page, "content-security-policy");
    let html = page.text().await.expect("body");
    // Every inline script carries the nonce the policy names, and the
    // policy allows no other inline script.
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy")
        .to_string();
    assert!(nonce.len() >= 16, "{policy}");
    assert!(
        !policy.contains("'unsafe-inline' 'unsafe-eval'")
            && !policy.contains("script-src 'unsafe-inline'")
    );
    for needle in [
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "'wasm-unsafe-eval'",
    ] {
        assert!(policy.contains(needle), "{needle}: {policy}");
    }
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "{html}"
    );

    // The policy differs per response.
    let again = header(&server.get("/").await, "content-security-policy");
    assert_ne!(again, policy);

    for path in ["/", "/api/v1/products", "/healthz", "/no/such/page"] {
        let response = server.get(path).await;
        assert_eq!(
            header(&response, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(header(&response, "x-frame-options"), "DENY", "{path}");
        assert_eq!(
            header(&response, "referrer-policy"),
            "same-origin",
            "{path}"
        );
        assert!(
            header(&response, "content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn made_up_methods_share_one_metrics_label() {
    let server = TestServer::sqlite().await;
    for method in ["FOO", "BAR", "BAZ"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        server
            .client
            .request(method, server.url("/healthz"))
            .send()
            .await
            .expect("request");
    }
    let text = server.get("/metrics").await.text().await.expect("body");
    for method in ["FOO", "BAR", "BAZ"] {
        assert!(!text.contains(&format!("method=\"{method}\"")), "{text}");
    }
    assert!(text.contains("method=\"other\""), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn a_search_with_nul_is_a_400_naming_q() {
    let server = TestServer::sqlite().await;
    for q in ["a%00b", &"x".repeat(201)] {
        let (status, body) = server
            .get_json(&format!("/api/v1/products/none/releases?q={q}"))
            .await;
        // Refused before the product is looked up.
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["field"], "q", "{body}");
    }
    server.stop().await;
}
