//! Parsing and validation of CloudEvents, without a database.

use http::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

use domain::RunStatus;

use super::*;

pub(crate) fn headers(content_type: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("header"),
    );
    headers
}

/// Parses `events` as one batch request and applies them: for tests of
/// what a write leaves behind.
pub(crate) async fn post_batch(core: &crate::state::Core, events: &[Value]) {
    let body = serde_json::to_vec(events).expect("json");
    let headers = headers("application/cloudevents-batch+json");
    let events = parse_request(&headers, &body).expect("valid events");
    apply_events(core, events).await.expect("applied");
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

/// The body is read into a tree that borrows its strings: escapes (in
/// values and in member names) still read as JSON says, and of a member
/// named twice the last counts, as before.
#[test]
fn escapes_and_repeated_members_read_as_json_says() {
    let body = br#"{"specversion": "1.0", "id": "e\u0031", "source": "a\/b", "type": "git.failed",
        "time": "2024-05-01T10:00:00Z",
        "data": {"product": "checkout", "release": "r1", "environment": "dev",
                 "operation": "push", "operation": "pull", "message": "line\nnext \"quoted\" \u00e9",
                 "re\u0070o": "escaped member name"}}"#;
    let events = parse_request(&headers("application/cloudevents+json"), body).expect("valid");
    assert_eq!(events[0].id, "e1");
    assert_eq!(events[0].source, "a/b");
    let Command::GitFailed(failed) = &events[0].command else {
        panic!("not a git failure: {:?}", events[0].command);
    };
    assert_eq!(
        failed.operation, "pull",
        "the last of a repeated member counts"
    );
    assert_eq!(failed.message, "line\nnext \"quoted\" \u{e9}");
    assert_eq!(failed.repo.as_deref(), Some("escaped member name"));
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

/// The field the refusal of `body` (a single event) names.
fn refused(body: &Value) -> String {
    field_of(&error_of(body, "application/json"))
        .unwrap_or("(no field)")
        .to_owned()
}

#[test]
fn every_limit_of_spec_4_2_1_is_a_refusal_naming_the_field() {
    // Sets (or adds) the field at `pointer`.
    let set = |mut event: Value, pointer: &str, value: Value| {
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        match event.pointer_mut(parent).expect("a parent in the fixture") {
            Value::Object(fields) => {
                fields.insert(key.to_owned(), value);
            }
            Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value,
            _ => panic!("{parent} holds no fields"),
        }
        event
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            set(created(), "/data/release", json!("r".repeat(201))),
            "data.release",
        ),
        (
            set(created(), "/data/release", json!("r\u{7}1")),
            "data.release",
        ),
        (
            set(created(), "/data/product", json!("p".repeat(201))),
            "data.product",
        ),
        (
            set(
                created(),
                "/data/flow/environments/0/name",
                json!("d".repeat(201)),
            ),
            "data.flow.environments[0].name",
        ),
        (
            set(
                created(),
                "/data/flow/environments/0/post_action",
                json!("a\nb"),
            ),
            "data.flow.environments[0].post_action",
        ),
        (
            set(
                created(),
                "/data/flow/environments/0/applications",
                json!((0..51).map(|i| format!("a{i}")).collect::<Vec<_>>()),
            ),
            "data.flow.environments[0].applications",
        ),
        (
            set(
                created(),
                "/data/commit/message",
                json!("m".repeat(64 * 1024 + 1)),
            ),
            "data.commit.message",
        ),
        (
            set(created(), "/data/commit/url", json!("javascript:alert(1)")),
            "data.commit.url",
        ),
        (
            set(created(), "/data/commit/url", json!("/relative")),
            "data.commit.url",
        ),
        (
            set(created(), "/data/commit/message", json!("a\u{0}b")),
            "data.commit.message",
        ),
        (
            set(created(), "/time", json!("9999-01-01T00:00:00Z")),
            "time",
        ),
        (
            set(updated(), "/data/run/url", json!("data:text/html,x")),
            "data.run.url",
        ),
        (
            set(
                updated(),
                "/data/run/manifest",
                json!("m".repeat(256 * 1024 + 1)),
            ),
            "data.run.manifest",
        ),
        (
            set(
                updated(),
                "/data/run/message",
                json!("m".repeat(16 * 1024 + 1)),
            ),
            "data.run.message",
        ),
        (
            set(
                updated(),
                "/data/steps",
                json!((0..501)
                    .map(|i| json!({"name": format!("s{i}"), "status": "success"}))
                    .collect::<Vec<_>>()),
            ),
            "data.steps",
        ),
        (
            set(
                updated(),
                "/data/steps",
                json!([{"name": "a", "status": "success"}, {"name": "a", "status": "failed"}]),
            ),
            "data.steps[1].name",
        ),
        (set(updated(), "/data/run/id", json!("")), "data.run.id"),
    ];
    for (event, field) in cases {
        assert_eq!(refused(&event), field, "{event}");
    }
    // Logs are cut to their tail, not refused.
    let long = set(
        updated(),
        "/data/steps/0/logs",
        json!("l".repeat(200 * 1024)),
    );
    let bytes = serde_json::to_vec(&long).expect("json");
    let events = parse_request(&headers("application/json"), &bytes).expect("accepted");
    let Command::WorkflowUpdated(update) = &events[0].command else {
        panic!("a workflow update");
    };
    assert_eq!(
        update.steps[0].logs.as_deref().map(str::len),
        Some(MAX_LOG_BYTES)
    );
}

#[test]
fn a_flow_has_at_most_250_environments_and_2500_dependencies() {
    let env = |i: usize, deps: Vec<String>| json!({"name": format!("e{i}"), "depends_on": deps, "applications": ["api"]});
    let mut wide = created();
    wide["data"]["flow"] = json!({"name": "wide", "trigger": "e0",
        "environments": (0..251).map(|i| env(i, if i == 0 { vec![] } else { vec!["e0".into()] })).collect::<Vec<_>>()});
    assert_eq!(refused(&wide), "data.flow.environments");
    // 80 environments, each after all the earlier ones: 3,160 dependencies.
    let mut dense = created();
    dense["data"]["flow"] = json!({"name": "dense", "trigger": "e0",
        "environments": (0..80).map(|i| env(i, (0..i).map(|j| format!("e{j}")).collect())).collect::<Vec<_>>()});
    assert!(
        refused(&dense).ends_with(".depends_on"),
        "{}",
        refused(&dense)
    );
}

pub(crate) mod fuzz {
    //! Arbitrary bytes, and arbitrary JSON shaped like each event type, into
    //! the parser: it never panics, and answers events or a 4xx.

    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::{created, headers, updated};
    use crate::ingest::parse_request;

    /// Any JSON value, a few levels deep, with hostile strings.
    pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            ".{0,40}".prop_map(Value::String),
            Just(json!("javascript:alert(1)")),
            Just(json!("9999-12-31T23:59:59Z")),
            Just(json!("\u{0}")),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,12}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// Every leaf path of `value`, as JSON pointers.
    pub(crate) fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    pointers(child, format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    pointers(child, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }

    fn answered(bytes: &[u8], content_type: &str) -> Result<(), String> {
        match parse_request(&headers(content_type), bytes) {
            Ok(_) => Ok(()),
            Err(error) if (400..500).contains(&error.status()) => Ok(()),
            Err(error) => Err(format!("{} {error}", error.status())),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_are_refused_or_parsed(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            for content_type in ["application/json", "application/cloudevents-batch+json"] {
                prop_assert_eq!(answered(&bytes, content_type), Ok(()));
            }
        }

        #[test]
        fn any_field_of_any_event_replaced_by_anything_is_refused_or_parsed(
            which in 0usize..2,
            field in any::<prop::sample::Index>(),
            replacement in arb_json(),
        ) {
            let mut event = if which == 0 { created() } else { updated() };
            let mut all = Vec::new();
            pointers(&event, String::new(), &mut all);
            let pointer = field.get(&all).clone();
            if let Some(slot) = event.pointer_mut(&pointer) {
                *slot = replacement;
            }
            let bytes = serde_json::to_vec(&json!([event])).expect("json");
            prop_assert_eq!(answered(&bytes, "application/cloudevents-batch+json"), Ok(()));
        }
    }
}

/// A large batch is read on every core; what it gives is what reading it
/// in order gives: its events in the batch's order, and of several bad
/// events the first one named.
#[test]
fn a_large_batch_reads_as_in_order() {
    let batch: Vec<Value> = (0..300)
        .map(|i| {
            let mut event = updated();
            event["id"] = json!(format!("e{i}"));
            event
        })
        .collect();
    let body = format!(" \n\t{}", serde_json::to_string(&batch).expect("json"));
    let events =
        parse_request(&headers("application/json"), body.as_bytes()).expect("a valid batch");
    let ids: Vec<String> = events.iter().map(|event| event.id.clone()).collect();
    let expected: Vec<String> = (0..300).map(|i| format!("e{i}")).collect();
    assert_eq!(ids, expected, "the batch's order");
    assert_eq!(events[299].path, "events[299]");

    let mut bad = batch.clone();
    bad[250]["data"]["run"]["status"] = json!("Exploded");
    bad[70]["data"]["phase"] = json!("during");
    bad[200] = json!("not an event");
    let error = error_of(&json!(bad), "application/cloudevents-batch+json");
    assert_eq!(field_of(&error), Some("events[70].data.phase"), "{error}");

    let mut body = serde_json::to_vec(&batch).expect("json");
    body.truncate(body.len() - 1);
    let error = parse_request(&headers("application/json"), &body).expect_err("cut short");
    assert!(
        error.to_string().contains("not valid JSON"),
        "a cut batch is not JSON: {error}"
    );
}
