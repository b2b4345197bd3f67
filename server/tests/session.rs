//! Browser sessions: signing in with a token sets an HttpOnly,
//! SameSite=Strict cookie that authenticates reads and same-origin writes;
//! a cross-origin write with the cookie is refused.

mod common;

use backend::auth::{create_token, Role};
use common::TestServer;

async fn sign_in(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/sign_in"))
        .header("Accept", "application/json")
        .form(&[("token", token), ("next", "/products/x/releases")])
        .send()
        .await
        .expect("request")
}

fn set_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_holding_a_known_token() {
    let server = TestServer::sqlite().await;
    let token = create_token(&server.db, Role::Operator, "browser")
        .await
        .expect("token");

    let response = sign_in(&server, &token).await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "{}",
        response.status()
    );
    let cookie = set_cookie(&response);
    assert!(
        cookie.starts_with(&format!("releases_session={token};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");

    let response = sign_in(&server, "rls_unknown").await;
    assert_eq!(response.status(), 401);
    assert!(set_cookie(&response).is_empty());

    let response = sign_in(&server, "  ").await;
    assert_eq!(response.status(), 400);
    assert!(set_cookie(&response).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn the_session_cookie_authenticates_reads_and_names_the_role() {
    let server = TestServer::on(backend::db::Backend::Sqlite, false)
        .await
        .expect("server");
    let token = create_token(&server.db, Role::Viewer, "browser")
        .await
        .expect("token");
    let cookie = format!("releases_session={token}");

    let anonymous = server.get("/api/v1/products").await;
    assert_eq!(anonymous.status(), 401);
    let response = server
        .client
        .get(server.url("/api/v1/products"))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);

    let session: serde_json::Value = server
        .client
        .post(server.url("/api/session"))
        .header("Cookie", &cookie)
        .header("Origin", server.url(""))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(session["role"], "viewer");
    server.stop().await;
}

#[tokio::test]
async fn a_cookie_write_must_come_from_this_site() {
    let server = TestServer::sqlite().await;
    let token = create_token(&server.db, Role::Operator, "browser")
        .await
        .expect("token");
    let cookie = format!("releases_session={token}");
    let body = serde_json::json!({"url": "http://127.0.0.1:9/hook", "secret": "s3cret-value"});

    let write = |origin: Option<String>| {
        let mut request = server
            .client
            .put(server.url("/api/v1/products/shop/webhook"))
            .header("Cookie", &cookie)
            .json(&body);
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        request.send()
    };

    let cross = write(Some("https://evil.example".into()))
        .await
        .expect("request");
    assert_eq!(cross.status(), 403);
    let text = cross.text().await.expect("body");
    assert!(text.contains("cross-origin"), "{text}");

    let none = write(None).await.expect("request");
    assert_eq!(none.status(), 403);

    // Same origin: authenticated as the operator; the product does not exist.
    let same = write(Some(format!("http://{}", server.addr)))
        .await
        .expect("request");
    assert_eq!(same.status(), 404);

    // A bearer token needs no Origin: it is not sent by browsers on their own.
    let bearer = server
        .client
        .put(server.url("/api/v1/products/shop/webhook"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(bearer.status(), 404);
    server.stop().await;
}
