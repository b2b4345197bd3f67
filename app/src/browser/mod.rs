//! What runs in the browser besides the islands: pages stay server-rendered
//! HTML, and this module moves between them without reloading. Links and
//! GET forms of this site fetch the next page's HTML and morph the current
//! document into it (`navigate`, `morph`); the live client refreshes the
//! page the same way when something it shows changes; relative times and
//! running durations tick every second (`clock`).
//!
//! Only the interactive widgets are Leptos islands (theme toggle, live
//! indicator, graph controls, copy button, restart and sign-in forms), so
//! the WebAssembly holds them and this module, not the pages.

mod clock;
mod morph;
pub mod navigate;

use wasm_bindgen::JsCast;
use web_sys::js_sys;

pub use navigate::{refresh, visit, History, Scroll};

/// Starts everything once the islands are hydrated: navigation, the clock,
/// and the `data-hydrated` marker on `<body>` that tests and tools wait for.
pub fn start() {
    navigate::install();
    clock::start();
    // The islands are hydrated right after this returns (in the same task),
    // so mark the page interactive from the next one.
    gloo_timers::callback::Timeout::new(0, || {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    })
    .forget();
}

pub(crate) fn window() -> web_sys::Window {
    leptos::prelude::window()
}

pub(crate) fn document() -> web_sys::Document {
    leptos::prelude::document()
}

/// Hydrates `node` if it is an island, and every island inside it: after
/// new server HTML was put into the page.
pub(crate) fn hydrate_islands_in(node: &web_sys::Node) {
    let Some(element) = node.dyn_ref::<web_sys::Element>() else {
        return;
    };
    let mut islands = Vec::new();
    if element.tag_name().eq_ignore_ascii_case("leptos-island") {
        islands.push(element.clone());
    }
    if let Ok(list) = element.query_selector_all("leptos-island") {
        for index in 0..list.length() {
            if let Some(island) = list.item(index).and_then(|n| n.dyn_into().ok()) {
                islands.push(island);
            }
        }
    }
    // Set by Leptos' island loader once the wasm is up.
    let Ok(hydrate) = js_sys::Reflect::get(&window(), &"__hydrateIsland".into()) else {
        return;
    };
    let Some(hydrate) = hydrate.dyn_ref::<js_sys::Function>() else {
        return;
    };
    for island in islands {
        if let Some(component) = island.get_attribute("data-component") {
            let _ = hydrate.call2(&wasm_bindgen::JsValue::NULL, &island, &component.into());
        }
    }
}
