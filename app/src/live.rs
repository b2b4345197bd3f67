//! The live-updates client: one `EventSource` per page on `/api/v1/stream`,
//! filtered to what the page shows, reconnecting with backoff. Every change
//! the server commits refreshes the page in place (`crate::browser::refresh`:
//! the server renders it again and the document is morphed into it), with
//! no reload.
//!
//! On the server (SSR) nothing connects; the indicator renders hidden until
//! the island hydrates, so a page read without JavaScript never claims to
//! be live.

use leptos::prelude::*;

/// What the connection is doing, as the header's indicator shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveStatus {
    /// Not connected and not trying (server rendering, or before hydration).
    Idle,
    Connecting,
    Live,
    /// Lost; retrying.
    Reconnecting,
    /// Lost for a while; still retrying, less often.
    Offline,
}

impl LiveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveStatus::Idle => "idle",
            LiveStatus::Connecting => "connecting",
            LiveStatus::Live => "live",
            LiveStatus::Reconnecting => "reconnecting",
            LiveStatus::Offline => "offline",
        }
    }

    fn label(self) -> &'static str {
        match self {
            LiveStatus::Idle => "",
            LiveStatus::Connecting => "Connecting…",
            LiveStatus::Live => "Live",
            LiveStatus::Reconnecting => "Reconnecting…",
            LiveStatus::Offline => "Offline",
        }
    }
}

/// "Live" / "Reconnecting…" / "Offline" with the time of the last update.
/// An island: in the browser it holds the page's connection, following
/// what the page shows (`data-live`, `data-live-product`,
/// `data-live-release` on the page's root element) across in-place
/// navigations, and refreshes the page when a change arrives.
#[island]
pub fn LiveIndicator() -> impl IntoView {
    let status = RwSignal::new(LiveStatus::Idle);
    // When the last change arrived (ISO 8601), for the title.
    let last_update = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    browser::connect(status, last_update);
    let title = move || match last_update.get() {
        Some(at) => format!("Live updates: {}. Last change {}", status.get().label(), at),
        None => format!("Live updates: {}", status.get().label()),
    };
    view! {
        <span
            class="live-indicator"
            data-testid="live-indicator"
            data-state=move || status.get().as_str()
            role="status"
            title=title
            hidden=move || status.get() == LiveStatus::Idle
        >
            <span class="live-indicator__dot" aria-hidden="true"></span>
            <span class="live-indicator__label">{move || status.get().label()}</span>
        </span>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    use gloo_timers::callback::Timeout;
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    use super::LiveStatus;
    use crate::browser::navigate::NAVIGATED_EVENT;

    /// Changes arriving closer together than this refresh once.
    const COALESCE: Duration = Duration::from_millis(250);
    /// Reconnect delays: doubling from the first to the last.
    const FIRST_RETRY: Duration = Duration::from_secs(1);
    const LAST_RETRY: Duration = Duration::from_secs(30);
    /// After this many failed attempts in a row the indicator says offline.
    const OFFLINE_AFTER: u32 = 4;

    /// What the stream is filtered to: `(product, release)`.
    type Filter = (Option<String>, Option<i64>);

    /// The indicator's signals.
    #[derive(Clone, Copy)]
    struct Live {
        status: RwSignal<LiveStatus>,
        last_update: RwSignal<Option<String>>,
    }

    /// The open connection and what keeps it going.
    #[derive(Default)]
    struct Connection {
        source: Option<EventSource>,
        handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
        retry: Option<Timeout>,
        flush: Option<Timeout>,
        failures: u32,
        /// Whether a change arrived since the last refresh was triggered.
        pending: bool,
        /// Set after a failure: the next successful open refreshes, since
        /// changes may have been missed.
        stale: bool,
        generation: u64,
    }

    /// The filter of the page on screen, from its root element.
    fn page_filter() -> Filter {
        let root = document().query_selector("[data-live]").ok().flatten();
        let attribute = |name: &str| root.as_ref().and_then(|r| r.get_attribute(name));
        (
            attribute("data-live-product"),
            attribute("data-live-release").and_then(|id| id.parse().ok()),
        )
    }

    /// Opens the stream for the page on screen, and re-opens it when an
    /// in-place navigation shows a page with another filter.
    pub fn connect(status: RwSignal<LiveStatus>, last_update: RwSignal<Option<String>>) {
        let live = Live {
            status,
            last_update,
        };
        let filter = RwSignal::new(page_filter());
        let on_navigated = Closure::<dyn Fn()>::new(move || {
            let wanted = page_filter();
            if filter.with_untracked(|current| *current != wanted) {
                filter.set(wanted);
            }
        });
        let _ = window().add_event_listener_with_callback(
            NAVIGATED_EVENT,
            on_navigated.as_ref().unchecked_ref(),
        );
        // The indicator is in the page's header: it lives as long as the page.
        on_navigated.forget();
        let connection = SendWrapper::new(Rc::new(RefCell::new(Connection::default())));
        let on_cleanup_connection = connection.clone();
        Effect::new(move |_| {
            let filter = filter.get();
            open(&connection, live, filter);
        });
        on_cleanup(move || close(&on_cleanup_connection));
    }

    fn url(filter: &Filter) -> String {
        let mut params = Vec::new();
        if let Some(product) = &filter.0 {
            params.push(format!(
                "product={}",
                crate::components::url::encode(product)
            ));
        }
        if let Some(release) = filter.1 {
            params.push(format!("release={release}"));
        }
        if params.is_empty() {
            "/api/v1/stream".to_string()
        } else {
            format!("/api/v1/stream?{}", params.join("&"))
        }
    }

    fn close(connection: &Rc<RefCell<Connection>>) {
        let mut c = connection.borrow_mut();
        if let Some(source) = c.source.take() {
            source.close();
        }
        c.handlers.clear();
        c.retry = None;
        c.flush = None;
        c.generation += 1;
    }

    fn refresh() {
        leptos::task::spawn_local(crate::browser::refresh());
    }

    fn open(connection: &Rc<RefCell<Connection>>, live: Live, filter: Filter) {
        close(connection);
        let Ok(source) = EventSource::new(&url(&filter)) else {
            live.status.set(LiveStatus::Offline);
            return;
        };
        live.status.set(if connection.borrow().failures == 0 {
            LiveStatus::Connecting
        } else {
            LiveStatus::Reconnecting
        });
        let generation = connection.borrow().generation;

        let on_open = {
            let connection = connection.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                let stale = {
                    let mut c = connection.borrow_mut();
                    c.failures = 0;
                    std::mem::take(&mut c.stale)
                };
                live.status.set(LiveStatus::Live);
                if stale {
                    refresh();
                }
            })
        };
        let on_change = {
            let connection = connection.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                if event.dyn_ref::<MessageEvent>().is_none() {
                    return;
                }
                live.last_update.set(Some(String::from(
                    web_sys::js_sys::Date::new_0().to_iso_string(),
                )));
                changed(&connection);
            })
        };
        let on_error = {
            let connection = connection.clone();
            let filter = filter.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                let closed = {
                    let c = connection.borrow();
                    c.generation != generation
                        || c.source
                            .as_ref()
                            .is_none_or(|s| s.ready_state() == EventSource::CLOSED)
                };
                let failures = {
                    let mut c = connection.borrow_mut();
                    c.failures += 1;
                    c.stale = true;
                    c.failures
                };
                live.status.set(if failures >= OFFLINE_AFTER {
                    LiveStatus::Offline
                } else {
                    LiveStatus::Reconnecting
                });
                if closed {
                    // The browser gave up (e.g. the server answered an
                    // error): retry ourselves, backing off.
                    schedule_retry(&connection, live, filter.clone(), failures);
                }
            })
        };
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        for kind in ["release", "product", "environment", "reset"] {
            let _ =
                source.add_event_listener_with_callback(kind, on_change.as_ref().unchecked_ref());
        }
        let mut c = connection.borrow_mut();
        c.handlers = vec![on_open, on_change, on_error];
        c.source = Some(source);
    }

    /// Refreshes for a change, at most once per `COALESCE`.
    fn changed(connection: &Rc<RefCell<Connection>>) {
        let mut c = connection.borrow_mut();
        if c.flush.is_some() {
            c.pending = true;
            return;
        }
        refresh();
        let flusher = connection.clone();
        c.flush = Some(Timeout::new(COALESCE.as_millis() as u32, move || {
            let mut c = flusher.borrow_mut();
            c.flush = None;
            if std::mem::take(&mut c.pending) {
                refresh();
            }
        }));
    }

    fn schedule_retry(
        connection: &Rc<RefCell<Connection>>,
        live: Live,
        filter: Filter,
        failures: u32,
    ) {
        let delay = FIRST_RETRY
            .saturating_mul(1 << failures.saturating_sub(1).min(5))
            .min(LAST_RETRY);
        let retrying = connection.clone();
        let timer = Timeout::new(delay.as_millis() as u32, move || {
            let failures = retrying.borrow().failures;
            open(&retrying, live, filter);
            retrying.borrow_mut().failures = failures;
        });
        if let Some(source) = connection.borrow_mut().source.take() {
            source.close();
        }
        connection.borrow_mut().retry = Some(timer);
    }
}
