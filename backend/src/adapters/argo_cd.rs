//! `POST /api/v1/adapters/argo-cd` (SPEC §4.5): an Argo CD `Application`,
//! or `{"app": <Application>}` as a notifications webhook template renders
//! it with `{{toJson .app}}`. It gives an `application.health` from
//! `status.health`, and, when the last sync operation `Succeeded` and a
//! `release` key is known, an `environment.promoted`.

use serde_json::{json, Value};

use super::{cloud_event, digest, latest, rfc3339, text, AdapterSettings, Keys, Mapped};
use domain::AppError;

const SOURCE: &str = "adapters/argo-cd";

/// Maps the body of one request.
pub fn map(body: &Value, keys: &Keys, settings: &AdapterSettings) -> Result<Mapped, AppError> {
    let (app, path) = match body.get("app") {
        Some(app) if body.get("metadata").is_none() => (app, "app"),
        _ => (body, ""),
    };
    let field = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    super::object(app, if path.is_empty() { "(body)" } else { path })?;
    match app.get("kind").and_then(Value::as_str) {
        Some("Application") | None => {}
        Some(_) => return Ok(Mapped::ignored()),
    }
    let name = text(app, "metadata/name").ok_or_else(|| {
        AppError::invalid(
            field("metadata.name"),
            "an Application needs `metadata.name`",
        )
    })?;
    let namespace = text(app, "metadata/namespace").unwrap_or("argocd");
    let keys = keys.with_object(app);
    let product = keys.require("product", None)?;
    let environment = keys.require("environment", None)?;
    let application = keys.require("application", Some(name))?;
    let identity = text(app, "metadata/uid")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{namespace}/{name}"));
    let version_of_object = text(app, "metadata/resourceVersion");
    let mut mapped = Mapped::default();

    if let Some(health) = text(app, "status/health/status") {
        let time = latest(
            [
                "status/health/lastTransitionTime",
                "status/reconciledAt",
                "status/operationState/finishedAt",
            ]
            .iter()
            .filter_map(|p| text(app, p)),
        )
        .unwrap_or_else(chrono::Utc::now);
        let id = format!(
            "{identity}/health/{}",
            match version_of_object {
                Some(version) => version.to_owned(),
                None => digest(
                    &serde_json::to_vec(&json!([
                        health,
                        text(app, "status/health/message"),
                        rfc3339(time)
                    ]))
                    .unwrap_or_default()
                ),
            }
        );
        let url = settings.argo_cd_url.as_ref().map(|base| {
            format!(
                "{}/applications/{namespace}/{name}",
                base.trim_end_matches('/')
            )
        });
        mapped.events.push(cloud_event(
            SOURCE,
            id,
            "application.health",
            &rfc3339(time),
            json!({
                "product": product,
                "environment": environment,
                "application": application,
                "health": health,
                "message": text(app, "status/health/message"),
                "url": url,
            }),
        ));
    }

    let synced = text(app, "status/operationState/phase") == Some("Succeeded");
    match (synced, keys.get("release")) {
        (true, Some(release)) => {
            let revision = text(app, "status/operationState/syncResult/revision")
                .or_else(|| text(app, "status/sync/revision"));
            let version = keys
                .get("version")
                .or_else(|| first_image_tag(app))
                .or_else(|| revision.map(|r| r.chars().take(7).collect()))
                .ok_or_else(|| {
                    AppError::unprocessable(
                        "version",
                        "the sync names no version: give ?version= or releases/version, or \
                         report images (status.summary.images) or a revision",
                    )
                })?;
            let time = latest(
                [
                    "status/operationState/finishedAt",
                    "status/operationState/startedAt",
                ]
                .iter()
                .filter_map(|p| text(app, p)),
            )
            .unwrap_or_else(chrono::Utc::now);
            let operation = text(app, "status/operationState/startedAt").unwrap_or_default();
            mapped.events.push(cloud_event(
                SOURCE,
                format!(
                    "{identity}/sync/{operation}/{}",
                    revision.unwrap_or_default()
                ),
                "environment.promoted",
                &rfc3339(time),
                json!({
                    "product": product,
                    "release": release,
                    "environment": environment,
                    "version": version,
                    "commit": revision.map(|sha| json!({"sha": sha})),
                }),
            ));
        }
        // A sync without a release to name, or not (yet) succeeded: health only.
        _ if mapped.events.is_empty() => mapped.ignored += 1,
        _ => {}
    }
    Ok(mapped)
}

/// The tag of the first image in `status.summary.images` (`repo/app:1.4.2`
/// → `1.4.2`; a digest-only reference has none).
fn first_image_tag(app: &Value) -> Option<String> {
    let image = app
        .get("status")?
        .get("summary")?
        .get("images")?
        .as_array()?
        .first()?
        .as_str()?;
    let reference = image.split('@').next()?;
    let last = reference.rsplit('/').next()?;
    let (_, tag) = last.split_once(':')?;
    (!tag.is_empty()).then(|| tag.to_owned())
}
