//! The one status vocabulary of the UI: an icon, a word and a colour for
//! every run, environment, release and health status. Colour is never the
//! only signal: the icon's shape and the word carry the same meaning.

use leptos::prelude::*;

use domain::{EnvStatus, EnvSummary, ErrorKind, FailReason, Health, ReleaseStatus, RunStatus};

/// Anything shown with the status vocabulary: its canonical lowercase name
/// (also the CSS modifier and `data-status` value) and its word.
pub trait StatusWord: Copy {
    fn key(self) -> &'static str;

    /// The word shown beside the icon.
    fn word(self) -> &'static str {
        word(self.key())
    }
}

impl StatusWord for RunStatus {
    fn key(self) -> &'static str {
        self.as_str()
    }
}

impl StatusWord for EnvStatus {
    fn key(self) -> &'static str {
        self.as_str()
    }
}

impl StatusWord for ReleaseStatus {
    fn key(self) -> &'static str {
        self.as_str()
    }
}

impl StatusWord for Health {
    fn key(self) -> &'static str {
        match self {
            // Health shares the icons of the run vocabulary where it means the same.
            Health::Healthy => "healthy",
            Health::Progressing => "progressing",
            Health::Degraded => "degraded",
            Health::Suspended => "suspended",
            Health::Missing => "missing",
            Health::Unknown => "unknown",
        }
    }
}

/// The capitalised word for a status key.
pub fn word(key: &str) -> &'static str {
    match key {
        "success" => "Success",
        "successful" => "Successful",
        "running" => "Running",
        "progressing" => "Progressing",
        "pending" => "Pending",
        "failed" => "Failed",
        "error" => "Error",
        "terminated" => "Terminated",
        "healthy" => "Healthy",
        "degraded" => "Degraded",
        "suspended" => "Suspended",
        "missing" => "Missing",
        _ => "Unknown",
    }
}

/// Why an environment failed, as a sentence fragment.
pub fn reason_text(reason: FailReason) -> &'static str {
    match reason {
        FailReason::Failed => "a workflow failed",
        FailReason::Error => "a workflow has a configuration error",
        FailReason::Terminated => "a workflow was terminated",
        FailReason::Git => "a git operation failed",
    }
}

/// The shapes of a status icon in a 16×16 box, stroked with `currentColor`,
/// as SVG markup. The icons are set as the `<svg>`'s inner HTML: one element
/// to create or hydrate instead of its shapes (a Releases table holds
/// hundreds of icons), and the markup is ours, never an engine's text.
/// The Releases table draws the environment statuses' icons from the
/// stylesheet instead (`.env-dots` in `style/main.css`, as masks): a test
/// keeps their paths the same as these.
pub fn glyph(key: &str) -> &'static str {
    match key {
        "success" | "successful" | "healthy" => concat!(
            r#"<circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6"/>"#,
            r#"<path d="M5 8.3l2 2 4-4.3" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/>"#,
        ),
        "failed" => concat!(
            r#"<circle cx="8" cy="8" r="6.5" fill="currentColor"/>"#,
            r##"<path d="M5.6 5.6l4.8 4.8M10.4 5.6l-4.8 4.8" class="ko" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/>"##,
        ),
        "error" | "degraded" => concat!(
            r#"<path d="M8 1.6L15 14H1z" fill="currentColor" stroke="currentColor" stroke-width="1" stroke-linejoin="round"/>"#,
            r##"<path d="M8 6v3.6" class="ko" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/>"##,
            r##"<circle cx="8" cy="11.8" r="1" class="ko-fill" fill="#fff"/>"##,
        ),
        "running" | "progressing" => concat!(
            r#"<circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6" opacity="0.3"/>"#,
            r#"<path class="spin" d="M8 1.5a6.5 6.5 0 0 1 6.5 6.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>"#,
            r#"<circle cx="8" cy="8" r="2" fill="currentColor"/>"#,
        ),
        "pending" => concat!(
            r#"<circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6" stroke-dasharray="2.6 1.9"/>"#,
            r#"<path d="M8 4.8V8l2.2 1.4" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round"/>"#,
        ),
        "terminated" => concat!(
            r#"<circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6"/>"#,
            r#"<rect x="5.4" y="5.4" width="5.2" height="5.2" rx="0.8" fill="currentColor"/>"#,
        ),
        "suspended" => concat!(
            r#"<circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6"/>"#,
            r#"<path d="M6.4 5.4v5.2M9.6 5.4v5.2" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>"#,
        ),
        _ => concat!(
            r#"<circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6"/>"#,
            r#"<path d="M6.1 6.3a1.9 1.9 0 1 1 2.7 1.7c-.5.3-.8.6-.8 1.2v.3" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round"/>"#,
            r#"<circle cx="8" cy="11.7" r="0.9" fill="currentColor"/>"#,
        ),
    }
}

/// The items of a Releases-table row's environment list: per environment
/// its status icon, with its name and status as tooltip and as hidden text.
/// A page holds fifty rows of up to a dozen environments, so each item is
/// one element: the stylesheet draws its icon (the shapes of [`glyph`], as
/// a mask over the status colour), and the row sets the list as its inner
/// HTML — one node to hydrate and to update instead of a dozen components.
/// The names come from engines: every one is escaped, in attributes and text.
pub fn env_dots_markup(environments: &[EnvSummary]) -> String {
    use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
    use std::fmt::Write;
    let mut out = String::with_capacity(environments.len() * 120);
    for env in environments {
        let status = env.status.as_str();
        let label = format!("{}: {status}", env.name);
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            r#"<li title="{}" data-env="{}" data-status="{status}"><span class="visually-hidden">{}</span></li>"#,
            attr(&label),
            attr(&env.name),
            text(&label),
        );
    }
    out
}

/// A decorative status icon (the word next to it is what assistive
/// technology reads).
#[component]
pub fn StatusIcon(#[prop(into)] status: String, #[prop(default = 16)] size: u32) -> impl IntoView {
    view! {
        <svg
            class=format!("icon status-icon status--{status}")
            viewBox="0 0 16 16"
            width=size
            height=size
            aria-hidden="true"
            inner_html=glyph(&status)
        ></svg>
    }
}

/// Icon and word of a status, coloured by it. `data-status` carries the
/// canonical value for tests and styles.
#[component]
pub fn StatusBadge<S: StatusWord + Send + Sync + 'static>(
    status: S,
    /// Replaces the word (the icon and colour stay).
    #[prop(optional, into)]
    label: Option<String>,
    #[prop(optional)] pill: bool,
) -> impl IntoView {
    let key = status.key();
    let text = label.unwrap_or_else(|| status.word().to_owned());
    let class = if pill {
        format!("status status--{key} status--pill")
    } else {
        format!("status status--{key}")
    };
    view! {
        <span class=class data-status=key data-testid="status">
            <StatusIcon status=key />
            <span class="status__word">{text}</span>
        </span>
    }
}

/// The icon of an error's kind: a workflow, an application, a git branch.
#[component]
pub fn ErrorKindIcon(kind: ErrorKind) -> impl IntoView {
    let shapes = match kind {
        ErrorKind::Workflow => concat!(
            r#"<circle cx="3.5" cy="8" r="2" fill="none" stroke="currentColor" stroke-width="1.5"/>"#,
            r#"<circle cx="12.5" cy="3.5" r="2" fill="none" stroke="currentColor" stroke-width="1.5"/>"#,
            r#"<circle cx="12.5" cy="12.5" r="2" fill="none" stroke="currentColor" stroke-width="1.5"/>"#,
            r#"<path d="M5.5 8C8 8 8 3.5 10.5 3.5M5.5 8C8 8 8 12.5 10.5 12.5" fill="none" stroke="currentColor" stroke-width="1.5"/>"#,
        ),
        ErrorKind::Application => concat!(
            r#"<rect x="2" y="3" width="12" height="10" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.5"/>"#,
            r#"<path d="M2 6h12" stroke="currentColor" stroke-width="1.5"/>"#,
        ),
        ErrorKind::Git => concat!(
            r#"<circle cx="4.5" cy="3.5" r="1.8" fill="none" stroke="currentColor" stroke-width="1.5"/>"#,
            r#"<circle cx="4.5" cy="12.5" r="1.8" fill="none" stroke="currentColor" stroke-width="1.5"/>"#,
            r#"<circle cx="11.5" cy="5.5" r="1.8" fill="none" stroke="currentColor" stroke-width="1.5"/>"#,
            r#"<path d="M4.5 5.3v5.4M11.5 7.3c0 2.5-7 1.5-7 3.4" fill="none" stroke="currentColor" stroke-width="1.5"/>"#,
        ),
    };
    view! {
        <svg class="icon kind-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true"
            inner_html=shapes></svg>
    }
}

/// The name of an error kind, as the error list shows it.
pub fn kind_word(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Workflow => "Workflow error",
        ErrorKind::Application => "Application error",
        ErrorKind::Git => "Git error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_word() {
        for status in RunStatus::ALL {
            assert_ne!(status.word(), "Unknown", "{status}");
        }
        for status in EnvStatus::ALL {
            assert_ne!(status.word(), "Unknown", "{status}");
        }
        for status in ReleaseStatus::ALL {
            assert_ne!(status.word(), "Unknown", "{status}");
        }
        assert_eq!(Health::Unknown.word(), "Unknown");
        assert_eq!(Health::Degraded.word(), "Degraded");
    }

    #[test]
    fn the_stylesheets_environment_icons_have_the_shapes_of_the_glyphs() {
        let css = include_str!("../../../style/main.css");
        for status in EnvStatus::ALL {
            let glyph = glyph(status.key());
            let paths: Vec<&str> = glyph
                .split(r#" d=""#)
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .collect();
            assert!(!paths.is_empty(), "{status}");
            let rule = format!(r#".env-dots li[data-status="{status}"] {{"#);
            let start = css
                .find(&rule)
                .unwrap_or_else(|| panic!("no rule for {status}"));
            let block = &css[start..];
            let block = &block[..block.find('}').unwrap_or(block.len())];
            for d in paths {
                assert!(block.contains(&format!("d='{d}'")), "{status}: {d}");
            }
        }
    }

    #[test]
    fn environment_names_are_escaped_in_the_row_markup() {
        let hostile = EnvSummary {
            name: r#"<img src=x onerror="alert(1)">&"#.to_owned(),
            status: EnvStatus::Failed,
            version: None,
        };
        let markup = env_dots_markup(&[hostile]);
        assert!(!markup.contains("<img"), "{markup}");
        assert!(
            markup.contains(r#"data-env="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;""#),
            "{markup}"
        );
        assert!(markup.contains(r#"<span class="visually-hidden">&lt;img src=x onerror="alert(1)"&gt;&amp;: failed</span>"#), "{markup}");
        assert!(markup.contains(r#"data-status="failed""#), "{markup}");
    }
}
