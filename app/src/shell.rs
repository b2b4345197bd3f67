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
    #[cfg(feature = "ssr")]
    content_security_policy();
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
                <Hydration options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Loads the app's JavaScript and WebAssembly and hydrates the page — once
/// the server-rendered page is on screen. The page reads completely without
/// them, so they stay off its critical path: the WebAssembly (the largest
/// download by far) is requested after the first paint, never ahead of the
/// stylesheet, and hydration, one long task on a large page, never holds
/// back that paint. A hidden tab has no frame to wait for, nor would it get
/// one: it hydrates at once. The glue script is preloaded (a few KB).
/// Back or forward before then (between entries the router made in this
/// tab, so no document loads) leaves on screen a page of another URL: the
/// app would hydrate it as the new URL's page and show neither, so the
/// document is loaded again at its URL instead.
/// Replaces Leptos's `HydrationScripts`, whose preload of the WebAssembly
/// competes with the stylesheet.
#[component]
fn Hydration(options: LeptosOptions) -> impl IntoView {
    let (js, wasm) = app_assets(&options);
    let script = format!(
        "const here = () => location.pathname + location.search;\n\
         const rendered = here();\n\
         const start = (app) => here() === rendered ? app.hydrate() : location.reload();\n\
         const load = () => import({js:?}).then((app) => \
           app.default({{ module_or_path: {wasm:?} }}).then(() => start(app)));\n\
         if (document.visibilityState === \"hidden\") load();\n\
         else requestAnimationFrame(() => setTimeout(load, 0));"
    );
    view! {
        <link rel="modulepreload" href=js.clone() />
        <script type="module" nonce=leptos::nonce::use_nonce()>{script}</script>
    }
}

/// The paths of the app's glue script and WebAssembly, with the content
/// hashes cargo-leptos writes to its hash file beside the server binary.
fn app_assets(options: &LeptosOptions) -> (String, String) {
    use std::sync::OnceLock;
    static NAMES: OnceLock<(String, String)> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            let (mut js, mut wasm) = (
                options.output_name.to_string(),
                options.output_name.to_string(),
            );
            let hashes = options
                .hash_files
                .then(|| {
                    let exe = std::env::current_exe().ok()?;
                    std::fs::read_to_string(exe.parent()?.join(options.hash_file.as_ref())).ok()
                })
                .flatten()
                .unwrap_or_default();
            for (file, hash) in hashes
                .lines()
                .filter_map(|line| line.trim().split_once(':'))
            {
                match file {
                    "js" => js = format!("{js}.{}", hash.trim()),
                    "wasm" => wasm = format!("{wasm}.{}", hash.trim()),
                    _ => {}
                }
            }
            // As Leptos names it when not built by cargo-leptos.
            if !options.hash_files && option_env!("LEPTOS_OUTPUT_NAME").is_none() {
                wasm.push_str("_bg");
            }
            let pkg = &options.site_pkg_dir;
            (format!("/{pkg}/{js}.js"), format!("/{pkg}/{wasm}.wasm"))
        })
        .clone()
}

/// The page's `Content-Security-Policy`: scripts, styles, connections and
/// workers from this origin only; inline scripts only with this response's
/// nonce (the hydration bootstrap and the resources it streams carry it);
/// WebAssembly allowed to compile; no plugins, no framing, no `<base>`,
/// forms post here. Inline `style` attributes stay allowed (the graph's
/// size and the running animation's offsets are set that way).
#[cfg(feature = "ssr")]
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

#[cfg(feature = "ssr")]
fn content_security_policy() {
    use axum::http::{header::CONTENT_SECURITY_POLICY, HeaderValue};
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    // The nonce is base64: always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce)) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
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
