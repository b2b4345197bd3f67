//! The Releases server: the command line, the HTTP router (pages, the REST
//! API, static assets, health and metrics), the demo simulator, and
//! graceful shutdown. The pages live in `app`, the core in `backend`.

pub mod assets;
pub mod cli;
pub mod demo;
pub mod metrics;
pub mod rest;
pub mod router;
pub mod state;
pub mod trace;

pub use router::{launch, Launch};

/// mimalloc for every allocation of the server (and of its tests and
/// benches, which link this crate): ingest and the live streams allocate
/// and free many small values, where it is markedly faster than the system
/// allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
