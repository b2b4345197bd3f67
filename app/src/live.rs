//! The live-updates client: one `EventSource` per page on `/api/v1/stream`,
//! reconnecting with backoff, feeding the pages' signals.
