//! Query strings for links that carry page state (`?env=`, `?error=`,
//! `?status=&q=&cursor=`), so every view is a link and works without
//! JavaScript.

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `path?k=v&…` from the pairs whose value is set and non-empty, in order.
pub fn with_query(path: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| {
            value
                .filter(|v| !v.is_empty())
                .map(|v| format!("{key}={}", encode(v)))
        })
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// The release page's path.
pub fn release_path(product: &str, id: i64) -> String {
    format!("/products/{}/releases/{id}", encode(product))
}

/// The releases table's path.
pub fn releases_path(product: &str) -> String {
    format!("/products/{}/releases", encode(product))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(encode("staging-eu_1.x~"), "staging-eu_1.x~");
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn builds_query_from_set_values_only() {
        assert_eq!(with_query("/p", &[("env", None), ("q", Some(""))]), "/p");
        assert_eq!(
            with_query("/p", &[("env", Some("qa eu")), ("error", Some("w-1"))]),
            "/p?env=qa%20eu&error=w-1"
        );
    }
}
