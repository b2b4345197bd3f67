//! The browser entry point: hydrates the server-rendered page into the
//! app, which from then on runs in the browser. Everything else lives in
//! `app`.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
