//! CloudEvents for tests: a three-environment flow and builders for every
//! event type, with times in seconds after a fixed instant.

use serde_json::{json, Value};

/// RFC 3339 time `seconds` after 2024-05-01T10:00:00Z.
pub fn at(seconds: i64) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    (base + chrono::Duration::seconds(seconds)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A structured-mode envelope.
pub fn envelope(id: &str, kind: &str, seconds: i64, data: Value) -> Value {
    json!({
        "specversion": "1.0", "id": id, "source": "tests", "type": kind,
        "time": at(seconds), "datacontenttype": "application/json", "data": data,
    })
}

/// `dev → staging → prod`; every environment deploys `api`, dev runs
/// `smoke` after, staging and prod run `verify` before and staging `smoke` after.
pub fn flow() -> Value {
    json!({"name": "main", "trigger": "dev", "environments": [
        {"name": "dev", "depends_on": [], "applications": ["api"], "pre_action": null, "post_action": "smoke"},
        {"name": "staging", "depends_on": ["dev"], "applications": ["api"], "pre_action": "verify", "post_action": "smoke"},
        {"name": "prod", "depends_on": ["staging"], "applications": ["api"], "pre_action": "verify", "post_action": null}
    ]})
}

/// `release.created` for release `key` of `product` with commit `sha`.
pub fn created(
    id: &str,
    product: &str,
    key: &str,
    sha: &str,
    message: &str,
    seconds: i64,
) -> Value {
    envelope(
        id,
        "release.created",
        seconds,
        json!({
            "product": product, "release": key, "flow": flow(), "version": format!("v-{key}"),
            "commit": {"sha": sha, "message": message,
                       "author": {"name": "Ann Author", "email": "ann@example.com"},
                       "url": format!("https://git.example.com/c/{sha}"), "timestamp": at(0)},
        }),
    )
}

/// A `workflow.updated` snapshot of run `run` (`workflow` for `api`).
#[allow(clippy::too_many_arguments)]
pub fn workflow(
    id: &str,
    product: &str,
    key: &str,
    environment: &str,
    phase: &str,
    run: &str,
    workflow: &str,
    status: &str,
    seconds: i64,
) -> Value {
    envelope(
        id,
        "workflow.updated",
        seconds,
        json!({
            "product": product, "release": key, "environment": environment, "phase": phase,
            "run": {"id": run, "workflow": workflow, "application": "api", "status": status,
                    "started_at": at(1), "finished_at": null, "url": format!("https://argo/{run}"),
                    "manifest": "kind: Workflow", "message": null},
            "steps": [{"name": "test", "status": status, "started_at": at(1), "finished_at": null,
                       "message": null, "logs": "line 1\nline 2"}],
        }),
    )
}

/// `environment.promoted`.
pub fn promoted(
    id: &str,
    product: &str,
    key: &str,
    environment: &str,
    version: &str,
    seconds: i64,
) -> Value {
    envelope(
        id,
        "environment.promoted",
        seconds,
        json!({"product": product, "release": key, "environment": environment, "version": version,
               "commit": {"sha": "d00d", "url": "https://git.example.com/c/d00d"}}),
    )
}

/// `git.failed`.
pub fn git_failed(id: &str, product: &str, key: &str, environment: &str, seconds: i64) -> Value {
    envelope(
        id,
        "git.failed",
        seconds,
        json!({"product": product, "release": key, "environment": environment,
               "operation": "push", "message": "rejected: non-fast-forward", "repo": "deploy"}),
    )
}

/// `application.health`.
pub fn health(id: &str, product: &str, environment: &str, health: &str, seconds: i64) -> Value {
    envelope(
        id,
        "application.health",
        seconds,
        json!({"product": product, "environment": environment, "application": "api",
               "health": health, "message": format!("api is {health}"), "url": "https://argocd/app/api"}),
    )
}
