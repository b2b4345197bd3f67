//! Keeps the server-rendered times current: every second, each relative
//! time (`<time data-relative>`) and each running duration
//! (`[data-running-since]`) is rewritten from the same formatting the
//! server used, so "5 min ago" and "1m 05s" tick in place.

use chrono::{DateTime, Utc};
use wasm_bindgen::JsCast;
use web_sys::js_sys;

use super::document;
use crate::components::time::{format_duration, format_relative};

pub fn start() {
    gloo_timers::callback::Interval::new(1_000, tick).forget();
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

/// Parses an RFC 3339 time the way the browser does.
fn parse(value: &str) -> Option<DateTime<Utc>> {
    let millis = js_sys::Date::parse(value);
    (!millis.is_nan()).then(|| DateTime::from_timestamp_millis(millis as i64))?
}

fn tick() {
    let now = now();
    update("time[data-relative]", "datetime", |time| {
        format_relative(time, now)
    });
    update("[data-running-since]", "data-running-since", |since| {
        format_duration((now - since).num_seconds())
    });
}

/// Rewrites the text of every element matching `selector` from the time in
/// its `attribute`, where it changed.
fn update(selector: &str, attribute: &str, text: impl Fn(DateTime<Utc>) -> String) {
    let Ok(list) = document().query_selector_all(selector) else {
        return;
    };
    for index in 0..list.length() {
        let Some(element) = list
            .item(index)
            .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
        else {
            continue;
        };
        let Some(time) = element.get_attribute(attribute).and_then(|v| parse(&v)) else {
            continue;
        };
        let text = text(time);
        if element.text_content().as_deref() != Some(text.as_str()) {
            element.set_text_content(Some(&text));
        }
    }
}
