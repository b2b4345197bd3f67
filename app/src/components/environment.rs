//! The selected environment of a release, below the graph: errors first,
//! then the pre- and post-action workflows with their aggregated steps, a
//! per-application breakdown, application health and the earlier runs.

use leptos::prelude::*;

use crate::components::error_panel::ErrorPanel;
use crate::components::status::{
    kind_word, reason_text, ErrorKindIcon, StatusBadge, StatusIcon, StatusWord,
};
use crate::components::time::{Elapsed, RelativeTime};
use crate::components::url::{release_path, with_query};
use domain::{aggregate, EnvView, Phase, RunView, StepView};

/// Link to an error's panel on the release page.
pub fn error_href(path: &str, env: &str, error: &str) -> String {
    format!(
        "{}#error-panel",
        with_query(path, &[("env", Some(env)), ("error", Some(error))])
    )
}

/// One environment of a release. `path` is the release page's path;
/// `selected_error` the `?error=` of the URL.
#[component]
pub fn EnvironmentPanel(
    product: String,
    path: String,
    env: EnvView,
    #[prop(into)] selected_error: Signal<Option<String>>,
) -> impl IntoView {
    let heading_id = "env-heading";
    let env = StoredValue::new(env);
    let name = env.with_value(|e| e.name.clone());
    let status = env.with_value(|e| e.status);

    let reason = env.with_value(|e| e.reason).map(|reason| {
        view! { <span class="env-panel__reason">"because " {reason_text(reason)}</span> }
    });
    let version = env.with_value(|e| match (&e.version, e.version_inherited) {
        (Some(v), false) => view! { <span class="mono">{v.clone()}</span> }.into_any(),
        (Some(v), true) => view! {
            <span class="mono">{v.clone()}</span>
            <span class="tag" title="Not promoted here yet: the version of the preceding environment">"inherited"</span>
        }
        .into_any(),
        (None, _) => view! { <span class="muted">"none yet"</span> }.into_any(),
    });
    let attempt = env.with_value(|e| e.attempt);

    let errors_path = path.clone();
    let errors_env = name.clone();
    let errors = env.with_value(|e| e.errors.clone());
    let error_count = errors.len();
    let error_list = if errors.is_empty() {
        view! { <p class="muted" data-testid="env-no-errors">"No errors in this environment."</p> }
            .into_any()
    } else {
        view! {
            <ul class="error-list" data-testid="env-errors">
                {errors
                    .into_iter()
                    .map(|error| {
                        let href = error_href(&errors_path, &errors_env, &error.id);
                        let id = error.id.clone();
                        let is_open = move || selected_error.with(|s| s.as_deref() == Some(id.as_str()));
                        let is_open_attr = is_open.clone();
                        view! {
                            <li class="error-item" class:error-item--open=is_open data-testid="env-error"
                                data-error-id=error.id.clone() data-kind=format!("{:?}", error.kind).to_lowercase()>
                                <a class="error-item__link" href=href data-noscroll="true"
                                    aria-current=move || is_open_attr().then_some("true")>
                                    <span class="error-item__kind">
                                        <ErrorKindIcon kind=error.kind />
                                        {kind_word(error.kind)}
                                    </span>
                                    <span class="error-item__message">{error.message.clone()}</span>
                                    <span class="error-item__time">
                                        {error.time.map(|t| view! { <RelativeTime time=t /> })}
                                    </span>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };

    let panel_env = name.clone();
    let panel_path = path.clone();
    let panel_product = product.clone();
    let error_panel = move || {
        let wanted = selected_error.get()?;
        let found = env.with_value(|e| e.errors.iter().find(|err| err.id == wanted).cloned());
        let close = with_query(&panel_path, &[("env", Some(&panel_env))]);
        Some(match found {
            Some(error) => view! {
                <ErrorPanel product=panel_product.clone() error=error close_href=close />
            }
            .into_any(),
            None => view! {
                <section class="error-panel card" id="error-panel" data-testid="error-panel-missing">
                    <p>"This error is not listed on " <strong>{panel_env.clone()}</strong>
                        " any more: the environment was restarted or the error was resolved."</p>
                    <p><a href=close data-noscroll="true">"Close"</a></p>
                </section>
            }
            .into_any(),
        })
    };

    let workflows = [Phase::Pre, Phase::Post]
        .into_iter()
        .filter_map(|phase| {
            env.with_value(|e| {
                let (workflow, steps) = match phase {
                    Phase::Pre => (e.pre_action.clone(), e.steps.pre.clone()),
                    Phase::Post => (e.post_action.clone(), e.steps.post.clone()),
                };
                let runs: Vec<RunView> = e
                    .runs
                    .iter()
                    .filter(|r| r.phase == phase)
                    .cloned()
                    .collect();
                (workflow.is_some() || !runs.is_empty() || !steps.is_empty()).then(|| {
                    let workflow = workflow
                        .or_else(|| runs.first().map(|r| r.workflow.clone()))
                        .unwrap_or_default();
                    view! {
                        <WorkflowSection
                            product=product.clone()
                            phase=phase
                            workflow=workflow
                            steps=steps
                            runs=runs
                            applications=e.applications.len()
                        />
                    }
                })
            })
        })
        .collect_view();
    let has_workflows =
        env.with_value(|e| e.pre_action.is_some() || e.post_action.is_some() || !e.runs.is_empty());

    let health = env.with_value(|e| e.health.clone());
    let health_section = (!health.is_empty()).then(|| {
        view! {
            <section class="env-section" aria-labelledby="env-health-heading">
                <h3 id="env-health-heading">"Application health"</h3>
                <ul class="health-list">
                    {health
                        .into_iter()
                        .map(|h| {
                            let app = match h.url.clone() {
                                Some(url) => view! { <a href=url>{h.application.clone()}</a> }.into_any(),
                                None => view! { <span>{h.application.clone()}</span> }.into_any(),
                            };
                            view! {
                                <li data-testid="health">
                                    <span class="health-list__app">{app}</span>
                                    <StatusBadge status=h.health />
                                    {h.message.clone().map(|m| view! { <span class="muted">{m}</span> })}
                                    <span class="muted"><RelativeTime time=h.time /></span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </section>
        }
    });

    let history = env.with_value(|e| e.history.clone());
    let history_section = (!history.is_empty()).then(|| {
        let count = history.len();
        view! {
            <section class="env-section" aria-labelledby="env-history-heading">
                <h3 id="env-history-heading">"History"</h3>
                <details class="disclosure" data-testid="env-history">
                    <summary>{format!("Earlier attempts and runs ({count})")}</summary>
                    <RunsTable product=product.clone() runs=history show_attempt=true />
                </details>
            </section>
        }
    });

    view! {
        // `data-key`: another environment is another panel (its disclosures
        // start closed), not this one changed, when the page morphs in place.
        <section class="env-panel card" aria-labelledby=heading_id data-testid="env-panel" data-env=name.clone()
            data-key=name.clone() data-status=status.key()>
            <header class="env-panel__header">
                <div class="env-panel__title">
                    <p class="page__eyebrow">"Environment"</p>
                    <h2 id=heading_id>{name.clone()}</h2>
                </div>
                <div class="env-panel__status">
                    <StatusBadge status=status pill=true />
                    {reason}
                </div>
                <dl class="facts facts--inline">
                    <div><dt>"Version"</dt><dd data-testid="env-version">{version}</dd></div>
                    <div><dt>"Attempt"</dt><dd>{attempt}</dd></div>
                </dl>
            </header>

            <section class="env-section" aria-labelledby="env-errors-heading">
                <h3 id="env-errors-heading">
                    "Errors" <span class="count" data-testid="env-error-count">{error_count}</span>
                </h3>
                {error_list}
                {error_panel}
            </section>

            <section class="env-section" aria-labelledby="env-workflows-heading">
                <h3 id="env-workflows-heading">"Workflows"</h3>
                {if has_workflows {
                    workflows.into_any()
                } else {
                    view! {
                        <p class="muted">"No workflows run here: the environment is done once it is promoted."</p>
                    }
                    .into_any()
                }}
            </section>
            {health_section}
            {history_section}
        </section>
    }
}

/// The aggregated steps of one phase, and its runs per application.
#[component]
fn WorkflowSection(
    product: String,
    phase: Phase,
    workflow: String,
    steps: Vec<StepView>,
    runs: Vec<RunView>,
    applications: usize,
) -> impl IntoView {
    let title = match phase {
        Phase::Pre => "Pre-action",
        Phase::Post => "Post-action",
    };
    let status = aggregate(runs.iter().map(|r| r.status));
    let expected = applications.max(runs.len());
    let started = runs.iter().filter_map(|r| r.started_at).min();
    let finished = if runs.len() >= expected && runs.iter().all(|r| r.status.is_finished()) {
        runs.iter().filter_map(|r| r.finished_at).max()
    } else {
        None
    };
    let steps_view = if steps.is_empty() {
        view! { <p class="muted">"No steps reported yet."</p> }.into_any()
    } else {
        view! {
            <table class="table table--compact steps" data-testid="steps">
                <caption class="visually-hidden">{format!("{title} steps, aggregated over applications")}</caption>
                <thead>
                    <tr><th scope="col">"Step"</th><th scope="col">"Status"</th><th scope="col" class="num">"Duration"</th></tr>
                </thead>
                <tbody>
                    {steps
                        .into_iter()
                        .map(|step| view! {
                            <tr data-testid="step" data-step=step.name.clone() data-status=step.status.key()>
                                <th scope="row" class="mono">{step.name.clone()}</th>
                                <td><StatusBadge status=step.status /></td>
                                <td class="num"><Elapsed start=step.started_at end=step.finished_at /></td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    let run_count = runs.len();
    view! {
        <div class="workflow" data-testid="workflow" data-phase=phase.as_str() data-status=status.key()>
            <div class="workflow__header">
                <h4>
                    {title} <span class="muted">" · "</span> <span class="mono">{workflow}</span>
                </h4>
                <StatusBadge status=status />
                <span class="muted workflow__time"><Elapsed start=started end=finished /></span>
            </div>
            {steps_view}
            <details class="disclosure" data-testid="per-application">
                <summary>{format!("Per application ({run_count} of {expected} runs reported)")}</summary>
                <RunsTable product=product runs=runs show_attempt=false />
            </details>
        </div>
    }
}

/// Runs, one row each: application, workflow, status, steps, duration, links.
#[component]
fn RunsTable(product: String, runs: Vec<RunView>, show_attempt: bool) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="muted">"No runs reported yet."</p> }.into_any();
    }
    view! {
        <table class="table table--compact runs">
            <thead>
                <tr>
                    {show_attempt.then(|| view! { <th scope="col" class="num">"Attempt"</th> })}
                    <th scope="col">"Application"</th>
                    <th scope="col">"Workflow"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Steps"</th>
                    <th scope="col">"Started"</th>
                    <th scope="col" class="num">"Duration"</th>
                    <th scope="col">"Run"</th>
                </tr>
            </thead>
            <tbody>
                {runs
                    .into_iter()
                    .map(|run| {
                        let superseded = run.superseded_by.map(|by| {
                            view! {
                                <a class="supersede" href=release_path(&product, by) data-testid="superseded-by">
                                    {format!("superseded by #{by}")}
                                </a>
                            }
                        });
                        view! {
                            <tr data-testid="run" data-application=run.application.clone() data-status=run.status.key()>
                                {show_attempt.then(|| view! { <td class="num">{run.attempt}</td> })}
                                <th scope="row">{run.application.clone()}</th>
                                <td class="mono">{format!("{} ({})", run.workflow, run.phase.as_str())}</td>
                                <td>
                                    <StatusBadge status=run.status />
                                    " " {superseded}
                                    {run.message.clone().map(|m| view! { <div class="muted run__message">{m}</div> })}
                                </td>
                                <td>
                                    <ul class="step-dots" aria-label="Steps">
                                        {run.steps.iter().map(|s| {
                                            let label = format!("{}: {}", s.name, s.status.as_str());
                                            view! {
                                                <li title=label.clone()>
                                                    <StatusIcon status=s.status.key() />
                                                    <span class="visually-hidden">{label.clone()}</span>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                </td>
                                <td>{run.started_at.map(|t| view! { <RelativeTime time=t /> })}</td>
                                <td class="num"><Elapsed start=run.started_at end=run.finished_at /></td>
                                <td>
                                    {match run.url.clone() {
                                        Some(url) => view! {
                                            <a href=url rel="noopener" target="_blank">{format!("{} ↗", run.id)}</a>
                                        }.into_any(),
                                        None => view! { <span class="mono">{run.id.clone()}</span> }.into_any(),
                                    }}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
