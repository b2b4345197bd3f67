//! Reading an engine's own JSON objects into typed views without building a
//! `serde_json::Value` of them: strings are borrowed from the request body
//! where JSON allows it, and every field an adapter does not read is skipped
//! unparsed. The views are as forgiving as reading a `Value` would be — a
//! field of an unexpected type reads as absent (`Text`) or says what it was
//! (`Shape`) — so an adapter decides what is an error and names the field.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use domain::AppError;

/// A JSON string, borrowed when it has no escapes; any other value (or
/// none) reads as `None`.
#[derive(Debug, Default, Clone)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl Text<'_> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_unit<E>(self) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_none<E>(self) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// A value expected to be a JSON object: the object read as `T`, absent
/// (missing or `null`), or another kind of value, named as `kind_of` names
/// it.
#[derive(Debug, Default)]
pub enum Shape<T> {
    #[default]
    Absent,
    Object(T),
    Other(&'static str),
}

impl<T: Default> Shape<T> {
    /// The object, or `T`'s default when there is none.
    pub fn or_default(self) -> T {
        match self {
            Shape::Object(value) => value,
            Shape::Absent | Shape::Other(_) => T::default(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shape<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ShapeVisitor<T> {
            type Value = Shape<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Shape::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Shape::Other("an array"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape<T>, E> {
                Ok(Shape::Other("a string"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape<T>, E> {
                Ok(Shape::Other("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape<T>, E> {
                Ok(Shape::Other("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape<T>, E> {
                Ok(Shape::Other("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape<T>, E> {
                Ok(Shape::Other("a number"))
            }
            fn visit_unit<E>(self) -> Result<Shape<T>, E> {
                Ok(Shape::Absent)
            }
            fn visit_none<E>(self) -> Result<Shape<T>, E> {
                Ok(Shape::Absent)
            }
        }
        deserializer.deserialize_any(ShapeVisitor(PhantomData))
    }
}

/// A JSON object's members in the order given, each value read as `V`.
#[derive(Debug)]
pub struct Entries<'a, V>(pub Vec<(Cow<'a, str>, V)>);

impl<V> Default for Entries<'_, V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<V> Entries<'_, V> {
    /// The value of the first member named `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Entries<'a, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<'de, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    let value = map.next_value::<V>()?;
                    entries.push((key.0.unwrap_or_default(), value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// A value expected to be a JSON array: its elements as raw JSON, or
/// `None` for any other value.
#[derive(Debug, Default)]
pub struct RawList<'a>(pub Option<Vec<&'a RawValue>>);

impl<'de: 'a, 'a> Deserialize<'de> for RawList<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = RawList<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawList<'de>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    items.push(item);
                }
                Ok(RawList(Some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawList<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawList(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<RawList<'de>, E> {
                Ok(RawList(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RawList<'de>, E> {
                Ok(RawList(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawList<'de>, E> {
                Ok(RawList(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawList<'de>, E> {
                Ok(RawList(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawList<'de>, E> {
                Ok(RawList(None))
            }
            fn visit_unit<E>(self) -> Result<RawList<'de>, E> {
                Ok(RawList(None))
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

/// The kind of a raw JSON value, as `kind_of` names a `Value`'s.
pub fn raw_kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A request body as raw JSON, or 400 saying why it is not JSON.
pub fn body(bytes: &[u8]) -> Result<&RawValue, AppError> {
    crate::ingest::json(bytes)
}

/// `raw` (valid JSON, found at `path`) read as `T`, or 400 blaming `path`
/// (a member named twice, say).
pub fn read<'a, T: Deserialize<'a>>(raw: &'a RawValue, path: &str) -> Result<T, AppError> {
    serde_json::from_str(raw.get()).map_err(|e| unreadable(path, e))
}

/// A request body read as `T` in one pass, without checking it as a whole
/// first: 400 as `body` words it when it is not JSON, else as `read` does.
pub fn read_body<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            unreadable("", e)
        } else {
            crate::ingest::not_json(e)
        }
    })
}

/// 400: valid JSON at `path` that cannot be read (a member named twice).
fn unreadable(path: &str, error: serde_json::Error) -> AppError {
    AppError::invalid(
        if path.is_empty() { "(body)" } else { path },
        format!("cannot be read: {error}"),
    )
}
