//! The open error of an environment (`?env=…&error=…`): its description,
//! the step's logs (starting at the end, with a copy button), the workflow
//! manifest and the links out — rendered on the server, so a deep link shows
//! it on first load. The logs and manifest come from `get_error`, not with
//! the release page (which would carry every error's).

use leptos::prelude::*;

use crate::api::releases::get_error;
use crate::components::status::{kind_word, ErrorKindIcon, StatusBadge};
use crate::components::time::format_absolute;
use crate::components::url::release_path;
use domain::{ErrorKind, ErrorView};

/// The open error: what the release page knows of it (`summary`, which
/// the live stream keeps current), and its logs, manifest and details,
/// fetched for it (again when it changes).
#[component]
pub fn ErrorPanel(
    product: String,
    release: i64,
    summary: Memo<Option<ErrorView>>,
    close_href: String,
) -> impl IntoView {
    let (id, kind) = summary.with_untracked(|e| {
        e.as_ref()
            .map(|e| (e.id.clone(), e.kind))
            .unwrap_or_else(|| (String::new(), ErrorKind::Workflow))
    });
    // A new version of the error (its message or time) is fetched again.
    let version = Memo::new(move |_| {
        summary.with(|e| e.as_ref().map(|e| (e.message.clone(), e.time, e.status)))
    });
    let detail = Resource::new(
        {
            let product = product.clone();
            let id = id.clone();
            move || (product.clone(), release, id.clone(), version.get())
        },
        |(product, release, id, _)| get_error(product, release, id),
    );
    let facts = move || {
        summary.get().map(|error| {
            let fact = |label: &'static str, value: Option<String>| {
                value.map(|value| view! { <div><dt>{label}</dt><dd>{value}</dd></div> })
            };
            let product = product.clone();
            view! {
                <p class="error-panel__message" data-testid="error-message">{error.message.clone()}</p>
                <dl class="facts">
                    {fact("Environment", Some(error.environment.clone()))}
                    {fact("Application", error.application.clone())}
                    {fact("Workflow", error.workflow.clone())}
                    {fact("Phase", error.phase.map(|p| p.as_str().to_owned()))}
                    {fact("Step", error.step.clone())}
                    {fact("Run", error.run_id.clone())}
                    {fact("Operation", error.operation.clone())}
                    {fact("Repository", error.repo.clone())}
                    {fact("Time", error.time.map(format_absolute))}
                    {error.status.map(|s| view! { <div><dt>"Status"</dt><dd><StatusBadge status=s /></dd></div> })}
                    {error.health.map(|h| view! { <div><dt>"Health"</dt><dd><StatusBadge status=h /></dd></div> })}
                    {error.superseded_by.map(|by| view! {
                        <div>
                            <dt>"Superseded by"</dt>
                            <dd><a href=release_path(&product, by) data-testid="superseded-by">{format!("release #{by}")}</a></dd>
                        </div>
                    })}
                </dl>
                {domain::web_url(error.url.as_deref()).map(str::to_owned).map(|url| {
                    let text = match error.kind {
                        ErrorKind::Application => "Open the application ↗",
                        _ => "Open the workflow in the orchestrator ↗",
                    };
                    view! { <a class="btn" href=url rel="noopener" target="_blank" data-testid="error-link">{text}</a> }
                })}
            }
        })
    };
    let loading = || view! { <p class="muted" role="status">"Loading the logs…"</p> };
    let body = move || {
        Suspend::new(async move {
            match detail.await {
                Ok(error) => view! { <ErrorDetail error=error /> }.into_any(),
                Err(error) => view! {
                    <p class="form-error" role="alert">{format!("The logs could not be loaded: {error}")}</p>
                }
                .into_any(),
            }
        })
    };
    view! {
        <section class="error-panel card" id="error-panel" aria-labelledby="error-panel-title"
            data-testid="error-panel" data-error-id=id.clone()
            data-kind=format!("{kind:?}").to_lowercase()>
            <header class="error-panel__header">
                <h3 id="error-panel-title">
                    <ErrorKindIcon kind=kind />
                    {kind_word(kind)}
                </h3>
                <a class="btn btn--ghost" href=close_href data-noscroll="true" data-testid="error-close">
                    "Close"
                </a>
            </header>
            {facts}
            <Transition fallback=loading>{body}</Transition>
        </section>
    }
}

/// The logs, details and manifest of an error.
#[component]
fn ErrorDetail(error: ErrorView) -> impl IntoView {
    let logs = error.logs.clone().map(|logs| {
        let heading = match &error.step {
            Some(step) => format!("Logs of step {step}"),
            None => "Logs".to_owned(),
        };
        view! {
            <section class="logs" aria-labelledby="error-logs-heading">
                <div class="logs__toolbar">
                    <h4 id="error-logs-heading">{heading}</h4>
                    <CopyButton target="error-logs".to_owned() label="Copy logs".to_owned() />
                </div>
                // `column-reverse` starts the scroll at the end, without JavaScript.
                <div class="logs__scroll" tabindex="0" role="region" aria-label="Logs, newest at the bottom">
                    <pre id="error-logs" data-testid="error-logs">{logs}</pre>
                </div>
            </section>
        }
    });
    let manifest = error.manifest.clone().map(|manifest| {
        view! {
            <details class="disclosure" data-testid="error-manifest">
                <summary>"Workflow manifest"</summary>
                <div class="code-block" tabindex="0" role="region" aria-label="Workflow manifest">
                    <pre>{manifest}</pre>
                </div>
            </details>
        }
    });
    let details = error.details.clone().map(|details| {
        view! {
            <div class="code-block" tabindex="0" role="region" aria-label="Details">
                <pre data-testid="error-details">{details}</pre>
            </div>
        }
    });
    view! { {logs} {details} {manifest} }
}

/// Copies the text of the element with id `target` to the clipboard;
/// shown only once the page is interactive.
#[component]
pub fn CopyButton(target: String, label: String) -> impl IntoView {
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let copied = RwSignal::new(false);
    let on_click = move |_| {
        if clipboard::copy_from(&target) {
            copied.set(true);
        }
    };
    view! {
        <button type="button" class="btn btn--small" hidden=move || !interactive.get()
            data-testid="copy-button" on:click=on_click>
            {move || if copied.get() { "Copied".to_owned() } else { label.clone() }}
        </button>
    }
}

#[cfg(feature = "hydrate")]
mod clipboard {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(catch, js_namespace = ["navigator", "clipboard"], js_name = writeText)]
        fn write_text(text: &str) -> Result<JsValue, JsValue>;
    }

    /// Starts writing the text of element `id` to the clipboard; `false`
    /// when there is no such element or the browser has no clipboard.
    pub fn copy_from(id: &str) -> bool {
        let Some(text) = leptos::prelude::document()
            .get_element_by_id(id)
            .and_then(|element| element.text_content())
        else {
            return false;
        };
        write_text(&text).is_ok()
    }
}

#[cfg(not(feature = "hydrate"))]
mod clipboard {
    pub fn copy_from(_id: &str) -> bool {
        false
    }
}
