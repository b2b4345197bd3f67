//! Inline SVG icons. Icons are decorative (`aria-hidden`): every status icon
//! is paired with a word, so nothing is conveyed by shape or colour alone.

use leptos::prelude::*;

#[component]
pub fn Logo() -> impl IntoView {
    view! {
        <svg class="logo" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
            <circle cx="5" cy="12" r="3" fill="currentColor" />
            <circle cx="19" cy="6" r="3" fill="currentColor" />
            <circle cx="19" cy="18" r="3" fill="currentColor" />
            <path d="M8 12 C12 12 12 6 16 6 M8 12 C12 12 12 18 16 18" stroke="currentColor"
                stroke-width="2" fill="none" />
        </svg>
    }
}

#[component]
pub fn SunIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
            <circle cx="12" cy="12" r="4" fill="currentColor" />
            <path d="M12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1L7 17M17 7l2.1-2.1"
                stroke="currentColor" stroke-width="2" stroke-linecap="round" />
        </svg>
    }
}

#[component]
pub fn MoonIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
            <path d="M20 14.5A8 8 0 0 1 9.5 4a8 8 0 1 0 10.5 10.5z" fill="currentColor" />
        </svg>
    }
}

#[component]
pub fn AutoIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
            <circle cx="12" cy="12" r="8" stroke="currentColor" stroke-width="2" fill="none" />
            <path d="M12 4a8 8 0 0 1 0 16z" fill="currentColor" />
        </svg>
    }
}
