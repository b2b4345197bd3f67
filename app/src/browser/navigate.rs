//! Moving between pages in place: a click on a link of this site, a GET
//! form, or the back and forward buttons fetch the new page's HTML and
//! morph the document into it, so the islands (and the live connection)
//! keep their state and nothing flashes. Anything else (other sites, new
//! tabs, downloads, the JSON API, POST forms) is left to the browser, as is
//! every failure: then the page simply loads the usual way.

use std::cell::{Cell, RefCell};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Element, Event, HtmlFormElement, MouseEvent, Url};

use super::{document, morph, window};

/// What a visit does to the session history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// A new entry (links, forms).
    Push,
    /// Replaces the current entry.
    Replace,
    /// Leaves it alone (back/forward, which already moved; refreshes).
    Keep,
}

/// Where the page is scrolled after a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    /// To `#id` when the URL has one, else to the top: a new view.
    Top,
    /// Where it is: the same view changed in place (`data-noscroll` on a
    /// link or form, a selection in the graph, back and forward).
    Keep,
}

/// Dispatched on `window` after every page change, for the islands that
/// depend on the page (the live client follows what the page shows).
pub const NAVIGATED_EVENT: &str = "releases:navigated";

thread_local! {
    /// Counts visits and refreshes, so a slower, older response never
    /// replaces a newer page.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    /// Whether a visit (not a refresh) is under way.
    static VISITING: Cell<bool> = const { Cell::new(false) };
    /// Whether a refresh was asked for during a visit.
    static REFRESH_AFTER_VISIT: Cell<bool> = const { Cell::new(false) };
    /// Path and query of the page on screen: a history move that changes
    /// only the fragment needs no visit.
    static SHOWN: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Path and query of the current URL.
fn page_of_location() -> String {
    let location = window().location();
    format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    )
}

/// Listens for clicks, GET form submissions and history moves, and lets
/// server functions that redirect (sign-in, restart) navigate in place.
pub fn install() {
    let on_click = Closure::<dyn Fn(MouseEvent)>::new(on_click);
    let on_submit = Closure::<dyn Fn(Event)>::new(on_submit);
    let on_popstate = Closure::<dyn Fn(Event)>::new(|_| {
        if SHOWN.with(|shown| *shown.borrow() != page_of_location()) {
            leptos::task::spawn_local(visit(current_url(), History::Keep, Scroll::Keep));
        }
    });
    SHOWN.with(|shown| *shown.borrow_mut() = page_of_location());
    let window = window();
    let _ = window.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
    let _ = window.add_event_listener_with_callback("submit", on_submit.as_ref().unchecked_ref());
    let _ =
        window.add_event_listener_with_callback("popstate", on_popstate.as_ref().unchecked_ref());
    // They live as long as the page.
    on_click.forget();
    on_submit.forget();
    on_popstate.forget();
    let _ = leptos::server_fn::redirect::set_redirect_hook(|location: &str| {
        leptos::task::spawn_local(visit(location.to_owned(), History::Push, Scroll::Top));
    });
}

/// The page's URL as a string.
pub fn current_url() -> String {
    window().location().href().unwrap_or_default()
}

fn next_generation() -> u64 {
    GENERATION.with(|g| {
        g.set(g.get() + 1);
        g.get()
    })
}

/// Shows the page at `url` in place. Falls back to loading it the usual
/// way when it cannot be fetched or is not an HTML page.
pub async fn visit(url: String, history: History, scroll: Scroll) {
    let generation = next_generation();
    VISITING.with(|v| v.set(true));
    let shown = show(&url, history, generation, scroll).await;
    if GENERATION.with(Cell::get) != generation {
        return;
    }
    VISITING.with(|v| v.set(false));
    if !shown {
        let _ = window().location().assign(&url);
    } else if REFRESH_AFTER_VISIT.with(|r| r.replace(false)) {
        refresh().await;
    }
}

/// Fetches the current page again and morphs it in place, keeping the
/// scroll position, focus and every island's state; only on pages that
/// follow live changes (`data-live`). During a visit it waits for the new
/// page, then refreshes that one.
pub async fn refresh() {
    if VISITING.with(Cell::get) {
        REFRESH_AFTER_VISIT.with(|r| r.set(true));
        return;
    }
    if document()
        .query_selector("[data-live]")
        .ok()
        .flatten()
        .is_none()
    {
        return;
    }
    // A failed refresh changes nothing: the next change or reconnection retries.
    let _ = show(
        &current_url(),
        History::Keep,
        next_generation(),
        Scroll::Keep,
    )
    .await;
}

/// Fetches `url` and, unless a newer visit started meanwhile, puts it on
/// screen. `false` when the page could not be shown in place.
async fn show(url: &str, history: History, generation: u64, scroll: Scroll) -> bool {
    let Some((final_url, html)) = fetch_page(url).await else {
        return false;
    };
    if GENERATION.with(Cell::get) != generation {
        return true;
    }
    let Ok(parser) = web_sys::DomParser::new() else {
        return false;
    };
    let Ok(next) = parser.parse_from_string(&html, web_sys::SupportedType::TextHtml) else {
        return false;
    };
    let (Some(body), Some(next_body)) = (document().body(), next.body()) else {
        return false;
    };
    let browser_history = window().history().ok();
    match (history, browser_history) {
        (History::Push, Some(h)) => {
            let _ = h.push_state_with_url(&JsValue::NULL, "", Some(&final_url));
        }
        (History::Replace, Some(h)) => {
            let _ = h.replace_state_with_url(&JsValue::NULL, "", Some(&final_url));
        }
        _ => {}
    }
    document().set_title(&next.title());
    SHOWN.with(|shown| *shown.borrow_mut() = page_of_location());
    morph::children(&body, &next_body);
    if let Ok(event) = Event::new(NAVIGATED_EVENT) {
        let _ = window().dispatch_event(&event);
    }
    if scroll == Scroll::Top {
        scroll_to_target(&final_url);
    }
    true
}

/// Scrolls to the URL's `#id`, or to the top.
fn scroll_to_target(url: &str) {
    let target = Url::new(url).ok().and_then(|url| {
        let hash = url.hash();
        let id = hash.strip_prefix('#').filter(|id| !id.is_empty())?;
        document().get_element_by_id(id)
    });
    match target {
        Some(target) => target.scroll_into_view(),
        None => window().scroll_to_with_x_and_y(0.0, 0.0),
    }
}

/// The final URL (after redirects) and the HTML of `url`; `None` on network
/// errors and for anything but HTML.
async fn fetch_page(url: &str) -> Option<(String, String)> {
    let init = web_sys::RequestInit::new();
    let headers = web_sys::Headers::new().ok()?;
    headers.set("Accept", "text/html").ok()?;
    init.set_headers(&headers);
    let response: web_sys::Response = JsFuture::from(window().fetch_with_str_and_init(url, &init))
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let is_html = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|t| t.starts_with("text/html"));
    if !is_html {
        return None;
    }
    let text = JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()?;
    Some((response.url(), text))
}

/// Whether `url` is a page of this site that can be shown in place.
fn is_page(url: &Url) -> bool {
    let here = window().location();
    let path = url.pathname();
    url.origin() == here.origin().unwrap_or_default()
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
}

/// `data-noscroll` on a link or form: it changes the view in place (an
/// error panel, a filter, a node of the graph).
fn scroll_for(element: &Element) -> Scroll {
    if element.has_attribute("data-noscroll") {
        Scroll::Keep
    } else {
        Scroll::Top
    }
}

fn on_click(event: MouseEvent) {
    if event.default_prevented()
        || event.button() != 0
        || event.meta_key()
        || event.ctrl_key()
        || event.shift_key()
        || event.alt_key()
    {
        return;
    }
    let Some(link) = event
        .target()
        .and_then(|t| t.dyn_into::<Element>().ok())
        .and_then(|e| e.closest("a[href]").ok().flatten())
    else {
        return;
    };
    if link.has_attribute("download")
        || link.get_attribute("target").is_some_and(|t| t != "_self")
        || link
            .get_attribute("rel")
            .is_some_and(|r| r.split_whitespace().any(|r| r == "external"))
    {
        return;
    }
    // SVG links have no `href` property worth reading: resolve the attribute.
    let Some(href) = link.get_attribute("href") else {
        return;
    };
    let Ok(url) = Url::new_with_base(&href, &current_url()) else {
        return;
    };
    if !is_page(&url) {
        return;
    }
    // Only the fragment changes: the browser scrolls by itself.
    let here = window().location();
    if url.hash() != ""
        && url.pathname() == here.pathname().unwrap_or_default()
        && url.search() == here.search().unwrap_or_default()
    {
        return;
    }
    event.prevent_default();
    leptos::task::spawn_local(visit(url.href(), History::Push, scroll_for(&link)));
}

fn on_submit(event: Event) {
    if event.default_prevented() {
        return;
    }
    let Some(form) = event
        .target()
        .and_then(|t| t.dyn_into::<HtmlFormElement>().ok())
    else {
        return;
    };
    if !form.method().eq_ignore_ascii_case("get") {
        return;
    }
    let Ok(url) = Url::new_with_base(&form.action(), &current_url()) else {
        return;
    };
    if !is_page(&url) {
        return;
    }
    let Ok(data) = web_sys::FormData::new_with_form(&form) else {
        return;
    };
    // As the browser would encode it (`?status=failed&q=a+b`).
    let Ok(params) = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data) else {
        return;
    };
    url.set_search(&String::from(params.to_string()));
    url.set_hash("");
    event.prevent_default();
    leptos::task::spawn_local(visit(url.href(), History::Push, scroll_for(&form)));
}
