//! Everything that runs only on the server: shared state, the database,
//! authentication, storage, ingest and the live-event stream.

pub mod apply;
pub mod auth;
pub mod db;
pub mod ingest;
pub mod notes;
pub mod rest;
pub mod restart;
pub mod service;
pub mod state;
pub mod store;
pub mod stream;
pub mod webhook;
pub mod write;
