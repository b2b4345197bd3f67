//! A small server-sent events reader over a reqwest response, enough for
//! the live stream: events (`id`, `event`, `data`) and comment lines.
//! Shared by `tests/stream.rs` and `benches/stream.rs`.

#![allow(dead_code)]

use std::collections::VecDeque;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// The `id:` field of this event, if it had one.
    pub id: Option<String>,
    /// The `event:` field, `message` when absent.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

impl Event {
    /// The id as a number; panics when it has none (every stream event has one).
    pub fn id(&self) -> i64 {
        self.id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("event without a numeric id: {self:?}"))
    }

    /// The data as JSON; panics when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("data is not JSON ({e}): {:?}", self.data))
    }
}

/// What the reader yields: an event or a comment line (`:` and the rest).
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Event(Event),
    Comment(String),
}

/// Incremental parser: feed bytes, take items. Works a line at a time
/// (`memchr` finds the ends), so that a thousand emulated clients cost
/// their machine little beside the server they measure.
#[derive(Default)]
pub struct Parser {
    /// The start of a line whose end has not arrived yet.
    buffer: Vec<u8>,
    /// After a `\r`, a following `\n` belongs to the same line end.
    after_cr: bool,
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
    items: VecDeque<Item>,
}

impl Parser {
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            let (line, tail) = rest.split_at(end);
            rest = &tail[1..];
            if self.buffer.is_empty() {
                self.line(line);
            } else {
                let mut whole = std::mem::take(&mut self.buffer);
                whole.extend_from_slice(line);
                self.line(&whole);
                whole.clear();
                self.buffer = whole;
            }
            if tail[0] == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.buffer.extend_from_slice(rest);
    }

    pub fn next(&mut self) -> Option<Item> {
        self.items.pop_front()
    }

    fn line(&mut self, line: &[u8]) {
        let line = std::str::from_utf8(line).expect("UTF-8 stream");
        if line.is_empty() {
            // Dispatch; a block without data dispatches nothing (the spec).
            let event = self.event.take();
            let id = self.id.take();
            if let Some(data) = self.data.take() {
                self.items.push_back(Item::Event(Event {
                    id,
                    event: event.unwrap_or_else(|| "message".into()),
                    data,
                }));
            }
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            self.items.push_back(Item::Comment(comment.to_string()));
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "id" => self.id = Some(value.to_string()),
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
    }
}

/// Reads items from an open `text/event-stream` response.
pub struct Reader {
    response: reqwest::Response,
    parser: Parser,
    ended: bool,
}

impl Reader {
    pub fn new(response: reqwest::Response) -> Reader {
        Reader {
            response,
            parser: Parser::default(),
            ended: false,
        }
    }

    /// The next event or comment; `None` when the stream ended (cleanly or
    /// not).
    pub async fn next_item(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.parser.next() {
                return Some(item);
            }
            if self.ended {
                return None;
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.parser.feed(&bytes),
                Ok(None) | Err(_) => self.ended = true,
            }
        }
    }

    /// The next event, skipping comments; `None` when the stream ended.
    pub async fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.next_item().await? {
                Item::Event(event) => return Some(event),
                Item::Comment(_) => continue,
            }
        }
    }
}
