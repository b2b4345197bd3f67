//! The server-side core of Releases, without a web framework: the database
//! and its store, ingest (parsing, and the IO shell around the domain's
//! fold), the one write transaction, restarts and the orchestrator webhook,
//! the change log and its tailer, tokens and sessions, and the state they
//! share (`Core`). The web crates call it; it never calls them.

pub mod adapters;
pub mod auth;
pub mod change;
pub mod checkpoint;
pub use change::StreamLimits;
pub mod db;
pub mod ingest;
pub mod live;
mod parallel;
pub mod read;
pub mod restart;
pub mod runs_cache;
pub mod settings;
pub mod state;
pub mod store;
pub mod webhook;
pub mod write;

pub use state::{Core, Settings};
