//! The page for any URL the application does not know; answers HTTP 404.

use leptos::html::H1;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::navigation::page_shown;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    let heading = NodeRef::<H1>::new();
    page_shown(heading);
    view! {
        <Title text="Not found" />
        <section class="page page--message" data-testid="not-found">
            <p class="page__eyebrow">"404"</p>
            <h1 node_ref=heading tabindex="-1">"Page not found"</h1>
            <p>"Nothing lives at this address. It may have been a release that never existed, or a typo."</p>
            <p><a class="btn" href="/">"Go to the environments dashboard"</a></p>
        </section>
    }
}

/// Shown by error boundaries: what failed, in words the user can act on.
#[component]
pub fn ErrorPage(error: domain::AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = axum::http::StatusCode::from_u16(error.status()) {
            response.set_status(status);
        }
    }
    let heading = match &error {
        domain::AppError::NotFound { .. } => "Not found",
        domain::AppError::Unauthorized => "Sign-in required",
        domain::AppError::Forbidden { .. } => "Not allowed",
        domain::AppError::Internal { .. } => "Something went wrong",
        _ => "The request could not be completed",
    };
    let node = NodeRef::<H1>::new();
    page_shown(node);
    view! {
        <Title text=heading />
        <section class="page page--message" role="alert" data-testid="error-page">
            <p class="page__eyebrow">{error.status()}</p>
            <h1 node_ref=node tabindex="-1">{heading}</h1>
            <p>{error.to_string()}</p>
            <p><a class="btn" href="/">"Go to the environments dashboard"</a></p>
        </section>
    }
}
