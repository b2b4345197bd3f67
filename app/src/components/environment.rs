//! The selected environment of a release, below the graph: errors first,
//! then the pre- and post-action workflows with their aggregated steps, a
//! per-application breakdown, application health and the earlier runs.
//! Every part follows the release as the live stream changes it, row by
//! row, so what is open, focused or scrolled stays as it is.

use leptos::prelude::*;

use crate::components::error_panel::ErrorPanel;
use crate::components::status::{
    kind_word, reason_text, ErrorKindIcon, StatusBadge, StatusIcon, StatusWord,
};
use crate::components::time::{Elapsed, RelativeTime};
use crate::components::url::{release_path, with_query};
use domain::{aggregate, EnvStatus, EnvView, ErrorView, Phase, ReleaseView, RunView, StepView};

/// Link to an error's panel on the release page.
pub fn error_href(path: &str, env: &str, error: &str) -> String {
    format!(
        "{}#error-panel",
        with_query(path, &[("env", Some(env)), ("error", Some(error))])
    )
}

/// The item of `list` that `pick` selects, following the list: a row keyed
/// by its id re-renders what changed in it, not the table.
fn item<T, F>(list: Signal<Vec<T>>, pick: F) -> Memo<Option<T>>
where
    T: Clone + PartialEq + Send + Sync + 'static,
    F: Fn(&T) -> bool + Send + Sync + 'static,
{
    Memo::new(move |_| list.with(|items| items.iter().find(|x| pick(x)).cloned()))
}

/// Environment `name` of `release`. `path` is the release page's path;
/// `selected_error` the `?error=` of the URL.
#[component]
pub fn EnvironmentPanel(
    product: String,
    path: String,
    #[prop(into)] release: Signal<ReleaseView>,
    name: String,
    #[prop(into)] selected_error: Signal<Option<String>>,
) -> impl IntoView {
    let heading_id = "env-heading";
    let release_id = release.with_untracked(|r| r.id);
    let env = Memo::new({
        let name = name.clone();
        move |_| release.with(|r| r.env(&name).cloned())
    });
    let field = move |f: fn(&EnvView) -> String| {
        move || env.with(|e| e.as_ref().map(f).unwrap_or_default())
    };
    let status =
        Memo::new(move |_| env.with(|e| e.as_ref().map_or(EnvStatus::Pending, |e| e.status)));
    let reason = move || {
        env.with(|e| e.as_ref().and_then(|e| e.reason))
            .map(|reason| {
                view! { <span class="env-panel__reason">"because " {reason_text(reason)}</span> }
            })
    };
    let version = move || {
        env.with(|e| match e.as_ref().map(|e| (&e.version, e.version_inherited)) {
            Some((Some(v), false)) => view! { <span class="mono">{v.clone()}</span> }.into_any(),
            Some((Some(v), true)) => view! {
                <span class="mono">{v.clone()}</span>
                <span class="tag" title="Not promoted here yet: the version of the preceding environment">"inherited"</span>
            }
            .into_any(),
            _ => view! { <span class="muted">"none yet"</span> }.into_any(),
        })
    };
    let errors = Signal::derive(move || {
        env.with(|e| e.as_ref().map(|e| e.errors.clone()).unwrap_or_default())
    });
    let error_count = move || errors.with(Vec::len);

    let list_path = path.clone();
    let list_env = name.clone();
    let error_list = move || {
        if errors.with(Vec::is_empty) {
            return view! { <p class="muted" data-testid="env-no-errors">"No errors in this environment."</p> }
                .into_any();
        }
        let list_path = list_path.clone();
        let list_env = list_env.clone();
        view! {
            <ul class="error-list" data-testid="env-errors">
                <For each=move || errors.get() key=|error: &ErrorView| error.id.clone() let:error>
                    <ErrorItem errors=errors id=error.id path=list_path.clone() env=list_env.clone()
                        selected_error=selected_error />
                </For>
            </ul>
        }
        .into_any()
    };

    let panel_env = name.clone();
    let panel_path = path.clone();
    let panel_product = product.clone();
    let open_error = Memo::new(move |_| selected_error.get());
    let error_panel = move || {
        let wanted = open_error.get()?;
        let close = with_query(&panel_path, &[("env", Some(&panel_env))]);
        let listed = errors.with(|list| list.iter().any(|e| e.id == wanted));
        Some(if listed {
            let summary = item(errors, {
                let wanted = wanted.clone();
                move |e: &ErrorView| e.id == wanted
            });
            view! {
                <ErrorPanel product=panel_product.clone() release=release_id summary=summary close_href=close />
            }
            .into_any()
        } else {
            view! {
                <section class="error-panel card" id="error-panel" data-testid="error-panel-missing">
                    <p>"This error is not listed on " <strong>{panel_env.clone()}</strong>
                        " any more: the environment was restarted or the error was resolved."</p>
                    <p><a href=close data-noscroll="true">"Close"</a></p>
                </section>
            }
            .into_any()
        })
    };

    let phases = [Phase::Pre, Phase::Post]
        .into_iter()
        .map(|phase| view! { <WorkflowSection product=product.clone() env=env phase=phase /> })
        .collect_view();
    let has_workflows = move || {
        env.with(|e| {
            e.as_ref().is_some_and(|e| {
                e.pre_action.is_some() || e.post_action.is_some() || !e.runs.is_empty()
            })
        })
    };

    let health = Signal::derive(move || {
        env.with(|e| e.as_ref().map(|e| e.health.clone()).unwrap_or_default())
    });
    let health_section = move || {
        (!health.with(Vec::is_empty)).then(|| {
            view! {
                <section class="env-section" aria-labelledby="env-health-heading">
                    <h3 id="env-health-heading">"Application health"</h3>
                    <ul class="health-list">
                        {health
                            .get()
                            .into_iter()
                            .map(|h| {
                                let app = match domain::web_url(h.url.as_deref()).map(str::to_owned) {
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
        })
    };

    let history = Signal::derive(move || {
        env.with(|e| e.as_ref().map(|e| e.history.clone()).unwrap_or_default())
    });
    let has_history = Memo::new(move |_| !history.with(Vec::is_empty));
    let history_product = product.clone();
    let history_section = move || {
        has_history.get().then(|| {
            view! {
                <section class="env-section" aria-labelledby="env-history-heading">
                    <h3 id="env-history-heading">"History"</h3>
                    <details class="disclosure" data-testid="env-history">
                        <summary>{move || format!("Earlier attempts and runs ({})", history.with(Vec::len))}</summary>
                        <RunsTable product=history_product.clone() runs=history show_attempt=true />
                    </details>
                </section>
            }
        })
    };

    view! {
        <section class="env-panel card" aria-labelledby=heading_id data-testid="env-panel" data-env=name.clone()
            data-status=move || status.get().key()>
            <header class="env-panel__header">
                <div class="env-panel__title">
                    <p class="page__eyebrow">"Environment"</p>
                    <h2 id=heading_id>{name.clone()}</h2>
                </div>
                <div class="env-panel__status">
                    {move || view! { <StatusBadge status=status.get() pill=true /> }}
                    {reason}
                </div>
                <dl class="facts facts--inline">
                    <div><dt>"Version"</dt><dd data-testid="env-version">{version}</dd></div>
                    <div><dt>"Attempt"</dt><dd>{field(|e| e.attempt.to_string())}</dd></div>
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
                {phases}
                <Show when=move || !has_workflows()>
                    <p class="muted">"No workflows run here: the environment is done once it is promoted."</p>
                </Show>
            </section>
            {health_section}
            {history_section}
        </section>
    }
}

/// One error of the list, a link to its panel.
#[component]
fn ErrorItem(
    errors: Signal<Vec<ErrorView>>,
    id: String,
    path: String,
    env: String,
    selected_error: Signal<Option<String>>,
) -> impl IntoView {
    let error = item(errors, {
        let id = id.clone();
        move |e: &ErrorView| e.id == id
    });
    let href = error_href(&path, &env, &id);
    let is_open = {
        let id = id.clone();
        Memo::new(move |_| selected_error.with(|s| s.as_deref() == Some(id.as_str())))
    };
    let kind = error.with_untracked(|e| e.as_ref().map(|e| e.kind));
    view! {
        <li class="error-item" class:error-item--open=is_open data-testid="env-error"
            data-error-id=id.clone() data-kind=kind.map(|k| format!("{k:?}").to_lowercase())>
            <a class="error-item__link" href=href data-noscroll="true"
                aria-current=move || is_open.get().then_some("true")>
                <span class="error-item__kind">
                    {kind.map(|kind| view! { <ErrorKindIcon kind=kind /> {kind_word(kind)} })}
                </span>
                <span class="error-item__message">
                    {move || error.with(|e| e.as_ref().map(|e| e.message.clone()).unwrap_or_default())}
                </span>
                <span class="error-item__time">
                    {move || error.with(|e| e.as_ref().and_then(|e| e.time)).map(|t| view! { <RelativeTime time=t /> })}
                </span>
            </a>
        </li>
    }
}

/// What one phase of an environment shows, derived from it.
#[derive(Debug, Clone, PartialEq)]
struct Workflow {
    name: String,
    steps: Vec<StepView>,
    runs: Vec<RunView>,
    applications: usize,
}

/// The aggregated steps of one phase, and its runs per application;
/// nothing when the phase has no workflow.
#[component]
fn WorkflowSection(product: String, env: Memo<Option<EnvView>>, phase: Phase) -> impl IntoView {
    let workflow = Memo::new(move |_| {
        env.with(|e| {
            let e = e.as_ref()?;
            let (name, steps) = match phase {
                Phase::Pre => (e.pre_action.clone(), e.steps.pre.clone()),
                Phase::Post => (e.post_action.clone(), e.steps.post.clone()),
            };
            let runs: Vec<RunView> = e
                .runs
                .iter()
                .filter(|r| r.phase == phase)
                .cloned()
                .collect();
            (name.is_some() || !runs.is_empty() || !steps.is_empty()).then(|| Workflow {
                name: name
                    .or_else(|| runs.first().map(|r| r.workflow.clone()))
                    .unwrap_or_default(),
                steps,
                runs,
                applications: e.applications.len(),
            })
        })
    });
    let present = Memo::new(move |_| workflow.with(Option::is_some));
    let title = match phase {
        Phase::Pre => "Pre-action",
        Phase::Post => "Post-action",
    };
    move || {
        present.get().then(|| {
            let runs = Signal::derive(move || workflow.with(|w| w.as_ref().map(|w| w.runs.clone()).unwrap_or_default()));
            let steps = Signal::derive(move || workflow.with(|w| w.as_ref().map(|w| w.steps.clone()).unwrap_or_default()));
            let status = Memo::new(move |_| aggregate(runs.with(|runs| runs.iter().map(|r| r.status).collect::<Vec<_>>())));
            let expected = move || workflow.with(|w| w.as_ref().map_or(0, |w| w.applications.max(w.runs.len())));
            let started = Signal::derive(move || runs.with(|runs| runs.iter().filter_map(|r| r.started_at).min()));
            let finished = Signal::derive(move || {
                runs.with(|runs| {
                    let all = runs.len() >= expected() && runs.iter().all(|r| r.status.is_finished());
                    if all {
                        runs.iter().filter_map(|r| r.finished_at).max()
                    } else {
                        None
                    }
                })
            });
            let name = move || workflow.with(|w| w.as_ref().map(|w| w.name.clone()).unwrap_or_default());
            let has_steps = Memo::new(move |_| !steps.with(Vec::is_empty));
            let product = product.clone();
            view! {
                <div class="workflow" data-testid="workflow" data-phase=phase.as_str()
                    data-status=move || status.get().key()>
                    <div class="workflow__header">
                        <h4>
                            {title} <span class="muted">" · "</span> <span class="mono">{name}</span>
                        </h4>
                        {move || view! { <StatusBadge status=status.get() /> }}
                        <span class="muted workflow__time"><Elapsed start=started end=finished /></span>
                    </div>
                    <Show when=move || has_steps.get()
                        fallback=|| view! { <p class="muted">"No steps reported yet."</p> }>
                        <table class="table table--compact steps" data-testid="steps">
                            <caption class="visually-hidden">{format!("{title} steps, aggregated over applications")}</caption>
                            <thead>
                                <tr><th scope="col">"Step"</th><th scope="col">"Status"</th><th scope="col" class="num">"Duration"</th></tr>
                            </thead>
                            <tbody>
                                <For each=move || steps.get() key=|step: &StepView| step.name.clone() let:step>
                                    <StepRow steps=steps name=step.name />
                                </For>
                            </tbody>
                        </table>
                    </Show>
                    <details class="disclosure" data-testid="per-application">
                        <summary>{move || format!("Per application ({} of {} runs reported)", runs.with(Vec::len), expected())}</summary>
                        <RunsTable product=product.clone() runs=runs show_attempt=false />
                    </details>
                </div>
            }
        })
    }
}

/// One aggregated step.
#[component]
fn StepRow(steps: Signal<Vec<StepView>>, name: String) -> impl IntoView {
    let step = item(steps, {
        let name = name.clone();
        move |s: &StepView| s.name == name
    });
    let status = Memo::new(move |_| step.with(|s| s.as_ref().map(|s| s.status)));
    let key = move || status.get().map_or("pending", |s| s.key());
    view! {
        <tr data-testid="step" data-step=name.clone() data-status=key>
            <th scope="row" class="mono">{name.clone()}</th>
            <td>{move || status.get().map(|s| view! { <StatusBadge status=s /> })}</td>
            <td class="num">
                <Elapsed start=Signal::derive(move || step.with(|s| s.as_ref().and_then(|s| s.started_at)))
                    end=Signal::derive(move || step.with(|s| s.as_ref().and_then(|s| s.finished_at))) />
            </td>
        </tr>
    }
}

/// Runs, one row each: application, workflow, status, steps, duration, links.
#[component]
fn RunsTable(product: String, runs: Signal<Vec<RunView>>, show_attempt: bool) -> impl IntoView {
    let empty = Memo::new(move |_| runs.with(Vec::is_empty));
    view! {
        <Show when=move || !empty.get() fallback=|| view! { <p class="muted">"No runs reported yet."</p> }>
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
                    <For each=move || runs.get() key=|run: &RunView| run.id.clone() children={
                        let product = product.clone();
                        move |run: RunView| view! {
                            <RunRow product=product.clone() runs=runs id=run.id show_attempt=show_attempt />
                        }
                    } />
                </tbody>
            </table>
        </Show>
    }
}

/// One run.
#[component]
fn RunRow(
    product: String,
    runs: Signal<Vec<RunView>>,
    id: String,
    show_attempt: bool,
) -> impl IntoView {
    let run = item(runs, {
        let id = id.clone();
        move |r: &RunView| r.id == id
    });
    let get = move |f: fn(&RunView) -> Option<String>| move || run.with(|r| r.as_ref().and_then(f));
    let status = Memo::new(move |_| run.with(|r| r.as_ref().map(|r| r.status)));
    let key = move || status.get().map_or("pending", |s| s.key());
    let (application, workflow, url) = run.with_untracked(|r| {
        r.as_ref()
            .map(|r| {
                (
                    r.application.clone(),
                    format!("{} ({})", r.workflow, r.phase.as_str()),
                    domain::web_url(r.url.as_deref()).map(str::to_owned),
                )
            })
            .unwrap_or_default()
    });
    let superseded = move || {
        run.with(|r| r.as_ref().and_then(|r| r.superseded_by)).map(|by| {
            view! {
                <a class="supersede" href=release_path(&product, by) data-testid="superseded-by">
                    {format!("superseded by #{by}")}
                </a>
            }
        })
    };
    let steps = move || {
        run.with(|r| {
            r.as_ref().map(|r| {
                r.steps
                    .iter()
                    .map(|s| {
                        let label = format!("{}: {}", s.name, s.status.as_str());
                        view! {
                            <li title=label.clone()>
                                <StatusIcon status=s.status.key() />
                                <span class="visually-hidden">{label.clone()}</span>
                            </li>
                        }
                    })
                    .collect_view()
            })
        })
    };
    let started = Signal::derive(move || run.with(|r| r.as_ref().and_then(|r| r.started_at)));
    let finished = Signal::derive(move || run.with(|r| r.as_ref().and_then(|r| r.finished_at)));
    let link = match url {
        Some(url) => {
            view! { <a href=url rel="noopener" target="_blank">{format!("{id} ↗")}</a> }.into_any()
        }
        None => view! { <span class="mono">{id.clone()}</span> }.into_any(),
    };
    view! {
        <tr data-testid="run" data-application=application.clone() data-status=key>
            {show_attempt.then(|| view! { <td class="num">{move || run.with(|r| r.as_ref().map_or(0, |r| r.attempt))}</td> })}
            <th scope="row">{application.clone()}</th>
            <td class="mono">{workflow}</td>
            <td>
                {move || status.get().map(|s| view! { <StatusBadge status=s /> })}
                " " {superseded}
                {move || get(|r| r.message.clone())().map(|m| view! { <div class="muted run__message">{m}</div> })}
            </td>
            <td><ul class="step-dots" aria-label="Steps">{steps}</ul></td>
            <td>{move || started.get().map(|t| view! { <RelativeTime time=t /> })}</td>
            <td class="num"><Elapsed start=started end=finished /></td>
            <td>{link}</td>
        </tr>
    }
}
