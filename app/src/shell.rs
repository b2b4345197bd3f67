//! The HTML document and the root component: layout, router, theme.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::components::layout::Layout;
use crate::components::theme::request_theme;
use crate::components::time::provide_clock;
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
                // Islands: only the interactive widgets hydrate; the pages
                // stay server-rendered (see `crate::browser`).
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The root component: everything inside `<body>`. Rendered on the server
/// only; in the browser the islands hydrate and `crate::browser` takes over.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_clock();

    view! {
        <Title formatter=|title: String| {
            if title.is_empty() { "Releases".to_string() } else { format!("{title} · Releases") }
        } />
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    // Async: the whole page renders on the server before it is
                    // sent, so deep links read fine without JavaScript.
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
