//! Browser sessions (SPEC §4.1): signing in with a token starts a session
//! whose random id (stored hashed) an HttpOnly, SameSite=Strict cookie
//! holds; it authenticates reads and same-origin writes, and ends at
//! sign-out, when its token is deleted, and after its idle or absolute
//! expiry. Sign-in and sign-out must come from this site.

mod common;

use backend::auth::{create_token, Role};
use common::headers::header;
use common::{backends, TestServer};

async fn sign_in(server: &TestServer, token: &str) -> reqwest::Response {
    sign_in_from(server, token, Some(server.url(""))).await
}

async fn sign_in_from(
    server: &TestServer,
    token: &str,
    origin: Option<String>,
) -> reqwest::Response {
    let mut request = server
        .client
        .post(server.url("/api/sign_in"))
        .header("Accept", "application/json")
        .form(&[("token", token), ("next", "/products/x/releases")]);
    if let Some(origin) = origin {
        request = request.header("Origin", origin.trim_end_matches('/'));
    }
    request.send().await.expect("request")
}

fn set_cookie(response: &reqwest::Response) -> String {
    header(response, "set-cookie")
}

/// The `name=value` part of a `Set-Cookie`.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_string()
}

async fn products_with(server: &TestServer, cookie: &str) -> u16 {
    server
        .client
        .get(server.url("/api/v1/products"))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_holding_a_session_id_not_the_token() {
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
    assert!(cookie.starts_with("releases_session=rls_s_"), "{cookie}");
    assert!(
        !cookie.contains(&token[4..]),
        "the token is not in the cookie"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Max-Age=604800"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // Only its hash is stored.
    let id = cookie_pair(&cookie)["releases_session=".len()..].to_string();
    let stored: Vec<String> = sqlx::query_scalar("SELECT hash FROM sessions")
        .fetch_all(&server.db.pool)
        .await
        .expect("sessions");
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], id);
    assert_eq!(stored[0], backend::auth::hash_token(&id));

    // Behind a TLS proxy the cookie is Secure.
    let response = server
        .client
        .post(server.url("/api/sign_in"))
        .header("Accept", "application/json")
        .header("Origin", server.url("").trim_end_matches('/'))
        .header("X-Forwarded-Proto", "https")
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("request");
    assert!(
        set_cookie(&response).contains("; Secure"),
        "{}",
        set_cookie(&response)
    );

    let response = sign_in(&server, "rls_unknown").await;
    assert_eq!(response.status(), 401);
    assert!(set_cookie(&response).is_empty());

    let response = sign_in(&server, "  ").await;
    assert_eq!(response.status(), 400);
    assert!(set_cookie(&response).is_empty());

    // From another site, or with no origin at all: refused, nothing set.
    for origin in [Some("https://evil.example".to_string()), None] {
        let response = sign_in_from(&server, &token, origin).await;
        assert_eq!(response.status(), 403);
        assert!(set_cookie(&response).is_empty());
    }
    server.stop().await;
}

#[tokio::test]
async fn a_session_ends_at_sign_out_at_token_deletion_and_on_expiry() {
    for backend in backends() {
        let server = TestServer::on(backend, false).await.expect("server");
        let token = create_token(&server.db, Role::Viewer, "browser")
            .await
            .expect("token");
        let signed_in = |response: reqwest::Response| cookie_pair(&set_cookie(&response));

        // Sign-out ends the session on the server, not only in the browser.
        let cookie = signed_in(sign_in(&server, &token).await);
        assert_eq!(products_with(&server, &cookie).await, 200);
        let out = server
            .client
            .post(server.url("/api/sign_out"))
            .header("Accept", "application/json")
            .header("Origin", server.url("").trim_end_matches('/'))
            .header("Cookie", &cookie)
            .send()
            .await
            .expect("request");
        assert!(
            out.status().is_success() || out.status().is_redirection(),
            "{}",
            out.status()
        );
        assert!(set_cookie(&out).contains("Max-Age=0"));
        assert_eq!(products_with(&server, &cookie).await, 401, "{backend:?}");

        // Idle for 12 hours, or signed in 7 days ago: over.
        for column in ["seen_at", "created_at"] {
            let cookie = signed_in(sign_in(&server, &token).await);
            assert_eq!(products_with(&server, &cookie).await, 200);
            let long_ago = chrono::Utc::now().timestamp_millis() - 7 * 24 * 3600 * 1000 - 1;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE sessions SET {column} = $1"
            )))
            .bind(long_ago)
            .execute(&server.db.pool)
            .await
            .expect("age the session");
            assert_eq!(
                products_with(&server, &cookie).await,
                401,
                "{backend:?} {column}"
            );
        }

        // Deleting the token ends its sessions.
        let cookie = signed_in(sign_in(&server, &token).await);
        assert_eq!(products_with(&server, &cookie).await, 200);
        let id = backend::auth::list_tokens(&server.db)
            .await
            .expect("list")
            .into_iter()
            .find(|t| t.name == "browser")
            .expect("the token is listed")
            .id;
        assert!(backend::auth::delete_token(&server.db, id)
            .await
            .expect("delete"));
        assert!(!backend::auth::delete_token(&server.db, id)
            .await
            .expect("delete again"));
        assert_eq!(products_with(&server, &cookie).await, 401, "{backend:?}");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(&server.db.pool)
            .await
            .expect("count");
        assert_eq!(left, 0, "{backend:?}");
        server.stop().await;
    }
}

#[tokio::test]
async fn the_session_cookie_authenticates_reads_and_names_the_role() {
    let server = TestServer::on(backend::db::Backend::Sqlite, false)
        .await
        .expect("server");
    let token = create_token(&server.db, Role::Viewer, "browser")
        .await
        .expect("token");
    let cookie = cookie_pair(&set_cookie(&sign_in(&server, &token).await));
    // The token itself is no cookie.
    assert_eq!(
        products_with(&server, &format!("releases_session={token}")).await,
        401
    );

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
    let cookie = cookie_pair(&set_cookie(&sign_in(&server, &token).await));
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
