//! The page frame: skip link, header with brand, navigation, live-indicator
//! slot and theme toggle, and the main landmark.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::icons::Logo;
use crate::components::session::{provide_session, SessionMenu};
use crate::components::theme::ThemeToggle;
use crate::live::LiveIndicator;

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let session = provide_session();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header" data-testid="site-header">
            <div class="site-header__inner">
                <A href="/" attr:class="brand" attr:aria-label="Releases, home">
                    <Logo />
                    <span class="brand__name">"Releases"</span>
                </A>
                <nav class="site-nav" aria-label="Main">
                    <A href="/" exact=true>"Environments"</A>
                </nav>
                <div class="site-header__end">
                    <div class="live-slot" id="live-slot" data-testid="live-slot">
                        <LiveIndicator />
                    </div>
                    <ThemeToggle />
                    <SessionMenu session=session />
                </div>
            </div>
        </header>
        <main id="main" class="site-main" tabindex="-1">
            {children()}
        </main>
        <footer class="site-footer">
            <span>"Releases " {env!("CARGO_PKG_VERSION")}</span>
            <a href="/api/v1/openapi.json">"API"</a>
        </footer>
    }
}
