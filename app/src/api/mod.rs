//! Server functions, one file per resource. Each is a few lines that call the
//! service layer in `crate::server`, which the REST API calls too.

pub mod preferences;
