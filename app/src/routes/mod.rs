//! Pages, one file per route.

pub mod dashboard;
pub mod login;
pub mod not_found;
pub mod notes;
pub mod release;
pub mod releases;
