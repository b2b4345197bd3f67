//! Reading a response's headers in tests. Shared by `tests/common` and by
//! the tests that run the binary without it (`tests/cli.rs`).

/// Header `name` of `response` as text, empty when absent or not text.
pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
