//! One CloudEvent: the envelope, then the `data` of each event type.

use serde_json_borrow::Value as Json;

use super::fields::{indexed, name_item, object, Obj, MAX_COMMIT_MESSAGE, MAX_MANIFEST, MAX_NAME};
use super::{
    ApplicationHealth, Command, EnvironmentPromoted, Event, GitFailed, ReleaseCreated, RunSnapshot,
    WorkflowUpdated,
};
use domain::AppError;
use domain::{
    Author, Changes, Commit, EnvSpec, Flow, FlowSpec, Health, IssueRef, Phase, PullRequest,
    RunStatus, StepFact,
};

/// Logs are kept to their last 64 KiB per step (SPEC §4.2).
pub const MAX_LOG_BYTES: usize = 64 * 1024;
/// Most environments of a flow (SPEC §4.2.1).
pub const MAX_ENVIRONMENTS: usize = 250;
/// Most dependencies (edges) of a flow.
pub const MAX_EDGES: usize = 2500;
/// Most applications of an environment.
pub const MAX_APPLICATIONS: usize = 50;
/// Most steps of a run.
pub const MAX_STEPS: usize = 500;
/// How far ahead of the server's clock an event's `time` may be.
pub const MAX_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

const EVENT_TYPES: &str =
    "release.created, workflow.updated, environment.promoted, git.failed, application.health";
const RUN_STATUSES: &str = "success, running, pending, failed, error, terminated \
                            (or an Argo Workflows phase)";
const HEALTHS: &str = "healthy, progressing, degraded, suspended, missing, unknown";

/// Validates one structured-mode event found at `path` (`events[3]`, or
/// empty for a single event).
pub fn parse_event(value: &serde_json::Value, path: String) -> Result<Event, AppError> {
    read_event(&Json::from(value), path)
}

/// `parse_event` of an event read from a request body.
pub(super) fn read_event(value: &Json<'_>, path: String) -> Result<Event, AppError> {
    let envelope = object(value, path.clone())?;
    let specversion = envelope.text("specversion")?;
    if specversion != "1.0" {
        return Err(AppError::invalid(
            envelope.path("specversion"),
            format!("unsupported specversion {specversion:?}: expected \"1.0\""),
        ));
    }
    let id = envelope.name("id")?;
    let source = envelope.name("source")?;
    let kind = envelope.text("type")?;
    let time = envelope.time("time")?;
    if time > chrono::Utc::now() + MAX_CLOCK_SKEW {
        return Err(AppError::invalid(
            envelope.path("time"),
            "`time` is more than 5 minutes ahead of the server's clock",
        ));
    }
    if let Some(content_type) = envelope.opt_text("datacontenttype")? {
        if !content_type.contains("json") {
            return Err(AppError::invalid(
                envelope.path("datacontenttype"),
                format!("unsupported datacontenttype {content_type:?}: data must be JSON"),
            ));
        }
    }
    let data = envelope.object("data")?;
    let command = match kind.as_str() {
        "release.created" => Command::ReleaseCreated(release_created(&data)?),
        "workflow.updated" => Command::WorkflowUpdated(workflow_updated(&data)?),
        "environment.promoted" => Command::EnvironmentPromoted(environment_promoted(&data)?),
        "git.failed" => Command::GitFailed(git_failed(&data)?),
        "application.health" => Command::ApplicationHealth(application_health(&data)?),
        other => {
            return Err(AppError::invalid(
                envelope.path("type"),
                format!("unknown event type {other:?}: expected one of {EVENT_TYPES}"),
            ))
        }
    };
    Ok(Event {
        path,
        source,
        id,
        time,
        command,
    })
}

/// A product slug: lowercase letters, digits, `-`, `_` and `.`, starting
/// with a letter or digit, so it is safe in URLs as is.
fn product(data: &Obj<'_>) -> Result<String, AppError> {
    let slug = data.name("product")?;
    check_product_slug(&slug, data.path("product"))?;
    Ok(slug)
}

/// Checks a product slug found at `field` (an event's `data.product`, a
/// path parameter, an adapter's mapping key).
pub fn check_product_slug(slug: &str, field: impl Into<String>) -> Result<(), AppError> {
    let valid = slug.len() <= MAX_NAME
        && slug
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!(
                "invalid product slug {slug:?}: use lowercase letters, digits, `-`, `_` and `.`, \
                 starting with a letter or digit (at most {MAX_NAME})"
            ),
        ))
    }
}

fn release_created(data: &Obj<'_>) -> Result<ReleaseCreated, AppError> {
    let product = product(data)?;
    let release = data.name("release")?;
    let flow = match data.opt_object("flow")? {
        Some(flow) => Some(self::flow(&flow)?),
        None => None,
    };
    let commit = commit(&data.object("commit")?)?;
    let version = data.opt_name("version")?;
    let changes = match data.opt_object("changes")? {
        Some(changes) => self::changes(&changes)?,
        None => Changes::default(),
    };
    Ok(ReleaseCreated {
        product,
        release,
        flow,
        commit,
        version,
        changes,
    })
}

/// A promotion flow as `release.created` and `PUT …/flow` carry it, found
/// at `path` (empty for a whole body), with the limits of SPEC §4.2.1.
pub fn parse_flow(value: &serde_json::Value, path: String) -> Result<Flow, AppError> {
    flow(&object(&Json::from(value), path)?)
}

fn flow(flow: &Obj<'_>) -> Result<Flow, AppError> {
    let name = flow.name("name")?;
    let trigger = flow.name("trigger")?;
    let items = flow.array("environments")?;
    if items.len() > MAX_ENVIRONMENTS {
        return Err(AppError::invalid(
            flow.path("environments"),
            format!(
                "a flow has at most {MAX_ENVIRONMENTS} environments, this one {}",
                items.len()
            ),
        ));
    }
    let mut environments = Vec::new();
    let mut edges = 0;
    for (path, item) in indexed(&flow.path("environments"), items) {
        let env = object(item, path)?;
        let names = |field: &str, most: usize, what: &str| -> Result<Vec<String>, AppError> {
            let items = env.array(field)?;
            if items.len() > most {
                return Err(AppError::invalid(
                    env.path(field),
                    format!("an environment has at most {most} {what}"),
                ));
            }
            indexed(&env.path(field), items)
                .map(|(path, item)| name_item(item, &path))
                .collect()
        };
        let depends_on = names("depends_on", MAX_EDGES, "dependencies")?;
        edges += depends_on.len();
        if edges > MAX_EDGES {
            return Err(AppError::invalid(
                env.path("depends_on"),
                format!("a flow has at most {MAX_EDGES} dependencies in all"),
            ));
        }
        environments.push(EnvSpec {
            name: env.name("name")?,
            depends_on,
            applications: names("applications", MAX_APPLICATIONS, "applications")?,
            pre_action: env.opt_name("pre_action")?,
            post_action: env.opt_name("post_action")?,
        });
    }
    Flow::new(FlowSpec {
        name,
        trigger,
        environments,
    })
    .map_err(|e| AppError::invalid(flow.path(e.field()), e.to_string()))
}

fn commit(commit: &Obj<'_>) -> Result<Commit, AppError> {
    let author = commit.object("author")?;
    Ok(Commit {
        sha: commit.name("sha")?,
        message: commit.text_of("message", MAX_COMMIT_MESSAGE)?,
        author: Author {
            name: author.text("name")?,
            email: author.opt_text("email")?,
        },
        url: commit.opt_url("url")?,
        timestamp: commit.opt_time("timestamp")?,
    })
}

fn changes(changes: &Obj<'_>) -> Result<Changes, AppError> {
    let commits = indexed(&changes.path("commits"), changes.array("commits")?)
        .map(|(path, item)| commit(&object(item, path)?))
        .collect::<Result<_, _>>()?;
    let pull_requests = indexed(
        &changes.path("pull_requests"),
        changes.array("pull_requests")?,
    )
    .map(|(path, item)| {
        let pr = object(item, path)?;
        let number = pr
            .opt_int("number", 0, i64::MAX)?
            .ok_or_else(|| AppError::invalid(pr.path("number"), "`number` is required"))?;
        Ok(PullRequest {
            number,
            title: pr.text("title")?,
            url: pr.opt_url("url")?,
            author: pr.opt_text("author")?,
        })
    })
    .collect::<Result<_, AppError>>()?;
    let issues = indexed(&changes.path("issues"), changes.array("issues")?)
        .map(|(path, item)| {
            let issue = object(item, path)?;
            Ok(IssueRef {
                key: issue.name("key")?,
                title: issue.opt_text("title")?,
                url: issue.opt_url("url")?,
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(Changes {
        commits,
        pull_requests,
        issues,
    })
}

fn run_status(obj: &Obj<'_>) -> Result<RunStatus, AppError> {
    obj.parsed("status", RunStatus::parse, RUN_STATUSES)
}

fn workflow_updated(data: &Obj<'_>) -> Result<WorkflowUpdated, AppError> {
    let product = product(data)?;
    let release = data.name("release")?;
    let environment = data.name("environment")?;
    let phase = data.parsed("phase", Phase::parse, "pre, post")?;
    let run = data.object("run")?;
    let run = RunSnapshot {
        id: run.name("id")?,
        workflow: run.name("workflow")?,
        application: run.name("application")?,
        status: run_status(&run)?,
        started_at: run.opt_time("started_at")?,
        finished_at: run.opt_time("finished_at")?,
        url: run.opt_url("url")?,
        manifest: run.opt_text_of("manifest", MAX_MANIFEST)?,
        message: run.opt_text("message")?,
    };
    let items = data.array("steps")?;
    if items.len() > MAX_STEPS {
        return Err(AppError::invalid(
            data.path("steps"),
            format!(
                "a run has at most {MAX_STEPS} steps, this one {}",
                items.len()
            ),
        ));
    }
    let mut names = std::collections::HashSet::with_capacity(items.len());
    let steps = indexed(&data.path("steps"), items)
        .map(|(path, item)| {
            let step = object(item, path)?;
            let name = step.name("name")?;
            if !names.insert(name.clone()) {
                return Err(AppError::invalid(
                    step.path("name"),
                    format!("step {name:?} appears twice in the run: step names are unique"),
                ));
            }
            Ok(StepFact {
                name,
                status: run_status(&step)?,
                started_at: step.opt_time("started_at")?,
                finished_at: step.opt_time("finished_at")?,
                message: step.opt_text("message")?,
                // Logs are kept to their tail: any length is accepted.
                logs: step.opt_text_of("logs", usize::MAX)?.map(log_tail),
            })
        })
        .collect::<Result<_, AppError>>()?;
    let attempt = data
        .opt_int("attempt", 1, i64::from(u32::MAX))?
        .and_then(|a| u32::try_from(a).ok());
    Ok(WorkflowUpdated {
        product,
        release,
        environment,
        phase,
        run,
        steps,
        attempt,
    })
}

/// The last `MAX_LOG_BYTES` of `logs`, cut at a character boundary.
fn log_tail(logs: String) -> String {
    if logs.len() <= MAX_LOG_BYTES {
        return logs;
    }
    let mut start = logs.len() - MAX_LOG_BYTES;
    while !logs.is_char_boundary(start) {
        start += 1;
    }
    logs[start..].to_owned()
}

fn environment_promoted(data: &Obj<'_>) -> Result<EnvironmentPromoted, AppError> {
    let commit = data.opt_object("commit")?;
    Ok(EnvironmentPromoted {
        product: product(data)?,
        release: data.name("release")?,
        environment: data.name("environment")?,
        version: data.name("version")?,
        commit_sha: commit
            .as_ref()
            .map(|c| c.opt_text("sha"))
            .transpose()?
            .flatten(),
        commit_url: commit
            .as_ref()
            .map(|c| c.opt_url("url"))
            .transpose()?
            .flatten(),
    })
}

fn git_failed(data: &Obj<'_>) -> Result<GitFailed, AppError> {
    Ok(GitFailed {
        product: product(data)?,
        release: data.name("release")?,
        environment: data.name("environment")?,
        operation: data.name("operation")?,
        message: data.text("message")?,
        repo: data.opt_text("repo")?,
        details: data.opt_text("details")?,
    })
}

fn application_health(data: &Obj<'_>) -> Result<ApplicationHealth, AppError> {
    Ok(ApplicationHealth {
        product: product(data)?,
        environment: data.name("environment")?,
        application: data.name("application")?,
        health: data.parsed("health", Health::parse, HEALTHS)?,
        message: data.opt_text("message")?,
        url: data.opt_url("url")?,
    })
}
