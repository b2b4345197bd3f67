//! The one status vocabulary of the UI: an icon, a word and a colour for
//! every run, environment, release and health status. Colour is never the
//! only signal: the icon's shape and the word carry the same meaning.

use leptos::prelude::*;

use domain::{EnvStatus, ErrorKind, FailReason, Health, ReleaseStatus, RunStatus};

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

/// The shapes of a status icon in a 16×16 box, stroked with `currentColor`.
pub fn glyph(key: &str) -> AnyView {
    match key {
        "success" | "successful" | "healthy" => view! {
            <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6" />
            <path d="M5 8.3l2 2 4-4.3" fill="none" stroke="currentColor" stroke-width="1.8"
                stroke-linecap="round" stroke-linejoin="round" />
        }
        .into_any(),
        "failed" => view! {
            <circle cx="8" cy="8" r="6.5" fill="currentColor" />
            <path d="M5.6 5.6l4.8 4.8M10.4 5.6l-4.8 4.8" class="ko" stroke="#fff"
                stroke-width="1.8" stroke-linecap="round" />
        }
        .into_any(),
        "error" | "degraded" => view! {
            <path d="M8 1.6L15 14H1z" fill="currentColor" stroke="currentColor" stroke-width="1"
                stroke-linejoin="round" />
            <path d="M8 6v3.6" class="ko" stroke="#fff" stroke-width="1.8" stroke-linecap="round" />
            <circle cx="8" cy="11.8" r="1" class="ko-fill" fill="#fff" />
        }
        .into_any(),
        "running" | "progressing" => view! {
            <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6"
                opacity="0.3" />
            <path class="spin" d="M8 1.5a6.5 6.5 0 0 1 6.5 6.5" fill="none" stroke="currentColor"
                stroke-width="1.8" stroke-linecap="round" />
            <circle cx="8" cy="8" r="2" fill="currentColor" />
        }
        .into_any(),
        "pending" => view! {
            <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6"
                stroke-dasharray="2.6 1.9" />
            <path d="M8 4.8V8l2.2 1.4" fill="none" stroke="currentColor" stroke-width="1.5"
                stroke-linecap="round" />
        }
        .into_any(),
        "terminated" => view! {
            <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6" />
            <rect x="5.4" y="5.4" width="5.2" height="5.2" rx="0.8" fill="currentColor" />
        }
        .into_any(),
        "suspended" => view! {
            <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6" />
            <path d="M6.4 5.4v5.2M9.6 5.4v5.2" stroke="currentColor" stroke-width="1.8"
                stroke-linecap="round" />
        }
        .into_any(),
        _ => view! {
            <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.6" />
            <path d="M6.1 6.3a1.9 1.9 0 1 1 2.7 1.7c-.5.3-.8.6-.8 1.2v.3" fill="none"
                stroke="currentColor" stroke-width="1.5" stroke-linecap="round" />
            <circle cx="8" cy="11.7" r="0.9" fill="currentColor" />
        }
        .into_any(),
    }
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
        >
            {glyph(&status)}
        </svg>
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
        ErrorKind::Workflow => view! {
            <circle cx="3.5" cy="8" r="2" fill="none" stroke="currentColor" stroke-width="1.5" />
            <circle cx="12.5" cy="3.5" r="2" fill="none" stroke="currentColor" stroke-width="1.5" />
            <circle cx="12.5" cy="12.5" r="2" fill="none" stroke="currentColor" stroke-width="1.5" />
            <path d="M5.5 8C8 8 8 3.5 10.5 3.5M5.5 8C8 8 8 12.5 10.5 12.5" fill="none"
                stroke="currentColor" stroke-width="1.5" />
        }
        .into_any(),
        ErrorKind::Application => view! {
            <rect x="2" y="3" width="12" height="10" rx="1.5" fill="none" stroke="currentColor"
                stroke-width="1.5" />
            <path d="M2 6h12" stroke="currentColor" stroke-width="1.5" />
        }
        .into_any(),
        ErrorKind::Git => view! {
            <circle cx="4.5" cy="3.5" r="1.8" fill="none" stroke="currentColor" stroke-width="1.5" />
            <circle cx="4.5" cy="12.5" r="1.8" fill="none" stroke="currentColor" stroke-width="1.5" />
            <circle cx="11.5" cy="5.5" r="1.8" fill="none" stroke="currentColor" stroke-width="1.5" />
            <path d="M4.5 5.3v5.4M11.5 7.3c0 2.5-7 1.5-7 3.4" fill="none" stroke="currentColor"
                stroke-width="1.5" />
        }
        .into_any(),
    };
    view! {
        <svg class="icon kind-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
            {shapes}
        </svg>
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
}
