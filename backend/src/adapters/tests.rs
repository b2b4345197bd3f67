//! The adapters' pure mapping: keys, bodies, statuses. The routes, on real
//! payloads and a real server, are tested in `server/tests/adapters.rs`.

use serde_json::{json, Value};

use super::*;

/// The Argo Workflows adapter on `body` as it would be posted. Its
/// CloudEvents, and what the route applies (`read`), which must be those
/// events validated as `POST /api/v1/events` validates them.
fn argo(body: &Value, keys: &Keys, settings: &AdapterSettings) -> Result<Mapped, AppError> {
    argo_bytes(&serde_json::to_vec(body).expect("json"), keys, settings)
}

/// `argo` of a body given as bytes.
fn argo_bytes(bytes: &[u8], keys: &Keys, settings: &AdapterSettings) -> Result<Mapped, AppError> {
    if let Err(problem) = read_agrees(bytes, keys, settings) {
        panic!("{problem}");
    }
    argo_workflows::map(bytes, keys, settings)
}

/// Whether `argo_workflows::read` gives what `adapters::apply` makes of
/// `argo_workflows::map`'s CloudEvents: the same events, the same count of
/// ignored objects, or the same refusal.
fn read_agrees(bytes: &[u8], keys: &Keys, settings: &AdapterSettings) -> Result<(), String> {
    let expected = argo_workflows::map(bytes, keys, settings).and_then(|mapped| {
        check_count(mapped.events.len())?;
        let events = mapped
            .events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                crate::ingest::parse_event(event, format!("events[{i}]")).map_err(mapped_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((events, mapped.ignored))
    });
    let mut read = argo_workflows::read(bytes, keys, settings);
    // A Workflow without any time is dated when it is mapped.
    if let (Ok((expected, _)), Ok((read, _))) = (&expected, &mut read) {
        for (read, expected) in read.iter_mut().zip(expected) {
            if (read.time - expected.time).abs() < chrono::Duration::seconds(5) {
                read.time = expected.time;
            }
        }
    }
    let same = match (&expected, &read) {
        (Ok(expected), Ok(read)) => expected == read,
        (Err(expected), Err(read)) => {
            (expected.status(), expected.to_string()) == (read.status(), read.to_string())
        }
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(format!("read {read:?}, expected {expected:?}"))
    }
}

fn keys(query: &str) -> Keys {
    Keys::from_query_string(Some(query))
}

#[test]
fn the_query_wins_over_labels_then_annotations_then_defaults() {
    let object = json!({"metadata": {
        "labels": {"releases/product": "from-label", "releases/release": "r-label"},
        "annotations": {"releases/product": "from-annotation", "releases/environment": "qa"}
    }});
    let keys = keys("product=from-query&unknown=x&release=").with_object(&object);
    assert_eq!(keys.get("product").as_deref(), Some("from-query"));
    assert_eq!(
        keys.get("release").as_deref(),
        Some("r-label"),
        "an empty value is absent"
    );
    assert_eq!(keys.get("environment").as_deref(), Some("qa"));
    assert_eq!(keys.get("unknown"), None);
    assert_eq!(
        keys.require("phase", Some("post")).ok().as_deref(),
        Some("post")
    );
    match keys.require("application", None) {
        Err(AppError::Unprocessable { field, message }) => {
            assert_eq!(field, "application");
            assert!(message.contains("?application="), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

fn workflow(phase: &str, message: Option<&str>) -> Value {
    json!({
        "metadata": {"name": "build-abc12", "generateName": "build-", "namespace": "ci",
                     "uid": "u-1", "resourceVersion": "42"},
        "status": {"phase": phase, "message": message, "startedAt": "2024-05-01T10:00:00Z",
                   "nodes": {
                       "n2": {"displayName": "test", "type": "Pod", "phase": "Failed",
                              "startedAt": "2024-05-01T10:00:02Z", "message": "exit 1"},
                       "n1": {"displayName": "build", "type": "Pod", "phase": "Succeeded",
                              "startedAt": "2024-05-01T10:00:01Z", "finishedAt": "2024-05-01T10:00:09Z"},
                       "n3": {"displayName": "test", "type": "Retry", "phase": "Failed"},
                       "n4": {"displayName": "test", "type": "Pod", "phase": "Error",
                              "startedAt": "2024-05-01T10:00:03Z"}}}
    })
}

const KEYS: &str = "product=p&release=r&environment=dev&phase=post&application=api";

#[test]
fn a_workflow_maps_to_one_snapshot_with_its_pods_as_steps() {
    let settings = AdapterSettings {
        argo_workflows_url: Some("https://argo.example.com/".into()),
        ..AdapterSettings::default()
    };
    let mapped = argo(
        &workflow("Failed", Some("child failed")),
        &keys(KEYS),
        &settings,
    )
    .expect("maps");
    assert_eq!(mapped.ignored, 0);
    let event = &mapped.events[0];
    assert_eq!(event["id"], "u-1/42");
    assert_eq!(event["type"], "workflow.updated");
    assert_eq!(
        event["time"], "2024-05-01T10:00:09Z",
        "the latest time in its status"
    );
    let data = &event["data"];
    assert_eq!(
        data["run"]["workflow"], "build",
        "generateName without its `-`"
    );
    assert_eq!(data["run"]["status"], "failed");
    assert_eq!(
        data["run"]["url"],
        "https://argo.example.com/workflows/ci/build-abc12"
    );
    let steps: Vec<(&str, &str)> = data["steps"]
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
            ("build", "success"),
            ("test", "failed"),
            ("test (2)", "error")
        ],
        "Pods only, by startedAt, names made unique"
    );
    // It passes ingest's own validation.
    crate::ingest::parse_event(event, String::new()).expect("a valid event");

    let stopped = argo(
        &workflow("Failed", Some("Stopped with strategy 'Stop'")),
        &keys(KEYS),
        &settings,
    )
    .expect("maps");
    assert_eq!(stopped.events[0]["data"]["run"]["status"], "terminated");
}

#[test]
fn argo_cd_versions_come_from_the_key_then_the_image_then_the_revision() {
    let app = |images: Value| {
        json!({"kind": "Application", "metadata": {"name": "api", "uid": "a-1", "resourceVersion": "1"},
               "status": {"health": {"status": "Healthy"},
                          "sync": {"revision": "0123456789abcdef"},
                          "summary": {"images": images},
                          "operationState": {"phase": "Succeeded", "startedAt": "2024-05-01T10:00:00Z",
                                             "finishedAt": "2024-05-01T10:01:00Z"}}})
    };
    let version = |query: &str, images: Value| {
        let mapped =
            argo_cd::map(&app(images), &keys(query), &AdapterSettings::default()).expect("maps");
        mapped.events[1]["data"]["version"].clone()
    };
    let base = "product=p&environment=prod&release=r";
    assert_eq!(
        version(&format!("{base}&version=v9"), json!(["r/app:1.2"])),
        "v9"
    );
    assert_eq!(
        version(base, json!(["registry:5000/team/app:1.2.3"])),
        "1.2.3"
    );
    assert_eq!(version(base, json!(["r/app@sha256:abc"])), "0123456");
    // Without a release key, the sync is no promotion: health only.
    let mapped = argo_cd::map(
        &app(json!([])),
        &keys("product=p&environment=prod"),
        &AdapterSettings::default(),
    )
    .expect("maps");
    assert_eq!(mapped.events.len(), 1);
    assert_eq!(mapped.events[0]["type"], "application.health");
}

#[test]
fn github_signatures_are_checked_against_the_body() {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").expect("key");
    mac.update(b"{\"a\":1}");
    let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert!(github::signature_is_valid("s3cret", b"{\"a\":1}", &good));
    assert!(!github::signature_is_valid("s3cret", b"{\"a\":2}", &good));
    assert!(!github::signature_is_valid("other", b"{\"a\":1}", &good));
    assert!(!github::signature_is_valid(
        "s3cret",
        b"{\"a\":1}",
        "sha1=abc"
    ));
    assert!(!github::signature_is_valid(
        "s3cret",
        b"{\"a\":1}",
        "sha256=not-hex"
    ));
}

#[test]
fn github_job_statuses_follow_the_spec() {
    let job = |status: &str, conclusion: Option<&str>| {
        json!({"repository": {"name": "Shop", "default_branch": "main"},
               "workflow_job": {"id": 7, "name": "test", "head_sha": "abc", "head_branch": "main",
                                "status": status, "conclusion": conclusion, "steps": []}})
    };
    let run_status = |status: &str, conclusion: Option<&str>| {
        let mapped = github::map(
            "workflow_job",
            "d",
            &job(status, conclusion),
            &keys("environment=dev&phase=post&application=api"),
        )
        .expect("maps");
        mapped.events[0]["data"]["run"]["status"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    for (status, conclusion, expected) in [
        ("queued", None, "pending"),
        ("waiting", None, "pending"),
        ("in_progress", None, "running"),
        ("completed", Some("success"), "success"),
        ("completed", Some("skipped"), "success"),
        ("completed", Some("neutral"), "success"),
        ("completed", Some("failure"), "failed"),
        ("completed", Some("timed_out"), "failed"),
        ("completed", Some("cancelled"), "terminated"),
        ("completed", Some("action_required"), "error"),
        ("completed", Some("startup_failure"), "error"),
    ] {
        assert_eq!(
            run_status(status, conclusion),
            expected,
            "{status} {conclusion:?}"
        );
    }
    let mapped = github::map(
        "workflow_job",
        "d",
        &job("completed", Some("success")),
        &keys("environment=dev&phase=post&application=api"),
    )
    .expect("maps");
    assert_eq!(
        mapped.events[0]["data"]["product"], "shop",
        "the repository's name in lower case"
    );
    assert_eq!(mapped.events[0]["data"]["release"], "abc", "the head sha");
    // A job of another branch makes no release: ignored.
    let mut other = job("completed", Some("success"));
    other["workflow_job"]["head_branch"] = json!("feature");
    let mapped = github::map(
        "workflow_job",
        "d",
        &other,
        &keys("environment=dev&phase=post&application=api"),
    )
    .expect("maps");
    assert_eq!((mapped.events.len(), mapped.ignored), (0, 1));
}

#[test]
fn cdevents_map_by_subject_and_predicate_whatever_the_version() {
    let document = |kind: &str, subject: Value| {
        json!({"context": {"version": "0.4.1", "id": "e-1", "source": "/tekton/ci",
                           "type": kind, "timestamp": "2024-05-01T10:00:00Z", "chainId": "chain-7"},
               "subject": subject})
    };
    let keys = keys("product=p&environment=dev&phase=post&application=api");
    let finished = document(
        "dev.cdevents.pipelinerun.finished.0.2.0",
        json!({"id": "run-1", "source": "/tekton", "content": {"pipelineName": "build", "outcome": "failure",
               "url": "https://tekton.example.com/runs/1", "errors": "step test failed"}}),
    );
    let mapped = cdevents::map(&finished, &keys).expect("maps");
    let data = &mapped.events[0]["data"];
    assert_eq!(data["release"], "chain-7", "the chain id is the release");
    assert_eq!(data["run"]["status"], "failed");
    assert_eq!(data["run"]["message"], "step test failed");
    crate::ingest::parse_event(&mapped.events[0], String::new()).expect("valid");

    // 0.5's `specversion`, in a CloudEvent, in a batch; `uri` for `url`.
    let deployed = json!({"specversion": "1.0", "id": "c-1", "source": "x", "type": "dev.cdevents.service.deployed.0.3.0",
        "data": {"context": {"specversion": "0.5.0", "id": "e-2", "source": "/argo", "type": "dev.cdevents.service.deployed.0.3.0",
                             "timestamp": "2024-05-01T10:05:00Z", "chainId": "chain-7"},
                 "subject": {"id": "svc/api", "content": {"environment": {"id": "prod"},
                             "artifactId": "pkg:oci/api@sha256%3A0b31?repository_url=ghcr.io/x"}}}});
    let mapped = cdevents::map(
        &json!([deployed]),
        &Keys::from_query_string(Some("product=p")),
    )
    .expect("maps");
    assert_eq!(mapped.events[0]["type"], "environment.promoted");
    assert_eq!(mapped.events[0]["data"]["environment"], "prod");
    assert_eq!(mapped.events[0]["data"]["version"], "sha256:0b31");

    let published = document(
        "dev.cdevents.artifact.published.0.2.0",
        json!({"id": "pkg:golang/example.com/api@v1.4.2", "content": {}}),
    );
    let mapped = cdevents::map(&published, &keys).expect("maps");
    assert_eq!(mapped.events[0]["type"], "release.created");
    assert_eq!(mapped.events[0]["data"]["version"], "v1.4.2");
    assert!(
        mapped.events[0]["data"].get("flow").is_none(),
        "the product's flow"
    );

    let other = document("dev.cdevents.testcaserun.started.0.2.0", json!({"id": "t"}));
    let mapped = cdevents::map(&other, &keys).expect("maps");
    assert_eq!((mapped.events.len(), mapped.ignored), (0, 1));
    // No chain id and no key: 422 naming `release`.
    let mut unchained = finished.clone();
    unchained["context"]
        .as_object_mut()
        .expect("context")
        .remove("chainId");
    match cdevents::map(&unchained, &keys) {
        Err(AppError::Unprocessable { field, .. }) => assert_eq!(field, "release"),
        other => panic!("{other:?}"),
    }
}

/// What the README's exit handler renders for a failed Workflow.
fn exit_handler(failures: Value) -> Value {
    json!({"metadata": {"name": "smoke-h8x2q", "namespace": "ci", "uid": "u-9",
                        "labels": {"releases/release": "r"}},
           "status": {"phase": "Failed", "startedAt": "2024-05-01T10:00:00Z", "duration": "90.25",
                      "failures": failures}})
}

#[test]
fn an_exit_handler_workflow_gives_its_failures_as_steps_and_ends_after_its_duration() {
    let failures = json!([
        {"displayName": "e2e", "message": "exit code 1", "templateName": "e2e", "phase": "Failed",
         "podName": "p-2", "finishedAt": "2024-05-01T10:01:20Z"},
        {"displayName": "lint", "message": "timeout", "templateName": "lint", "phase": "Error",
         "podName": "p-1", "finishedAt": "2024-05-01T10:00:40Z"},
        {"displayName": "e2e", "message": "exit code 2", "templateName": "e2e", "phase": "Failed",
         "podName": "p-3", "finishedAt": "2024-05-01T10:01:20Z"}
    ]);
    let keys = keys("product=p&environment=dev&phase=post&application=api");
    let mapped = argo(&exit_handler(failures), &keys, &AdapterSettings::default()).expect("maps");
    let data = &mapped.events[0]["data"];
    assert_eq!(data["run"]["status"], "failed");
    assert_eq!(data["run"]["finished_at"], "2024-05-01T10:01:30.250Z");
    let steps: Vec<(&str, &str, &str)> = data["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default(),
                s["status"].as_str().unwrap_or_default(),
                s["message"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("lint", "error", "timeout"),
            ("e2e", "failed", "exit code 1"),
            ("e2e (2)", "failed", "exit code 2")
        ],
        "in the order they finished, ties by name and message"
    );
    // As Argo renders it: JSON in a quoted string, the parents with it.
    let quoted = json!(json!([
        {"displayName": "smoke-h8x2q", "message": "child 'smoke-h8x2q-1' failed", "phase": "Failed"},
        {"displayName": "[0]", "message": "child 'smoke-h8x2q-2' failed", "phase": "Failed"},
        {"displayName": "e2e", "message": "No more retries left", "phase": "Failed"},
        {"displayName": "e2e(1)", "message": "exit code 1", "phase": "Failed"}
    ])
    .to_string());
    let mapped = argo(&exit_handler(quoted), &keys, &Default::default()).expect("maps");
    assert_eq!(
        mapped.events[0]["data"]["steps"][0]["name"], "e2e(1)",
        "only the failed pod: {}",
        mapped.events[0]["data"]["steps"]
    );
    assert_eq!(
        mapped.events[0]["data"]["steps"].as_array().map(Vec::len),
        Some(1)
    );
    let mapped = argo(&exit_handler(json!("null")), &keys, &Default::default()).expect("maps");
    assert_eq!(mapped.events[0]["data"]["steps"], json!([]));
    crate::ingest::parse_event(&mapped.events[0], String::new()).expect("valid");

    // Argo renders no failures as `null`; a running Workflow has no end;
    // not a list, or a duration that is not a number, is named or ignored.
    let mapped = argo(&exit_handler(Value::Null), &keys, &Default::default()).expect("maps");
    assert_eq!(mapped.events[0]["data"]["steps"], json!([]));
    let mut running = exit_handler(Value::Null);
    running["status"]["phase"] = json!("Running");
    let mapped = argo(&running, &keys, &Default::default()).expect("maps");
    assert_eq!(mapped.events[0]["data"]["run"]["finished_at"], Value::Null);
    match argo(&exit_handler(json!("e2e")), &keys, &Default::default()) {
        Err(AppError::Invalid { field, .. }) => {
            assert_eq!(field.as_deref(), Some("status.failures"))
        }
        other => panic!("{other:?}"),
    }
    let mut odd = exit_handler(Value::Null);
    odd["status"]["duration"] = json!("{{workflow.duration}}");
    let mapped = argo(&odd, &keys, &Default::default()).expect("maps");
    assert_eq!(mapped.events[0]["data"]["run"]["finished_at"], Value::Null);
}

#[test]
fn cdevents_task_runs_are_steps_merged_into_their_pipeline_run() {
    let task = |predicate: &str, content: Value| {
        json!({"context": {"version": "0.4.1", "id": format!("e-{predicate}"), "source": "/tekton",
                           "type": format!("dev.cdevents.taskrun.{predicate}.0.2.0"),
                           "timestamp": "2024-05-01T10:00:00Z", "chainId": "r"},
               "subject": {"id": "tr-1", "content": content}})
    };
    let keys = keys("product=p&environment=dev&phase=post&application=api");
    let mapped = cdevents::map(
        &task(
            "finished",
            json!({"taskName": "test", "outcome": "failure", "errors": "2 failed",
                   "pipelineRun": {"id": "run-1"}}),
        ),
        &keys,
    )
    .expect("maps");
    assert_eq!(mapped.merges, [(0, crate::ingest::Merge::Step)]);
    let data = &mapped.events[0]["data"];
    assert_eq!(data["run"]["id"], "run-1");
    assert_eq!(
        data["steps"],
        json!([{"name": "test", "status": "failed", "started_at": null,
                "finished_at": "2024-05-01T10:00:00Z", "message": "2 failed"}])
    );
    crate::ingest::parse_event(&mapped.events[0], String::new()).expect("valid");
    // Without a pipeline run: ignored. The subject's id names an unnamed task.
    let mapped = cdevents::map(&task("started", json!({"taskName": "x"})), &keys).expect("maps");
    assert_eq!((mapped.events.len(), mapped.ignored), (0, 1));
    let mapped = cdevents::map(
        &json!([task("started", json!({"pipelineRun": {"id": "run-1"}}))]),
        &keys,
    )
    .expect("maps");
    assert_eq!(mapped.events[0]["data"]["steps"][0]["name"], "tr-1");
    assert_eq!(mapped.merges, [(0, crate::ingest::Merge::Step)]);
}

#[test]
fn a_large_list_is_read_in_order_and_refused_at_its_first_bad_workflow() {
    let keys = keys(KEYS);
    let settings = AdapterSettings::default();
    // Forty Workflows of about 3 KB each.
    let item = |i: usize, phase: &str| {
        let mut wf = workflow(phase, None);
        wf["metadata"]["uid"] = json!(format!("u-{i}"));
        wf["metadata"]["annotations"] = json!({"padding": "x".repeat(3000)});
        wf
    };
    let list = |bad: &[usize]| {
        let items: Vec<Value> = (0..40)
            .map(|i| item(i, if bad.contains(&i) { "Bogus" } else { "Running" }))
            .collect();
        serde_json::to_vec(&json!({"items": items})).expect("json")
    };
    let body = list(&[]);
    assert!(body.len() > 100_000);
    let (events, ignored) = argo_workflows::read(&body, &keys, &settings).expect("reads");
    assert_eq!((events.len(), ignored), (40, 0));
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.id, format!("u-{i}/42"));
        assert_eq!(event.path, format!("events[{i}]"));
        // The same as the Workflow posted alone.
        let alone = serde_json::to_vec(&item(i, "Running")).expect("json");
        let (one, _) = argo_workflows::read(&alone, &keys, &settings).expect("reads");
        assert_eq!(one[0].command, event.command, "{i}");
    }
    for bad in [[25, 35], [3, 38]] {
        match argo_workflows::read(&list(&bad), &keys, &settings) {
            Err(AppError::Invalid { field, .. }) => assert_eq!(
                field.as_deref(),
                Some(format!("items[{}].status.phase", bad[0]).as_str())
            ),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn a_workflow_is_read_as_loosely_as_json_and_its_errors_name_the_field() {
    let keys = keys(KEYS);
    let settings = AdapterSettings::default();
    let map = |body: &str| argo_bytes(body.as_bytes(), &keys, &settings);
    // Escaped strings, fields of other types, nodes that are not objects,
    // members the adapter does not read.
    let mapped = map(
        r#"{"metadata": {"name": "a\u0062c", "uid": 7, "labels": ["x"], "extra": {"deep": [1, {"x": null}]}},
            "status": {"phase": "Running", "startedAt": "2024-05-01T10:00:00Z",
                       "nodes": {"n1": "not a node", "n2": {"type": "Pod", "displayName": "t\"1", "phase": "Succeeded",
                                                          "outputs": {"parameters": [{"name": "p", "value": "v"}]}},
                                 "n3": {"type": 3, "phase": "Failed"}}}}"#,
    )
    .expect("maps");
    let event = &mapped.events[0];
    let id = event["id"].as_str().unwrap_or_default();
    let digest = id.strip_prefix("default/abc/").unwrap_or_default();
    assert_eq!(digest.len(), 64, "no version: the status's digest ({id})");
    let steps = &event["data"]["steps"];
    assert_eq!(steps.as_array().map(Vec::len), Some(1), "{steps}");
    assert_eq!(steps[0]["name"], "t\"1");
    assert_eq!(event["data"]["run"]["workflow"], "abc");
    crate::ingest::parse_event(event, String::new()).expect("valid");

    let refused = |body: &str| match map(body) {
        Err(AppError::Invalid { field, message }) => (field.unwrap_or_default(), message),
        other => panic!("{body}: {other:?}"),
    };
    let (field, message) =
        refused(r#"{"items": [{"metadata": {"name": "a"}, "status": {"nodes": [1]}}]}"#);
    assert_eq!(field, "items[0].status.nodes");
    assert!(message.contains("an array"), "{message}");
    let (field, _) = refused(r#"[{"metadata": {"name": "a"}}, 3]"#);
    assert_eq!(field, "[1].metadata");
    let (field, message) = refused(r#"{"metadata": {"name": "a", "name": "b"}}"#);
    assert_eq!(field, "(body)");
    assert!(message.contains("duplicate"), "{message}");
    // A list is read in one pass: its refusals are worded as before.
    let (field, message) = refused(r#"{"items": [], "items": []}"#);
    assert_eq!(field, "(body)");
    assert!(message.contains("duplicate"), "{message}");
    let (field, message) = refused(r#"{"items": [{"metadata": {"name": "a"}}], "x": tru}"#);
    assert_eq!(field, "");
    assert!(
        message.starts_with("the body is not valid JSON"),
        "{message}"
    );
    let (field, message) = refused("{\"metadata\": ");
    assert_eq!(field, "");
    assert!(message.contains("not valid JSON"), "{message}");
    let (field, _) = refused(r#"{"data": "text"}"#);
    assert_eq!(field, "data");
}

mod fuzz {
    //! Arbitrary bytes, and each adapter's payload with any field replaced
    //! by arbitrary JSON: the adapters never panic, and answer events that
    //! ingest validates or a 4xx.

    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::super::*;
    use crate::ingest::parse_event;
    use crate::ingest::tests::fuzz::{arb_json, pointers};

    const ALL: &str = "product=p&release=r&environment=dev&phase=post&application=api";

    fn payloads() -> Vec<(&'static str, Value)> {
        vec![
            (
                "argo-workflows",
                super::workflow("Failed", Some("child failed")),
            ),
            (
                "argo-cd",
                json!({"app": {"kind": "Application", "metadata": {"name": "api", "uid": "u", "resourceVersion": "1"},
                "status": {"health": {"status": "Degraded", "message": "m"}, "sync": {"revision": "abcdef123"},
                           "summary": {"images": ["r/a:1"]},
                           "operationState": {"phase": "Succeeded", "startedAt": "2024-05-01T10:00:00Z"}}}}),
            ),
            (
                "github",
                json!({"repository": {"name": "shop", "default_branch": "main"},
                "workflow_job": {"id": 1, "name": "t", "head_sha": "abc", "head_branch": "main", "status": "completed",
                                 "conclusion": "failure", "html_url": "https://github.com/x",
                                 "steps": [{"name": "a", "status": "completed", "conclusion": "failure"}]}}),
            ),
            (
                "cdevents",
                json!({"context": {"version": "0.4.1", "id": "e", "source": "/s",
                "type": "dev.cdevents.pipelinerun.finished.0.2.0", "timestamp": "2024-05-01T10:00:00Z"},
                "subject": {"id": "run", "content": {"pipelineName": "p", "outcome": "error"}}}),
            ),
            (
                "argo-workflows",
                super::exit_handler(json!([{"displayName": "e2e", "phase": "Failed",
                "message": "exit 1", "finishedAt": "2024-05-01T10:01:00Z"}])),
            ),
            (
                "cdevents",
                json!({"context": {"version": "0.4.1", "id": "e", "source": "/s",
                "type": "dev.cdevents.taskrun.finished.0.2.0", "timestamp": "2024-05-01T10:00:00Z"},
                "subject": {"id": "tr", "content": {"taskName": "t", "outcome": "failure",
                            "pipelineRun": {"id": "run"}}}}),
            ),
        ]
    }

    fn map(adapter: &str, body: &Value) -> Result<Mapped, AppError> {
        let keys = Keys::from_query_string(Some(ALL));
        let settings = AdapterSettings {
            argo_workflows_url: Some("https://argo".into()),
            argo_cd_url: Some("https://cd".into()),
            github_webhook_secret: None,
        };
        match adapter {
            "argo-workflows" => super::argo(body, &keys, &settings),
            "argo-cd" => argo_cd::map(body, &keys, &settings),
            "github" => github::map("workflow_job", "d", body, &keys),
            _ => cdevents::map(body, &keys),
        }
    }

    /// Events that ingest validates (or refuses with a 4xx), or a 4xx.
    fn answered(adapter: &str, body: &Value) -> Result<(), String> {
        let four = |e: AppError| {
            if (400..500).contains(&e.status()) {
                Ok(())
            } else {
                Err(format!("{} {e}", e.status()))
            }
        };
        match map(adapter, body) {
            Ok(mapped) => {
                for (i, event) in mapped.events.iter().enumerate() {
                    if let Err(e) = parse_event(event, format!("events[{i}]")) {
                        four(e)?;
                    }
                }
                Ok(())
            }
            Err(e) => four(e),
        }
    }

    #[test]
    fn the_payloads_map_to_valid_events() {
        for (adapter, body) in payloads() {
            let mapped = map(adapter, &body).unwrap_or_else(|e| panic!("{adapter}: {e}"));
            assert!(!mapped.events.is_empty(), "{adapter}");
            for event in &mapped.events {
                parse_event(event, String::new()).unwrap_or_else(|e| panic!("{adapter}: {e}"));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_are_refused_or_mapped(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(body) = json_body(&bytes) {
                for (adapter, _) in payloads() {
                    prop_assert_eq!(answered(adapter, &body), Ok(()));
                }
            }
        }

        #[test]
        fn arbitrary_bytes_are_refused_or_mapped_by_the_argo_workflows_reader(
            bytes in prop::collection::vec(any::<u8>(), 0..256),
            prefix in 0usize..4,
        ) {
            // Also after a start that makes the reader go deeper.
            let start: &[u8] = [&b""[..], b"{\"items\": [", b"{\"metadata\": {\"name\": \"", b"{\"status\": {\"nodes\": {\"n\": "][prefix];
            let body = [start, &bytes].concat();
            let keys = Keys::from_query_string(Some(ALL));
            let agrees = super::read_agrees(&body, &keys, &AdapterSettings::default());
            prop_assert!(agrees.is_ok(), "{:?}", agrees);
            match argo_workflows::map(&body, &keys, &AdapterSettings::default()) {
                Ok(mapped) => {
                    for event in &mapped.events {
                        if let Err(e) = parse_event(event, String::new()) {
                            prop_assert!((400..500).contains(&e.status()), "{}", e);
                        }
                    }
                }
                Err(e) => prop_assert!((400..500).contains(&e.status()), "{}", e),
            }
        }

        #[test]
        fn any_field_replaced_by_anything_is_refused_or_mapped(
            which in 0usize..4,
            field in any::<prop::sample::Index>(),
            replacement in arb_json(),
        ) {
            let (adapter, mut body) = payloads().swap_remove(which);
            let mut all = Vec::new();
            pointers(&body, String::new(), &mut all);
            let pointer = field.get(&all).clone();
            if let Some(slot) = body.pointer_mut(&pointer) {
                *slot = replacement;
            }
            prop_assert_eq!(answered(adapter, &body), Ok(()));
        }

        #[test]
        fn any_json_at_all_is_refused_or_mapped(which in 0usize..4, body in arb_json()) {
            let (adapter, _) = payloads().swap_remove(which);
            prop_assert_eq!(answered(adapter, &body), Ok(()));
        }
    }
}

mod sdk {
    //! CDEvents built and serialised by the CDEvents project's Rust SDK, at
    //! the context versions it writes (0.3, 0.4.1, 0.5.0).

    use cdevents_sdk::latest::pipelinerun_finished;
    use cdevents_sdk::{CDEvent, Subject};
    use proptest::prelude::*;

    use super::super::*;

    const KEYS: &str = "product=p&release=r&environment=dev&phase=post&application=api";

    #[test]
    fn a_pipeline_run_built_by_the_sdk_maps_to_its_run() {
        let content = pipelinerun_finished::Content {
            errors: Some("pipelineErrors".into()),
            outcome: Some(pipelinerun_finished::ContentOutcome::Failure),
            pipeline_name: Some("testPipeline".into()),
            uri: Some("https://dev.pipeline.run/url".try_into().expect("uri")),
        };
        let cdevent = CDEvent::from(
            Subject::from(content)
                .with_id("/dev/pipeline/run/1".try_into().expect("id"))
                .with_source(
                    "https://dev.pipeline.run/source"
                        .try_into()
                        .expect("source"),
                ),
        )
        .with_id(
            "271069a8-fc18-44f1-b38f-9d70a1695819"
                .try_into()
                .expect("id"),
        )
        .with_source("https://dev.cdevents".try_into().expect("source"));
        let value = serde_json::to_value(&cdevent).expect("json");
        let mapped = cdevents::map(&value, &Keys::from_query_string(Some(KEYS))).expect("maps");
        let event = &mapped.events[0];
        assert_eq!(event["id"], "271069a8-fc18-44f1-b38f-9d70a1695819");
        assert_eq!(event["type"], "workflow.updated");
        let run = &event["data"]["run"];
        assert_eq!(run["id"], "/dev/pipeline/run/1");
        assert_eq!(run["workflow"], "testPipeline");
        assert_eq!(run["status"], "failed");
        assert_eq!(run["message"], "pipelineErrors");
        assert_eq!(run["url"], "https://dev.pipeline.run/url");
        crate::ingest::parse_event(event, String::new()).expect("valid");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_cdevent_the_sdk_writes_is_mapped_or_refused_with_a_4xx(cdevent in any::<CDEvent>()) {
            let value = serde_json::to_value(&cdevent).expect("json");
            let keys = Keys::from_query_string(Some(KEYS));
            match cdevents::map(&value, &keys) {
                Ok(mapped) => {
                    for event in &mapped.events {
                        if let Err(e) = crate::ingest::parse_event(event, String::new()) {
                            prop_assert!((400..500).contains(&e.status()), "{}", e);
                        }
                    }
                }
                Err(e) => prop_assert!((400..500).contains(&e.status()), "{}", e),
            }
        }
    }
}
