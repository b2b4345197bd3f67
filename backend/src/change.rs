//! One committed change of stored state, as the live streams send it: the
//! notice read back from the change log, rendered once into the bytes every
//! stream writes, and the PostgreSQL channel on which commits are announced.
//! A leaf: it depends on nothing else of this crate.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// The PostgreSQL channel on which every commit is announced.
pub const NOTIFY_CHANNEL: &str = "releases_changes";

/// One committed change of stored state, as the live stream sends it.
/// Published only after the transaction that made it has committed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChangeNotice {
    /// The `changes` row id: monotonically increasing, the SSE `id:`.
    pub id: i64,
    /// `release`, `environment` or `product`.
    pub kind: String,
    pub product: String,
    /// The per-product release id, when a release changed.
    pub release: Option<i64>,
    /// A small JSON summary of the changed release or product.
    pub summary: serde_json::Value,
}

/// A change as every stream sends it, rendered once (not once per client:
/// with a thousand clients that is most of the work).
#[derive(Debug)]
pub struct Rendered {
    pub id: i64,
    pub kind: String,
    pub product: String,
    pub release: Option<i64>,
    /// The `data:` JSON: product, release, and the change's summary.
    pub data: String,
    /// The whole SSE event: `id:`, `event:` and `data:` lines.
    pub sse: Bytes,
    /// The same event with the change of the release's page (`detail`),
    /// for the streams that watch it; rendered once too.
    pub detail: Option<Bytes>,
}

impl Rendered {
    pub fn new(notice: ChangeNotice) -> Arc<Rendered> {
        Arc::new(Rendered::build(notice))
    }

    /// The change as every stream sends it, without a page change.
    pub fn build(notice: ChangeNotice) -> Rendered {
        let mut data = serde_json::json!({
            "product": notice.product,
            "release": notice.release,
        });
        if let (Some(target), serde_json::Value::Object(summary)) =
            (data.as_object_mut(), notice.summary)
        {
            for (key, value) in summary {
                target.entry(key).or_insert(value);
            }
        }
        // Compact JSON holds no line break, so `data` is one line.
        let data = data.to_string();
        let sse = Bytes::from(format!(
            "id: {}\nevent: {}\ndata: {data}\n\n",
            notice.id, notice.kind
        ));
        Rendered {
            id: notice.id,
            kind: notice.kind,
            product: notice.product,
            release: notice.release,
            data,
            sse,
            detail: None,
        }
    }

    /// Adds the event that also carries `detail` (the `detail` field of its
    /// data), for the streams that watch the release.
    pub fn with_detail(mut self, detail: &impl serde::Serialize) -> Rendered {
        let Ok(serde_json::Value::Object(mut data)) =
            serde_json::from_str::<serde_json::Value>(&self.data)
        else {
            return self;
        };
        let Ok(detail) = serde_json::to_value(detail) else {
            return self;
        };
        data.insert("detail".to_owned(), detail);
        let data = serde_json::Value::Object(data);
        self.detail = Some(Bytes::from(format!(
            "id: {}\nevent: {}\ndata: {data}\n\n",
            self.id, self.kind
        )));
        self
    }

    /// The bytes for a stream: with the page change when it watches this
    /// release and there is one.
    pub fn bytes_for(&self, watches: &BTreeSet<(String, i64)>) -> &Bytes {
        match (&self.detail, self.release) {
            (Some(detail), Some(release)) if watches.contains(&(self.product.clone(), release)) => {
                detail
            }
            _ => &self.sse,
        }
    }
}

/// The open streams, and which release pages they watch (`details=`),
/// counted per release: the tailer renders page changes for those only.
#[derive(Debug, Default)]
pub struct Watching {
    counts: Mutex<HashMap<(String, i64), usize>>,
    streams: AtomicUsize,
    /// Open streams per client address.
    clients: Mutex<HashMap<std::net::IpAddr, usize>>,
}

/// The most live streams open at once (SPEC §5 streams hold a connection
/// each): in total, and per client address (0: no limit).
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub total: usize,
    pub per_client: usize,
}

impl Default for StreamLimits {
    fn default() -> StreamLimits {
        StreamLimits {
            total: 10_000,
            per_client: 64,
        }
    }
}

impl Watching {
    /// Counts a new stream of `client`, unless that passes a limit: 503
    /// when the server has `limits.total` open, 429 when the client has
    /// `limits.per_client`. Counted until the guard is dropped.
    pub fn admit(
        self: &Arc<Self>,
        client: Option<std::net::IpAddr>,
        limits: StreamLimits,
    ) -> Result<ClientGuard, domain::AppError> {
        if limits.total > 0 && self.streams() >= limits.total {
            return Err(domain::AppError::unavailable(format!(
                "the server has {} live streams open, its most: try again later",
                limits.total
            )));
        }
        let Some(client) = client else {
            return Ok(ClientGuard {
                watching: self.clone(),
                client: None,
            });
        };
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let open = clients.entry(client).or_default();
        if limits.per_client > 0 && *open >= limits.per_client {
            return Err(domain::AppError::too_many_requests(format!(
                "{} live streams are open from this address, the most it may open \
                 (a browser needs one for all its tabs)",
                limits.per_client
            )));
        }
        *open += 1;
        Ok(ClientGuard {
            watching: self.clone(),
            client: Some(client),
        })
    }

    /// Counts a stream, and `releases` as watched, until the guard is
    /// dropped.
    pub fn watch(self: &Arc<Self>, releases: BTreeSet<(String, i64)>) -> WatchGuard {
        self.streams.fetch_add(1, Ordering::Relaxed);
        {
            let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            for release in &releases {
                *counts.entry(release.clone()).or_default() += 1;
            }
        }
        WatchGuard {
            watching: self.clone(),
            releases,
        }
    }

    /// How many live streams are open.
    pub fn streams(&self) -> usize {
        self.streams.load(Ordering::Relaxed)
    }

    /// The releases watched now.
    pub fn watched(&self) -> HashSet<(String, i64)> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.keys().cloned().collect()
    }
}

/// Keeps a client's stream counted (see `Watching::admit`).
#[derive(Debug)]
pub struct ClientGuard {
    watching: Arc<Watching>,
    client: Option<std::net::IpAddr>,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        let Some(client) = self.client else {
            return;
        };
        let mut clients = self
            .watching
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(open) = clients.get_mut(&client) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                clients.remove(&client);
            }
        }
    }
}

/// Keeps releases watched (see `Watching::watch`).
#[derive(Debug)]
pub struct WatchGuard {
    watching: Arc<Watching>,
    releases: BTreeSet<(String, i64)>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.watching.streams.fetch_sub(1, Ordering::Relaxed);
        let mut counts = self
            .watching
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for release in &self.releases {
            if let Some(count) = counts.get_mut(release) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(release);
                }
            }
        }
    }
}
