//! The tab's side of the browser's one live stream: it talks to the shared
//! worker (`public/live-worker.js`; a dedicated one where the browser has
//! no shared workers), tells it what this tab's pages need — the change
//! their data includes, the release pages they show — and hands the events
//! it forwards to those pages. Messages are JSON text both ways.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, MessagePort, SharedWorker, Worker};

use super::{use_live, Live, LiveEvent, LiveStatus};

/// The worker's script, with its content's hash in the query: a new
/// version is a new shared worker, not an old one still running.
fn worker_url() -> String {
    const SCRIPT: &[u8] = include_bytes!("../../../public/live-worker.js");
    // FNV-1a: enough to tell two versions apart.
    let hash = SCRIPT.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("/live-worker.js?v={hash:016x}")
}

/// How often a tab tells the worker it is still open.
const PING_MS: u32 = 10_000;

/// What a follower does with a change: its id and the change.
pub type EventHandler = dyn Fn(i64, &LiveEvent);
type OnEvent = Rc<EventHandler>;
type OnStale = Rc<dyn Fn()>;

struct Follower {
    id: u64,
    read_at: i64,
    watch: Option<(String, i64)>,
    on_event: OnEvent,
    on_stale: OnStale,
}

/// Where messages to the worker go.
enum Port {
    Shared(MessagePort),
    Dedicated(Worker),
}

impl Port {
    fn post(&self, message: &ToWorker<'_>) {
        let Ok(text) = serde_json::to_string(message) else {
            return;
        };
        let text = wasm_bindgen::JsValue::from_str(&text);
        let _ = match self {
            Port::Shared(port) => port.post_message(&text),
            Port::Dedicated(worker) => worker.post_message(&text),
        };
    }
}

#[derive(Serialize)]
#[serde(tag = "t", rename_all = "lowercase")]
enum ToWorker<'a> {
    Hello { since: i64, watch: &'a [String] },
    Watch { watch: &'a [String] },
    Since { since: i64 },
    Ping,
    Bye,
}

#[derive(Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
enum FromWorker {
    State { state: String },
    Events { events: Vec<RawEvent> },
    Stale,
}

#[derive(Deserialize)]
struct RawEvent {
    id: i64,
    event: String,
    data: String,
}

#[derive(Default)]
struct Connection {
    port: Option<Port>,
    live: Option<Live>,
    followers: Vec<Follower>,
    next: u64,
    /// The release pages last told to the worker.
    watching: Vec<String>,
    _handlers: Vec<Closure<dyn FnMut(MessageEvent)>>,
    _unload: Option<Closure<dyn FnMut(web_sys::Event)>>,
    _ping: Option<Interval>,
}

thread_local! {
    static CONNECTION: RefCell<Connection> = RefCell::new(Connection::default());
}

/// Registers a follower (see `super::follow`); connects on the first.
pub fn follow(
    read_at: i64,
    watch: Option<(String, i64)>,
    on_event: Box<EventHandler>,
    on_stale: Box<dyn Fn()>,
) -> u64 {
    let live = use_live();
    let id = CONNECTION.with(|c| {
        let mut c = c.borrow_mut();
        c.next += 1;
        let id = c.next;
        c.followers.push(Follower {
            id,
            read_at,
            watch,
            on_event: Rc::from(on_event),
            on_stale: Rc::from(on_stale),
        });
        if c.live.is_none() {
            c.live = Some(live);
        }
        id
    });
    let started = CONNECTION.with(|c| c.borrow().port.is_some());
    if started {
        CONNECTION.with(|c| {
            let c = c.borrow();
            if let Some(port) = &c.port {
                port.post(&ToWorker::Since { since: read_at });
            }
        });
        update_watch();
    } else {
        start(live, read_at);
    }
    id
}

/// Removes a follower.
pub fn unfollow(id: u64) {
    CONNECTION.with(|c| c.borrow_mut().followers.retain(|f| f.id != id));
    update_watch();
}

/// Follower `id` read its data again, as of `read_at`.
pub fn read(id: u64, read_at: i64) {
    CONNECTION.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(follower) = c.followers.iter_mut().find(|f| f.id == id) {
            follower.read_at = read_at;
        }
        if let Some(port) = &c.port {
            port.post(&ToWorker::Since { since: read_at });
        }
    });
}

/// The release pages this tab's followers show, as `product/id`.
fn watched(c: &Connection) -> Vec<String> {
    let mut pages: Vec<String> = c
        .followers
        .iter()
        .filter_map(|f| f.watch.as_ref())
        .map(|(product, id)| format!("{product}/{id}"))
        .collect();
    pages.sort();
    pages.dedup();
    pages
}

fn update_watch() {
    CONNECTION.with(|c| {
        let mut c = c.borrow_mut();
        let pages = watched(&c);
        if pages != c.watching {
            if let Some(port) = &c.port {
                port.post(&ToWorker::Watch { watch: &pages });
            }
            c.watching = pages;
        }
    });
}

/// Connects this tab to the worker.
fn start(live: Live, since: i64) {
    live.status.set(LiveStatus::Connecting);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        if let Some(text) = event.data().as_string() {
            receive(&text);
        }
    });
    let url = worker_url();
    let port = match SharedWorker::new(&url) {
        Ok(worker) => {
            let port = worker.port();
            port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            port.start();
            Port::Shared(port)
        }
        Err(_) => match Worker::new(&url) {
            Ok(worker) => {
                worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                Port::Dedicated(worker)
            }
            Err(_) => {
                live.status.set(LiveStatus::Offline);
                return;
            }
        },
    };
    let unload = Closure::<dyn FnMut(web_sys::Event)>::new(|_| {
        CONNECTION.with(|c| {
            if let Some(port) = &c.borrow().port {
                port.post(&ToWorker::Bye);
            }
        });
    });
    let _ = window().add_event_listener_with_callback("pagehide", unload.as_ref().unchecked_ref());
    let ping = Interval::new(PING_MS, || {
        CONNECTION.with(|c| {
            if let Some(port) = &c.borrow().port {
                port.post(&ToWorker::Ping);
            }
        });
    });
    CONNECTION.with(|c| {
        let mut c = c.borrow_mut();
        let pages = watched(&c);
        port.post(&ToWorker::Hello {
            since,
            watch: &pages,
        });
        c.watching = pages;
        c.port = Some(port);
        c._handlers.push(on_message);
        c._unload = Some(unload);
        c._ping = Some(ping);
    });
}

/// A message of the worker.
fn receive(text: &str) {
    let Ok(message) = serde_json::from_str::<FromWorker>(text) else {
        return;
    };
    let live = CONNECTION.with(|c| c.borrow().live);
    match message {
        FromWorker::State { state } => {
            if let (Some(live), Some(status)) = (live, LiveStatus::parse(&state)) {
                live.status.set(status);
            }
        }
        FromWorker::Stale => stale(),
        FromWorker::Events { events } => {
            if let Some(live) = live {
                if !events.is_empty() {
                    live.last_update.set(Some(String::from(
                        web_sys::js_sys::Date::new_0().to_iso_string(),
                    )));
                }
            }
            for raw in events {
                if raw.event == "reset" {
                    stale();
                    continue;
                }
                let Some(event) = LiveEvent::parse(&raw.event, &raw.data) else {
                    continue;
                };
                // The callbacks may follow, unfollow or read: call them
                // with the connection released.
                let due: Vec<OnEvent> = CONNECTION.with(|c| {
                    let mut c = c.borrow_mut();
                    c.followers
                        .iter_mut()
                        .filter(|f| raw.id > f.read_at)
                        .map(|f| {
                            f.read_at = raw.id;
                            f.on_event.clone()
                        })
                        .collect()
                });
                for on_event in due {
                    on_event(raw.id, &event);
                }
            }
        }
    }
}

/// Some events could not be delivered: every page fetches its data again.
fn stale() {
    let due: Vec<OnStale> = CONNECTION.with(|c| {
        c.borrow()
            .followers
            .iter()
            .map(|f| f.on_stale.clone())
            .collect()
    });
    for on_stale in due {
        on_stale();
    }
}
