//! The live-updates client: one `EventSource` per page on `/api/v1/stream`,
//! filtered to what the page shows, reconnecting with backoff. Pages read
//! `Live::changes` in their resources' sources, so every change the server
//! commits refetches what they show, in place, without a reload.
//!
//! On the server (SSR) nothing connects; the indicator renders hidden until
//! the page hydrates, so a page read without JavaScript never claims to be
//! live.

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

/// The app's live connection, in context.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    pub status: RwSignal<LiveStatus>,
    /// When the last change arrived (RFC 3339), for the indicator.
    pub last_update: RwSignal<Option<String>>,
    /// Counts the changes seen (coalesced); read it in a resource's source
    /// to refetch when something the page shows changed.
    pub changes: RwSignal<u64>,
    /// What the stream is filtered to: `(product, release)`.
    pub filter: RwSignal<(Option<String>, Option<i64>)>,
}

/// Creates the connection state and puts it in context; in the browser,
/// opens the stream and re-opens it whenever the page's filter changes.
pub fn provide_live() -> Live {
    let live = Live {
        status: RwSignal::new(LiveStatus::Idle),
        last_update: RwSignal::new(None),
        changes: RwSignal::new(0),
        filter: RwSignal::new((None, None)),
    };
    provide_context(live);
    #[cfg(feature = "hydrate")]
    browser::connect(live);
    live
}

/// The page's live connection (a disconnected one outside the app).
pub fn use_live() -> Live {
    use_context::<Live>().unwrap_or_else(|| Live {
        status: RwSignal::new(LiveStatus::Idle),
        last_update: RwSignal::new(None),
        changes: RwSignal::new(0),
        filter: RwSignal::new((None, None)),
    })
}

/// Narrows the page's stream to a product (and a release); the stream is
/// re-opened when this changes. Returns the change counter to read.
pub fn follow(
    product: impl Fn() -> Option<String> + Send + Sync + 'static,
    release: impl Fn() -> Option<i64> + Send + Sync + 'static,
) -> RwSignal<u64> {
    let live = use_live();
    Effect::new(move |_| {
        let wanted = (product(), release());
        if live.filter.with_untracked(|current| *current != wanted) {
            live.filter.set(wanted);
        }
    });
    live.changes
}

/// "Live" / "Reconnecting…" / "Offline" with the time of the last update.
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let live = use_live();
    let title = move || match live.last_update.get() {
        Some(at) => format!(
            "Live updates: {}. Last change {}",
            live.status.get().label(),
            at
        ),
        None => format!("Live updates: {}", live.status.get().label()),
    };
    view! {
        <span
            class="live-indicator"
            data-testid="live-indicator"
            data-state=move || live.status.get().as_str()
            role="status"
            title=title
            hidden=move || live.status.get() == LiveStatus::Idle
        >
            <span class="live-indicator__dot" aria-hidden="true"></span>
            <span class="live-indicator__label">{move || live.status.get().label()}</span>
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

    use super::{Live, LiveStatus};

    /// Changes arriving closer together than this refetch once.
    const COALESCE: Duration = Duration::from_millis(250);
    /// Reconnect delays: doubling from the first to the last.
    const FIRST_RETRY: Duration = Duration::from_secs(1);
    const LAST_RETRY: Duration = Duration::from_secs(30);
    /// After this many failed attempts in a row the indicator says offline.
    const OFFLINE_AFTER: u32 = 4;

    /// The open connection and what keeps it going.
    #[derive(Default)]
    struct Connection {
        source: Option<EventSource>,
        handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
        retry: Option<Timeout>,
        flush: Option<Timeout>,
        failures: u32,
        /// Whether a change arrived since the last refetch was triggered.
        pending: bool,
        /// Set after a failure: the next successful open refetches, since
        /// changes may have been missed.
        stale: bool,
        generation: u64,
    }

    pub fn connect(live: Live) {
        let connection = SendWrapper::new(Rc::new(RefCell::new(Connection::default())));
        let on_cleanup_connection = connection.clone();
        Effect::new(move |_| {
            let filter = live.filter.get();
            open(&connection, live, filter);
        });
        on_cleanup(move || close(&on_cleanup_connection));
    }

    fn url(filter: &(Option<String>, Option<i64>)) -> String {
        let mut params = Vec::new();
        if let Some(product) = &filter.0 {
            params.push(format!("product={}", js_encode(product)));
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

    fn js_encode(value: &str) -> String {
        js_sys_encode(value).unwrap_or_else(|| value.to_string())
    }

    fn js_sys_encode(value: &str) -> Option<String> {
        Some(String::from(web_sys::js_sys::encode_uri_component(value)))
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

    fn open(
        connection: &Rc<RefCell<Connection>>,
        live: Live,
        filter: (Option<String>, Option<i64>),
    ) {
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
                    live.changes.update(|n| *n += 1);
                }
            })
        };
        let on_change = {
            let connection = connection.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                if event.dyn_ref::<MessageEvent>().is_none() {
                    return;
                }
                live.last_update.set(Some(
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ));
                changed(&connection, live);
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

    /// Counts a change, at most one refetch per `COALESCE`.
    fn changed(connection: &Rc<RefCell<Connection>>, live: Live) {
        let mut c = connection.borrow_mut();
        if c.flush.is_some() {
            c.pending = true;
            return;
        }
        live.changes.update(|n| *n += 1);
        let flusher = connection.clone();
        c.flush = Some(Timeout::new(COALESCE.as_millis() as u32, move || {
            let mut c = flusher.borrow_mut();
            c.flush = None;
            if std::mem::take(&mut c.pending) {
                live.changes.update(|n| *n += 1);
            }
        }));
    }

    fn schedule_retry(
        connection: &Rc<RefCell<Connection>>,
        live: Live,
        filter: (Option<String>, Option<i64>),
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
