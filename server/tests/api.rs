//! The REST API v1 against a real server on port 0, on SQLite and (when
//! `TEST_POSTGRES_URL` is set) PostgreSQL: ingest rules, reads, auth,
//! webhook, limits and the OpenAPI document.

mod common;

use backend::auth::Role;
use common::fixtures::{created, envelope, git_failed, health, promoted, workflow};
use common::{backends, TestServer};
use serde_json::{json, Value};

const BATCH: &str = "application/cloudevents-batch+json";
const SINGLE: &str = "application/cloudevents+json";

/// A server on `backend` with anonymous read, and an ingest token.
async fn server(backend: backend::db::Backend) -> (TestServer, String) {
    let server = TestServer::on(backend, true).await.expect("backend");
    let token = server.token(Role::Ingest).await;
    (server, token)
}

async fn post_ok(server: &TestServer, token: &str, body: Value) -> Value {
    let response = server.post_events(token, BATCH, &body).await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn ingest_creates_releases_and_reads_them_back() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let body = post_ok(
            &server,
            &token,
            json!([
                created("c1", "checkout", "r-1", "abc1234", "Fix ABC-12 crash", 0),
                workflow("w1", "checkout", "r-1", "dev", "post", "run-1", "smoke", "Running", 10),
            ]),
        )
        .await;
        assert_eq!(
            body,
            json!({"accepted": 2, "duplicates": 0, "releases": {"r-1": 1}})
        );

        let (status, detail) = server
            .get_json("/api/v1/products/checkout/releases/1")
            .await;
        assert_eq!(status, 200, "{detail}");
        assert_eq!(detail["id"], 1);
        assert_eq!(detail["key"], "r-1");
        assert_eq!(detail["product"], "checkout");
        assert_eq!(detail["status"], "progressing");
        assert_eq!(detail["attempt"], 1);
        assert_eq!(detail["commit"]["sha"], "abc1234");
        assert_eq!(detail["commit"]["author"]["email"], "ann@example.com");
        assert_eq!(detail["flow"]["trigger"], "dev");
        assert_eq!(
            detail["flow"]["edges"],
            json!([["dev", "staging"], ["staging", "prod"]])
        );
        assert_eq!(
            detail["counts"],
            json!({"failed": 0, "successful": 0, "running": 1, "pending": 2})
        );
        let dev = &detail["environments"][0];
        assert_eq!(dev["name"], "dev");
        assert_eq!(dev["status"], "running");
        assert_eq!(dev["version"], "v-r-1");
        assert_eq!(dev["runs"][0]["id"], "run-1");
        assert_eq!(dev["runs"][0]["status"], "running");
        assert_eq!(dev["runs"][0]["superseded_by"], Value::Null);
        assert_eq!(
            dev["steps"]["post"],
            json!([{"name": "test", "status": "running", "started_at": common::fixtures::at(1), "finished_at": null}])
        );

        let (status, page) = server.get_json("/api/v1/products/checkout/releases").await;
        assert_eq!(status, 200);
        assert_eq!(page["releases"][0]["id"], 1);
        assert_eq!(page["releases"][0]["flow"], "main");
        assert_eq!(page["releases"][0]["status"], "progressing");
        assert_eq!(
            page["releases"][0]["environments"],
            json!([{"name": "dev", "status": "running", "version": "v-r-1"},
                   {"name": "staging", "status": "pending", "version": "v-r-1"},
                   {"name": "prod", "status": "pending", "version": "v-r-1"}])
        );
        assert_eq!(page["next_cursor"], Value::Null);

        let (status, products) = server.get_json("/api/v1/products").await;
        assert_eq!(status, 200);
        let product = &products["products"][0];
        assert_eq!(product["product"], "checkout");
        assert_eq!(product["latest_release"]["id"], 1);
        assert_eq!(product["environments"][0]["name"], "dev");
        assert_eq!(product["environments"][0]["release"]["id"], 1);
        assert_eq!(product["environments"][0]["status"], "running");
        assert_eq!(product["environments"][0]["version"], "v-r-1");
        assert_eq!(product["environments"][1]["release"], Value::Null);
        server.stop().await;
    }
}

#[tokio::test]
async fn duplicates_are_counted_ignored_and_still_named() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let events = json!([
            created("c1", "checkout", "r-1", "abc", "m", 0),
            promoted("p1", "checkout", "r-1", "dev", "1.0.0", 5),
        ]);
        post_ok(&server, &token, events.clone()).await;
        let again = post_ok(&server, &token, events).await;
        assert_eq!(
            again,
            json!({"accepted": 0, "duplicates": 2, "releases": {"r-1": 1}})
        );
        // A repeated pair inside one request is a duplicate too.
        let inside = post_ok(
            &server,
            &token,
            json!([
                git_failed("g1", "checkout", "r-1", "staging", 6),
                git_failed("g1", "checkout", "r-1", "staging", 6)
            ]),
        )
        .await;
        assert_eq!(inside["accepted"], 1);
        assert_eq!(inside["duplicates"], 1);
        let (_, detail) = server
            .get_json("/api/v1/products/checkout/releases/1")
            .await;
        assert_eq!(
            detail["environments"][1]["errors"].as_array().map(Vec::len),
            Some(1)
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn older_snapshots_are_ignored_whatever_the_delivery_order() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        post_ok(
            &server,
            &token,
            json!([
                created("c1", "checkout", "r-1", "abc", "m", 0),
                workflow(
                    "w2",
                    "checkout",
                    "r-1",
                    "dev",
                    "post",
                    "run-1",
                    "smoke",
                    "Succeeded",
                    20
                ),
                workflow("w1", "checkout", "r-1", "dev", "post", "run-1", "smoke", "Running", 10),
            ]),
        )
        .await;
        let (_, detail) = server
            .get_json("/api/v1/products/checkout/releases/1")
            .await;
        assert_eq!(detail["environments"][0]["runs"][0]["status"], "success");
        assert_eq!(detail["environments"][0]["status"], "successful");
        assert_eq!(detail["updated_at"], common::fixtures::at(20));
        server.stop().await;
    }
}

#[tokio::test]
async fn a_malformed_request_changes_nothing_and_names_the_field() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let response = server
            .post_events(
                &token,
                BATCH,
                &json!([
                    created("c1", "checkout", "r-1", "abc", "m", 0),
                    workflow("w1", "checkout", "r-1", "dev", "post", "run-1", "smoke", "done", 10),
                ]),
            )
            .await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid");
        assert_eq!(body["error"]["field"], "events[1].data.run.status");

        // Valid JSON, but it names a release that does not exist: the
        // release created before it in the same request is rolled back.
        let response = server
            .post_events(
                &token,
                BATCH,
                &json!([
                    created("c1", "checkout", "r-1", "abc", "m", 0),
                    workflow(
                        "w1", "checkout", "r-9", "dev", "post", "run-1", "smoke", "running", 10
                    ),
                ]),
            )
            .await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["field"], "events[1].data.release");

        let (_, products) = server.get_json("/api/v1/products").await;
        assert_eq!(products["products"], json!([]));
        let (status, _) = server
            .get_json("/api/v1/products/checkout/releases/1")
            .await;
        assert_eq!(status, 404);

        // A single event names its fields without a prefix.
        post_ok(
            &server,
            &token,
            json!([created("c1", "checkout", "r-1", "abc", "m", 0)]),
        )
        .await;
        let response = server
            .post_events(
                &token,
                SINGLE,
                &workflow(
                    "w1", "checkout", "r-1", "qa", "post", "run-1", "smoke", "running", 10,
                ),
            )
            .await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["field"], "data.environment");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_newer_release_supersedes_running_runs_of_older_ones() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        post_ok(
            &server,
            &token,
            json!([
                created("c1", "checkout", "r-1", "aaa", "one", 0),
                workflow("w1", "checkout", "r-1", "dev", "post", "run-1", "smoke", "running", 10),
                created("c2", "checkout", "r-2", "bbb", "two", 20),
                workflow("w2", "checkout", "r-2", "dev", "post", "run-2", "smoke", "running", 30),
            ]),
        )
        .await;
        let (_, older) = server
            .get_json("/api/v1/products/checkout/releases/1")
            .await;
        assert_eq!(older["status"], "terminated");
        assert_eq!(older["superseded_by"], 2);
        assert_eq!(older["environments"][0]["reason"], "terminated");
        assert_eq!(older["environments"][0]["runs"][0]["status"], "terminated");
        assert_eq!(older["environments"][0]["runs"][0]["superseded_by"], 2);
        let (_, newer) = server
            .get_json("/api/v1/products/checkout/releases/2")
            .await;
        assert_eq!(newer["status"], "progressing");
        let (_, page) = server.get_json("/api/v1/products/checkout/releases").await;
        assert_eq!(page["releases"][1]["superseded_by"], 2);
        assert_eq!(page["releases"][1]["status"], "terminated");
        let (_, terminated) = server
            .get_json("/api/v1/products/checkout/releases?status=terminated")
            .await;
        assert_eq!(terminated["releases"].as_array().map(Vec::len), Some(1));
        server.stop().await;
    }
}

#[tokio::test]
async fn promotions_git_errors_and_health_show_on_the_release() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        post_ok(
            &server,
            &token,
            json!([
                created("c1", "checkout", "r-1", "aaa", "one", 0),
                workflow("w1", "checkout", "r-1", "dev", "post", "run-1", "smoke", "success", 10),
                workflow(
                    "w2", "checkout", "r-1", "staging", "pre", "run-2", "verify", "success", 20
                ),
                promoted("p1", "checkout", "r-1", "staging", "2.0.0", 30),
                git_failed("g1", "checkout", "r-1", "staging", 40),
                health("h1", "checkout", "staging", "Degraded", 50),
            ]),
        )
        .await;
        let (_, detail) = server
            .get_json("/api/v1/products/checkout/releases/1")
            .await;
        assert_eq!(detail["status"], "failed");
        let staging = &detail["environments"][1];
        assert_eq!(staging["status"], "failed");
        assert_eq!(staging["reason"], "git");
        assert_eq!(staging["version"], "2.0.0");
        assert_eq!(staging["version_inherited"], false);
        let kinds: Vec<&str> = staging["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        assert_eq!(kinds, ["application", "git"], "newest first: {staging}");
        assert_eq!(detail["environments"][2]["version_inherited"], true);
        assert_eq!(detail["environments"][2]["status"], "pending");

        let (_, products) = server.get_json("/api/v1/products").await;
        let staging = &products["products"][0]["environments"][1];
        assert_eq!(staging["version"], "2.0.0");
        assert_eq!(staging["status"], "failed");
        assert_eq!(staging["release"]["status"], "failed");
        server.stop().await;
    }
}

#[tokio::test]
async fn releases_page_filters_searches_and_paginates() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let mut events = Vec::new();
        for i in 1..=5 {
            let message = match i {
                3 => "Refactor_the 100% Parser",
                4 => "Corrige l'ÉCOLE",
                _ => "Routine change",
            };
            events.push(created(
                &format!("c{i}"),
                "shop",
                &format!("k{i}"),
                &format!("{i}{i}f00d"),
                message,
                i,
            ));
        }
        events.push(git_failed("g1", "shop", "k2", "dev", 10));
        post_ok(&server, &token, Value::Array(events)).await;

        let mut seen = Vec::new();
        let mut path = "/api/v1/products/shop/releases?limit=2".to_string();
        loop {
            let (status, page) = server.get_json(&path).await;
            assert_eq!(status, 200, "{page}");
            let items = page["releases"].as_array().expect("releases");
            assert!(items.len() <= 2);
            seen.extend(items.iter().filter_map(|r| r["id"].as_i64()));
            match page["next_cursor"].as_str() {
                Some(cursor) => {
                    path = format!("/api/v1/products/shop/releases?limit=2&cursor={cursor}")
                }
                None => break,
            }
        }
        assert_eq!(seen, [5, 4, 3, 2, 1]);

        let ids = |page: &Value| -> Vec<i64> {
            page["releases"]
                .as_array()
                .expect("releases")
                .iter()
                .filter_map(|r| r["id"].as_i64())
                .collect()
        };
        for (query, expected) in [
            ("status=failed", vec![2]),
            ("status=failed,progressing", vec![5, 4, 3, 2, 1]),
            ("q=33f", vec![3]),
            ("q=parser", vec![3]),
            ("q=100%25", vec![3]),
            ("q=_the", vec![3]),
            ("q=ANN%20author", vec![5, 4, 3, 2, 1]),
            ("q=4", vec![4]),
            ("q=k2", vec![2]),
            ("q=nothing-like-this", vec![]),
            // Case folds beyond ASCII, both ways.
            ("q=%C3%A9cole", vec![4]),
            ("q=%C3%89COLE", vec![4]),
            ("q=l'%C3%A9C", vec![4]),
        ] {
            let (status, page) = server
                .get_json(&format!("/api/v1/products/shop/releases?{query}"))
                .await;
            assert_eq!(status, 200, "{query}: {page}");
            assert_eq!(ids(&page), expected, "{query}");
        }
        for (query, field) in [
            ("limit=201", "limit"),
            ("limit=0", "limit"),
            ("status=done", "status"),
            ("cursor=xyz", "cursor"),
        ] {
            let (status, body) = server
                .get_json(&format!("/api/v1/products/shop/releases?{query}"))
                .await;
            assert_eq!(status, 400, "{query}");
            assert_eq!(body["error"]["field"], field, "{query}");
        }
        for path in [
            "/api/v1/products/nope/releases",
            "/api/v1/products/shop/releases/99",
            "/api/v1/products/nope/releases/1",
            "/api/v1/products/shop/releases/99/notes",
        ] {
            let (status, body) = server.get_json(path).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(body["error"]["code"], "not_found", "{path}");
        }
        let (status, body) = server.get_json("/api/v1/products/shop/releases/abc").await;
        assert_eq!(status, 400, "{body}");
        let (status, body) = server.get_json("/api/v1/no/such/thing").await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], "not_found");
        server.stop().await;
    }
}

#[tokio::test]
async fn notes_list_changes_and_what_each_environment_gets() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let mut first = created("c1", "shop", "k1", "aaa111", "Fix ABC-1", 0);
        first["data"]["changes"] = json!({
            "commits": [{"sha": "aaa111", "message": "Fix ABC-1", "author": {"name": "Ann"}},
                        {"sha": "aaa000", "message": "Prepare, see #7", "author": {"name": "Bob"}}],
            "pull_requests": [{"number": 7, "title": "Prepare", "url": "https://git/pr/7", "author": "bob"}],
            "issues": [{"key": "ABC-1", "title": "Crash on start", "url": "https://jira/ABC-1"}]
        });
        post_ok(
            &server,
            &token,
            json!([
                first,
                workflow("w1", "shop", "k1", "dev", "post", "run-1", "smoke", "success", 10),
                created("c2", "shop", "k2", "bbb222", "Tune OPS-9", 20),
            ]),
        )
        .await;
        let (status, notes) = server
            .get_json("/api/v1/products/shop/releases/2/notes")
            .await;
        assert_eq!(status, 200, "{notes}");
        assert_eq!(notes["release"], 2);
        assert_eq!(notes["commits"][0]["sha"], "bbb222");
        assert_eq!(notes["issues"][0]["key"], "OPS-9");
        let dev = &notes["environments"][0];
        assert_eq!(dev["name"], "dev");
        assert_eq!(dev["since"], 1);
        assert_eq!(dev["releases"], json!([2]));
        let staging = &notes["environments"][1];
        assert_eq!(staging["since"], Value::Null);
        assert_eq!(staging["releases"], json!([2, 1]));
        let keys: Vec<&str> = staging["issues"]
            .as_array()
            .expect("issues")
            .iter()
            .filter_map(|i| i["key"].as_str())
            .collect();
        assert_eq!(keys, ["OPS-9", "ABC-1", "#7"]);
        assert_eq!(staging["pull_requests"][0]["number"], 7);
        assert_eq!(staging["commits"].as_array().map(Vec::len), Some(3));
        server.stop().await;
    }
}

#[tokio::test]
async fn tokens_and_roles_guard_every_route() {
    for backend in backends() {
        let server = TestServer::on(backend, false).await.expect("backend");
        let viewer = server.token(Role::Viewer).await;
        let operator = server.token(Role::Operator).await;
        let ingest = server.token(Role::Ingest).await;
        let event = json!([created("c1", "shop", "k1", "aaa", "m", 0)]);

        let get = |token: Option<&str>| {
            let mut request = server.client.get(server.url("/api/v1/products"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        assert_eq!(get(None).await.expect("send").status(), 401);
        assert_eq!(get(Some("rls_unknown")).await.expect("send").status(), 401);
        assert_eq!(get(Some(&viewer)).await.expect("send").status(), 200);
        assert_eq!(get(Some(&operator)).await.expect("send").status(), 200);
        let forbidden = get(Some(&ingest)).await.expect("send");
        assert_eq!(forbidden.status(), 403);
        let body: Value = forbidden.json().await.expect("json");
        assert_eq!(body["error"]["code"], "forbidden");

        let anonymous = server
            .client
            .post(server.url("/api/v1/events"))
            .json(&event)
            .send()
            .await
            .expect("send");
        assert_eq!(anonymous.status(), 401);
        let body: Value = anonymous.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unauthorized");
        assert_eq!(
            server.post_events(&viewer, BATCH, &event).await.status(),
            403
        );
        assert_eq!(
            server.post_events(&operator, BATCH, &event).await.status(),
            403
        );
        assert_eq!(
            server.post_events("rls_nope", BATCH, &event).await.status(),
            401
        );
        assert_eq!(
            server.post_events(&ingest, BATCH, &event).await.status(),
            200
        );
        server.stop().await;

        // With anonymous read on, reads need no token, but a bad token still fails.
        let server = TestServer::on(backend, true).await.expect("backend");
        assert_eq!(server.get("/api/v1/products").await.status(), 200);
        let unknown = server
            .client
            .get(server.url("/api/v1/products"))
            .bearer_auth("rls_unknown")
            .send()
            .await
            .expect("send");
        assert_eq!(unknown.status(), 401);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_configured_flow_is_used_by_releases_created_without_one() {
    for backend in backends() {
        let (server, ingest) = server(backend).await;
        let operator = server.token(Role::Operator).await;
        let mut flowless = created("c1", "shop", "k1", "aaa", "m", 0);
        flowless["data"]
            .as_object_mut()
            .expect("data")
            .remove("flow");

        // Without a flow of its own or of its product: 422 naming `flow`,
        // and nothing stored (not even the product).
        let response = server.post_events(&ingest, BATCH, &json!([flowless])).await;
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unprocessable");
        assert_eq!(body["error"]["field"], "events[0].data.flow");
        let (_, products) = server.get_json("/api/v1/products").await;
        assert_eq!(products["products"], json!([]));
        let (status, _) = server.get_json("/api/v1/products/shop/flow").await;
        assert_eq!(status, 404);

        let put = |token: &str, body: Value| {
            server
                .client
                .put(server.url("/api/v1/products/shop/flow"))
                .bearer_auth(token)
                .json(&body)
                .send()
        };
        // Only operators set it, and it is validated like release.created's.
        assert_eq!(
            put(&ingest, common::fixtures::flow())
                .await
                .expect("send")
                .status(),
            403
        );
        let mut cyclic = common::fixtures::flow();
        cyclic["environments"][0]["depends_on"] = json!(["prod"]);
        let refused = put(&operator, cyclic).await.expect("send");
        assert_eq!(refused.status(), 400);
        let body: Value = refused.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid", "{body}");
        assert!(body["error"]["field"].is_string(), "{body}");
        let refused = put(
            &operator,
            json!({"name": "x", "trigger": "dev", "environments": "no"}),
        )
        .await
        .expect("send");
        assert_eq!(refused.status(), 400);
        let body: Value = refused.json().await.expect("json");
        assert_eq!(body["error"]["field"], "environments");
        let bad_slug = server
            .client
            .put(server.url("/api/v1/products/Not%20A%20Slug/flow"))
            .bearer_auth(&operator)
            .json(&common::fixtures::flow())
            .send()
            .await
            .expect("send");
        assert_eq!(bad_slug.status(), 400);
        let (status, _) = server.get_json("/api/v1/products/shop/flow").await;
        assert_eq!(status, 404, "a refused flow is not stored");

        let stored = put(&operator, common::fixtures::flow())
            .await
            .expect("send");
        assert_eq!(stored.status(), 200);
        let (status, flow) = server.get_json("/api/v1/products/shop/flow").await;
        assert_eq!(status, 200);
        assert_eq!(flow["name"], "main");
        assert_eq!(flow["trigger"], "dev");
        assert_eq!(flow["environments"][1]["depends_on"], json!(["dev"]));
        assert_eq!(flow["environments"][1]["pre_action"], "verify");

        // Now the same event creates the release with the product's flow.
        let body = post_ok(&server, &ingest, json!([flowless])).await;
        assert_eq!(body["releases"]["k1"], 1);
        let (_, detail) = server.get_json("/api/v1/products/shop/releases/1").await;
        assert_eq!(detail["flow"]["name"], "main");
        assert_eq!(
            detail["flow"]["edges"],
            json!([["dev", "staging"], ["staging", "prod"]])
        );

        // A release keeps the flow it was created with.
        let mut single = common::fixtures::flow();
        single["name"] = json!("solo");
        single["environments"] =
            json!([{"name": "dev", "depends_on": [], "applications": ["api"]}]);
        assert_eq!(put(&operator, single).await.expect("send").status(), 200);
        let mut second = created("c2", "shop", "k2", "bbb", "m", 5);
        second["data"].as_object_mut().expect("data").remove("flow");
        post_ok(&server, &ingest, json!([second])).await;
        let (_, first) = server.get_json("/api/v1/products/shop/releases/1").await;
        assert_eq!(first["flow"]["name"], "main");
        let (_, second) = server.get_json("/api/v1/products/shop/releases/2").await;
        assert_eq!(second["flow"]["name"], "solo");
        assert_eq!(second["environments"].as_array().map(Vec::len), Some(1));
        server.stop().await;
    }
}

#[tokio::test]
async fn webhook_is_set_by_operators_and_its_secret_never_returned() {
    for backend in backends() {
        let (server, ingest) = server(backend).await;
        let operator = server.token(Role::Operator).await;
        let viewer = server.token(Role::Viewer).await;
        post_ok(
            &server,
            &ingest,
            json!([created("c1", "shop", "k1", "aaa", "m", 0)]),
        )
        .await;
        let put = |token: &str, product: &str, body: Value| {
            server
                .client
                .put(server.url(&format!("/api/v1/products/{product}/webhook")))
                .bearer_auth(token)
                .json(&body)
                .send()
        };
        let secret = "s3cr3t-value";
        let body = json!({"url": "https://orchestrator.example.com/hook", "secret": secret});
        let response = put(&operator, "shop", body.clone()).await.expect("send");
        assert_eq!(response.status(), 200);
        let text = response.text().await.expect("text");
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("secret_set"), "{text}");
        let stored: (String, String) = sqlx::query_as("SELECT url, secret FROM product_webhooks")
            .fetch_one(&server.db.pool)
            .await
            .expect("stored");
        assert_eq!(stored.1, secret);

        assert_eq!(
            put(&viewer, "shop", body.clone())
                .await
                .expect("send")
                .status(),
            403
        );
        assert_eq!(
            put(&ingest, "shop", body.clone())
                .await
                .expect("send")
                .status(),
            403
        );
        assert_eq!(
            put(&operator, "nope", body.clone())
                .await
                .expect("send")
                .status(),
            404
        );
        let bad = put(&operator, "shop", json!({"url": "ftp://x", "secret": "s"}))
            .await
            .expect("send");
        assert_eq!(bad.status(), 400);
        let bad: Value = bad.json().await.expect("json");
        assert_eq!(bad["error"]["field"], "url");
        let bad = put(&operator, "shop", json!({"url": "https://x"}))
            .await
            .expect("send");
        assert_eq!(bad.status(), 400);
        // Link-local and metadata addresses, however written, are refused;
        // loopback and private ones are not.
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://user@169.254.1.1:8080/x",
            "http://[fe80::1]/hook",
            "http://[::ffff:169.254.169.254]/",
        ] {
            let bad = put(&operator, "shop", json!({"url": url, "secret": "s"}))
                .await
                .expect("send");
            assert_eq!(bad.status(), 400, "{url}");
            let bad: Value = bad.json().await.expect("json");
            assert_eq!(bad["error"]["field"], "url", "{url}");
        }
        for url in [
            "http://127.0.0.1:9/hook",
            "http://10.0.0.7/hook",
            "https://[::1]:8443/",
        ] {
            let ok = put(&operator, "shop", json!({"url": url, "secret": "s"}))
                .await
                .expect("send");
            assert_eq!(ok.status(), 200, "{url}");
        }

        let delete = server
            .client
            .delete(server.url("/api/v1/products/shop/webhook"))
            .bearer_auth(&operator)
            .send()
            .await
            .expect("send");
        assert_eq!(delete.status(), 204);
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM product_webhooks")
            .fetch_one(&server.db.pool)
            .await
            .expect("count");
        assert_eq!(count, 0);
        server.stop().await;
    }
}

#[tokio::test]
async fn oversized_requests_answer_413_in_the_error_shape() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let many: Vec<Value> = (0..1001)
            .map(|i| health(&format!("h{i}"), "shop", "dev", "healthy", i))
            .collect();
        let response = server.post_events(&token, BATCH, &Value::Array(many)).await;
        assert_eq!(response.status(), 413);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "payload_too_large");

        let mut big = health("h1", "shop", "dev", "healthy", 1);
        big["data"]["message"] = json!("x".repeat(1024 * 1024 + 1));
        let response = server.post_events(&token, SINGLE, &big).await;
        assert_eq!(response.status(), 413);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "payload_too_large");
        let (_, products) = server.get_json("/api/v1/products").await;
        assert_eq!(products["products"], json!([]));
        server.stop().await;
    }
}

#[tokio::test]
async fn binary_mode_events_are_accepted() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        post_ok(
            &server,
            &token,
            json!([created("c1", "shop", "k1", "aaa", "m", 0)]),
        )
        .await;
        let event = workflow(
            "w1", "shop", "k1", "dev", "post", "run-1", "smoke", "Failed", 10,
        );
        let response = server
            .client
            .post(server.url("/api/v1/events"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("ce-specversion", "1.0")
            .header("ce-id", "w1")
            .header("ce-source", "argo-events")
            .header("ce-type", "workflow.updated")
            .header("ce-time", common::fixtures::at(10))
            .body(serde_json::to_vec(&event["data"]).expect("json"))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body,
            json!({"accepted": 1, "duplicates": 0, "releases": {"k1": 1}})
        );
        let (_, detail) = server.get_json("/api/v1/products/shop/releases/1").await;
        assert_eq!(detail["status"], "failed");
        let error = &detail["environments"][0]["errors"][0];
        assert_eq!(error["kind"], "workflow");
        assert_eq!(error["logs"], "line 1\nline 2");
        server.stop().await;
    }
}

#[tokio::test]
async fn unknown_event_types_and_bad_envelopes_are_refused() {
    let (server, token) = server(backend::db::Backend::Sqlite).await;
    for (event, field) in [
        (envelope("x", "release.deleted", 0, json!({})), "type"),
        (
            json!({"specversion": "1.0", "id": "x", "type": "git.failed", "time": "2024-01-01T00:00:00Z", "data": {}}),
            "source",
        ),
        (
            json!({"specversion": "0.3", "id": "x", "source": "s", "type": "git.failed", "time": "2024-01-01T00:00:00Z", "data": {}}),
            "specversion",
        ),
    ] {
        let response = server.post_events(&token, SINGLE, &event).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["field"], field);
    }
    let response = server
        .client
        .post(server.url("/api/v1/events"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    server.stop().await;
}

/// Every route the server serves, as `(method, OpenAPI path, a concrete path)`.
/// Adding a route without listing it here, or listing one the document
/// lacks, fails `openapi_documents_every_route`.
const ROUTES: &[(&str, &str, &str)] = &[
    ("post", "/api/v1/events", "/api/v1/events"),
    (
        "post",
        "/api/v1/adapters/argo-workflows",
        "/api/v1/adapters/argo-workflows",
    ),
    (
        "post",
        "/api/v1/adapters/argo-cd",
        "/api/v1/adapters/argo-cd",
    ),
    ("post", "/api/v1/adapters/github", "/api/v1/adapters/github"),
    (
        "post",
        "/api/v1/adapters/cdevents",
        "/api/v1/adapters/cdevents",
    ),
    ("get", "/api/v1/products", "/api/v1/products"),
    (
        "get",
        "/api/v1/products/{product}/releases",
        "/api/v1/products/shop/releases",
    ),
    (
        "get",
        "/api/v1/products/{product}/releases/{id}",
        "/api/v1/products/shop/releases/1",
    ),
    (
        "get",
        "/api/v1/products/{product}/releases/{id}/notes",
        "/api/v1/products/shop/releases/1/notes",
    ),
    (
        "post",
        "/api/v1/products/{product}/releases/{id}/restart",
        "/api/v1/products/shop/releases/1/restart",
    ),
    (
        "put",
        "/api/v1/products/{product}/webhook",
        "/api/v1/products/shop/webhook",
    ),
    (
        "delete",
        "/api/v1/products/{product}/webhook",
        "/api/v1/products/shop/webhook",
    ),
    (
        "put",
        "/api/v1/products/{product}/flow",
        "/api/v1/products/shop/flow",
    ),
    (
        "get",
        "/api/v1/products/{product}/flow",
        "/api/v1/products/shop/flow",
    ),
    ("get", "/api/v1/stream", "/api/v1/stream?product=shop"),
    ("get", "/healthz", "/healthz"),
    ("get", "/readyz", "/readyz"),
    ("get", "/metrics", "/metrics"),
];

#[tokio::test]
async fn openapi_documents_every_route() {
    let (server, _) = server(backend::db::Backend::Sqlite).await;
    let (status, doc) = server.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path, _) in ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let documented: usize = paths
        .values()
        .map(|p| p.as_object().map_or(0, |ops| ops.len()))
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "documented operations beyond the known routes: {paths:?}"
    );
    // And every documented route is really served (no catch-all 404 answer).
    for (method, _, concrete) in ROUTES {
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let response = server
            .client
            .request(method.clone(), server.url(concrete))
            .send()
            .await
            .expect("send");
        let event_stream = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if event_stream {
            // A live stream never ends: its headers are the answer.
            continue;
        }
        let text = response.text().await.unwrap_or_default();
        assert!(
            !text.contains("no such API endpoint"),
            "{method} {concrete} is not routed"
        );
    }
    server.stop().await;
}
