//! The router's state: the core (`backend::Core`) and the Leptos options
//! the pages render with. Handlers take what they need of it through
//! `FromRef`.

use axum::extract::FromRef;
use backend::Core;
use leptos::prelude::LeptosOptions;

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    /// See `Launch::loopback_hosts_only`.
    pub loopback_hosts_only: bool,
    /// See `Launch::request_timeout`.
    pub request_timeout: std::time::Duration,
    pub leptos_options: LeptosOptions,
    /// The native adapters' links and GitHub's webhook secret.
    pub adapters: backend::adapters::AdapterSettings,
}

impl FromRef<AppState> for backend::adapters::AdapterSettings {
    fn from_ref(state: &AppState) -> backend::adapters::AdapterSettings {
        state.adapters.clone()
    }
}

impl FromRef<AppState> for Core {
    fn from_ref(state: &AppState) -> Core {
        state.core.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}
