//! Releases: the shared application crate — the pages (`routes`), their
//! components, the server functions they call (`api`), and the live-update
//! client. The domain rules and view types come from `domain`; the server
//! functions run over `backend`, compiled for the server only (`ssr`).
//! Every page is rendered on the server at its URL, then hydrated: from
//! there the whole app runs in the browser (`hydrate`), moving between
//! pages with the router and server functions, live from the event stream.

// Leptos views are deeply nested types; the release page's exceeds the
// default limit when its async rendering is laid out.
#![recursion_limit = "512"]

pub mod api;
pub mod components;
pub mod live;
pub mod routes;
mod shell;

pub use shell::{shell, App};
