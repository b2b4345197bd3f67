//! Per-browser preferences, kept in cookies.

use leptos::prelude::*;

use crate::components::theme::Theme;
use crate::error::AppError;

/// Remembers the chosen theme in the `theme` cookie for a year.
/// Fails with `Invalid` for anything but `system`, `light` or `dark`.
#[server(endpoint = "set_theme")]
pub async fn set_theme(theme: String) -> Result<Theme, AppError> {
    use crate::components::theme::THEME_COOKIE;
    use axum::http::{header::SET_COOKIE, HeaderValue};

    let chosen = Theme::parse(&theme).ok_or_else(|| {
        AppError::invalid(
            "theme",
            format!("unknown theme {theme:?}: expected system, light or dark"),
        )
        .with_status()
    })?;
    let cookie = format!(
        "{THEME_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        chosen.as_str()
    );
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.append_header(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(AppError::internal)?,
    );
    Ok(chosen)
}
