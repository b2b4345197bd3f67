//! One committed change of stored state, as the live streams send it: the
//! notice read back from the change log, rendered once into the bytes every
//! stream writes, and the PostgreSQL channel on which commits are announced.
//! A leaf: it depends on nothing else of this crate.

use std::sync::Arc;

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
}

impl Rendered {
    pub fn new(notice: ChangeNotice) -> Arc<Rendered> {
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
        Arc::new(Rendered {
            id: notice.id,
            kind: notice.kind,
            product: notice.product,
            release: notice.release,
            data,
            sse,
        })
    }
}
