//! The Releases server: configuration, the database pool and migrations,
//! the HTTP router (pages, API, static assets, health and metrics), and
//! graceful shutdown. The application itself lives in the `app` crate.

pub mod assets;
pub mod cli;
pub mod demo;
pub mod metrics;
pub mod router;

pub use router::{launch, Launch};
