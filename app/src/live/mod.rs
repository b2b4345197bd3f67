//! The live-updates client (SPEC §5). One event stream per browser, held by
//! a shared worker (`/live-worker.js`) for all its tabs; each tab hands the
//! events to the pages that follow them, which apply them to the data they
//! show in place: a Releases-table row, a dashboard cell, or the open
//! release page (through the patch its event carries). Nothing is fetched
//! per change; a page fetches its data again only when events it needed
//! could not be delivered (a reconnect after a gap, a `reset`).
//!
//! On the server (SSR) nothing connects and `follow` does nothing.

#[cfg(feature = "hydrate")]
mod connection;
mod indicator;

use domain::live::{EnvironmentChanged, ReleaseChanged};

pub use indicator::{provide_live, use_live, Live, LiveIndicator, LiveStatus};

/// One change, as a page applies it.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    Release(Box<ReleaseChanged>),
    Environment(EnvironmentChanged),
    /// A new product.
    Product(String),
}

impl LiveEvent {
    /// The event `kind` with JSON `data`, as the stream sends it; `None`
    /// for other kinds, or data that does not parse.
    pub fn parse(kind: &str, data: &str) -> Option<LiveEvent> {
        match kind {
            "release" => serde_json::from_str(data)
                .ok()
                .map(|change| LiveEvent::Release(Box::new(change))),
            "environment" => serde_json::from_str(data).ok().map(LiveEvent::Environment),
            "product" => serde_json::from_str::<serde_json::Value>(data)
                .ok()
                .and_then(|value| value["product"].as_str().map(str::to_owned))
                .map(LiveEvent::Product),
            _ => None,
        }
    }

    /// The product the change is about.
    pub fn product(&self) -> &str {
        match self {
            LiveEvent::Release(change) => &change.product,
            LiveEvent::Environment(change) => &change.product,
            LiveEvent::Product(product) => product,
        }
    }
}

/// A page that follows the live changes (see `follow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follower(#[allow(dead_code)] u64);

impl Follower {
    /// The page read its data again, as of change `read_at`: changes up to
    /// it are skipped, those after it delivered.
    pub fn read(self, read_at: i64) {
        #[cfg(feature = "hydrate")]
        connection::read(self.0, read_at);
        #[cfg(not(feature = "hydrate"))]
        let _ = read_at;
    }
}

/// Follows the live changes for a page whose data includes every change up
/// to `read_at`, and which shows release page `watch` (whose events then
/// carry the page's change): `on_event` gets each later change, in order;
/// `on_stale` is called when some could not be delivered, and the page
/// should fetch its data again (then `Follower::read`). Ends when the
/// reactive owner that called it is cleaned up. Does nothing on the server.
pub fn follow(
    read_at: i64,
    watch: Option<(String, i64)>,
    on_event: impl Fn(i64, &LiveEvent) + 'static,
    on_stale: impl Fn() + 'static,
) -> Follower {
    #[cfg(feature = "hydrate")]
    {
        let id = connection::follow(read_at, watch, Box::new(on_event), Box::new(on_stale));
        leptos::prelude::on_cleanup(move || connection::unfollow(id));
        Follower(id)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (read_at, watch, on_event, on_stale);
        Follower(0)
    }
}

/// Fetching a page's data again when live changes could not be applied:
/// one fetch at a time, and one more when asked again meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Refetch {
    running: leptos::prelude::StoredValue<bool>,
    again: leptos::prelude::StoredValue<bool>,
}

impl Default for Refetch {
    fn default() -> Self {
        Refetch {
            running: leptos::prelude::StoredValue::new(false),
            again: leptos::prelude::StoredValue::new(false),
        }
    }
}

impl Refetch {
    /// Runs `fetch` now, or once more after the one under way.
    pub fn run<Fut>(self, fetch: impl Fn() -> Fut + 'static)
    where
        Fut: std::future::Future<Output = ()> + 'static,
    {
        use leptos::prelude::{GetValue, SetValue};
        if self.running.get_value() {
            self.again.set_value(true);
            return;
        }
        self.running.set_value(true);
        leptos::task::spawn_local(async move {
            loop {
                self.again.set_value(false);
                fetch().await;
                if !self.again.get_value() {
                    break;
                }
            }
            self.running.set_value(false);
        });
    }
}
