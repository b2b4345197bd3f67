-- Products, releases and every fact ingested about them (SPEC §4.2), the
-- event log (idempotency) and the change log (live updates and replay).
-- Timestamps are epoch milliseconds; JSON documents are TEXT.

CREATE TABLE products (
    id              BIGSERIAL PRIMARY KEY,
    slug            TEXT    NOT NULL UNIQUE,
    -- The last per-product release id handed out; bumped with an UPDATE so
    -- concurrent writers on PostgreSQL serialise on the row.
    last_release_id BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL
);

-- The orchestrator webhook of a product (SPEC §4.4). The secret is never returned.
CREATE TABLE product_webhooks (
    product_id  BIGINT  PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    url         TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE TABLE releases (
    pk              BIGSERIAL PRIMARY KEY,
    product_id      BIGINT  NOT NULL REFERENCES products (id),
    -- The per-product id clients see.
    id              BIGINT  NOT NULL,
    release_key     TEXT    NOT NULL,
    -- The flow snapshot taken at creation (FlowSpec JSON).
    flow            TEXT    NOT NULL,
    flow_name       TEXT    NOT NULL,
    commit_sha      TEXT    NOT NULL,
    commit_message  TEXT    NOT NULL,
    author_name     TEXT    NOT NULL,
    author_email    TEXT,
    commit_url      TEXT,
    commit_time     BIGINT,
    version         TEXT,
    -- `changes` of release.created (JSON), for the notes.
    changes         TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    -- Derived on write from the facts below, so lists never derive.
    status          TEXT    NOT NULL,
    superseded_by   BIGINT,
    -- The environments of the list item: [{"name","status","version"}] in flow order.
    environments    TEXT    NOT NULL,
    UNIQUE (product_id, id),
    UNIQUE (product_id, release_key)
);
CREATE INDEX releases_by_status ON releases (product_id, status, id);
CREATE INDEX releases_by_sha ON releases (product_id, commit_sha);

-- Derived status of each environment of each release (written with the
-- release's status): the dashboard and "last release that succeeded here".
CREATE TABLE release_environments (
    release_pk  BIGINT  NOT NULL REFERENCES releases (pk) ON DELETE CASCADE,
    product_id  BIGINT  NOT NULL,
    release_id  BIGINT  NOT NULL,
    environment TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    version     TEXT,
    PRIMARY KEY (release_pk, environment)
);
CREATE INDEX release_environments_by_status
    ON release_environments (product_id, environment, status, release_id);

-- The current attempt of an environment of a release; absent means 1.
CREATE TABLE attempts (
    release_pk  BIGINT  NOT NULL REFERENCES releases (pk) ON DELETE CASCADE,
    environment TEXT    NOT NULL,
    attempt     BIGINT  NOT NULL,
    opened_at   BIGINT  NOT NULL,
    PRIMARY KEY (release_pk, environment)
);

-- The latest snapshot of each workflow run. `seq` is the arrival order of
-- the run's first report; steps (with log tails) are a JSON snapshot.
CREATE TABLE runs (
    seq             BIGSERIAL PRIMARY KEY,
    release_pk      BIGINT  NOT NULL REFERENCES releases (pk) ON DELETE CASCADE,
    product_id      BIGINT  NOT NULL,
    release_id      BIGINT  NOT NULL,
    run_id          TEXT    NOT NULL,
    environment     TEXT    NOT NULL,
    phase           TEXT    NOT NULL,
    workflow        TEXT    NOT NULL,
    application     TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT,
    url             TEXT,
    manifest        TEXT,
    message         TEXT,
    attempt         BIGINT  NOT NULL,
    superseded_by   BIGINT,
    steps           TEXT    NOT NULL,
    -- `time` of the snapshot stored; older snapshots are ignored.
    snapshot_time   BIGINT  NOT NULL,
    UNIQUE (release_pk, run_id)
);
-- Supersede looks up runs of the same workflow in other releases.
CREATE INDEX runs_by_workflow
    ON runs (product_id, environment, phase, workflow, application, release_id);

CREATE TABLE promotions (
    seq         BIGSERIAL PRIMARY KEY,
    release_pk  BIGINT  NOT NULL REFERENCES releases (pk) ON DELETE CASCADE,
    environment TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    commit_sha  TEXT,
    commit_url  TEXT,
    time        BIGINT  NOT NULL,
    attempt     BIGINT  NOT NULL
);
CREATE INDEX promotions_by_release ON promotions (release_pk);

CREATE TABLE git_errors (
    seq         BIGSERIAL PRIMARY KEY,
    release_pk  BIGINT  NOT NULL REFERENCES releases (pk) ON DELETE CASCADE,
    environment TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    repo        TEXT,
    details     TEXT,
    time        BIGINT  NOT NULL,
    attempt     BIGINT  NOT NULL
);
CREATE INDEX git_errors_by_release ON git_errors (release_pk);

-- The latest health report per application and environment of a product.
CREATE TABLE application_health (
    product_id  BIGINT  NOT NULL REFERENCES products (id),
    environment TEXT    NOT NULL,
    application TEXT    NOT NULL,
    health      TEXT    NOT NULL,
    message     TEXT,
    url         TEXT,
    time        BIGINT  NOT NULL,
    PRIMARY KEY (product_id, environment, application)
);

-- The release deployed in each environment of a product: the newest one
-- promoted or promoting there (SPEC §3), for the dashboard and health.
CREATE TABLE deployments (
    product_id  BIGINT  NOT NULL REFERENCES products (id),
    environment TEXT    NOT NULL,
    release_id  BIGINT  NOT NULL,
    -- The latest version promoted here, and the release that promoted it.
    version     TEXT,
    version_release_id BIGINT,
    version_time BIGINT,
    PRIMARY KEY (product_id, environment)
);

-- Every accepted event; (source, event_id) makes redelivery a no-op.
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    time        BIGINT  NOT NULL,
    received_at BIGINT  NOT NULL,
    data        TEXT    NOT NULL,
    UNIQUE (source, event_id)
);

-- One row per change of stored state, in commit order: what the live
-- stream sends and replays after `Last-Event-ID`.
CREATE TABLE changes (
    id          BIGSERIAL PRIMARY KEY,
    product     TEXT    NOT NULL,
    release_id  BIGINT,
    kind        TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX changes_by_product ON changes (product, id);
