//! The header's "Live / Reconnecting… / Offline" indicator and the state
//! it shows, shared through context.

use leptos::prelude::*;

/// What the connection is doing, as the header's indicator shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveStatus {
    /// Not connected and not trying (server rendering, or a page that
    /// shows nothing live).
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

    /// The state called `value` (as the worker names it), if any.
    pub fn parse(value: &str) -> Option<LiveStatus> {
        match value {
            "connecting" => Some(LiveStatus::Connecting),
            "live" => Some(LiveStatus::Live),
            "reconnecting" => Some(LiveStatus::Reconnecting),
            "offline" => Some(LiveStatus::Offline),
            _ => None,
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

/// The state of this tab's live connection.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    pub status: RwSignal<LiveStatus>,
    /// When the last change arrived (ISO 8601), for the indicator's title.
    pub last_update: RwSignal<Option<String>>,
}

/// Puts the live state in context (once, in the app's root).
pub fn provide_live() -> Live {
    let live = Live {
        status: RwSignal::new(LiveStatus::Idle),
        last_update: RwSignal::new(None),
    };
    provide_context(live);
    live
}

/// The live state in context, or an idle one (components rendered alone).
pub fn use_live() -> Live {
    use_context::<Live>().unwrap_or_else(|| Live {
        status: RwSignal::new(LiveStatus::Idle),
        last_update: RwSignal::new(None),
    })
}

/// "Live" / "Reconnecting…" / "Offline" with the time of the last update;
/// hidden while idle, so a page read without JavaScript never claims to be
/// live.
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let live = use_live();
    let status = live.status;
    let title = move || match live.last_update.get() {
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
