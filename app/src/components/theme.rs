//! Light, dark, or follow the system: the choice is kept in a `theme` cookie
//! (set by the `set_theme` server function), so the server renders the right
//! theme on first paint and the toggle works without JavaScript too.

use crate::api::preferences::{SetTheme, Theme};
use crate::components::icons::{AutoIcon, MoonIcon, SunIcon};
use leptos::prelude::*;

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
                    .find(|(name, _)| *name == crate::api::preferences::THEME_COOKIE)
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
/// it, the server function is called in place and the page
/// re-themes at once.
#[component]
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
