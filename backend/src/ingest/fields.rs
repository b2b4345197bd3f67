//! Reading a JSON object field by field while tracking the JSON path, so
//! every validation error names exactly what is wrong
//! (`events[3].data.run.status`).
//!
//! The JSON is a tree borrowed from the request body
//! (`serde_json_borrow`): strings without escapes are not copied until a
//! field is taken, and an object is a list of members rather than a map.

use chrono::{DateTime, Utc};
use serde_json_borrow::{ObjectAsVec, Value};

use domain::AppError;

/// Longest accepted identifier (product, release key, environment, …), in
/// characters (SPEC §4.2.1).
pub const MAX_NAME: usize = 200;
/// Longest commit message, in bytes.
pub const MAX_COMMIT_MESSAGE: usize = 64 * 1024;
/// Longest other text (messages, titles, details, authors), in bytes.
pub const MAX_TEXT: usize = 16 * 1024;
/// Longest workflow manifest, in bytes.
pub const MAX_MANIFEST: usize = 256 * 1024;
/// Longest URL, in bytes.
pub const MAX_URL: usize = 2048;

/// A JSON object and the path that leads to it (`""` for the root).
#[derive(Clone)]
pub struct Obj<'a> {
    map: &'a ObjectAsVec<'a>,
    path: String,
}

/// The path of `name` under `path`.
pub fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// `value` as an object, or an error blaming `path`.
pub fn object<'a>(value: &'a Value<'a>, path: String) -> Result<Obj<'a>, AppError> {
    match value {
        Value::Object(map) => Ok(Obj { map, path }),
        other => Err(AppError::invalid(
            blame(&path),
            format!("expected an object, got {}", kind(other)),
        )),
    }
}

/// The root path is blamed as `(body)`, not as an empty string.
fn blame(path: &str) -> String {
    if path.is_empty() {
        "(body)".to_owned()
    } else {
        path.to_owned()
    }
}

/// A short name of a JSON value's type, for messages.
pub fn kind(value: &Value<'_>) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::Str(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `kind` of a `serde_json::Value` (what the adapters build).
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

impl<'a> Obj<'a> {
    /// The path of field `name`.
    pub fn path(&self, name: &str) -> String {
        join(&self.path, name)
    }

    /// The field, `None` when absent or null. Of a member named twice,
    /// the last counts (as `serde_json` reads an object).
    pub fn get(&self, name: &str) -> Option<&'a Value<'a>> {
        self.map
            .as_vec()
            .iter()
            .rev()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
            .filter(|v| !v.is_null())
    }

    fn missing(&self, name: &str) -> AppError {
        AppError::invalid(self.path(name), format!("`{name}` is required"))
    }

    fn wrong(&self, name: &str, expected: &str, got: &Value<'_>) -> AppError {
        AppError::invalid(
            self.path(name),
            format!("`{name}` must be {expected}, got {}", kind(got)),
        )
    }

    /// A string that may be empty, of at most `MAX_TEXT` bytes; required.
    pub fn text(&self, name: &str) -> Result<String, AppError> {
        self.text_of(name, MAX_TEXT)
    }

    /// A string that may be empty; optional (absent or null is `None`).
    pub fn opt_text(&self, name: &str) -> Result<Option<String>, AppError> {
        self.opt_text_of(name, MAX_TEXT)
    }

    /// A required string of at most `max` bytes, without NUL.
    pub fn text_of(&self, name: &str, max: usize) -> Result<String, AppError> {
        self.opt_text_of(name, max)?
            .ok_or_else(|| self.missing(name))
    }

    /// An optional string of at most `max` bytes, without NUL (which no
    /// database stores the same way).
    pub fn opt_text_of(&self, name: &str, max: usize) -> Result<Option<String>, AppError> {
        Ok(self.opt_str(name, max)?.map(str::to_owned))
    }

    /// `opt_text_of`, borrowed from the JSON.
    fn opt_str(&self, name: &str, max: usize) -> Result<Option<&'a str>, AppError> {
        let value = match self.get(name) {
            None => return Ok(None),
            Some(Value::Str(s)) => s,
            Some(other) => return Err(self.wrong(name, "a string", other)),
        };
        if value.contains('\0') {
            return Err(AppError::invalid(
                self.path(name),
                format!("`{name}` contains a NUL character"),
            ));
        }
        if value.len() > max {
            return Err(AppError::invalid(
                self.path(name),
                format!("`{name}` is longer than {max} bytes"),
            ));
        }
        Ok(Some(value.as_ref()))
    }

    /// An optional absolute `http` or `https` URL (anything else — a
    /// `javascript:` or `data:` URL, a relative one — would become a link
    /// that runs on this site).
    pub fn opt_url(&self, name: &str) -> Result<Option<String>, AppError> {
        let Some(value) = self.opt_text_of(name, MAX_URL)? else {
            return Ok(None);
        };
        if domain::is_web_url(&value) {
            Ok(Some(value))
        } else {
            Err(AppError::invalid(
                self.path(name),
                format!("`{name}` must be an absolute http:// or https:// URL"),
            ))
        }
    }

    /// A required identifier: a non-blank string of at most `MAX_NAME` characters.
    pub fn name(&self, name: &str) -> Result<String, AppError> {
        let value = self.text(name)?;
        self.check_name(name, value)
    }

    /// An optional identifier (see `name`).
    pub fn opt_name(&self, name: &str) -> Result<Option<String>, AppError> {
        self.opt_text(name)?
            .map(|value| self.check_name(name, value))
            .transpose()
    }

    fn check_name(&self, name: &str, value: String) -> Result<String, AppError> {
        check_name(&value)
            .map_err(|problem| AppError::invalid(self.path(name), format!("`{name}` {problem}")))?;
        Ok(value)
    }

    /// An optional RFC 3339 timestamp.
    pub fn opt_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, AppError> {
        self.opt_str(name, MAX_TEXT)?
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        AppError::invalid(
                            self.path(name),
                            format!("`{name}` is not an RFC 3339 timestamp: {e}"),
                        )
                    })
            })
            .transpose()
    }

    /// A required RFC 3339 timestamp.
    pub fn time(&self, name: &str) -> Result<DateTime<Utc>, AppError> {
        self.opt_time(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional integer in `min..=max`.
    pub fn opt_int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, AppError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => match value.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(AppError::invalid(
                    self.path(name),
                    format!("`{name}` must be an integer from {min} to {max}"),
                )),
            },
        }
    }

    /// A required nested object.
    pub fn object(&self, name: &str) -> Result<Obj<'a>, AppError> {
        match self.get(name) {
            None => Err(self.missing(name)),
            Some(Value::Object(map)) => Ok(Obj {
                map,
                path: self.path(name),
            }),
            Some(other) => Err(self.wrong(name, "an object", other)),
        }
    }

    /// An optional nested object.
    pub fn opt_object(&self, name: &str) -> Result<Option<Obj<'a>>, AppError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                map,
                path: self.path(name),
            })),
            Some(other) => Err(self.wrong(name, "an object", other)),
        }
    }

    /// An optional array (absent or null is empty).
    pub fn array(&self, name: &str) -> Result<&'a [Value<'a>], AppError> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.wrong(name, "an array", other)),
        }
    }

    /// A parsed value: a string that `parse` accepts, else an error listing
    /// what `accepted` names.
    pub fn parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        accepted: &str,
    ) -> Result<T, AppError> {
        let value = self
            .opt_str(name, MAX_TEXT)?
            .ok_or_else(|| self.missing(name))?;
        parse(value).ok_or_else(|| {
            AppError::invalid(
                self.path(name),
                format!("unknown {name} {value:?}: expected one of {accepted}"),
            )
        })
    }
}

/// Each element of `items` with its path `base[i]`.
pub fn indexed<'v>(
    base: &str,
    items: &'v [Value<'v>],
) -> impl Iterator<Item = (String, &'v Value<'v>)> {
    let base = base.to_owned();
    items
        .iter()
        .enumerate()
        .map(move |(i, item)| (format!("{base}[{i}]"), item))
}

/// What is wrong with `value` as a name (SPEC §4.2.1: 1 to `MAX_NAME`
/// characters, not blank, no control characters), if anything.
fn check_name(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    if value.chars().count() > MAX_NAME {
        return Err(format!("is longer than {MAX_NAME} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("contains a control character".to_owned());
    }
    Ok(())
}

/// `value` as a name (an element of a string array).
pub fn name_item(value: &Value<'_>, path: &str) -> Result<String, AppError> {
    match value {
        Value::Str(s) => match check_name(s) {
            Ok(()) => Ok(s.as_ref().to_owned()),
            Err(problem) => Err(AppError::invalid(path, format!("the name {problem}"))),
        },
        other => Err(AppError::invalid(
            path,
            format!("must be a string, got {}", kind(other)),
        )),
    }
}
