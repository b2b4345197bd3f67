//! The live stream (SPEC §5) against a real server on port 0, on
//! SQLite and (when `TEST_POSTGRES_URL` is set) PostgreSQL, read as real
//! server-sent events: delivery, filters, resume with `Last-Event-ID`,
//! `reset`, heartbeat, auth, the end of streams on graceful shutdown, and
//! two replicas (two server processes) on one PostgreSQL database.

mod common;
#[path = "common/process.rs"]
mod process;
#[path = "common/sse.rs"]
mod sse;

use std::time::{Duration, Instant};

use backend::auth::Role;
use backend::db::Backend;
use common::fixtures::{created, health, promoted, workflow};
use common::headers::header;
use common::{backends, TestServer};
use serde_json::{json, Value};
use sse::{Event, Item, Reader};
use tokio::time::timeout;

const BATCH: &str = "application/cloudevents-batch+json";
/// The longest any single wait may take: generous, only a hang hits it.
const WAIT: Duration = Duration::from_secs(10);

async fn server(backend: Backend) -> (TestServer, String) {
    let server = TestServer::on(backend, true).await.expect("backend");
    let token = server.token(Role::Ingest).await;
    (server, token)
}

/// GETs the stream with `query` (`""` or `?…`), an optional `Last-Event-ID`
/// and token.
async fn request(
    server: &TestServer,
    query: &str,
    last_event_id: Option<&str>,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = server
        .client
        .get(server.url(&format!("/api/v1/stream{query}")));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    timeout(WAIT, request.send())
        .await
        .expect("response headers in time")
        .expect("request")
}

/// Opens the stream; once this returns the server has subscribed it.
async fn open(server: &TestServer, query: &str, last_event_id: Option<i64>) -> Reader {
    let id = last_event_id.map(|id| id.to_string());
    let response = request(server, query, id.as_deref(), None).await;
    assert_eq!(response.status(), 200, "GET /api/v1/stream{query}");
    let content_type = header(&response, "content-type");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    Reader::new(response)
}

/// The next event, within `WAIT`.
async fn next(reader: &mut Reader) -> Event {
    timeout(WAIT, reader.next_event())
        .await
        .expect("an event within 10 s")
        .expect("the stream is still open")
}

async fn take(reader: &mut Reader, n: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(next(reader).await);
    }
    events
}

async fn ingest(server: &TestServer, token: &str, events: Value) {
    let response = server.post_events(token, BATCH, &events).await;
    let status = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(status, 200, "{body}");
}

/// What identifies a change on the wire: id, event name, product, release.
fn key(event: &Event) -> (i64, String, String, Option<i64>) {
    let data = event.json();
    (
        event.id(),
        event.event.clone(),
        data["product"].as_str().expect("product").to_string(),
        data["release"].as_i64(),
    )
}

fn keys(events: &[Event]) -> Vec<(i64, String, String, Option<i64>)> {
    events.iter().map(key).collect()
}

/// The ids of the `changes` table, in order.
async fn change_ids(server: &TestServer) -> Vec<i64> {
    sqlx::query_scalar::<_, i64>("SELECT id FROM changes ORDER BY id")
        .fetch_all(&server.db.pool)
        .await
        .expect("changes")
}

#[test]
fn the_test_parser_reads_events_comments_and_every_line_end() {
    let mut parser = sse::Parser::default();
    parser.feed(b":\n\nid: 3\nevent: release\ndata: {\"a\"");
    parser.feed(b":1}\r\ndata:x\r\n\r\ndata: y\r\rdata");
    parser.feed(b"\n\n");
    assert_eq!(parser.next(), Some(Item::Comment(String::new())));
    assert_eq!(
        parser.next(),
        Some(Item::Event(Event {
            id: Some("3".into()),
            event: "release".into(),
            data: "{\"a\":1}\nx".into(),
        }))
    );
    let y = match parser.next() {
        Some(Item::Event(event)) => event,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (y.id, y.event.as_str(), y.data.as_str()),
        (None, "message", "y")
    );
    let empty = match parser.next() {
        Some(Item::Event(event)) => event,
        other => panic!("{other:?}"),
    };
    assert_eq!(empty.data, "");
    assert_eq!(parser.next(), None);
}

#[test]
fn the_test_parser_reads_the_same_whatever_the_chunks() {
    let stream: &[u8] =
        b": hi\r\nid: 1\r\nevent: release\r\ndata: a\r\rdata: b\n\r\nid: 2\ndata: c\r\n\r\n";
    let items = |chunks: Vec<&[u8]>| {
        let mut parser = sse::Parser::default();
        for chunk in chunks {
            parser.feed(chunk);
        }
        std::iter::from_fn(|| parser.next()).collect::<Vec<_>>()
    };
    let whole = items(vec![stream]);
    assert_eq!(whole.len(), 4, "{whole:?}");
    // A line end split between two chunks (`\r` | `\n`) is one line end.
    assert_eq!(items(stream.chunks(1).collect()), whole);
    for at in 0..stream.len() {
        let (a, b) = stream.split_at(at);
        assert_eq!(items(vec![a, b]), whole, "split at {at}");
    }
}

#[tokio::test]
async fn each_committed_change_is_one_event_in_id_order() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let mut reader = open(&server, "", None).await;

        ingest(
            &server,
            &token,
            json!([created("c1", "shop", "k1", "aaa", "m", 0)]),
        )
        .await;
        let product = next(&mut reader).await;
        assert_eq!(product.event, "product", "{product:?}");
        assert_eq!(product.json()["product"], "shop");
        assert_eq!(product.json()["release"], Value::Null);
        let release = next(&mut reader).await;
        assert_eq!(release.event, "release", "{release:?}");
        let data = release.json();
        assert_eq!(data["product"], "shop");
        assert_eq!(data["release"], 1);
        assert_eq!(data["key"], "k1");
        assert_eq!(data["status"], "progressing");
        assert!(release.id() > product.id());

        // A request that fails is rolled back and publishes nothing.
        let rejected = server
            .post_events(
                &token,
                BATCH,
                &json!([
                    created("c2", "shop", "k2", "bbb", "m", 1),
                    workflow("w0", "shop", "nope", "dev", "post", "r0", "smoke", "Running", 2),
                ]),
            )
            .await;
        assert_eq!(rejected.status(), 400);

        ingest(
            &server,
            &token,
            json!([workflow(
                "w1", "shop", "k1", "dev", "post", "run-1", "smoke", "Running", 10
            )]),
        )
        .await;
        let updated = next(&mut reader).await;
        assert_eq!(key(&updated).1, "release");
        assert_eq!(updated.json()["release"], 1);
        assert_eq!(
            updated.json()["environments"][0]["status"],
            "running",
            "{}",
            updated.data
        );

        ingest(
            &server,
            &token,
            json!([created("c3", "shop", "k3", "ccc", "m", 20)]),
        )
        .await;
        let second = next(&mut reader).await;
        assert_eq!(second.event, "release");
        assert_eq!(second.json()["release"], 2);
        assert_eq!(second.json()["key"], "k3");

        let ids: Vec<i64> = [&product, &release, &updated, &second]
            .iter()
            .map(|e| e.id())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(ids, change_ids(&server).await, "one event per change");
        server.stop().await;
    }
}

#[tokio::test]
async fn filters_by_product_and_release() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let mut all = open(&server, "", None).await;
        let mut shop = open(&server, "?product=shop", None).await;
        let mut shop_two = open(&server, "?product=shop&release=2", None).await;
        let mut any_two = open(&server, "?release=2", None).await;
        let mut empty = open(&server, "?product=&release=", None).await;

        ingest(
            &server,
            &token,
            json!([created("c1", "shop", "k1", "a", "m", 0)]),
        )
        .await;
        ingest(
            &server,
            &token,
            json!([
                created("o1", "other", "k1", "c", "m", 2),
                created("o2", "other", "k2", "d", "m", 3),
            ]),
        )
        .await;
        ingest(
            &server,
            &token,
            json!([workflow(
                "w1", "shop", "k1", "dev", "post", "r1", "smoke", "Running", 4
            )]),
        )
        .await;
        // The last change is shop#2 (a new release changes nothing else),
        // which every stream wants: once a stream has it, it has everything
        // it will ever get from before.
        ingest(
            &server,
            &token,
            json!([created("c2", "shop", "k2", "b", "m", 5)]),
        )
        .await;

        // What the table holds is what the unfiltered stream must carry.
        let rows: Vec<(i64, String, String, Option<i64>)> =
            sqlx::query_as("SELECT id, kind, product, release_id FROM changes ORDER BY id")
                .fetch_all(&server.db.pool)
                .await
                .expect("changes");
        let everything = keys(&take(&mut all, rows.len()).await);
        assert_eq!(everything, rows);
        assert_eq!(
            (
                everything.last().expect("events").2.as_str(),
                everything.last().expect("events").3
            ),
            ("shop", Some(2)),
            "the premise: the last change is one every stream wants"
        );
        let last = everything.last().expect("events").0;
        let expect = |keep: &dyn Fn(&str, Option<i64>) -> bool| {
            everything
                .iter()
                .filter(|k| keep(&k.2, k.3))
                .cloned()
                .collect::<Vec<_>>()
        };
        async fn until(reader: &mut Reader, last: i64) -> Vec<(i64, String, String, Option<i64>)> {
            let mut got = Vec::new();
            loop {
                let event = next(reader).await;
                let id = event.id();
                got.push(key(&event));
                if id >= last {
                    return got;
                }
            }
        }
        let got_shop = until(&mut shop, last).await;
        assert_eq!(got_shop, expect(&|p, _| p == "shop"));
        assert_eq!(got_shop.len(), 4);
        let got_shop_two = until(&mut shop_two, last).await;
        assert_eq!(got_shop_two, expect(&|p, r| p == "shop" && r == Some(2)));
        assert_eq!(got_shop_two.len(), 1);
        let got_any_two = until(&mut any_two, last).await;
        assert_eq!(got_any_two, expect(&|_, r| r == Some(2)));
        assert_eq!(got_any_two.len(), 2);
        // Empty parameters filter nothing.
        assert_eq!(until(&mut empty, last).await, everything);
        server.stop().await;
    }
}

#[tokio::test]
async fn promotions_and_health_changes_are_environment_events() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let mut all = open(&server, "", None).await;
        let mut release_one = open(&server, "?release=1", None).await;

        // Health of an environment no release has reached: the product is
        // new, and the environment changed with no release to name.
        ingest(
            &server,
            &token,
            json!([health("h1", "shop", "prod", "Degraded", 1)]),
        )
        .await;
        let product = next(&mut all).await;
        assert_eq!(product.event, "product", "{product:?}");
        let env = next(&mut all).await;
        assert_eq!(env.event, "environment", "{env:?}");
        let data = env.json();
        assert_eq!(
            (&data["product"], &data["environment"], &data["release"]),
            (&json!("shop"), &json!("prod"), &Value::Null),
            "{}",
            env.data
        );

        // A report older than the stored one changes nothing, says nothing.
        ingest(
            &server,
            &token,
            json!([health("h2", "shop", "prod", "Healthy", 0)]),
        )
        .await;

        // A promotion changes the release and the environment it reached.
        ingest(
            &server,
            &token,
            json!([created("c1", "shop", "k1", "a", "m", 2)]),
        )
        .await;
        ingest(
            &server,
            &token,
            json!([promoted("p1", "shop", "k1", "staging", "v-k1", 3)]),
        )
        .await;
        let created_event = next(&mut all).await;
        assert_eq!(
            (
                created_event.event.as_str(),
                created_event.json()["release"].as_i64()
            ),
            ("release", Some(1))
        );
        let release = next(&mut all).await;
        assert_eq!(release.event, "release", "{release:?}");
        let env = next(&mut all).await;
        assert_eq!(env.event, "environment", "{env:?}");
        assert_eq!(env.json()["environment"], "staging");
        assert_eq!(env.json()["release"], 1);
        assert!(env.id() > release.id(), "after the release it changed");

        // Health where release 1 is deployed names that release, so its
        // watchers hear of it too.
        ingest(
            &server,
            &token,
            json!([health("h3", "shop", "staging", "Healthy", 4)]),
        )
        .await;
        let rederived = next(&mut all).await;
        assert_eq!(rederived.event, "release", "{rederived:?}");
        let env = next(&mut all).await;
        assert_eq!(
            (
                env.event.as_str(),
                env.json()["environment"].as_str(),
                env.json()["release"].as_i64()
            ),
            ("environment", Some("staging"), Some(1)),
            "{}",
            env.data
        );

        // Filtered by release, the changes that name release 1.
        let filtered = take(&mut release_one, 5).await;
        assert_eq!(
            filtered
                .iter()
                .map(|e| (e.event.as_str(), e.json()["release"].as_i64()))
                .collect::<Vec<_>>(),
            [
                ("release", Some(1)),
                ("release", Some(1)),
                ("environment", Some(1)),
                ("release", Some(1)),
                ("environment", Some(1)),
            ]
        );
        assert_eq!(
            change_ids(&server).await.len(),
            7,
            "product, environment, release, release, environment, release, environment"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_client_that_reconnects_gets_what_it_missed_in_order_once() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let mut watcher = open(&server, "", None).await;
        let mut client = open(&server, "", None).await;

        ingest(
            &server,
            &token,
            json!([created("c1", "shop", "k1", "a", "m", 0)]),
        )
        .await;
        let seen = take(&mut client, 2).await;
        let last = seen[1].id();
        drop(client);

        // Missed while disconnected: three commits, four changes.
        ingest(
            &server,
            &token,
            json!([workflow(
                "w1", "shop", "k1", "dev", "post", "r1", "smoke", "Running", 1
            )]),
        )
        .await;
        ingest(
            &server,
            &token,
            json!([workflow(
                "w2",
                "shop",
                "k1",
                "dev",
                "post",
                "r1",
                "smoke",
                "Succeeded",
                2
            )]),
        )
        .await;
        ingest(
            &server,
            &token,
            json!([created("o1", "other", "k1", "b", "m", 3)]),
        )
        .await;
        let watched = take(&mut watcher, 6).await;
        assert_eq!(keys(&watched[..2]), keys(&seen));
        let missed = &watched[2..];

        let mut client = open(&server, "", Some(last)).await;
        let replayed = take(&mut client, missed.len()).await;
        assert_eq!(
            replayed, missed,
            "the missed events, byte for byte, in order"
        );

        // Then live ones, with neither a duplicate nor a gap.
        ingest(
            &server,
            &token,
            json!([created("c2", "shop", "k2", "c", "m", 4)]),
        )
        .await;
        let live = next(&mut client).await;
        assert_eq!(live, next(&mut watcher).await);
        let mut ids: Vec<i64> = seen.iter().chain(&replayed).map(Event::id).collect();
        ids.push(live.id());
        assert_eq!(ids, change_ids(&server).await);

        // Resume honours filters; 0 means "from the beginning".
        let mut other = open(&server, "?product=other", Some(0)).await;
        let got = keys(&take(&mut other, 2).await);
        let expected: Vec<_> = keys(&watched)
            .into_iter()
            .filter(|k| k.2 == "other")
            .collect();
        assert_eq!(got, expected);
        let mut from_start = open(&server, "", Some(0)).await;
        let mut all = watched.clone();
        all.push(live.clone());
        assert_eq!(take(&mut from_start, all.len()).await, all);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_gap_the_server_no_longer_keeps_is_a_reset() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let mut events = Vec::new();
        for n in 0..4 {
            events.push(created(
                &format!("c{n}"),
                "shop",
                &format!("k{n}"),
                "a",
                "m",
                n,
            ));
        }
        ingest(&server, &token, Value::Array(events)).await;
        let ids = change_ids(&server).await;
        assert_eq!(ids.len(), 5);
        let newest = *ids.last().expect("ids");

        // An id beyond the newest (another database, say): reset, then live.
        let mut ahead = open(&server, "", Some(newest + 100)).await;
        let reset = next(&mut ahead).await;
        assert_eq!(reset.event, "reset", "{reset:?}");
        assert_eq!(reset.id(), newest, "a reset carries the id to resume from");
        assert!(reset.json()["reason"].is_string(), "{}", reset.data);

        // Pruned: only the newest two changes are kept.
        {
            let mut conn = server.db.pool.acquire().await.expect("conn");
            let pruned = backend::store::changes::prune(&mut conn, 2)
                .await
                .expect("prune");
            assert_eq!(pruned, 3);
        }
        let kept = change_ids(&server).await;
        assert_eq!(kept, ids[3..]);
        let mut behind = open(&server, "", Some(ids[0])).await;
        let reset = next(&mut behind).await;
        assert_eq!(reset.event, "reset", "{reset:?}");
        assert_eq!(reset.id(), newest);
        // One short of the oldest kept is still a complete replay.
        let mut just = open(&server, "", Some(ids[2])).await;
        assert_eq!(
            take(&mut just, 2)
                .await
                .iter()
                .map(Event::id)
                .collect::<Vec<_>>(),
            kept
        );

        // After a reset, live changes follow.
        ingest(
            &server,
            &token,
            json!([workflow(
                "w1", "shop", "k0", "dev", "post", "r1", "smoke", "Running", 9
            )]),
        )
        .await;
        for reader in [&mut ahead, &mut behind, &mut just] {
            let live = next(reader).await;
            assert_eq!(live.event, "release");
            assert_eq!(live.id(), *change_ids(&server).await.last().expect("id"));
        }

        let bad = request(&server, "", Some("abc"), None).await;
        assert_eq!(bad.status(), 400);
        let body: Value = bad.json().await.expect("json");
        assert_eq!(body["error"]["field"], "Last-Event-ID");
        server.stop().await;
    }
}

/// The release page as the browser fetches it (`get_release`): `(as_of,
/// read_at)`.
async fn page(server: &TestServer, product: &str, id: i64) -> (i64, i64) {
    let response = server
        .client
        .post(server.url("/api/get_release"))
        .form(&[("product", product), ("id", &id.to_string())])
        .send()
        .await
        .expect("get_release");
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.expect("json");
    (
        page["as_of"].as_i64().expect("as_of"),
        page["read_at"].as_i64().expect("read_at"),
    )
}

#[tokio::test]
async fn a_watched_page_gets_each_change_as_a_patch_from_the_state_it_shows() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        ingest(
            &server,
            &token,
            json!([
                created("c1", "shop", "k1", "aaa", "first line\nand a body", 0),
                created("c2", "shop", "k2", "bbb", "m", 1)
            ]),
        )
        .await;
        // As a browser does: the page, then the stream from where it was read.
        let (as_of, read_at) = page(&server, "shop", 1).await;
        let mut watching = open(
            &server,
            &format!("?details=shop/1&last_event_id={read_at}"),
            None,
        )
        .await;
        let mut plain = open(&server, "", None).await;

        ingest(
            &server,
            &token,
            json!([workflow(
                "w1", "shop", "k1", "dev", "post", "run-1", "smoke", "Running", 10
            )]),
        )
        .await;
        let first = next(&mut watching).await.json();
        assert_eq!(first["release"], 1);
        // The page or a patch from the state the page shows.
        let shown = match (first["detail"].get("full"), first["detail"].get("patch")) {
            (Some(full), None) => {
                assert_eq!(
                    full["view"]["environments"][0]["status"], "running",
                    "{first}"
                );
                assert_eq!(full["view"]["environments"][0]["runs"][0]["id"], "run-1");
                full["as_of"].as_i64().expect("as_of")
            }
            (None, Some(patch)) => {
                assert_eq!(patch["base"], as_of, "{first}");
                assert_eq!(patch["environments"][0]["name"], "dev");
                assert_eq!(patch["environments"][0]["status"], "running");
                patch["to"].as_i64().expect("to")
            }
            _ => panic!("a watched page's change: {first}"),
        };
        assert!(shown > as_of);
        let seen = next(&mut plain).await.json();
        assert!(
            seen.get("detail").is_none(),
            "an unwatching stream gets the row only: {seen}"
        );
        assert_eq!(
            seen["commit"]["message"], "first line",
            "events carry the headline"
        );

        // The next: a patch from that state, with the changed run only.
        ingest(
            &server,
            &token,
            json!([workflow(
                "w2", "shop", "k1", "dev", "post", "run-1", "smoke", "Failed", 20
            )]),
        )
        .await;
        let second = next(&mut watching).await.json();
        let patch = &second["detail"]["patch"];
        assert_eq!(patch["base"], shown, "{second}");
        assert!(patch["to"].as_i64().expect("to") > shown);
        assert_eq!(patch["status"], "failed");
        assert_eq!(patch["environments"].as_array().map(Vec::len), Some(1));
        assert_eq!(patch["environments"][0]["name"], "dev");
        assert_eq!(patch["environments"][0]["runs"][0]["status"], "failed");
        assert_eq!(
            page(&server, "shop", 1).await.0,
            patch["to"].as_i64().expect("to"),
            "a page fetched now is as of the patch's change"
        );

        // Another release's change carries no page.
        ingest(
            &server,
            &token,
            json!([workflow(
                "w3", "shop", "k2", "dev", "post", "run-2", "smoke", "Running", 30
            )]),
        )
        .await;
        let other = next(&mut watching).await.json();
        assert_eq!(other["release"], 2);
        assert!(other.get("detail").is_none(), "{other}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_new_stream_resumes_after_the_last_event_id_of_its_url() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        ingest(
            &server,
            &token,
            json!([created("c1", "shop", "k1", "aaa", "m", 0)]),
        )
        .await;
        let from = *change_ids(&server).await.last().expect("a change");
        ingest(
            &server,
            &token,
            json!([workflow(
                "w1", "shop", "k1", "dev", "post", "run-1", "smoke", "Running", 10
            )]),
        )
        .await;
        let mut reader = open(&server, &format!("?last_event_id={from}"), None).await;
        let missed = next(&mut reader).await;
        assert!(missed.id() > from);
        assert_eq!(missed.json()["environments"][0]["status"], "running");
        // The header, as a reconnecting EventSource sends it, wins.
        let mut resumed = open(&server, "?last_event_id=0", Some(missed.id())).await;
        ingest(
            &server,
            &token,
            json!([workflow(
                "w2",
                "shop",
                "k1",
                "dev",
                "post",
                "run-1",
                "smoke",
                "Succeeded",
                20
            )]),
        )
        .await;
        let live = next(&mut resumed).await;
        assert!(live.id() > missed.id(), "{live:?}");
        server.stop().await;
    }
}

#[tokio::test]
async fn bad_stream_parameters_name_themselves() {
    let (server, _) = server(Backend::Sqlite).await;
    for (query, field) in [
        ("?details=shop", "details"),
        ("?details=shop/one", "details"),
        ("?details=/3", "details"),
        ("?last_event_id=-4", "last_event_id"),
        ("?last_event_id=x", "last_event_id"),
    ] {
        let response = request(&server, query, None, None).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let many: Vec<String> = (1..=17).map(|i| format!("shop/{i}")).collect();
    let response = request(&server, &format!("?details={}", many.join(",")), None, None).await;
    assert_eq!(response.status(), 400);
    server.stop().await;
}

#[tokio::test]
async fn reads_need_a_token_with_read_access_and_a_numeric_release() {
    for backend in backends() {
        let server = TestServer::on(backend, false).await.expect("backend");
        let viewer = server.token(Role::Viewer).await;
        let operator = server.token(Role::Operator).await;
        let ingest = server.token(Role::Ingest).await;

        assert_eq!(request(&server, "", None, None).await.status(), 401);
        assert_eq!(
            request(&server, "", None, Some("rls_unknown"))
                .await
                .status(),
            401
        );
        let forbidden = request(&server, "", None, Some(&ingest)).await;
        assert_eq!(forbidden.status(), 403);
        let body: Value = forbidden.json().await.expect("json");
        assert_eq!(body["error"]["code"], "forbidden");
        for token in [&viewer, &operator] {
            let ok = request(&server, "?product=shop", None, Some(token)).await;
            assert_eq!(ok.status(), 200);
        }
        let bad = request(&server, "?release=twelve", None, Some(&viewer)).await;
        assert_eq!(bad.status(), 400);
        let body: Value = bad.json().await.expect("json");
        assert_eq!(body["error"]["field"], "release");
        server.stop().await;

        let server = TestServer::on(backend, true).await.expect("backend");
        assert_eq!(request(&server, "", None, None).await.status(), 200);
        assert_eq!(
            request(&server, "", None, Some("rls_unknown"))
                .await
                .status(),
            401
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn an_idle_stream_gets_a_comment_heartbeat_every_15_seconds() {
    // The backends wait side by side: one 15 s wait in all.
    let mut waits = Vec::new();
    for backend in backends() {
        waits.push(tokio::spawn(async move {
            let (server, _) = server(backend).await;
            let mut reader = open(&server, "", None).await;
            let opened = Instant::now();
            let item = timeout(Duration::from_secs(17), reader.next_item())
                .await
                .unwrap_or_else(|_| panic!("{backend:?}: no heartbeat within 17 s"));
            let waited = opened.elapsed();
            assert_eq!(item, Some(Item::Comment(String::new())), "{backend:?}");
            assert!(
                waited >= Duration::from_secs(14),
                "{backend:?}: heartbeat after {waited:?}"
            );
            server.stop().await;
        }));
    }
    for wait in waits {
        wait.await.expect("heartbeat");
    }
}

#[tokio::test]
async fn streams_end_when_the_server_shuts_down() {
    for backend in backends() {
        let (server, token) = server(backend).await;
        let mut reader = open(&server, "", None).await;
        let mut resumed = open(&server, "", Some(0)).await;
        ingest(
            &server,
            &token,
            json!([created("c1", "shop", "k1", "a", "m", 0)]),
        )
        .await;
        take(&mut reader, 2).await;
        take(&mut resumed, 2).await;

        let started = Instant::now();
        timeout(Duration::from_secs(5), server.stop())
            .await
            .expect("graceful shutdown does not wait for open streams");
        for reader in [&mut reader, &mut resumed] {
            let end = timeout(Duration::from_secs(5), reader.next_item())
                .await
                .expect("the stream ends");
            assert_eq!(end, None, "{backend:?}");
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

mod replicas {
    //! Two server processes on one PostgreSQL database.

    use super::*;
    use crate::process::ServerProcess;

    /// A `server serve` replica on the database at `url`.
    fn replica(url: &str) -> ServerProcess {
        ServerProcess::serve(url, &[("RUST_LOG", "info,sqlx=warn")])
    }

    /// Stops a replica with SIGTERM and expects a clean exit.
    fn stop(mut replica: ServerProcess) {
        let status = replica.stop().expect("the replica stops on SIGTERM");
        assert!(status.success(), "exit status {status:?}");
    }

    async fn open(client: &reqwest::Client, replica: &ServerProcess) -> Reader {
        let response = timeout(
            WAIT,
            client
                .get(format!("{}/api/v1/stream", replica.address))
                .send(),
        )
        .await
        .expect("in time")
        .expect("request");
        assert_eq!(response.status(), 200);
        Reader::new(response)
    }

    async fn post(client: &reqwest::Client, replica: &ServerProcess, token: &str, body: Value) {
        let response = client
            .post(format!("{}/api/v1/events", replica.address))
            .bearer_auth(token)
            .header("content-type", BATCH)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 200);
    }

    #[tokio::test]
    async fn a_change_ingested_by_one_replica_reaches_the_clients_of_the_other() {
        let Ok(base) = std::env::var("TEST_POSTGRES_URL") else {
            eprintln!("TEST_POSTGRES_URL is not set: the replica test is skipped");
            return;
        };
        let url = common::fresh_postgres_database(&base).await;
        // Migrates the database, then both replicas start on it.
        let output = crate::process::server()
            .args([
                "--database-url",
                &url,
                "token",
                "create",
                "--role",
                "ingest",
            ])
            .output()
            .expect("token create");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let token = String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_string();
        let a = replica(&url);
        let b = replica(&url);
        assert_ne!(a.address, b.address);
        let client = reqwest::Client::new();
        let mut on_a = open(&client, &a).await;
        let mut on_b = open(&client, &b).await;

        post(
            &client,
            &a,
            &token,
            json!([created("c1", "shop", "k1", "a", "m", 0)]),
        )
        .await;
        let from_a = take(&mut on_b, 2).await;
        assert_eq!(take(&mut on_a, 2).await, from_a);
        assert_eq!(
            keys(&from_a)
                .into_iter()
                .map(|k| (k.1, k.2, k.3))
                .collect::<Vec<_>>(),
            vec![
                ("product".to_string(), "shop".to_string(), None),
                ("release".to_string(), "shop".to_string(), Some(1)),
            ]
        );

        // And the other way round, each within a NOTIFY, not only the
        // tailer's once-a-second poll.
        let mut slowest = Duration::ZERO;
        for n in 0..5 {
            let posted = Instant::now();
            post(
                &client,
                &b,
                &token,
                json!([workflow(
                    &format!("w{n}"),
                    "shop",
                    "k1",
                    "dev",
                    "post",
                    "r1",
                    "smoke",
                    "Running",
                    n + 1
                )]),
            )
            .await;
            let on_a_event = next(&mut on_a).await;
            slowest = slowest.max(posted.elapsed());
            assert_eq!(on_a_event.json()["release"], 1);
            assert_eq!(next(&mut on_b).await, on_a_event);
        }
        eprintln!("replica delivery: slowest of 5 from B to A's client {slowest:?}");
        drop(on_a);
        drop(on_b);
        stop(a);
        stop(b);
    }
}

#[tokio::test]
async fn live_streams_are_capped_per_client_and_in_total_with_a_clear_answer() {
    let open = |server: &TestServer| {
        server
            .client
            .get(server.url("/api/v1/stream"))
            .header("Accept", "text/event-stream")
            .send()
    };
    let server = TestServer::sqlite_with(|launch| {
        launch.streams = backend::StreamLimits {
            total: 100,
            per_client: 2,
        };
    })
    .await;
    let first = open(&server).await.expect("request");
    let second = open(&server).await.expect("request");
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open(&server).await.expect("request");
    assert_eq!(third.status(), 429);
    let body: Value = third.json().await.expect("json");
    assert_eq!(body["error"]["code"], "too_many_requests", "{body}");
    // A stream closed frees its place.
    drop(first);
    let mut again = None;
    for _ in 0..100 {
        let response = open(&server).await.expect("request");
        if response.status() == 200 {
            again = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "a closed stream frees its place");
    drop((second, again));
    server.stop().await;

    let server = TestServer::sqlite_with(|launch| {
        launch.streams = backend::StreamLimits {
            total: 1,
            per_client: 0,
        };
    })
    .await;
    let first = open(&server).await.expect("request");
    assert_eq!(first.status(), 200);
    let full = open(&server).await.expect("request");
    assert_eq!(full.status(), 503);
    let body: Value = full.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    drop(first);
    server.stop().await;
}

/// Sends a `POST /api/v1/events` whose body is announced but never sent,
/// so its handler cannot finish, and returns the status and the body of
/// the answer (the server answers without waiting for the rest, then
/// closes the connection as asked).
async fn post_without_its_body(server: &TestServer, token: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = reqwest::Url::parse(&server.url("/")).expect("url");
    let address = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().expect("port")
    );
    let mut socket = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let request = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n["
    );
    socket.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    timeout(Duration::from_secs(10), socket.read_to_string(&mut answer))
        .await
        .expect("an answer without the body")
        .expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (status, serde_json::from_str(body).expect("a JSON body"))
}

#[tokio::test]
async fn requests_time_out_but_the_live_stream_does_not() {
    // No request finishes within no time at all; the stream is exempt. The
    // request waits for a body that never comes: one that could finish on
    // its first poll would beat even a zero timeout.
    let server = TestServer::sqlite_with(|launch| launch.request_timeout = Duration::ZERO).await;
    let token = server.token(Role::Ingest).await;
    let (status, body) = post_without_its_body(&server, &token).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let stream = server
        .client
        .get(server.url("/api/v1/stream"))
        .send()
        .await
        .expect("request");
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    server.stop().await;
}
