//! Live updates (SPEC §5): `GET /api/v1/stream`, server-sent events.
//!
//! Every committed change has a row in the `changes` table, with a
//! monotonically increasing id. One tailer task per server process reads
//! new rows in id order and broadcasts them to the open streams; it wakes
//! when this process commits and, on PostgreSQL, when any replica does
//! (`LISTEN`/`NOTIFY`), so a change made anywhere reaches every client.
//! Writers are serialised (SQLite: in-process lock; PostgreSQL: an advisory
//! lock), so ids are committed in order and a reader never skips one.
//!
//! A client that reconnects with `Last-Event-ID` first gets every change it
//! missed from the table, then the live ones; when what it missed is older
//! than the table keeps, it gets a `reset` event and reloads.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use std::time::Instant;

use bytes::Bytes;
use domain::AppError;
use futures_util::{stream, Stream};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch};

use crate::change::{ChangeNotice, ClientGuard, Rendered, WatchGuard, NOTIFY_CHANNEL};
use crate::db::Backend;
use crate::read;
use crate::state::Core;
use crate::store::{changes, OrInternal};
use domain::live::{PageChange, ReleasePatch};
use domain::ReleaseView;

/// How often an idle stream sends a comment, so proxies keep it open.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// The most changes replayed to one reconnecting client; beyond, `reset`.
const MAX_REPLAY: i64 = 10_000;
/// How many changes the table keeps for replay.
pub const RETAINED_CHANGES: i64 = 100_000;

/// The most release pages one stream may watch (`details=`).
pub const MAX_WATCHED: usize = 16;

/// Which changes a stream wants.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub product: Option<String>,
    pub release: Option<i64>,
    /// The release pages (product, id) whose changes this stream receives
    /// with the change of the page (`detail`).
    pub details: BTreeSet<(String, i64)>,
}

impl Filter {
    /// Reads `product`, `release` and `details` (`product/id`, separated by
    /// commas) from the query; a release that is not a number, or more than
    /// `MAX_WATCHED` pages, is a 400 naming the parameter.
    pub fn parse(params: &BTreeMap<String, String>) -> Result<Filter, AppError> {
        let product = params.get("product").filter(|p| !p.is_empty()).cloned();
        let release = match params.get("release").filter(|r| !r.is_empty()) {
            None => None,
            Some(value) => Some(value.parse::<i64>().map_err(|_| {
                AppError::invalid(
                    "release",
                    format!("release must be a release id (a number), got {value:?}"),
                )
            })?),
        };
        let mut details = BTreeSet::new();
        for item in params
            .get("details")
            .map(String::as_str)
            .unwrap_or_default()
            .split(',')
            .filter(|item| !item.is_empty())
        {
            let page = item
                .rsplit_once('/')
                .and_then(|(product, id)| Some((product.to_owned(), id.parse::<i64>().ok()?)))
                .filter(|(product, _)| !product.is_empty())
                .ok_or_else(|| {
                    AppError::invalid(
                        "details",
                        format!("expected product/release-id pairs, got {item:?}"),
                    )
                })?;
            details.insert(page);
        }
        if details.len() > MAX_WATCHED {
            return Err(AppError::invalid(
                "details",
                format!("a stream watches at most {MAX_WATCHED} release pages"),
            ));
        }
        Ok(Filter {
            product,
            release,
            details,
        })
    }

    fn matches(&self, notice: &Rendered) -> bool {
        self.product.as_ref().is_none_or(|p| *p == notice.product)
            && self.release.is_none_or(|r| notice.release == Some(r))
    }
}

/// The frames of a new live stream for `filter`: after `last_event_id`,
/// every change since (or a `reset` when those are no longer kept), then
/// the live ones, a heartbeat when idle, until the server shuts down.
/// Fails when the change log cannot be read.
pub async fn subscribe(
    core: Core,
    filter: Filter,
    last_event_id: Option<i64>,
    client: Option<std::net::IpAddr>,
) -> Result<impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static, AppError> {
    // At the limits, a clear 503 (the server) or 429 (this client).
    let admitted = core.watching.admit(client, core.settings.streams)?;
    // Subscribe before reading the backlog: whatever commits in between is
    // in both, and the id check drops the second copy.
    let live = core.changes.subscribe();
    let shutdown = core.shutdown.subscribe();
    let mut conn = core.db.pool.acquire().await.or_internal()?;
    let (oldest, newest) = changes::bounds(&mut conn).await?;
    let mut start = Cursor {
        position: newest,
        backlog: VecDeque::new(),
        reset: false,
    };
    if let Some(last) = last_event_id {
        let missed_too_much = last > newest
            || (oldest > 0 && last.saturating_add(1) < oldest)
            || newest.saturating_sub(last) > MAX_REPLAY;
        if missed_too_much {
            start.reset = true;
        } else {
            start.backlog = rendered(changes::since(&mut conn, last, MAX_REPLAY).await?);
            start.position = last;
        }
    }
    drop(conn);
    let watch = core.watching.watch(filter.details.clone());
    Ok(stream::unfold(
        Subscriber {
            core,
            filter,
            cursor: start,
            live,
            shutdown,
            last_write: Instant::now(),
            _watch: watch,
            _admitted: admitted,
        },
        next_frame,
    ))
}

struct Cursor {
    /// The id of the last change sent or skipped.
    position: i64,
    backlog: VecDeque<Arc<Rendered>>,
    reset: bool,
}

struct Subscriber {
    core: Core,
    filter: Filter,
    cursor: Cursor,
    /// Counts this stream's watched pages while it is open.
    _watch: WatchGuard,
    /// Counts this stream against its client's limit while it is open.
    _admitted: ClientGuard,
    live: broadcast::Receiver<Arc<Rendered>>,
    shutdown: watch::Receiver<bool>,
    /// When the stream last wrote anything: the heartbeat is due
    /// `HEARTBEAT` after it.
    last_write: Instant,
}

/// The most events written to a stream at once.
const MAX_FRAME_EVENTS: usize = 256;

/// The heartbeat: an empty SSE comment.
const HEARTBEAT_FRAME: &[u8] = b":\n\n";

/// The next bytes of a stream: every change waiting for it (up to
/// `MAX_FRAME_EVENTS`) in one frame, so a burst of changes costs each
/// stream one socket write; `None` ends the stream.
async fn next_frame(mut sub: Subscriber) -> Option<(Result<Bytes, Infallible>, Subscriber)> {
    loop {
        if sub.cursor.reset {
            sub.cursor.reset = false;
            let frame = format!(
                "event: reset\nid: {}\ndata: {}\n\n",
                sub.cursor.position,
                r#"{"reason":"the changes since your last event are no longer kept: reload"}"#
            );
            return sub.write(Bytes::from(frame));
        }
        if !sub.cursor.backlog.is_empty() {
            if let Some(frame) = sub.take_backlog() {
                return sub.write(frame);
            }
            continue;
        }
        if *sub.shutdown.borrow() {
            return None;
        }
        let heartbeat = tokio::time::Instant::from_std(sub.last_write + HEARTBEAT);
        tokio::select! {
            _ = sub.shutdown.changed() => return None,
            received = sub.live.recv() => {
                sub.receive(received).await?;
                // Whatever else the tailer sent meanwhile goes out with it.
                loop {
                    match sub.live.try_recv() {
                        Ok(notice) => sub.receive(Ok(notice)).await?,
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Lagged(n)) => sub.receive(Err(RecvError::Lagged(n))).await?,
                        Err(TryRecvError::Closed) => return None,
                    }
                }
            }
            _ = tokio::time::sleep_until(heartbeat) => {
                return sub.write(Bytes::from_static(HEARTBEAT_FRAME));
            }
        }
    }
}

impl Subscriber {
    fn write(mut self, frame: Bytes) -> Option<(Result<Bytes, Infallible>, Subscriber)> {
        self.last_write = Instant::now();
        Some((Ok(frame), self))
    }

    /// Queues what the channel delivered. `None` ends the stream (the
    /// channel closed, or the change log could not be read).
    async fn receive(&mut self, received: Result<Arc<Rendered>, RecvError>) -> Option<()> {
        match received {
            Ok(notice) => {
                // A change between this stream's position and the notice
                // that the channel never carried (the tailer read its
                // starting point after this stream read its backlog, at
                // start-up): read it from the table rather than skip it.
                // Ids rarely have holes (a PostgreSQL sequence value of a
                // rolled-back write), which only cost this one read.
                let newest = self
                    .cursor
                    .backlog
                    .back()
                    .map_or(self.cursor.position, |n| n.id);
                if notice.id > newest + 1 {
                    self.catch_up().await?;
                }
                self.cursor.backlog.push_back(notice);
            }
            // Fell behind the channel: catch up from the table.
            Err(RecvError::Lagged(_)) => self.catch_up().await?,
            Err(RecvError::Closed) => return None,
        }
        Some(())
    }

    /// Reads the changes after the newest one queued from the table.
    async fn catch_up(&mut self) -> Option<()> {
        let newest = self
            .cursor
            .backlog
            .back()
            .map_or(self.cursor.position, |n| n.id);
        let mut conn = self.core.db.pool.acquire().await.ok()?;
        let rows = changes::since(&mut conn, newest, MAX_REPLAY).await.ok()?;
        self.cursor.backlog.extend(rendered(rows));
        Some(())
    }

    /// The queued changes this stream has not sent and wants, as one frame
    /// (up to `MAX_FRAME_EVENTS` of them); `None` when none of those taken
    /// was wanted.
    fn take_backlog(&mut self) -> Option<Bytes> {
        let mut wanted: Vec<Arc<Rendered>> = Vec::new();
        while wanted.len() < MAX_FRAME_EVENTS {
            let Some(notice) = self.cursor.backlog.pop_front() else {
                break;
            };
            if notice.id <= self.cursor.position {
                continue;
            }
            self.cursor.position = notice.id;
            if self.filter.matches(&notice) {
                wanted.push(notice);
            }
        }
        let details = &self.filter.details;
        match wanted.as_slice() {
            [] => None,
            [one] => Some(one.bytes_for(details).clone()),
            many => {
                let bytes: Vec<&Bytes> = many.iter().map(|n| n.bytes_for(details)).collect();
                let mut frame = Vec::with_capacity(bytes.iter().map(|b| b.len()).sum());
                for part in bytes {
                    frame.extend_from_slice(part);
                }
                Some(Bytes::from(frame))
            }
        }
    }
}

fn rendered(notices: Vec<ChangeNotice>) -> VecDeque<Arc<Rendered>> {
    notices.into_iter().map(Rendered::new).collect()
}

/// The least time between two reads of the change log by the tailer.
/// The first commit after a quiet spell is read at once; the commits that
/// land in the next interval are read and sent together, so under a burst
/// of commits each stream writes to its socket once per interval rather
/// than once per commit (with a thousand streams, the socket writes are
/// most of the work).
const MIN_READ_INTERVAL: Duration = Duration::from_millis(40);

/// The one reader of the change log per process: broadcasts committed
/// changes in id order to the streams.
pub struct Tailer {
    core: Core,
    position: i64,
    listener: Option<sqlx::postgres::PgListener>,
}

impl Tailer {
    /// Reads where the change log ends and starts listening for other
    /// replicas. Call it before the server accepts streams: a stream starts
    /// from the end of the log as it reads it, which must not be ahead of
    /// the tailer, or the changes in between would reach no stream.
    pub async fn start(core: Core) -> Tailer {
        let position = match core.db.pool.acquire().await {
            Ok(mut conn) => changes::bounds(&mut conn)
                .await
                .map(|(_, newest)| newest)
                .unwrap_or(0),
            Err(_) => 0,
        };
        let listener = match core.db.backend {
            Backend::Postgres => match sqlx::postgres::PgListener::connect(core.db.url()).await {
                Ok(mut listener) => match listener.listen(NOTIFY_CHANNEL).await {
                    Ok(()) => Some(listener),
                    Err(error) => {
                        tracing::error!(%error, "cannot LISTEN for changes of other replicas");
                        None
                    }
                },
                Err(error) => {
                    tracing::error!(%error, "cannot connect to LISTEN for changes of other replicas");
                    None
                }
            },
            Backend::Sqlite => None,
        };
        Tailer {
            core,
            position,
            listener,
        }
    }

    /// Broadcasts committed changes until shutdown. Wakes on this process's
    /// commits (`Core::committed`), on PostgreSQL notifications from any
    /// replica, and once a second in case a wake-up was missed.
    pub async fn run(self) {
        let Tailer {
            core,
            mut position,
            mut listener,
        } = self;
        let mut shutdown = core.shutdown.subscribe();
        let mut pages = Pages::default();
        let mut pruned_at = Instant::now();
        let mut last_read = tokio::time::Instant::now();
        loop {
            let notified = async {
                match listener.as_mut() {
                    Some(listener) => {
                        tokio::select! {
                            _ = core.committed.notified() => {},
                            _ = listener.recv() => {},
                        }
                    }
                    None => core.committed.notified().await,
                }
            };
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = notified => {},
                _ = tokio::time::sleep(Duration::from_secs(1)) => {},
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep_until(last_read + MIN_READ_INTERVAL) => {},
            }
            last_read = tokio::time::Instant::now();
            let Ok(mut conn) = core.db.pool.acquire().await else {
                continue;
            };
            loop {
                match changes::since(&mut conn, position, 1000).await {
                    Ok(rows) if rows.is_empty() => break,
                    Ok(rows) => {
                        if let Some(last) = rows.last() {
                            position = last.id;
                        }
                        for rendered in pages.render(&core, rows).await {
                            // Nobody listening is not an error.
                            let _ = core.changes.send(Arc::new(rendered));
                        }
                    }
                    Err(_) => break,
                }
            }
            if pruned_at.elapsed() > Duration::from_secs(600) {
                pruned_at = Instant::now();
                if let Err(error) = changes::prune(&mut conn, RETAINED_CHANGES).await {
                    tracing::warn!(error = %error, "cannot prune the change log");
                }
            }
        }
    }
}

/// The release pages the streams watch, as the tailer last sent them:
/// the base of the next patch of each.
#[derive(Default)]
struct Pages {
    sent: HashMap<(String, i64), (i64, ReleaseView)>,
    /// The pages in `sent` that were sent ahead: read after a later change
    /// of their release was committed but before the tailer had it, so
    /// sent with an earlier change, as of that later one. A stream that
    /// resumed after the earlier change (a page read as of it) did not get
    /// them: the change they are as of carries them again.
    ahead: HashSet<(String, i64)>,
}

impl Pages {
    /// Renders a batch of changes for every stream, adding to the last
    /// change of each watched release in the batch the change of its page
    /// (read once here, however many streams watch it).
    async fn render(&mut self, core: &Core, notices: Vec<ChangeNotice>) -> Vec<Rendered> {
        let watched = core.watching.watched();
        self.sent.retain(|release, _| watched.contains(release));
        self.ahead.retain(|release| watched.contains(release));
        let rendered: Vec<Rendered> = notices.into_iter().map(Rendered::build).collect();
        let mut last: HashMap<(String, i64), usize> = HashMap::new();
        for (index, change) in rendered.iter().enumerate() {
            if let (Some(release), "release") = (change.release, change.kind.as_str()) {
                let key = (change.product.clone(), release);
                if watched.contains(&key) {
                    last.insert(key, index);
                }
            }
        }
        let mut changes: HashMap<usize, PageChange> = HashMap::new();
        for (release, index) in last {
            let upto = rendered[index].id;
            if let Some(change) = self.change(core, &release, upto).await {
                changes.insert(index, change);
            }
        }
        rendered
            .into_iter()
            .enumerate()
            .map(|(index, change)| match changes.get(&index) {
                Some(page) => change.with_detail(page),
                None => change,
            })
            .collect()
    }

    /// The change of `release`'s page since it was last sent, to go with
    /// its change `upto`: a patch from that state, the whole page when none
    /// was sent or it was sent ahead of this change (`ahead`), or `None`
    /// when it has not changed (or cannot be read now: the page then
    /// catches up with a later change, or fetches itself).
    async fn change(
        &mut self,
        core: &Core,
        release: &(String, i64),
        upto: i64,
    ) -> Option<PageChange> {
        let page = match read::release_page(core, &release.0, release.1).await {
            Ok(page) => page,
            Err(error) => {
                tracing::debug!(%error, product = %release.0, release = release.1, "cannot read a watched page");
                return None;
            }
        };
        let change = match self.sent.get(release) {
            Some((base, _)) if *base == page.as_of => {
                if upto >= page.as_of && self.ahead.remove(release) {
                    PageChange::Full(Box::new(page.clone()))
                } else {
                    return None;
                }
            }
            Some((base, old)) if *base < page.as_of => {
                match ReleasePatch::between(old, &page.view, *base, page.as_of) {
                    Some(patch) => PageChange::Patch(patch),
                    None => PageChange::Full(Box::new(page.clone())),
                }
            }
            _ => PageChange::Full(Box::new(page.clone())),
        };
        if page.as_of > upto {
            self.ahead.insert(release.clone());
        } else {
            self.ahead.remove(release);
        }
        self.sent.insert(release.clone(), (page.as_of, page.view));
        Some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(id: i64, product: &str, release: Option<i64>) -> Arc<Rendered> {
        Rendered::new(ChangeNotice {
            id,
            kind: "release".into(),
            product: product.into(),
            release,
            summary: serde_json::json!({"status": "running"}),
        })
    }

    #[test]
    fn a_change_is_rendered_with_product_release_and_summary() {
        let rendered = notice(7, "checkout", Some(12));
        let data: serde_json::Value = serde_json::from_str(&rendered.data).expect("json");
        assert_eq!(
            data,
            serde_json::json!({"product": "checkout", "release": 12, "status": "running"})
        );
        assert_eq!(
            rendered.sse,
            format!("id: 7\nevent: release\ndata: {}\n\n", rendered.data)
        );
    }

    #[test]
    fn filters_by_product_and_release() {
        let all = Filter::default();
        let checkout = Filter {
            product: Some("checkout".into()),
            ..Filter::default()
        };
        let twelve = Filter {
            product: Some("checkout".into()),
            release: Some(12),
            ..Filter::default()
        };
        assert!(all.matches(&notice(1, "search", Some(3))));
        assert!(checkout.matches(&notice(1, "checkout", None)));
        assert!(!checkout.matches(&notice(1, "search", Some(12))));
        assert!(twelve.matches(&notice(1, "checkout", Some(12))));
        assert!(!twelve.matches(&notice(1, "checkout", Some(11))));
        assert!(!twelve.matches(&notice(1, "checkout", None)));
    }

    /// A watched page read after a later change of its release was
    /// committed, but before the tailer has that change, goes with the
    /// earlier change (the streams that get it are up to date at once) and
    /// again with the later one: a stream that resumed after the earlier
    /// change (a page read as of it) gets it too.
    #[tokio::test]
    async fn a_page_read_ahead_of_the_tailer_goes_again_with_the_change_it_is_as_of() {
        use crate::ingest::tests::post_batch;

        let (_dir, core) = crate::state::on_temporary_sqlite().await;
        post_batch(
            &core,
            &[serde_json::json!({
                "specversion": "1.0", "id": "c1", "source": "t", "type": "release.created",
                "time": "2024-05-01T10:00:00Z",
                "data": {"product": "p", "release": "r1",
                         "flow": {"name": "main", "trigger": "dev",
                                  "environments": [{"name": "dev"}]},
                         "commit": {"sha": "aaa", "message": "m", "author": {"name": "A"}}}
            })],
        )
        .await;
        post_batch(
            &core,
            &[serde_json::json!({
                "specversion": "1.0", "id": "u1", "source": "t", "type": "workflow.updated",
                "time": "2024-05-01T10:00:10Z",
                "data": {"product": "p", "release": "r1", "environment": "dev", "phase": "post",
                         "run": {"id": "run-1", "workflow": "smoke", "application": "api",
                                 "status": "Running"},
                         "steps": []}
            })],
        )
        .await;
        let mut conn = core.db.pool.acquire().await.expect("conn");
        let notices = changes::since(&mut conn, 0, 10).await.expect("changes");
        drop(conn);
        let of_release: Vec<ChangeNotice> = notices
            .into_iter()
            .filter(|notice| notice.kind == "release" && notice.release == Some(1))
            .collect();
        let [created, updated] = <[ChangeNotice; 2]>::try_from(of_release).expect("two changes");
        let updated_id = updated.id;
        let _watch = core.watching.watch(BTreeSet::from([("p".to_owned(), 1)]));

        // The tailer has the first change only; the page is already as of
        // the second.
        let mut pages = Pages::default();
        let data = |rendered: &Rendered| -> serde_json::Value {
            let detail = rendered
                .detail
                .as_ref()
                .expect("the change carries the page");
            let text = std::str::from_utf8(detail).expect("utf-8");
            let data = text
                .lines()
                .find_map(|line| line.strip_prefix("data: "))
                .expect("data line");
            serde_json::from_str(data).expect("json")
        };
        let first = pages.render(&core, vec![created]).await;
        let second = pages.render(&core, vec![updated.clone()]).await;
        for data in [data(&first[0]), data(&second[0])] {
            assert_eq!(data["detail"]["full"]["as_of"], updated_id, "{data}");
            assert_eq!(
                data["detail"]["full"]["view"]["environments"][0]["status"],
                "running"
            );
        }
        // Once sent with the change it is as of, it is not sent again.
        let third = pages.render(&core, vec![updated]).await;
        assert!(third[0].detail.is_none(), "unchanged since");
    }

    #[test]
    fn a_release_filter_must_be_a_number() {
        let params = BTreeMap::from([("release".to_string(), "twelve".to_string())]);
        let error = Filter::parse(&params).expect_err("invalid");
        assert_eq!(error.to_json()["error"]["field"], "release");
    }
}
