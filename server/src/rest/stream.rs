//! `GET /api/v1/stream`: the live changes (SPEC §5) as server-sent events,
//! written from the frames `backend::live` renders once for every stream.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use backend::live::{self, Filter};
use backend::Core;
use domain::AppError;

use super::auth::Reader;

/// `GET /api/v1/stream?product=&release=` (role `viewer`).
#[utoipa::path(get, path = "/api/v1/stream", tag = "live",
    security((), ("bearer" = [])),
    params(
        ("product" = Option<String>, Query, description = "Only changes of this product"),
        ("release" = Option<i64>, Query, description = "Only changes of this release id"),
        ("details" = Option<String>, Query, description = "Release pages to follow, `product/id` separated by commas (at most 16): their `release` events also carry `detail`, the change of the page (the whole page, or a patch from the state last sent)"),
        ("last_event_id" = Option<i64>, Query, description = "As the `Last-Event-ID` header, for a new EventSource (the header wins)"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id: every change since is sent first, or a `reset` event when they are no longer kept")),
    responses(
        (status = 200, description = "`text/event-stream`: one event per committed change, `id:` the change id, `event:` `release`, `environment` (a promotion or a health change; `data` also names the `environment`) or `product` (or `reset`), `data:` a JSON summary naming `product` and `release`; a comment heartbeat every 15 s", content_type = "text/event-stream"),
        (status = 400, description = "A `release` or `Last-Event-ID` that is not a number, or bad `details`"),
        (status = 401, description = "No token and anonymous read is off, or an unknown token"),
        (status = 403, description = "A token without read access"),
        (status = 429, description = "This client address has the most live streams it may open (`--max-streams-per-client`)"),
        (status = 503, description = "The server has the most live streams it may open (`--max-streams`)")))]
pub async fn stream(
    State(core): State<Core>,
    _reader: Reader,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
) -> Result<Response, AppError> {
    let filter = Filter::parse(&params)?;
    // The header, which a reconnecting EventSource sends, wins over the
    // parameter, which a new one can only give in its URL.
    let header = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("?"))
        .filter(|v| !v.trim().is_empty())
        .map(|v| ("Last-Event-ID", v));
    let param = params
        .get("last_event_id")
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .map(|v| ("last_event_id", v));
    let last_event_id = match header.or(param) {
        None => None,
        Some((field, value)) => Some(
            value
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|id| *id >= 0)
                .ok_or_else(|| {
                    AppError::invalid(
                        field,
                        format!("expected an event id (a number, 0 or more), got {value:?}"),
                    )
                })?,
        ),
    };
    let client = peer.map(|axum::Extension(axum::extract::ConnectInfo(address))| address.ip());
    let frames = live::subscribe(core, filter, last_event_id, client).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // Proxies that buffer responses (nginx) would hold events back.
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(frames),
    )
        .into_response())
}
