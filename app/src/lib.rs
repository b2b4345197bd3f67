//! Releases: the shared application crate — the pages (`routes`), their
//! components, the server functions they call (`api`), and the live-update
//! client. The domain rules and view types come from `domain`; the server
//! functions run over `backend`, compiled for the server only (`ssr`).
//! The pages are rendered on the server only; the browser gets the
//! interactive islands and in-place navigation (`browser`).

// Leptos views are deeply nested types; the release page's exceeds the
// default limit when its async rendering is laid out.
#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "hydrate")]
pub mod browser;
pub mod components;
pub mod live;
pub mod routes;
mod shell;

pub use shell::{shell, App};
