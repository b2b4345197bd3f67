//! The HTML document and the root component: layout, router, theme, live
//! state, and what moving between pages does to focus and scrolling.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::components::layout::Layout;
use crate::components::navigation::NavigationEffects;
use crate::components::theme::request_theme;
use crate::components::time::provide_clock;
use crate::live::provide_live;
use crate::routes::login::LoginPage;
use crate::routes::{
    dashboard::DashboardPage, not_found::NotFound, notes::NotesPage, release::ReleasePage,
    releases::ReleasesPage,
};

/// The whole HTML document, rendered on the server for every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The theme comes from the `theme` cookie, so the first paint already has it.
    let theme = request_theme();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme.as_str()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <meta name="description" content="Where every release is, what failed and why." />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The root component: everything inside `<body>`. Rendered on the server
/// at the URL, then hydrated: from there on the router moves between pages
/// in the browser, and each page's data comes from its server function.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_clock();
    provide_live();

    // Tests and tools wait for this before they click.
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Title formatter=|title: String| {
            if title.is_empty() { "Releases".to_string() } else { format!("{title} · Releases") }
        } />
        <Router>
            <NavigationEffects />
            <Layout>
                <Routes fallback=NotFound>
                    // Async: the whole page renders on the server before it is
                    // sent, so deep links read fine without JavaScript and get
                    // their HTTP status (404 for an unknown release).
                    <Route path=path!("/") view=DashboardPage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/products/:product") view=ReleasesPage ssr=SsrMode::Async />
                    <Route path=path!("/products/:product/releases") view=ReleasesPage ssr=SsrMode::Async />
                    <Route path=path!("/products/:product/releases/:id") view=ReleasePage ssr=SsrMode::Async />
                    <Route path=path!("/products/:product/releases/:id/notes") view=NotesPage ssr=SsrMode::Async />
                </Routes>
            </Layout>
        </Router>
    }
}
