//! Parsing and validation of CloudEvents, without a database.

use http::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

use domain::RunStatus;

use super::*;

fn headers(content_type: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("header"),
    );
    headers
}

fn created() -> Value {
    json!({
        "specversion": "1.0", "id": "e1", "source": "test", "type": "release.created",
        "time": "2024-05-01T10:00:00Z",
        "data": {
            "product": "checkout", "release": "r1",
            "flow": {"name": "main", "trigger": "dev", "environments": [
                {"name": "dev", "applications": ["api"], "post_action": "smoke"},
                {"name": "prod", "depends_on": ["dev"], "applications": ["api"], "pre_action": "check"}
            ]},
            "commit": {"sha": "abc123", "message": "Fix ABC-1", "author": {"name": "Ann"}}
        }
    })
}

fn updated() -> Value {
    json!({
        "specversion": "1.0", "id": "e2", "source": "test", "type": "workflow.updated",
        "time": "2024-05-01T10:01:00Z",
        "data": {
            "product": "checkout", "release": "r1", "environment": "dev", "phase": "post",
            "run": {"id": "run-1", "workflow": "smoke", "application": "api", "status": "Succeeded"},
            "steps": [{"name": "test", "status": "Skipped", "logs": "ok"}]
        }
    })
}

fn error_of(body: &Value, content_type: &str) -> AppError {
    let bytes = serde_json::to_vec(body).expect("json");
    parse_request(&headers(content_type), &bytes).expect_err("should be rejected")
}

fn field_of(error: &AppError) -> Option<&str> {
    match error {
        AppError::Invalid { field, .. } => field.as_deref(),
        _ => None,
    }
}

#[test]
fn single_event_and_batch_parse_into_commands() {
    let bytes = serde_json::to_vec(&created()).expect("json");
    let events = parse_request(&headers("application/cloudevents+json"), &bytes).expect("valid");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind(), "release.created");
    assert_eq!(events[0].path, "");

    let batch = serde_json::to_vec(&json!([created(), updated()])).expect("json");
    let events =
        parse_request(&headers("application/cloudevents-batch+json"), &batch).expect("valid");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].path, "events[1]");
    let Command::WorkflowUpdated(update) = &events[1].command else {
        panic!("not a workflow update: {:?}", events[1].command);
    };
    assert_eq!(update.run.status, RunStatus::Success, "Argo phases map");
    assert_eq!(update.steps[0].status, RunStatus::Success);
}

#[test]
fn errors_name_the_json_path() {
    let mut bad = updated();
    bad["data"]["run"]["status"] = json!("done");
    assert_eq!(
        field_of(&error_of(&bad, "application/json")),
        Some("data.run.status")
    );
    let batch = json!([created(), created(), created(), bad]);
    assert_eq!(
        field_of(&error_of(&batch, "application/cloudevents-batch+json")),
        Some("events[3].data.run.status")
    );

    type Mutation = fn(&mut Value);
    let table: Vec<(Mutation, &str)> = vec![
        (|e| e["specversion"] = json!("0.3"), "specversion"),
        (|e| e["id"] = json!(""), "id"),
        (|e| e["type"] = json!("release.deleted"), "type"),
        (|e| e["time"] = json!("yesterday"), "time"),
        (
            |e| e["data"]["product"] = json!("Not A Slug"),
            "data.product",
        ),
        (
            |e| e["data"]["flow"]["trigger"] = json!("qa"),
            "data.flow.trigger",
        ),
        (
            |e| e["data"]["flow"]["environments"][1]["depends_on"] = json!(["nowhere"]),
            "data.flow.environments",
        ),
        (
            |e| e["data"]["flow"]["environments"][0]["pre_action"] = json!("x"),
            "data.flow.environments",
        ),
        (
            |e| e["data"]["commit"]["author"] = json!(3),
            "data.commit.author",
        ),
        (
            |e| e["data"]["changes"] = json!({"pull_requests": [{"title": "x"}]}),
            "data.changes.pull_requests[0].number",
        ),
    ];
    for (mutate, field) in table {
        let mut event = created();
        mutate(&mut event);
        assert_eq!(
            field_of(&error_of(&event, "application/json")),
            Some(field),
            "{event}"
        );
    }
}

#[test]
fn oversized_batches_and_foreign_content_types_are_refused() {
    let batch = Value::Array(vec![created(); MAX_EVENTS + 1]);
    let error = error_of(&batch, "application/cloudevents-batch+json");
    assert_eq!(error.status(), 413);
    let error = error_of(&created(), "text/plain");
    assert_eq!(field_of(&error), Some("Content-Type"));
    let error = parse_request(&headers("application/json"), b"{not json").expect_err("bad json");
    assert_eq!(error.status(), 400);
}

#[test]
fn binary_mode_reads_the_envelope_from_headers() {
    let mut headers = headers("application/json");
    for (name, value) in [
        ("ce-specversion", "1.0"),
        ("ce-id", "b1"),
        ("ce-source", "argo"),
        ("ce-type", "workflow.updated"),
        ("ce-time", "2024-05-01T10:01:00Z"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let body = serde_json::to_vec(&updated()["data"]).expect("json");
    let events = parse_request(&headers, &body).expect("valid");
    assert_eq!(events[0].id, "b1");
    assert_eq!(events[0].source, "argo");

    headers.remove("ce-time");
    let error = parse_request(&headers, &body).expect_err("time is required");
    assert_eq!(field_of(&error), Some("time"));
}

#[test]
fn logs_keep_their_last_64_kib() {
    let mut event = updated();
    let long = format!("{}é{}", "a".repeat(MAX_LOG_BYTES), "z".repeat(10));
    event["data"]["steps"][0]["logs"] = json!(long);
    let bytes = serde_json::to_vec(&event).expect("json");
    let events = parse_request(&headers("application/json"), &bytes).expect("valid");
    let Command::WorkflowUpdated(update) = &events[0].command else {
        panic!("not a workflow update");
    };
    let logs = update.steps[0].logs.as_deref().expect("logs");
    assert!(logs.len() <= MAX_LOG_BYTES);
    assert!(logs.ends_with("zzzzzzzzzz"));
}
