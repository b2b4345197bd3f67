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

/// Incremental parser: feed bytes, take items.
#[derive(Default)]
pub struct Parser {
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
        for &byte in bytes {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' => self.line(),
                b'\r' => {
                    self.after_cr = true;
                    self.line();
                }
                _ => self.buffer.push(byte),
            }
        }
    }

    pub fn next(&mut self) -> Option<Item> {
        self.items.pop_front()
    }

    fn line(&mut self) {
        let line = String::from_utf8(std::mem::take(&mut self.buffer)).expect("UTF-8 stream");
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
            None => (line.as_str(), ""),
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
