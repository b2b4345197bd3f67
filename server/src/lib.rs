//! The Releases server: configuration, the database pool and migrations,
//! the HTTP router (pages, API, static assets, health and metrics), and
//! graceful shutdown. The application itself lives in the `app` crate.

pub mod assets;
pub mod cli;
pub mod demo;
pub mod metrics;
pub mod router;

pub use router::{launch, Launch};

/// mimalloc for every allocation of the server (and of its tests and
/// benches, which link this crate): ingest and the live streams allocate
/// and free many small values, where it is markedly faster than the system
/// allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
