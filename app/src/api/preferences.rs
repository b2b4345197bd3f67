//! Per-browser preferences, kept in cookies.

use domain::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The name of the cookie that remembers the theme.
pub const THEME_COOKIE: &str = "theme";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Follow the operating system's light/dark setting.
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(value: &str) -> Option<Theme> {
        match value {
            "system" => Some(Theme::System),
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    /// The theme the toggle switches to next.
    pub fn next(self) -> Theme {
        match self {
            Theme::System => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::System,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "System theme",
            Theme::Light => "Light theme",
            Theme::Dark => "Dark theme",
        }
    }
}

/// Remembers the chosen theme in the `theme` cookie for a year.
/// Fails with `Invalid` for anything but `system`, `light` or `dark`.
#[server(endpoint = "set_theme")]
pub async fn set_theme(theme: String) -> Result<Theme, AppError> {
    super::serve(async move {
        let chosen = Theme::parse(&theme).ok_or_else(|| {
            AppError::invalid(
                "theme",
                format!("unknown theme {theme:?}: expected system, light or dark"),
            )
        })?;
        super::set_cookie(&format!(
            "{THEME_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            chosen.as_str()
        ))?;
        Ok(chosen)
    })
    .await
}
