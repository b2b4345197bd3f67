//! Times and durations that stay current. The server renders them at the
//! request's time; in the browser `crate::browser` rewrites them every
//! second with the same formatting (relative times carry `data-relative`,
//! running durations `data-running-since`).

use chrono::{DateTime, Datelike, Utc};
use leptos::prelude::*;

/// The time a page is rendered at, as every relative time and running
/// duration on it reads it.
#[derive(Debug, Clone, Copy)]
pub struct Clock(pub ReadSignal<DateTime<Utc>>);

/// Puts the render time in context.
pub fn provide_clock() {
    provide_context(Clock(RwSignal::new(Utc::now()).read_only()));
}

/// The clock in context, or a still one (tests, components rendered alone).
pub fn use_clock() -> Clock {
    use_context::<Clock>().unwrap_or_else(|| Clock(RwSignal::new(Utc::now()).read_only()))
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
pub fn RelativeTime(time: DateTime<Utc>) -> impl IntoView {
    let clock = use_clock();
    view! {
        <time datetime=time.to_rfc3339() title=format_absolute(time) data-relative="">
            {format_relative(time, clock.0.get_untracked())}
        </time>
    }
}

/// How long something took, or has been taking (ticking while unfinished);
/// an em dash before it starts.
#[component]
pub fn Elapsed(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> impl IntoView {
    let now = use_clock().0.get_untracked();
    let text = match (start, end) {
        (None, _) => "—".to_owned(),
        (Some(start), Some(end)) => format_duration((end - start).num_seconds()),
        (Some(start), None) => format_duration((now - start).num_seconds()),
    };
    let running_since = start.filter(|_| end.is_none()).map(|s| s.to_rfc3339());
    view! {
        <span class="elapsed" class:elapsed--running=running_since.is_some() data-testid="elapsed"
            data-running-since=running_since>{text}</span>
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
