//! Times and durations that stay current. The server renders them at the
//! request's time; in the browser the clock ticks every second and they
//! follow it.

use chrono::{DateTime, Datelike, Utc};
use leptos::prelude::*;

/// The time every relative time and running duration reads: the render
/// time on the server; in the browser, now, each second.
#[derive(Debug, Clone, Copy)]
pub struct Clock(pub ReadSignal<DateTime<Utc>>);

/// The current time: the system's on the server, the browser's in it (the
/// standard library has no clock in WebAssembly).
pub fn now() -> DateTime<Utc> {
    #[cfg(feature = "hydrate")]
    {
        DateTime::from_timestamp_millis(web_sys::js_sys::Date::now() as i64).unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Utc::now()
    }
}

/// Puts the clock in context; in the browser, starts it ticking.
pub fn provide_clock() {
    let clock = RwSignal::new(now());
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let ticking = gloo_timers::callback::Interval::new(1_000, move || clock.set(now()));
        // The clock lives as long as the app.
        ticking.forget();
    });
    provide_context(Clock(clock.read_only()));
}

/// The clock in context, or a still one (tests, components rendered alone).
pub fn use_clock() -> Clock {
    use_context::<Clock>().unwrap_or_else(|| Clock(RwSignal::new(now()).read_only()))
}

/// `42s`, `3m 05s`, `1h 02m`, `2d 4h`.
pub fn format_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m {:02}s", s / 60, s % 60),
        3_600..=86_399 => format!("{}h {:02}m", s / 3_600, (s % 3_600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3_600),
    }
}

/// `just now`, `45s ago`, `5 min ago`, `3 h ago`, `2 days ago`, or the date.
pub fn format_relative(time: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - time).num_seconds();
    match s {
        i64::MIN..=9 => "just now".to_owned(),
        10..=59 => format!("{s}s ago"),
        60..=3_599 => format!("{} min ago", s / 60),
        3_600..=86_399 => format!("{} h ago", s / 3_600),
        86_400..=172_799 => "yesterday".to_owned(),
        172_800..=2_591_999 => format!("{} days ago", s / 86_400),
        // Not `format("%Y-%m-%d")`: the browser formats this too, and
        // chrono's format strings would weigh on its download.
        _ => format!("{:04}-{:02}-{:02}", time.year(), time.month(), time.day()),
    }
}

/// The full timestamp shown on hover: `2024-05-01 14:03:12 UTC`.
pub fn format_absolute(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A `<time>` reading "5 min ago", kept current, with the exact time on hover.
#[component]
pub fn RelativeTime(#[prop(into)] time: Signal<DateTime<Utc>>) -> impl IntoView {
    let clock = use_clock();
    view! {
        <time datetime=move || time.get().to_rfc3339() title=move || format_absolute(time.get())>
            {move || format_relative(time.get(), clock.0.get())}
        </time>
    }
}

/// How long something took, or has been taking (ticking while unfinished);
/// an em dash before it starts.
#[component]
pub fn Elapsed(
    #[prop(into)] start: Signal<Option<DateTime<Utc>>>,
    #[prop(into)] end: Signal<Option<DateTime<Utc>>>,
) -> impl IntoView {
    let clock = use_clock();
    let running = move || start.get().is_some() && end.get().is_none();
    let text = move || match (start.get(), end.get()) {
        (None, _) => "—".to_owned(),
        (Some(start), Some(end)) => format_duration((end - start).num_seconds()),
        (Some(start), None) => format_duration((clock.0.get() - start).num_seconds()),
    };
    view! {
        <span class="elapsed" class:elapsed--running=running data-testid="elapsed"
            data-running=move || running().then_some("true")>{text}</span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn durations_read_naturally() {
        let table = [
            (-3, "0s"),
            (0, "0s"),
            (42, "42s"),
            (60, "1m 00s"),
            (185, "3m 05s"),
            (3_720, "1h 02m"),
            (190_800, "2d 5h"),
        ];
        for (seconds, expected) in table {
            assert_eq!(format_duration(seconds), expected, "{seconds}");
        }
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = Utc
            .with_ymd_and_hms(2024, 5, 10, 12, 0, 0)
            .single()
            .expect("valid");
        let ago = |s: i64| format_relative(now - chrono::Duration::seconds(s), now);
        assert_eq!(ago(-30), "just now");
        assert_eq!(ago(3), "just now");
        assert_eq!(ago(45), "45s ago");
        assert_eq!(ago(300), "5 min ago");
        assert_eq!(ago(3 * 3_600), "3 h ago");
        assert_eq!(ago(30 * 3_600), "yesterday");
        assert_eq!(ago(3 * 86_400), "3 days ago");
        assert_eq!(ago(60 * 86_400), "2024-03-11");
    }
}
