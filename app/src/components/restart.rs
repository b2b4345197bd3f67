//! Restarting a release from its page: the button (for signed-in operators
//! on failed or terminated releases), the confirmation that lists exactly
//! which environments will re-run, and the history of restarts with the
//! orchestrator webhook's delivery. The confirmation is a URL state
//! (`?restart=confirm`), so all of it works without JavaScript too.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::releases::get_delivery_errors;
use crate::api::restart::RestartRelease;
use crate::components::session::SessionResource;
use crate::components::time::RelativeTime;
use crate::components::url::release_path;
use domain::{plan_restart, DeliveryState, EnvSpec, Flow, FlowSpec, ReleaseView, Restart};

/// The flow of a release, rebuilt from its view (names, edges, actions),
/// to plan a restart in the browser exactly as the server will.
fn flow_of(release: &ReleaseView) -> Option<Flow> {
    let environments = release
        .environments
        .iter()
        .map(|env| EnvSpec {
            name: env.name.clone(),
            depends_on: release
                .flow
                .edges
                .iter()
                .filter(|[_, to]| *to == env.name)
                .map(|[from, _]| from.clone())
                .collect(),
            applications: env.applications.clone(),
            pre_action: env.pre_action.clone(),
            post_action: env.post_action.clone(),
        })
        .collect();
    Flow::new(FlowSpec {
        name: release.flow.name.clone(),
        trigger: release.flow.trigger.clone(),
        environments,
    })
    .ok()
}

/// The restart button and its confirmation, when the browser's session
/// may restart this release (and the release, as it now stands, may be
/// restarted).
#[component]
pub fn RestartControl(#[prop(into)] release: Signal<ReleaseView>) -> impl IntoView {
    let plan = Memo::new(move |_| {
        release.with(|r| {
            flow_of(r)
                .and_then(|flow| plan_restart(r, &flow).ok())
                .map(|plan| (r.product.clone(), r.id, plan.attempt, plan.environments))
        })
    });
    move || {
        plan.get().map(|(product, id, attempt, environments)| {
            view! { <RestartButton product=product id=id attempt=attempt environments=environments /> }
        })
    }
}

#[component]
fn RestartButton(
    product: String,
    id: i64,
    attempt: u32,
    environments: Vec<(String, u32)>,
) -> impl IntoView {
    let session = use_context::<SessionResource>();
    let query = use_query_map();
    let confirming =
        Memo::new(move |_| query.with(|q| q.get("restart")).as_deref() == Some("confirm"));
    let page = release_path(&product, id);
    let confirm_href = format!("{page}?restart=confirm");

    view! {
        <Transition fallback=|| ()>
            {move || {
                let page = page.clone();
                let confirm_href = confirm_href.clone();
                let product = product.clone();
                let environments = environments.clone();
                Suspend::new(async move {
                    let allowed = match session {
                        Some(session) => session.0.await.map(|s| s.is_operator()).unwrap_or(false),
                        None => false,
                    };
                    if !allowed {
                        return ().into_any();
                    }
                    view! {
                        <div class="restart">
                            <a class="btn btn--primary" href=confirm_href data-testid="restart-button"
                                aria-expanded=move || confirming.get().to_string()>
                                "Restart release"
                            </a>
                            {move || confirming.get().then(|| view! {
                                <RestartConfirm
                                    product=product.clone()
                                    id=id
                                    page=page.clone()
                                    attempt=attempt
                                    environments=environments.clone()
                                />
                            })}
                        </div>
                    }
                    .into_any()
                })
            }}
        </Transition>
    }
}

/// "Restart as attempt N?" with the environments that will re-run.
#[component]
fn RestartConfirm(
    product: String,
    id: i64,
    page: String,
    attempt: u32,
    environments: Vec<(String, u32)>,
) -> impl IntoView {
    view! {
        <div class="restart-confirm card" role="dialog" aria-labelledby="restart-title" data-testid="restart-confirm">
            <h2 id="restart-title">{format!("Restart as attempt {attempt}?")}</h2>
            <p>"These environments will run again, in this order; the others keep their results:"</p>
            <ul class="restart-confirm__envs" data-testid="restart-envs">
                {environments
                    .into_iter()
                    .map(|(name, attempt)| view! {
                        <li data-env=name.clone()>
                            <strong>{name.clone()}</strong>
                            <span class="muted">{format!(" · attempt {attempt}")}</span>
                        </li>
                    })
                    .collect_view()}
            </ul>
            <RestartForm product=product id=id page=page />
        </div>
    }
}

/// Restart or cancel. A plain form post without JavaScript; with it, the
/// server function is called in place, an error is shown here, and on
/// success the release page is shown again, in place.
#[component]
fn RestartForm(product: String, id: i64, page: String) -> impl IntoView {
    let action = ServerAction::<RestartRelease>::new();
    let error = move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    view! {
        <ActionForm action=action attr:class="restart-confirm__actions">
            <input type="hidden" name="product" value=product />
            <input type="hidden" name="id" value=id />
            <button type="submit" class="btn btn--primary" data-testid="restart-confirm-button">"Restart"</button>
            <a class="btn" href=page data-testid="restart-cancel">"Cancel"</a>
        </ActionForm>
        <p class="form-error" role="alert">{error}</p>
    }
}

/// The restarts of a release, newest first: who asked, when, which
/// environments, and whether the orchestrator was told. A signed-in
/// operator also reads why a delivery failed (fetched in the browser, again
/// whenever a delivery is tried again).
#[component]
pub fn RestartHistory(
    product: String,
    id: i64,
    #[prop(into)] restarts: Signal<Vec<Restart>>,
) -> impl IntoView {
    let session = use_context::<SessionResource>();
    // Filled in the browser only (effects do not run on the server, so the
    // page renders whole without it, JavaScript or not).
    let errors = RwSignal::new(Vec::<(u32, String)>::new());
    Effect::new(move |_| {
        let tried: Vec<(u32, u32)> = restarts.with(|restarts| {
            restarts
                .iter()
                .filter(|r| r.delivery.attempts > 0 && r.delivery.state != DeliveryState::Delivered)
                .map(|r| (r.attempt, r.delivery.attempts))
                .collect()
        });
        if tried.is_empty() {
            return;
        }
        let product = product.clone();
        leptos::task::spawn_local(async move {
            let operator = match session {
                Some(session) => session.0.await.map(|s| s.is_operator()).unwrap_or(false),
                None => false,
            };
            if operator {
                if let Ok(found) = get_delivery_errors(product, id).await {
                    errors.set(found);
                }
            }
        });
    });
    move || {
        let restarts = restarts.get();
        let errors = errors.get();
        (!restarts.is_empty()).then(|| view! {
        <section class="restarts card" aria-labelledby="restarts-title" data-testid="restarts">
            <h2 id="restarts-title">"Restarts"</h2>
            <ol class="restarts__list">
                {restarts
                    .into_iter()
                    .map(|restart| {
                        let envs = restart
                            .environments
                            .iter()
                            .map(|(name, _)| name.clone())
                            .collect::<Vec<_>>()
                            .join(", ");
                        let error = errors
                            .iter()
                            .find(|(attempt, _)| *attempt == restart.attempt)
                            .map(|(_, text)| text.clone());
                        let delivery = delivery_text(&restart, error);
                        let state = restart.delivery.state.as_str();
                        view! {
                            <li class="restarts__item" data-testid="restart-entry" data-attempt=restart.attempt>
                                <strong>{format!("Attempt {}", restart.attempt)}</strong>
                                " · restarted by " <span class="mono">{restart.requested_by.clone()}</span>
                                " " <RelativeTime time=restart.requested_at />
                                <span class="muted">{format!(" · {envs}")}</span>
                                <span class=format!("delivery delivery--{state}") data-testid="restart-delivery"
                                    data-state=state>
                                    {delivery}
                                </span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        </section>
        })
    }
}

/// What a delivery's line says; `error` (operators only) says why it failed.
fn delivery_text(restart: &Restart, error: Option<String>) -> String {
    let d = &restart.delivery;
    let why = error.map(|e| format!(" ({e})")).unwrap_or_default();
    match d.state {
        DeliveryState::None => "No orchestrator webhook: nobody was notified".to_string(),
        DeliveryState::Pending if d.attempts == 0 => "Notifying the orchestrator…".to_string(),
        DeliveryState::Pending => format!(
            "Notifying the orchestrator: attempt {} failed{why}, retrying",
            d.attempts
        ),
        DeliveryState::Delivered => "Orchestrator notified".to_string(),
        DeliveryState::Failed => format!(
            "Could not notify the orchestrator after {} attempts{why}",
            d.attempts
        ),
    }
}
