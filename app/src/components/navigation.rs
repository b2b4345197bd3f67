//! What moving between pages does besides showing the new one (the router
//! moves): after a navigation to another page, the keyboard focus goes to
//! its heading, so a screen reader announces it; back and forward bring
//! back the scroll position the page had. Each page calls `page_shown`
//! once its content is on screen. Nothing of this runs on the server.

use leptos::html::H1;
use leptos::prelude::*;

/// Installs the navigation effects; render it once inside the `Router`.
#[component]
pub fn NavigationEffects() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    browser::install();
}

/// Call from a page's content component, with its heading: after a
/// navigation to this page, focuses the heading; after back or forward,
/// restores the page's scroll position.
pub fn page_shown(heading: NodeRef<H1>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(heading) = heading.get() {
            browser::shown(&heading);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = heading;
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};

    use leptos::prelude::*;
    use leptos_router::hooks::use_location;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    thread_local! {
        /// The path shown last (a new one is a navigation to another page).
        static PATH: RefCell<Option<String>> = const { RefCell::new(None) };
        /// Whether the page on screen came from a navigation (not the
        /// first load).
        static NAVIGATED: Cell<bool> = const { Cell::new(false) };
        /// The page (path and query) whose scroll position back or forward
        /// should bring back.
        static RESTORE: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    fn here() -> String {
        let location = window().location();
        format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        )
    }

    fn storage() -> Option<web_sys::Storage> {
        window().session_storage().ok().flatten()
    }

    fn key(page: &str) -> String {
        format!("releases:scroll:{page}")
    }

    pub fn install() {
        if let Ok(history) = window().history() {
            let _ = history.set_scroll_restoration(web_sys::ScrollRestoration::Manual);
        }
        let location = use_location();
        Effect::watch(
            move || location.pathname.get(),
            |path, _, _| {
                let changed = PATH.with(|p| {
                    let mut p = p.borrow_mut();
                    let changed = p.as_ref().is_some_and(|old| old != path);
                    *p = Some(path.clone());
                    changed
                });
                if changed {
                    NAVIGATED.with(|n| n.set(true));
                }
            },
            true,
        );
        // Remember where each page is scrolled to.
        let on_scroll = Closure::<dyn FnMut()>::new(|| {
            if let (Some(storage), Ok(y)) = (storage(), window().scroll_y()) {
                let _ = storage.set_item(&key(&here()), &format!("{}", y.round() as i64));
            }
        });
        let _ =
            window().add_event_listener_with_callback("scroll", on_scroll.as_ref().unchecked_ref());
        on_scroll.forget();
        let on_popstate = Closure::<dyn FnMut()>::new(|| {
            RESTORE.with(|r| *r.borrow_mut() = Some(here()));
        });
        let _ = window()
            .add_event_listener_with_callback("popstate", on_popstate.as_ref().unchecked_ref());
        on_popstate.forget();
    }

    pub fn shown(heading: &web_sys::HtmlElement) {
        if NAVIGATED.with(|n| n.replace(false)) {
            let options = web_sys::FocusOptions::new();
            options.set_prevent_scroll(true);
            let _ = heading.focus_with_options(&options);
        }
        let page = here();
        let restore = RESTORE.with(|r| {
            let mut r = r.borrow_mut();
            (r.as_deref() == Some(page.as_str())).then(|| r.take())
        });
        if restore.is_some() {
            let y = storage()
                .and_then(|s| s.get_item(&key(&page)).ok().flatten())
                .and_then(|y| y.parse::<f64>().ok());
            if let Some(y) = y {
                window().scroll_to_with_x_and_y(0.0, y);
            }
        }
    }
}
