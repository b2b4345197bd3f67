// The live stream of one browser, shared by all its tabs (SPEC §5).
//
// Browsers allow six HTTP/1.1 connections per host across all tabs, and an
// event stream holds one for as long as it is open: one stream per tab would
// freeze the seventh tab. So every tab of the app connects to this shared
// worker, which holds the browser's one `EventSource` on /api/v1/stream and
// hands every event to every tab.
//
// Where shared workers do not exist, each tab runs this as a dedicated
// worker, with its own stream.
//
// Tab -> worker messages:
//   {t: "hello", since, watch}  a tab connects; `since` is the id of the
//                               last change its data includes, `watch` the
//                               release pages it shows ("product/id")
//   {t: "watch", watch}         the pages it shows changed
//   {t: "since", since}         it read data as of `since`
//   {t: "ping"}                 it is still open (every 10 s)
//   {t: "bye"}                  it is closing
// Worker -> tab messages:
//   {t: "state", state}         connecting | live | reconnecting | offline
//   {t: "events", events}       [{id, event, data}] in id order
//   {t: "stale"}                events the tab needs are gone: reload data
//
// The worker keeps the events of the last two minutes, so a tab that read
// its data a moment before it connected still gets what changed since.
"use strict";

const KEEP_MS = 120000;
const KEEP_EVENTS = 2000;
const TAB_TIMEOUT_MS = 30000;
const RETRY_FIRST_MS = 1000;
const RETRY_LAST_MS = 30000;
const OFFLINE_AFTER = 4;
const KINDS = ["release", "environment", "product", "reset"];

/** port -> {watch: string[], seen: number} */
const tabs = new Map();
let source = null;
/** The stream `source` replaces, until `source` is open. */
let previous = null;
let url = null;
/** The id of the last event received; null before the stream opens. */
let position = null;
/** The lowest `since` of the tabs that connected before the stream opened. */
let pendingSince = null;
/** Events received, oldest first, with the position they start after. */
let kept = [];
let keptAfter = null;
let state = "connecting";
let failures = 0;
let retry = null;
let reopen = null;
let outbox = [];
let flushing = false;

// Messages are JSON text both ways.
function post(port, message) {
  try {
    port.postMessage(JSON.stringify(message));
  } catch (_) {
    tabs.delete(port);
  }
}

function broadcast(message) {
  for (const port of tabs.keys()) post(port, message);
}

function setState(next) {
  if (state === next) return;
  state = next;
  broadcast({ t: "state", state });
}

function wantedUrl() {
  const watched = new Set();
  for (const tab of tabs.values()) for (const page of tab.watch) watched.add(page);
  const details = [...watched].sort().slice(0, 16).join(",");
  return details ? `/api/v1/stream?details=${encodeURIComponent(details)}` : "/api/v1/stream";
}

/** Sends a tab what it missed since `since`, or tells it to reload. */
function replay(port, since) {
  if (position === null) {
    pendingSince = pendingSince === null ? since : Math.min(pendingSince, since);
    return;
  }
  if (since >= position) return;
  if (keptAfter !== null && since >= keptAfter) {
    const events = kept.filter((e) => e.id > since);
    if (events.length) post(port, { t: "events", events });
  } else {
    post(port, { t: "stale" });
  }
}

function prune() {
  const cutoff = Date.now() - KEEP_MS;
  let drop = 0;
  while (drop < kept.length && (kept.length - drop > KEEP_EVENTS || kept[drop].at < cutoff)) drop += 1;
  if (drop) {
    keptAfter = kept[drop - 1].id;
    kept = kept.slice(drop);
  }
}

function receive(kind, event) {
  const id = Number(event.lastEventId);
  if (!Number.isFinite(id)) return;
  if (position !== null && id <= position && kind !== "reset") return;
  position = id;
  if (kind === "reset") {
    kept = [];
    keptAfter = id;
  }
  const item = { id, event: kind, data: event.data, at: Date.now() };
  kept.push(item);
  outbox.push({ id, event: kind, data: event.data });
  if (!flushing) {
    flushing = true;
    // Every event of one frame goes to the tabs in one message.
    queueMicrotask(() => {
      flushing = false;
      const events = outbox;
      outbox = [];
      broadcast({ t: "events", events });
      prune();
    });
  }
}

function open() {
  clearTimeout(retry);
  retry = null;
  // The stream being replaced goes on delivering until the new one is open
  // (events are told apart by id), so a change is never held up by a reopen.
  if (previous) previous.close();
  previous = source;
  url = wantedUrl();
  if (position === null) {
    // The first stream starts where the oldest data of the tabs ends.
    position = pendingSince !== null ? pendingSince : 0;
    keptAfter = position;
    pendingSince = null;
  }
  const full = `${url}${url.includes("?") ? "&" : "?"}last_event_id=${position}`;
  const opened = new EventSource(full);
  source = opened;
  opened.onopen = () => {
    if (source !== opened) return;
    if (previous) previous.close();
    previous = null;
    failures = 0;
    setState("live");
  };
  opened.onerror = () => {
    if (source !== opened) return;
    failures += 1;
    setState(failures >= OFFLINE_AFTER ? "offline" : "reconnecting");
    if (opened.readyState === EventSource.CLOSED) {
      // The browser gave up (the server answered an error): retry, backing off.
      const delay = Math.min(RETRY_FIRST_MS * 2 ** Math.min(failures - 1, 5), RETRY_LAST_MS);
      retry = setTimeout(open, delay);
    }
  };
  for (const kind of KINDS) opened.addEventListener(kind, (event) => receive(kind, event));
}

/** Opens the stream, or reopens it where it was when the pages watched changed. */
function follow() {
  clearTimeout(reopen);
  reopen = setTimeout(() => {
    if (!tabs.size) {
      if (previous) previous.close();
      previous = null;
      if (source) source.close();
      source = null;
      url = null;
      return;
    }
    if (!source || wantedUrl() !== url) open();
  }, 20);
}

function handle(port, text) {
  let message = null;
  try {
    message = JSON.parse(text);
  } catch (_) {
    return;
  }
  const tab = tabs.get(port);
  switch (message && message.t) {
    case "hello":
      tabs.set(port, { watch: message.watch || [], seen: Date.now() });
      post(port, { t: "state", state });
      if (Number.isFinite(message.since)) replay(port, message.since);
      follow();
      break;
    case "watch":
      if (tab) {
        tab.watch = message.watch || [];
        tab.seen = Date.now();
        follow();
      }
      break;
    case "since":
      if (tab && Number.isFinite(message.since)) replay(port, message.since);
      break;
    case "ping":
      if (tab) tab.seen = Date.now();
      break;
    case "bye":
      tabs.delete(port);
      follow();
      break;
    default:
      break;
  }
}

setInterval(() => {
  const cutoff = Date.now() - TAB_TIMEOUT_MS;
  let gone = false;
  for (const [port, tab] of tabs) {
    if (tab.seen < cutoff) {
      tabs.delete(port);
      gone = true;
    }
  }
  if (gone) follow();
}, 10000);

if (typeof SharedWorkerGlobalScope !== "undefined" && self instanceof SharedWorkerGlobalScope) {
  self.onconnect = (event) => {
    const port = event.ports[0];
    port.onmessage = (message) => handle(port, message.data);
    port.start();
  };
} else {
  // A dedicated worker, where the browser has no shared ones: one tab.
  self.onmessage = (message) => handle(self, message.data);
}
