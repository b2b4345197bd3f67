//! Light, dark, or follow the system: the choice is kept in a `theme` cookie
//! (set by the `set_theme` server function), so the server renders the right
//! theme on first paint and the toggle works without JavaScript too.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::preferences::SetTheme;
use crate::components::icons::{AutoIcon, MoonIcon, SunIcon};

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

    fn label(self) -> &'static str {
        match self {
            Theme::System => "System theme",
            Theme::Light => "Light theme",
            Theme::Dark => "Dark theme",
        }
    }
}

/// The theme of the current request: the cookie on the server, the document's
/// attribute in the browser (which the server wrote), so both agree.
pub fn request_theme() -> Theme {
    #[cfg(feature = "ssr")]
    {
        use axum::http::{header::COOKIE, request::Parts};
        use_context::<Parts>()
            .and_then(|parts| {
                parts
                    .headers
                    .get_all(COOKIE)
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .flat_map(|value| value.split(';'))
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(name, _)| *name == THEME_COOKIE)
                    .and_then(|(_, value)| Theme::parse(value))
            })
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        document()
            .document_element()
            .and_then(|root| root.get_attribute("data-theme"))
            .and_then(|value| Theme::parse(&value))
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Theme::default()
    }
}

/// Cycles system → light → dark. A plain form post without JavaScript; with
/// it (an island), the server function is called in place and the page
/// re-themes at once.
#[island]
pub fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new(request_theme());
    let set_theme = ServerAction::<SetTheme>::new();

    Effect::new(move |_| {
        if let Some(Ok(chosen)) = set_theme.value().get() {
            theme.set(chosen);
            if let Some(root) = document().document_element() {
                let _ = root.set_attribute("data-theme", chosen.as_str());
            }
        }
    });

    view! {
        <ActionForm action=set_theme attr:class="theme-form">
            <input type="hidden" name="theme" value=move || theme.get().next().as_str() />
            <button
                type="submit"
                class="btn btn--ghost theme-toggle"
                data-testid="theme-toggle"
                data-theme=move || theme.get().as_str()
                title=move || format!("{} (switch to {})", theme.get().label(), theme.get().next().as_str())
            >
                {move || match theme.get() {
                    Theme::System => view! { <AutoIcon /> }.into_any(),
                    Theme::Light => view! { <SunIcon /> }.into_any(),
                    Theme::Dark => view! { <MoonIcon /> }.into_any(),
                }}
                <span class="theme-toggle__label">{move || theme.get().label()}</span>
            </button>
        </ActionForm>
    }
}
