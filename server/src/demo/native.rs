//! The live simulator speaks two engines' own languages for part of its
//! traffic, as a real organisation's engines would: the runs of
//! [`ARGO_PRODUCT`] go out as the Argo Workflows `Workflow` objects an Argo
//! Events sensor would post, and every application's health as the Argo CD
//! `Application` a notifications template would post. Each is mapped by its
//! adapter (`backend::adapters`), exactly as `POST
//! /api/v1/adapters/argo-workflows` and `/argo-cd` map them, so running the
//! demo exercises both adapters. The rest stays CloudEvents.

use backend::adapters::{argo_cd, argo_workflows, AdapterSettings, Keys};
use domain::AppError;
use serde_json::{json, Map, Value};

/// The product whose runs the simulated Argo Workflows reports.
pub const ARGO_PRODUCT: &str = "storefront";

/// Where the simulated engines' user interfaces are (the links the demo's
/// own CloudEvents carry).
fn settings() -> AdapterSettings {
    AdapterSettings {
        argo_workflows_url: Some("https://argo.acme.dev".into()),
        argo_cd_url: Some("https://argocd.acme.dev".into()),
        github_webhook_secret: None,
    }
}

/// `event` as the CloudEvents an adapter makes of the engine's own object,
/// for the events an engine reports; else `event` itself.
pub fn through_adapters(event: Value) -> Result<Vec<Value>, AppError> {
    let native = match event["type"].as_str() {
        Some("workflow.updated") if event["data"]["product"] == ARGO_PRODUCT => {
            argo_workflows::map(
                &serde_json::to_vec(&workflow(&event)).unwrap_or_default(),
                &Keys::default(),
                &settings(),
            )?
        }
        Some("application.health") => argo_cd::map(
            &json!({"app": application(&event)}),
            &Keys::default(),
            &settings(),
        )?,
        _ => return Ok(vec![event]),
    };
    Ok(native.events)
}

/// A `workflow.updated` snapshot as the Argo `Workflow` it would be: the
/// mapping keys as `releases/<key>` labels, each step a `Pod` node.
fn workflow(event: &Value) -> Value {
    let data = &event["data"];
    let run = &data["run"];
    let id = run["id"].as_str().unwrap_or_default();
    let mut nodes = Map::new();
    nodes.insert(
        id.to_owned(),
        json!({"id": id, "name": id, "displayName": id, "type": "Steps",
               "phase": phase(&run["status"]),
               "startedAt": run["started_at"], "finishedAt": run["finished_at"]}),
    );
    for (i, step) in data["steps"].as_array().into_iter().flatten().enumerate() {
        let node = format!("{id}-{i:03}");
        let terminated = step["status"] == "terminated";
        nodes.insert(
            node.clone(),
            json!({
                "id": node,
                "name": format!("{id}[{i}].{}", step["name"].as_str().unwrap_or_default()),
                "displayName": step["name"],
                "type": "Pod",
                "phase": phase(&step["status"]),
                "startedAt": step["started_at"],
                "finishedAt": step["finished_at"],
                "message": if terminated {
                    json!("Stopped with strategy 'Terminate'")
                } else {
                    step["message"].clone()
                },
            }),
        );
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": id,
            "namespace": "promotions",
            "uid": id,
            // The simulator's event sequence: a new version per change.
            "resourceVersion": event["id"],
            "labels": {
                "workflows.argoproj.io/workflow-template": run["workflow"],
                "releases/product": data["product"],
                "releases/release": data["release"],
                "releases/environment": data["environment"],
                "releases/phase": data["phase"],
                "releases/application": run["application"],
            },
        },
        "spec": {
            "workflowTemplateRef": {"name": run["workflow"]},
            "arguments": {"parameters": [
                {"name": "application", "value": run["application"]},
                {"name": "environment", "value": data["environment"]},
            ]},
        },
        "status": {
            "phase": phase(&run["status"]),
            "startedAt": run["started_at"],
            "finishedAt": run["finished_at"],
            "message": run["message"],
            "nodes": nodes,
        },
    })
}

/// The Argo phase of one of our statuses (a stop is a `Failed` whose
/// message says so: the simulator's supersede messages do, and a stopped
/// node gets Argo's own).
fn phase(status: &Value) -> &'static str {
    match status.as_str() {
        Some("running") => "Running",
        Some("success") => "Succeeded",
        Some("failed" | "terminated") => "Failed",
        Some("error") => "Error",
        _ => "Pending",
    }
}

/// An `application.health` report as the Argo CD `Application` it would
/// be: one Application per application and environment.
fn application(event: &Value) -> Value {
    let data = &event["data"];
    let application = data["application"].as_str().unwrap_or_default();
    let environment = data["environment"].as_str().unwrap_or_default();
    let health = match data["health"].as_str() {
        Some("healthy") => "Healthy",
        Some("degraded") => "Degraded",
        Some("progressing") => "Progressing",
        Some("missing") => "Missing",
        Some("suspended") => "Suspended",
        _ => "Unknown",
    };
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": format!("{application}-{environment}"),
            "namespace": "argocd",
            "resourceVersion": event["id"],
            "labels": {
                "releases/product": data["product"],
                "releases/environment": environment,
                "releases/application": application,
            },
        },
        "spec": {"project": data["product"], "destination": {"namespace": environment}},
        "status": {
            "health": {"status": health, "message": data["message"], "lastTransitionTime": event["time"]},
            "reconciledAt": event["time"],
        },
    })
}
