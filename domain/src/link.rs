//! Which URLs become links (SPEC §4.2.1): only absolute `http` and `https`
//! ones. Anything else an engine sends — `javascript:`, `data:`, relative —
//! would run on this site when clicked, so ingest refuses it and the pages
//! never render one as a link.

/// Whether `url` is an absolute `http://` or `https://` URL with a host,
/// and nothing a browser would read otherwise: no whitespace, no control
/// characters, no backslashes.
pub fn is_web_url(url: &str) -> bool {
    // The scheme's characters are ASCII when they match, so the byte
    // offsets below are character boundaries.
    let lower = url.chars().take(8).collect::<String>().to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !host.is_empty()
        && !host.starts_with('@')
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
}

/// `url` when it may be a link (see `is_web_url`).
pub fn web_url(url: Option<&str>) -> Option<&str> {
    url.filter(|url| is_web_url(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_web_urls_are_links() {
        for good in [
            "https://git.example.com/commit/abc",
            "http://argo.local:2746/workflows/ns/wf?tab=logs#x",
            "HTTPS://EXAMPLE.COM",
            "http://é.example/ü",
        ] {
            assert!(is_web_url(good), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "/relative/path",
            "//evil.example/x",
            "https://",
            "https:///path",
            "https://@evil.example",
            "http://exa mple.com",
            "https://example.com/\\evil",
            "https://example.com/\u{0}x",
            "ftp://example.com",
            "",
        ] {
            assert!(!is_web_url(bad), "{bad:?}");
        }
    }
}
