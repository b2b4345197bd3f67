//! Reusable view pieces shared by the pages.

pub mod environment;
pub mod error_panel;
pub mod graph;
pub mod icons;
pub mod layout;
pub mod navigation;
pub mod restart;
pub mod session;
pub mod status;
pub mod theme;
pub mod time;
pub mod url;
