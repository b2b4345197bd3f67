//! The native adapters (SPEC §4.5) and a product's configured flow
//! (§4.6) against a real server on port 0, on SQLite and (with
//! `TEST_POSTGRES_URL`) PostgreSQL.
//!
//! The README's configuration of each engine is read from the README and
//! posted as the engine would send it.
//!
//! GitHub deliveries are GitHub's own examples, from the npm package
//! `@octokit/webhooks-examples` (MIT; a dev dependency of `end2end/`, which
//! the test command installs first). The Argo Workflows and Argo CD
//! objects are written here after the engines' documented resource shapes
//! (`Workflow.status.nodes`, `Application.status.health` and
//! `operationState`).

mod common;

use backend::auth::Role;
use common::fixtures::created;
use common::{backends, TestServer};
use serde_json::{json, Value};

/// A server launched with the adapters' links and GitHub's secret.
async fn server(backend: backend::db::Backend) -> Option<TestServer> {
    let adapters = backend::adapters::AdapterSettings {
        argo_workflows_url: Some("https://argo.example.com".into()),
        argo_cd_url: Some("https://argocd.example.com".into()),
        github_webhook_secret: Some("It's a Secret to Everybody".into()),
    };
    match backend {
        backend::db::Backend::Sqlite => {
            Some(TestServer::sqlite_with(|launch| launch.adapters = adapters).await)
        }
        backend::db::Backend::Postgres => {
            TestServer::postgres_with(|launch| launch.adapters = adapters).await
        }
    }
}

async fn post(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut request = server
        .client
        .post(server.url(path))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn post_json(server: &TestServer, path: &str, token: &str, body: &Value) -> (u16, Value) {
    post(
        server,
        path,
        Some(token),
        &[],
        &serde_json::to_vec(body).expect("json"),
    )
    .await
}

/// Release `key` of `product` with the three-environment test flow.
async fn release(server: &TestServer, token: &str, product: &str, key: &str) {
    let response = server
        .post_events(
            token,
            "application/cloudevents+json",
            &created(&format!("create-{key}"), product, key, "abc1234", "m", 0),
        )
        .await;
    assert_eq!(response.status(), 200);
}

// --- Argo Workflows -------------------------------------------------------

/// A DAG Workflow as `kubectl get wf -o json` returns it: a `DAG` node with
/// `Pod` children (one retried), a `Skipped` and an `Omitted` one.
fn argo_workflow(phase: &str, resource_version: &str) -> Value {
    let failed = phase == "Failed";
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": "deploy-checks-7x2kq",
            "generateName": "deploy-checks-",
            "namespace": "ci",
            "uid": "9f1c1f3e-5d1b-4a57-9a4e-1b1f0c0e6a01",
            "resourceVersion": resource_version,
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "labels": {
                "workflows.argoproj.io/phase": phase,
                "workflows.argoproj.io/workflow-template": "smoke",
                "releases/release": "r-1"
            }
        },
        "spec": {"entrypoint": "main", "workflowTemplateRef": {"name": "smoke"}},
        "status": {
            "phase": phase,
            "startedAt": "2024-05-01T10:00:05Z",
            "finishedAt": if failed { json!("2024-05-01T10:03:00Z") } else { Value::Null },
            "message": if failed { json!("child 'deploy-checks-7x2kq-3' failed") } else { Value::Null },
            "nodes": {
                "deploy-checks-7x2kq": {
                    "id": "deploy-checks-7x2kq", "name": "deploy-checks-7x2kq",
                    "displayName": "deploy-checks-7x2kq", "type": "DAG", "phase": phase,
                    "startedAt": "2024-05-01T10:00:05Z"
                },
                "deploy-checks-7x2kq-2": {
                    "id": "deploy-checks-7x2kq-2", "name": "deploy-checks-7x2kq.lint",
                    "displayName": "lint", "type": "Pod", "phase": "Succeeded",
                    "startedAt": "2024-05-01T10:00:10Z", "finishedAt": "2024-05-01T10:00:40Z"
                },
                "deploy-checks-7x2kq-1": {
                    "id": "deploy-checks-7x2kq-1", "name": "deploy-checks-7x2kq.checkout",
                    "displayName": "checkout", "type": "Pod", "phase": "Succeeded",
                    "startedAt": "2024-05-01T10:00:06Z", "finishedAt": "2024-05-01T10:00:09Z"
                },
                "deploy-checks-7x2kq-3": {
                    "id": "deploy-checks-7x2kq-3", "name": "deploy-checks-7x2kq.e2e",
                    "displayName": "e2e", "type": "Pod",
                    "phase": if failed { "Failed" } else { "Running" },
                    "message": if failed { json!("Error (exit code 1): 3 of 120 tests failed") } else { Value::Null },
                    "startedAt": "2024-05-01T10:00:41Z",
                    "finishedAt": if failed { json!("2024-05-01T10:02:59Z") } else { Value::Null }
                },
                "deploy-checks-7x2kq-4": {
                    "id": "deploy-checks-7x2kq-4", "name": "deploy-checks-7x2kq.notify",
                    "displayName": "notify", "type": "Pod", "phase": "Skipped",
                    "message": "when 'false' evaluated false"
                },
                "deploy-checks-7x2kq-5": {
                    "id": "deploy-checks-7x2kq-5", "name": "deploy-checks-7x2kq.cleanup",
                    "displayName": "cleanup", "type": "Pod", "phase": "Omitted"
                },
                "deploy-checks-7x2kq-6": {
                    "id": "deploy-checks-7x2kq-6", "name": "deploy-checks-7x2kq.approve",
                    "displayName": "approve", "type": "Suspend",
                    "phase": if failed { "Succeeded" } else { "Running" },
                    "startedAt": "2024-05-01T10:00:07Z"
                }
            }
        }
    })
}

const ARGO: &str =
    "/api/v1/adapters/argo-workflows?product=checkout&environment=dev&phase=post&application=api";

#[tokio::test]
async fn argo_workflows_become_runs_with_steps_errors_and_links() {
    for backend in backends() {
        let Some(server) = server(backend).await else {
            continue;
        };
        let token = server.token(Role::Ingest).await;
        release(&server, &token, "checkout", "r-1").await;

        let (status, body) =
            post_json(&server, ARGO, &token, &argo_workflow("Running", "100")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({"accepted": 1, "duplicates": 0, "releases": {"r-1": 1}, "ignored": 0})
        );
        let (_, detail) = server
            .get_json("/api/v1/products/checkout/releases/1")
            .await;
        let dev = &detail["environments"][0];
        assert_eq!(dev["status"], "running", "{dev}");
        let run = &dev["runs"][0];
        assert_eq!(run["id"], "9f1c1f3e-5d1b-4a57-9a4e-1b1f0c0e6a01");
        assert_eq!(run["workflow"], "smoke");
        assert_eq!(
            run["url"],
            "https://argo.example.com/workflows/ci/deploy-checks-7x2kq"
        );
        let steps: Vec<(&str, &str)> = dev["steps"]["post"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap_or(""),
                    s["status"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            steps,
            vec![
                ("checkout", "success"),
                ("approve", "running"),
                ("lint", "success"),
                ("e2e", "running"),
                ("notify", "success"),
                ("cleanup", "success"),
            ],
            "Pod and Suspend nodes in startedAt order (then by id), Skipped and Omitted as success"
        );

        // The same object again is a duplicate; the failed one replaces it.
        let (_, again) = post_json(&server, ARGO, &token, &argo_workflow("Running", "100")).await;
        assert_eq!(again["duplicates"], 1);
        let (status, body) =
            post_json(&server, ARGO, &token, &argo_workflow("Failed", "101")).await;
        assert_eq!(status, 200, "{body}");
        let (_, detail) = server
            .get_json("/api/v1/products/checkout/releases/1")
            .await;
        let dev = &detail["environments"][0];
        assert_eq!(dev["status"], "failed");
        assert_eq!(dev["runs"][0]["status"], "failed");
        let error = &dev["errors"][0];
        assert_eq!(error["kind"], "workflow");
        assert_eq!(error["step"], "e2e");
        assert_eq!(
            error["message"],
            "Error (exit code 1): 3 of 120 tests failed"
        );
        assert_eq!(
            error["url"],
            "https://argo.example.com/workflows/ci/deploy-checks-7x2kq"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn argo_workflows_bodies_keys_and_stops() {
    let server = server(backend::db::Backend::Sqlite).await.expect("sqlite");
    let token = server.token(Role::Ingest).await;
    release(&server, &token, "checkout", "r-1").await;

    // A list with something that is not a Workflow: it is ignored.
    let list = json!({"items": [argo_workflow("Running", "7"), {"kind": "ConfigMap", "metadata": {"name": "x"}}]});
    let (status, body) = post_json(&server, ARGO, &token, &list).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["accepted"].clone(), body["ignored"].clone()),
        (json!(1), json!(1))
    );

    // An Argo Events resource event, and a workflow stopped by someone.
    let mut stopped = argo_workflow("Failed", "8");
    stopped["status"]["message"] = json!("Stopped with strategy 'Terminate'");
    stopped["status"]["nodes"]["deploy-checks-7x2kq-3"]["message"] =
        json!("workflow shutdown with strategy:  Terminate");
    let envelope = json!({
        "context": {"id": "1", "source": "argo-events", "type": "resource", "specversion": "1.0"},
        "data": {"type": "UPDATE", "body": stopped}
    });
    let (status, body) = post_json(&server, ARGO, &token, &envelope).await;
    assert_eq!(status, 200, "{body}");
    let (_, detail) = server
        .get_json("/api/v1/products/checkout/releases/1")
        .await;
    assert_eq!(detail["environments"][0]["runs"][0]["status"], "terminated");

    // What the README's sensor sends: `{"data": <Workflow>}`.
    let (status, body) = post_json(
        &server,
        ARGO,
        &token,
        &json!({"data": argo_workflow("Succeeded", "8b")}),
    )
    .await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (200, json!(1)),
        "{body}"
    );

    // A missing key: 422 naming it, nothing stored.
    let (status, body) = post_json(
        &server,
        "/api/v1/adapters/argo-workflows?product=checkout&phase=post&application=api",
        &token,
        &argo_workflow("Succeeded", "9"),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "unprocessable");
    assert_eq!(body["error"]["field"], "environment");
    // The label gives the key when the URL does not.
    let mut labelled = argo_workflow("Succeeded", "10");
    labelled["metadata"]["labels"]["releases/environment"] = json!("dev");
    let (status, _) = post_json(
        &server,
        "/api/v1/adapters/argo-workflows?product=checkout&phase=post&application=api",
        &token,
        &labelled,
    )
    .await;
    assert_eq!(status, 200);
    // The query wins over the label.
    let (status, body) = post_json(
        &server,
        &format!("{ARGO}&release=nope"),
        &token,
        &argo_workflow("Succeeded", "11"),
    )
    .await;
    assert_eq!(status, 400, "an unknown release: {body}");

    // Malformed: not JSON, not a Workflow, an unknown phase; an ingest token is needed.
    let (status, _) = post(&server, ARGO, Some(&token), &[], b"{").await;
    assert_eq!(status, 400);
    let (status, body) = post_json(&server, ARGO, &token, &json!({"hello": 1})).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (400, json!("(body)"))
    );
    let mut odd = argo_workflow("Running", "12");
    odd["status"]["phase"] = json!("Exploded");
    let (status, body) = post_json(&server, ARGO, &token, &odd).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (400, json!("status.phase"))
    );
    let viewer = server.token(Role::Viewer).await;
    let (status, _) = post_json(&server, ARGO, &viewer, &argo_workflow("Running", "13")).await;
    assert_eq!(status, 403);
    let (status, _) = post(&server, ARGO, None, &[], b"{}").await;
    assert_eq!(status, 401);
    server.stop().await;
}

// --- Argo CD -------------------------------------------------------------

/// An Argo CD Application as `argocd app get -o json` returns it.
fn application(health: &str, sync_phase: Option<&str>) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": "checkout-api-staging",
            "namespace": "argocd",
            "uid": "0c9d6c1e-2a44-4c59-b8a5-3f1f0e7c9d11",
            "resourceVersion": format!("{health}-{}", sync_phase.unwrap_or("none")),
            "labels": {"releases/product": "checkout", "releases/environment": "staging"}
        },
        "spec": {"project": "default", "destination": {"namespace": "checkout"}},
        "status": {
            "health": {"status": health, "message": if health == "Degraded" { json!("Deployment \"api\" exceeded its progress deadline") } else { Value::Null }},
            "sync": {"status": "Synced", "revision": "8e2f1c9a7b6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"},
            "summary": {"images": ["ghcr.io/example/checkout-api:1.4.2"]},
            "reconciledAt": "2024-05-01T10:05:00Z",
            "operationState": sync_phase.map(|phase| json!({
                "phase": phase,
                "startedAt": "2024-05-01T10:04:00Z",
                "finishedAt": if phase == "Running" { Value::Null } else { json!("2024-05-01T10:04:30Z") },
                "syncResult": {"revision": "8e2f1c9a7b6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"}
            }))
        }
    })
}

#[tokio::test]
async fn argo_cd_applications_give_health_and_promotions() {
    for backend in backends() {
        let Some(server) = server(backend).await else {
            continue;
        };
        let token = server.token(Role::Ingest).await;
        release(&server, &token, "checkout", "r-1").await;
        let path = "/api/v1/adapters/argo-cd?application=api";

        // A sync still running: health only, no promotion.
        let (status, body) = post_json(
            &server,
            path,
            &token,
            &application("Progressing", Some("Running")),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted"], 1);
        // A succeeded sync of a known release: a promotion, version from the image tag.
        let (status, body) = post_json(
            &server,
            &format!("{path}&release=r-1"),
            &token,
            &json!({"app": application("Healthy", Some("Succeeded"))}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted"], 2, "health and promotion: {body}");
        assert_eq!(body["releases"]["r-1"], 1);
        let (_, detail) = server
            .get_json("/api/v1/products/checkout/releases/1")
            .await;
        let staging = &detail["environments"][1];
        assert_eq!(staging["name"], "staging");
        assert_eq!(staging["version"], "1.4.2");

        // Degraded: an application error on the release deployed there.
        let (status, _) = post_json(&server, path, &token, &application("Degraded", None)).await;
        assert_eq!(status, 200);
        let (_, detail) = server
            .get_json("/api/v1/products/checkout/releases/1")
            .await;
        let error = detail["environments"][1]["errors"]
            .as_array()
            .and_then(|errors| errors.iter().find(|e| e["kind"] == "application"))
            .cloned()
            .expect("an application error");
        assert_eq!(
            error["message"],
            "Deployment \"api\" exceeded its progress deadline"
        );
        assert_eq!(
            error["url"],
            "https://argocd.example.com/applications/argocd/checkout-api-staging"
        );
        // Missing is a health of its own; the same object again is a duplicate.
        let (_, body) = post_json(&server, path, &token, &application("Missing", None)).await;
        assert_eq!(body["accepted"], 1);
        let (_, body) = post_json(&server, path, &token, &application("Missing", None)).await;
        assert_eq!(body["duplicates"], 1);

        // Without a product anywhere: 422 naming it.
        let mut unlabelled = application("Healthy", None);
        unlabelled["metadata"]["labels"] = json!({});
        let (status, body) = post_json(
            &server,
            "/api/v1/adapters/argo-cd?environment=staging",
            &token,
            &unlabelled,
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].clone()),
            (422, json!("product"))
        );
        server.stop().await;
    }
}

// --- GitHub ----------------------------------------------------------------

/// GitHub's example deliveries of `event` (from @octokit/webhooks-examples).
fn github_examples(event: &str) -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../end2end/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("{path}: {e} (the npm packages of end2end/ are installed by scripts/test)")
    });
    let all: Vec<Value> = serde_json::from_str(&text).expect("examples");
    all.into_iter()
        .find(|e| e["name"] == event)
        .and_then(|e| e["examples"].as_array().cloned())
        .unwrap_or_else(|| panic!("no examples of {event}"))
}

const SECRET: &str = "It's a Secret to Everybody";

fn signature(body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts `payload` as GitHub delivers `event`, signed with the secret.
async fn deliver(
    server: &TestServer,
    query: &str,
    event: &str,
    delivery: &str,
    payload: &Value,
) -> (u16, Value) {
    let body = serde_json::to_vec(payload).expect("json");
    post(
        server,
        &format!("/api/v1/adapters/github{query}"),
        None,
        &[
            ("X-GitHub-Event", event.to_owned()),
            ("X-GitHub-Delivery", delivery.to_owned()),
            ("X-Hub-Signature-256", signature(&body)),
        ],
        &body,
    )
    .await
}

#[tokio::test]
async fn github_deliveries_create_releases_runs_and_promotions() {
    for backend in backends() {
        let Some(server) = server(backend).await else {
            continue;
        };
        let operator = server.token(Role::Operator).await;
        let put = server
            .client
            .put(server.url("/api/v1/products/hello-world/flow"))
            .bearer_auth(&operator)
            .json(&json!({"name": "main", "trigger": "dev", "environments": [
                {"name": "dev", "depends_on": [], "applications": ["api"], "post_action": "CI"},
                {"name": "production", "depends_on": ["dev"], "applications": ["api"]}]}))
            .send()
            .await
            .expect("send");
        assert_eq!(put.status(), 200);

        let (status, body) =
            deliver(&server, "", "ping", "d-ping", &github_examples("ping")[0]).await;
        assert_eq!((status, body["ignored"].clone()), (200, json!(1)), "{body}");

        // A push to the default branch creates the release, with the product's flow.
        let pushes = github_examples("push");
        let push = pushes
            .iter()
            .find(|p| p["ref"] == "refs/heads/master" && p["head_commit"].is_object())
            .expect("a push to master");
        let sha = push["after"].as_str().expect("after").to_owned();
        let (status, body) = deliver(&server, "", "push", "d-push", push).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted"], 1);
        assert_eq!(body["releases"][sha.as_str()], 1);
        let (_, detail) = server
            .get_json("/api/v1/products/hello-world/releases/1")
            .await;
        assert_eq!(detail["key"], sha);
        assert_eq!(detail["commit"]["sha"], push["head_commit"]["id"]);
        assert_eq!(detail["commit"]["message"], push["head_commit"]["message"]);
        assert_eq!(detail["flow"]["edges"], json!([["dev", "production"]]));
        // A redelivery is a duplicate; a tag push is ignored.
        let (_, body) = deliver(&server, "", "push", "d-push", push).await;
        assert_eq!(body["duplicates"], 1);
        let tag = pushes
            .iter()
            .find(|p| p["ref"] == "refs/tags/simple-tag")
            .expect("a tag push");
        let (_, body) = deliver(&server, "", "push", "d-tag", tag).await;
        assert_eq!(body["ignored"], 1);

        // A failed job with its steps, mapped to the release by `?release=`.
        let job = github_examples("workflow_job")
            .into_iter()
            .find(|j| j["workflow_job"]["conclusion"] == "failure")
            .expect("a failed job");
        // GitHub's example jobs and runs are of another repository
        // (`octo-repo`): the product comes from the URL.
        let query =
            format!("?product=hello-world&release={sha}&environment=dev&phase=post&application=api&workflow=CI");
        let (status, body) = deliver(&server, &query, "workflow_job", "d-job", &job).await;
        assert_eq!(status, 200, "{body}");
        let (_, detail) = server
            .get_json("/api/v1/products/hello-world/releases/1")
            .await;
        let dev = &detail["environments"][0];
        assert_eq!(dev["status"], "failed", "{dev}");
        assert_eq!(dev["runs"][0]["id"], job["workflow_job"]["id"].to_string());
        assert_eq!(dev["runs"][0]["url"], job["workflow_job"]["html_url"]);
        let names: Vec<&str> = dev["steps"]["post"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        let expected: Vec<&str> = job["workflow_job"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, expected);
        let failed: Vec<&str> = job["workflow_job"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter(|s| s["conclusion"] == "failure")
            .filter_map(|s| s["name"].as_str())
            .collect();
        let errors: Vec<&str> = dev["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["step"].as_str())
            .collect();
        assert!(
            !failed.is_empty() && failed.iter().all(|f| errors.contains(f)),
            "{errors:?} {failed:?}"
        );

        // A workflow run on the default branch (its own head sha is not a
        // release here, so `release` comes from the URL too).
        let run = github_examples("workflow_run")
            .into_iter()
            .find(|r| r["workflow_run"]["conclusion"] == "success")
            .expect("a successful run");
        let query =
            format!("?product=hello-world&release={sha}&environment=dev&phase=post&application=api&workflow=CI");
        let (status, body) = deliver(&server, &query, "workflow_run", "d-run", &run).await;
        assert_eq!(status, 200, "{body}");
        let (_, detail) = server
            .get_json("/api/v1/products/hello-world/releases/1")
            .await;
        let run_ids: Vec<String> = detail["environments"][0]["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect();
        assert!(
            run_ids.contains(&run["workflow_run"]["id"].to_string()),
            "{run_ids:?}"
        );

        // A successful deployment promotes; one in progress is ignored.
        let statuses = github_examples("deployment_status");
        let success = statuses
            .iter()
            .find(|d| d["deployment_status"]["state"] == "success")
            .expect("a successful deployment");
        let (status, body) = deliver(
            &server,
            &format!("?product=hello-world&release={sha}"),
            "deployment_status",
            "d-dep",
            success,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted"], 1);
        let (_, detail) = server
            .get_json("/api/v1/products/hello-world/releases/1")
            .await;
        let production = &detail["environments"][1];
        assert_eq!(production["name"], "production");
        assert_eq!(production["version"], success["deployment"]["ref"]);
        let pending = statuses
            .iter()
            .find(|d| d["deployment_status"]["state"] != "success")
            .expect("a deployment in progress");
        let (_, body) = deliver(&server, "", "deployment_status", "d-dep-2", pending).await;
        assert_eq!(body["ignored"], 1);

        // An event we do not map is ignored, not an error.
        let (status, body) =
            deliver(&server, "", "star", "d-star", &json!({"action": "created"})).await;
        assert_eq!((status, body["ignored"].clone()), (200, json!(1)));
        server.stop().await;
    }
}

#[tokio::test]
async fn github_signatures_and_tokens() {
    let server = server(backend::db::Backend::Sqlite).await.expect("sqlite");
    let ping = serde_json::to_vec(&github_examples("ping")[0]).expect("json");
    let token = server.token(Role::Ingest).await;
    let headers = |signature: Option<String>| {
        let mut headers = vec![
            ("X-GitHub-Event", "ping".to_owned()),
            ("X-GitHub-Delivery", "d-1".to_owned()),
        ];
        if let Some(signature) = signature {
            headers.push(("X-Hub-Signature-256", signature));
        }
        headers
    };
    let path = "/api/v1/adapters/github";
    // A valid signature alone is enough.
    let (status, _) = post(&server, path, None, &headers(Some(signature(&ping))), &ping).await;
    assert_eq!(status, 200);
    // An invalid one is refused, even with a token.
    let mut forged = signature(&ping);
    forged.replace_range(forged.len() - 2.., "00");
    let (status, body) = post(&server, path, Some(&token), &headers(Some(forged)), &ping).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
    let (status, _) = post(
        &server,
        path,
        Some(&token),
        &headers(Some("sha256=zz".into())),
        &ping,
    )
    .await;
    assert_eq!(status, 401);
    // The body signed is the body checked.
    let (status, _) = post(&server, path, None, &headers(Some(signature(b"{}"))), &ping).await;
    assert_eq!(status, 401);
    // No signature: an ingest token is needed.
    let (status, _) = post(&server, path, None, &headers(None), &ping).await;
    assert_eq!(status, 401);
    let (status, _) = post(&server, path, Some(&token), &headers(None), &ping).await;
    assert_eq!(status, 200);
    // The delivery headers are required.
    let (status, body) = post(
        &server,
        path,
        Some(&token),
        &[("X-GitHub-Event", "ping".into())],
        &ping,
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (400, json!("X-GitHub-Delivery"))
    );
    server.stop().await;

    // Without a secret configured, a signature proves nothing: a token is needed.
    let plain = TestServer::sqlite().await;
    let (status, _) = post(&plain, path, None, &headers(Some(signature(&ping))), &ping).await;
    assert_eq!(status, 401);
    plain.stop().await;
}

#[tokio::test]
async fn a_push_to_a_product_without_a_flow_is_refused_naming_flow() {
    let server = server(backend::db::Backend::Sqlite).await.expect("sqlite");
    let push = github_examples("push")
        .into_iter()
        .find(|p| p["ref"] == "refs/heads/master" && p["head_commit"].is_object())
        .expect("a push");
    let (status, body) = deliver(&server, "?product=nowhere", "push", "d-1", &push).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "events[0].data.flow");
    let (_, products) = server.get_json("/api/v1/products").await;
    assert_eq!(products["products"], json!([]));
    server.stop().await;
}

// --- CDEvents --------------------------------------------------------------

/// A CDEvent of `kind` in release chain `chain`, in the shape of the
/// specification's examples (`context` with `version` at 0.4,
/// `specversion` at 0.5).
fn cdevent(spec: &str, id: &str, kind: &str, seconds: i64, subject: Value) -> Value {
    let version_key = if spec.starts_with("0.4") {
        "version"
    } else {
        "specversion"
    };
    json!({
        "context": {
            version_key: spec, "id": id, "source": "/event/source/123", "type": kind,
            "timestamp": common::fixtures::at(seconds), "chainId": "4c8cb7dd-3448-41de-8768-eec704e2829b"
        },
        "subject": subject
    })
}

#[tokio::test]
async fn cdevents_create_releases_runs_steps_and_promotions() {
    for backend in backends() {
        let Some(server) = server(backend).await else {
            continue;
        };
        let token = server.token(Role::Ingest).await;
        let operator = server.token(Role::Operator).await;
        let mut flow = common::fixtures::flow();
        flow["environments"][0]["post_action"] = json!("myPipeline");
        let put = server
            .client
            .put(server.url("/api/v1/products/api/flow"))
            .bearer_auth(&operator)
            .json(&flow)
            .send()
            .await
            .expect("send");
        assert_eq!(put.status(), 200);
        let path =
            "/api/v1/adapters/cdevents?product=api&environment=dev&phase=post&application=api";
        let published = cdevent(
            "0.4.1",
            "271069a8-fc18-44f1-b38f-9d70a1695819",
            "dev.cdevents.artifact.published.0.2.0",
            0,
            json!({"id": "pkg:golang/mygit.com/myorg/myapp@234fd47e07d1004f0aed9c", "source": "/event/source/123",
                   "type": "artifact", "content": {}}),
        );
        let started = cdevent(
            "0.5.0",
            "e-started",
            "dev.cdevents.pipelinerun.started.0.3.0",
            10,
            json!({"id": "mySubject123", "source": "/event/source/123", "type": "pipelineRun",
                   "content": {"pipelineName": "myPipeline", "url": "https://www.example.com/mySubject123"}}),
        );
        let (status, body) = post_json(&server, path, &token, &json!([published, started])).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted"], 2);
        let (_, detail) = server.get_json("/api/v1/products/api/releases/1").await;
        assert_eq!(detail["key"], "4c8cb7dd-3448-41de-8768-eec704e2829b");
        assert_eq!(
            detail["environments"][0]["version"],
            "234fd47e07d1004f0aed9c"
        );
        assert_eq!(detail["environments"][0]["runs"][0]["status"], "running");

        // Task runs are steps of their pipeline run: two start, one ends.
        let task = |id: &str, predicate: &str, seconds: i64, name: &str, extra: Value| {
            let mut content = json!({"taskName": name, "url": "https://www.example.com/tr",
                                     "pipelineRun": {"id": "mySubject123", "source": "/event/source/123"}});
            if let (Some(content), Some(extra)) = (content.as_object_mut(), extra.as_object()) {
                content.extend(extra.clone());
            }
            cdevent(
                "0.4.1",
                id,
                &format!("dev.cdevents.taskrun.{predicate}.0.2.0"),
                seconds,
                json!({"id": format!("tr-{name}"), "source": "/event/source/123",
                       "type": "taskRun", "content": content}),
            )
        };
        let tasks = json!([
            task("t-1", "started", 11, "build", json!({})),
            task("t-2", "started", 13, "test", json!({})),
            task(
                "t-3",
                "finished",
                12,
                "build",
                json!({"outcome": "success"})
            ),
            task("t-4", "started", 14, "lonely", json!({"pipelineRun": null})),
            task(
                "t-6",
                "started",
                14,
                "early",
                json!({"pipelineRun": {"id": "notYet"}})
            ),
        ]);
        let (status, body) = post_json(&server, path, &token, &tasks).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["accepted"].clone(), body["ignored"].clone()),
            (json!(3), json!(2)),
            "a task run outside a pipeline run, or of one not reported yet, is ignored: {body}"
        );
        let (_, detail) = server.get_json("/api/v1/products/api/releases/1").await;
        let run = &detail["environments"][0]["runs"][0];
        assert_eq!(run["status"], "running");
        assert_eq!(run["workflow"], "myPipeline", "the held run is kept");
        assert_eq!(run["started_at"], common::fixtures::at(10));
        let steps: Vec<(Value, Value)> = run["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| (s["name"].clone(), s["status"].clone()))
            .collect();
        assert_eq!(
            steps,
            [
                (json!("build"), json!("success")),
                (json!("test"), json!("running"))
            ]
        );
        assert_eq!(run["steps"][0]["started_at"], common::fixtures::at(11));
        assert_eq!(run["steps"][0]["finished_at"], common::fixtures::at(12));

        // Binary mode: the CDEvent as the body, the envelope in headers.
        let finished = cdevent(
            "0.5.0",
            "e-finished",
            "dev.cdevents.pipelinerun.finished.0.3.0",
            20,
            json!({"id": "mySubject123", "source": "/event/source/123", "type": "pipelineRun",
                   "content": {"pipelineName": "myPipeline", "outcome": "failure",
                               "errors": "Something went wrong\nWith some more details",
                               "url": "https://www.example.com/mySubject123"}}),
        );
        let (status, body) = post(
            &server,
            path,
            Some(&token),
            &[
                ("ce-specversion", "1.0".into()),
                ("ce-id", "e-finished".into()),
                ("ce-type", "dev.cdevents.pipelinerun.finished.0.3.0".into()),
                ("ce-source", "/event/source/123".into()),
            ],
            &serde_json::to_vec(&finished).expect("json"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (_, detail) = server.get_json("/api/v1/products/api/releases/1").await;
        let dev = &detail["environments"][0];
        assert_eq!(dev["status"], "failed");
        assert_eq!(
            dev["errors"][0]["message"],
            "Something went wrong\nWith some more details"
        );
        let run = &dev["runs"][0];
        assert_eq!(
            run["started_at"],
            common::fixtures::at(10),
            "the start is kept"
        );
        assert_eq!(run["steps"].as_array().map(Vec::len), Some(2), "steps kept");
        // A task run's end that arrives after its pipeline run's still lands.
        let late = task(
            "t-5",
            "finished",
            19,
            "test",
            json!({"outcome": "failure", "errors": "3 tests failed"}),
        );
        let (status, body) = post_json(&server, path, &token, &late).await;
        assert_eq!(
            (status, body["accepted"].clone()),
            (200, json!(1)),
            "{body}"
        );
        let (_, detail) = server.get_json("/api/v1/products/api/releases/1").await;
        let run = &detail["environments"][0]["runs"][0];
        assert_eq!(run["status"], "failed");
        assert_eq!(run["steps"][1]["status"], "failed");
        assert_eq!(run["steps"][1]["message"], "3 tests failed");
        assert_eq!(run["steps"][1]["started_at"], common::fixtures::at(13));
        assert_eq!(run["finished_at"], common::fixtures::at(20));
        // The start of a step that has ended, arriving late, changes nothing;
        // the step left out earlier lands once its pipeline run is known.
        let (_, body) = post_json(&server, path, &token, &tasks[1]).await;
        assert_eq!(body["duplicates"], 1);
        let late_start = task("t-7", "started", 13, "test", json!({}));
        let (_, body) = post_json(&server, path, &token, &late_start).await;
        assert_eq!(body["accepted"], 1);
        let (_, detail) = server.get_json("/api/v1/products/api/releases/1").await;
        assert_eq!(
            detail["environments"][0]["runs"][0]["steps"][1]["status"],
            "failed"
        );
        let not_yet = cdevent(
            "0.5.0",
            "e-not-yet",
            "dev.cdevents.pipelinerun.started.0.3.0",
            21,
            json!({"id": "notYet", "source": "/event/source/123", "type": "pipelineRun",
                   "content": {"pipelineName": "myPipeline"}}),
        );
        let (_, body) = post_json(&server, path, &token, &not_yet).await;
        assert_eq!(body["accepted"], 1);
        let (_, body) = post_json(&server, path, &token, &tasks[4]).await;
        assert_eq!(
            (body["accepted"].clone(), body["duplicates"].clone()),
            (json!(1), json!(0)),
            "{body}"
        );
        let (_, detail) = server.get_json("/api/v1/products/api/releases/1").await;
        let runs = detail["environments"][0]["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let not_yet = runs.iter().find(|r| r["id"] == "notYet").expect("the run");
        assert_eq!(not_yet["steps"][0]["name"], "early");

        // A deployment to staging, in a CloudEvent; a test event is ignored.
        let deployed = cdevent(
            "0.4.1",
            "e-deployed",
            "dev.cdevents.service.deployed.0.2.0",
            30,
            json!({"id": "service/myapp", "source": "/event/source/123", "type": "service",
                   "content": {"environment": {"id": "staging", "source": "/event/source/123"},
                               "artifactId": "pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"}}),
        );
        let ignored = cdevent(
            "0.4.1",
            "e-test",
            "dev.cdevents.testcaserun.finished.0.1.0",
            31,
            json!({"id": "t"}),
        );
        let batch = json!([
            {"specversion": "1.0", "id": "c-1", "source": "/x", "type": "dev.cdevents.service.deployed.0.2.0", "data": deployed},
            ignored,
        ]);
        let (status, body) = post_json(
            &server,
            "/api/v1/adapters/cdevents?product=api",
            &token,
            &batch,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["accepted"].clone(), body["ignored"].clone()),
            (json!(1), json!(1))
        );
        let (_, detail) = server.get_json("/api/v1/products/api/releases/1").await;
        assert_eq!(
            detail["environments"][1]["version"],
            "sha256:0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"
        );
        // Redelivered: duplicates.
        let (_, body) = post_json(
            &server,
            "/api/v1/adapters/cdevents?product=api",
            &token,
            &batch,
        )
        .await;
        assert_eq!(body["duplicates"], 1);
        server.stop().await;
    }
}

// --- The README's configurations -------------------------------------------
//
// Each engine's section of the README shows the one thing to configure
// there; these tests read those blocks from the README itself and post
// exactly what the engine would send with them.

/// The README's section under `heading`, up to the next heading.
fn readme_section(heading: &str) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("the README has no {heading:?}"));
    let rest = &text[start + heading.len() + 2..];
    let end = rest.find("\n#").unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// The fenced code blocks of `section`, without their fences.
fn code_blocks(section: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in section.lines() {
        match (&mut current, line.starts_with("```")) {
            (None, true) => current = Some(Vec::new()),
            (Some(lines), true) => {
                blocks.push(lines.join("\n"));
                current = None;
            }
            (Some(lines), false) => lines.push(line),
            (None, false) => {}
        }
    }
    blocks
}

/// The value of the first `key:` line of `block`, unquoted, without a
/// trailing comment.
fn yaml_value(block: &str, key: &str) -> String {
    let line = block
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key:?} in\n{block}"));
    let value = line.split(" #").next().unwrap_or_default().trim();
    value.trim_matches('"').to_owned()
}

/// The literal block scalar `key: |` of `block`, dedented.
fn yaml_literal(block: &str, key: &str) -> String {
    let lines: Vec<&str> = block.lines().collect();
    let at = lines
        .iter()
        .position(|line| line.trim_start() == format!("{key}: |"))
        .unwrap_or_else(|| panic!("no {key}: | in\n{block}"));
    let indent = |line: &str| line.len() - line.trim_start().len();
    let own = indent(lines[at]);
    let body: Vec<&str> = lines[at + 1..]
        .iter()
        .take_while(|line| line.trim().is_empty() || indent(line) > own)
        .copied()
        .collect();
    let inner = body.iter().map(|line| indent(line)).min().unwrap_or(0);
    body.iter()
        .map(|line| line.get(inner..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The path and query of a README URL (its host is an example).
fn local(url: &str) -> String {
    let path = url
        .strip_prefix("https://releases.example.com")
        .unwrap_or_else(|| panic!("{url:?} is not on the README's example host"));
    assert!(path.starts_with("/api/v1/adapters/"), "{url}");
    path.to_owned()
}

/// `template` with each `{{name}}` replaced as Argo or Argo CD substitutes
/// it; fails on a tag left over.
fn render(template: &str, values: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    assert!(
        !text.contains("{{"),
        "a tag the test does not render:\n{text}"
    );
    text
}

#[tokio::test]
async fn the_readme_configurations_post_what_the_adapters_take() {
    let server = server(backend::db::Backend::Sqlite).await.expect("sqlite");
    let token = server.token(Role::Ingest).await;
    release(&server, &token, "checkout", "r-1").await;

    // Argo Workflows, the sensor: `{"data": <the resource event's body>}`.
    let argo = code_blocks(&readme_section("### Argo Workflows"));
    assert_eq!(argo.len(), 2, "a sensor trigger and an exit handler");
    let sensor = &argo[0];
    assert!(sensor.contains("dataKey: body") && sensor.contains("dest: data"));
    assert!(sensor.contains("name: Authorization"));
    let path = local(&yaml_value(sensor, "url"));
    let (status, body) = post_json(
        &server,
        &path,
        &token,
        &json!({"data": argo_workflow("Running", "1")}),
    )
    .await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (200, json!(1)),
        "{body}"
    );
    let (_, detail) = server
        .get_json("/api/v1/products/checkout/releases/1")
        .await;
    let staging = &detail["environments"][1];
    assert_eq!(staging["name"], "staging");
    assert_eq!(staging["runs"][0]["workflow"], "smoke");
    assert_eq!(staging["runs"][0]["status"], "running");

    // Argo Workflows, the exit handler: its `body` as Argo renders it.
    let exit = &argo[1];
    assert!(exit.contains("onExit: releases") && exit.contains("method: POST"));
    let path = local(&yaml_value(exit, "url"));
    let template = yaml_literal(exit, "body");
    let variables =
        |status: &str, failures: &str| {
            vec![
            ("workflow.name", "smoke-h8x2q".to_owned()),
            ("workflow.namespace", "ci".to_owned()),
            ("workflow.uid", "4b2a0e0c-8f0e-4d5c-9b7e-0d6d1f2e3a4b".to_owned()),
            (
                "workflow.labels.json",
                r#"{"releases/release":"r-1","workflows.argoproj.io/workflow-template":"smoke"}"#
                    .to_owned(),
            ),
            ("workflow.status", status.to_owned()),
            ("workflow.creationTimestamp", "2024-05-01T11:00:00Z".to_owned()),
            ("workflow.duration", "183.5".to_owned()),
            ("workflow.failures", failures.to_owned()),
        ]
        };
    // Argo renders the failed nodes (the workflow and its step groups
    // among them) as JSON in a quoted string.
    let quoted = |json: &str| serde_json::to_string(json).expect("json");
    let failures = quoted(
        r#"[{"displayName":"smoke-h8x2q","message":"child 'smoke-h8x2q-1204' failed","templateName":"main","phase":"Failed","podName":"smoke-h8x2q","finishedAt":"2024-05-01T11:03:02Z"},{"displayName":"[1]","message":"child 'smoke-h8x2q-2843920385' failed","templateName":"main","phase":"Failed","podName":"smoke-h8x2q-1204","finishedAt":"2024-05-01T11:03:02Z"},{"displayName":"e2e","message":"Error (exit code 1): 3 of 120 tests failed","templateName":"e2e","phase":"Failed","podName":"smoke-h8x2q-e2e-2843920385","finishedAt":"2024-05-01T11:03:02Z"}]"#,
    );
    let rendered = render(&template, &variables("Failed", &failures));
    let (status, body) = post(&server, &path, Some(&token), &[], rendered.as_bytes()).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (200, json!(1)),
        "{body}"
    );
    let (_, detail) = server
        .get_json("/api/v1/products/checkout/releases/1")
        .await;
    let staging = &detail["environments"][1];
    let run = staging["runs"]
        .as_array()
        .and_then(|runs| {
            runs.iter()
                .find(|r| r["id"] == "4b2a0e0c-8f0e-4d5c-9b7e-0d6d1f2e3a4b")
        })
        .cloned()
        .expect("the exit handler's run");
    assert_eq!(run["status"], "failed");
    assert_eq!(run["workflow"], "smoke");
    assert_eq!(run["finished_at"], "2024-05-01T11:03:03.500Z");
    assert_eq!(run["steps"].as_array().map(Vec::len), Some(1), "{run}");
    assert_eq!(run["steps"][0]["name"], "e2e");
    assert_eq!(run["steps"][0]["status"], "failed");
    assert_eq!(
        staging["errors"][0]["message"],
        "Error (exit code 1): 3 of 120 tests failed"
    );
    // A success has no failures: Argo renders `null`; a retry is a duplicate.
    let mut success = variables("Succeeded", &quoted("null"));
    success[2].1 = "7c0e2d5a-1b3f-4e6a-8c9d-2f1e0a3b4c5d".into();
    let rendered = render(&template, &success);
    for expected in ["accepted", "duplicates"] {
        let (status, body) = post(&server, &path, Some(&token), &[], rendered.as_bytes()).await;
        assert_eq!((status, body[expected].clone()), (200, json!(1)), "{body}");
    }

    // Argo CD: the notifications template, with `{{toJson .app}}` rendered.
    let cd = code_blocks(&readme_section("### Argo CD"));
    assert_eq!(cd.len(), 1);
    let path = local(&yaml_value(&cd[0], "url"));
    assert!(cd[0].contains("value: Bearer $releases-token"));
    let template = yaml_literal(&cd[0], "body");
    let mut app = application("Healthy", Some("Succeeded"));
    app["metadata"]["annotations"] = json!({"releases/release": "r-1"});
    let rendered = render(
        &template,
        &[("toJson .app", serde_json::to_string(&app).expect("json"))],
    );
    let (status, body) = post(&server, &path, Some(&token), &[], rendered.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2, "health and promotion: {body}");
    let (_, detail) = server
        .get_json("/api/v1/products/checkout/releases/1")
        .await;
    assert_eq!(detail["environments"][1]["version"], "1.4.2");

    // GitHub: the payload URL, signed with the secret and no token.
    let github = code_blocks(&readme_section("### GitHub"));
    let url = yaml_value(&github[0], "Payload URL");
    assert!(github[0].contains("--github-webhook-secret"));
    let operator = server.token(Role::Operator).await;
    let put = server
        .client
        .put(server.url("/api/v1/products/hello-world/flow"))
        .bearer_auth(&operator)
        .json(&common::fixtures::flow())
        .send()
        .await
        .expect("send");
    assert_eq!(put.status(), 200);
    let push = github_examples("push")
        .into_iter()
        .find(|p| p["ref"] == "refs/heads/master" && p["head_commit"].is_object())
        .expect("a push to master");
    let query = local(&url)
        .strip_prefix("/api/v1/adapters/github")
        .expect("the GitHub adapter")
        .to_owned();
    let (status, body) = deliver(&server, &query, "push", "d-readme", &push).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (200, json!(1)),
        "{body}"
    );

    // CDEvents: the sink URL, with a pipeline run of release r-1.
    let cdevents = code_blocks(&readme_section("### CDEvents"));
    let path = local(cdevents[0].trim());
    let mut started = cdevent(
        "0.4.1",
        "readme-started",
        "dev.cdevents.pipelinerun.started.0.2.0",
        10,
        json!({"id": "run-7", "source": "/tekton", "type": "pipelineRun",
               "content": {"pipelineName": "smoke"}}),
    );
    started["context"]["chainId"] = json!("r-1");
    let (status, body) = post_json(&server, &path, &token, &started).await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (200, json!(1)),
        "{body}"
    );
    server.stop().await;
}
