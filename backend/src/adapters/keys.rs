//! Mapping keys (SPEC §4.5): `product`, `release`, `environment`, `phase`,
//! `application`, `workflow` and `version` come from the adapter URL's
//! query string, then from labels or annotations `releases/<key>` on the
//! posted Kubernetes object, then from the adapter's defaults.

use std::collections::HashMap;

use serde_json::Value;

use domain::AppError;

/// The mapping keys an adapter may read.
pub const KEYS: [&str; 7] = [
    "product",
    "release",
    "environment",
    "phase",
    "application",
    "workflow",
    "version",
];

/// The mapping keys of one payload.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    query: HashMap<String, String>,
    object: HashMap<String, String>,
}

impl Keys {
    /// The keys of a raw query string (`product=shop&environment=prod`).
    pub fn from_query_string(query: Option<&str>) -> Keys {
        let pairs: HashMap<String, String> =
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        Keys::from_query(&pairs)
    }

    /// The keys of the adapter URL's query string (others are ignored; an
    /// empty value counts as absent).
    pub fn from_query(query: &HashMap<String, String>) -> Keys {
        let query = KEYS
            .iter()
            .filter_map(|key| {
                let value = query.get(*key)?.trim();
                (!value.is_empty()).then(|| ((*key).to_owned(), value.to_owned()))
            })
            .collect();
        Keys {
            query,
            object: HashMap::new(),
        }
    }

    /// These keys, with the `releases/<key>` labels and annotations of the
    /// Kubernetes object `object` (labels first) under the query's.
    pub fn with_object(&self, object: &Value) -> Keys {
        self.with_metadata(|map, key| {
            object
                .get("metadata")
                .and_then(|m| m.get(map))
                .and_then(|entries| entries.get(key))
                .and_then(Value::as_str)
        })
    }

    /// These keys, with the `releases/<key>` labels and annotations that
    /// `lookup(map, key)` finds (`map` is `labels`, then `annotations`;
    /// `key` is `releases/<key>`) under the query's.
    pub fn with_metadata<'v>(&self, lookup: impl Fn(&str, &str) -> Option<&'v str>) -> Keys {
        let mut found = HashMap::new();
        for map in ["labels", "annotations"] {
            for key in KEYS {
                if let Some(value) = lookup(map, &format!("releases/{key}"))
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                {
                    found
                        .entry(key.to_owned())
                        .or_insert_with(|| value.to_owned());
                }
            }
        }
        Keys {
            query: self.query.clone(),
            object: found,
        }
    }

    /// The value of `key`, if the query or the object gives it.
    pub fn get(&self, key: &str) -> Option<String> {
        self.query
            .get(key)
            .or_else(|| self.object.get(key))
            .cloned()
    }

    /// The value of `key`, else `default`, else 422 naming the key.
    pub fn require(&self, key: &str, default: Option<&str>) -> Result<String, AppError> {
        self.get(key)
            .or_else(|| default.map(str::to_owned))
            .ok_or_else(|| {
                AppError::unprocessable(
                    key,
                    format!(
                        "this payload has no `{key}`: give it in the adapter URL \
                         (?{key}=…) or, on a Kubernetes object, as the label or \
                         annotation releases/{key}"
                    ),
                )
            })
    }
}
