//! Releases: the shared application crate.
//!
//! Everything the server renders and the browser hydrates lives here: the pure
//! domain rules (`domain`), the flow layout (`graph`), server functions (`api`),
//! pages (`routes`), components, the live-update client, and — compiled only
//! for the server — state, storage, ingest and auth (`server`). The pages are
//! rendered on the server only; the browser gets the interactive islands and
//! in-place navigation (`browser`).

// Leptos views are deeply nested types; the release page's exceeds the
// default limit when its async rendering is laid out.
#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "hydrate")]
pub mod browser;
pub mod components;
pub mod domain;
pub mod error;
pub mod graph;
pub mod live;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod server;
mod shell;
pub mod views;

pub use error::AppError;
pub use shell::{shell, App};
