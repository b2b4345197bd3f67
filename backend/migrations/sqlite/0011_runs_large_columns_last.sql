-- A run's small columns first, its large ones (url, message, manifest,
-- steps) last. SQLite stores a row's columns in order and the tail of a
-- large row in a chain of overflow pages: a column stored after a large
-- value is only reached by walking that chain. With `manifest` and `steps`
-- in the middle, every read of a run's status, snapshot time or steps
-- status — ingest reads those of every run of each release it touches —
-- read the whole manifest and steps too (a 200-step run is ~30 KB, eight
-- pages). PostgreSQL keeps large values out of line already (TOAST).
CREATE TABLE runs_reordered (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
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
    attempt         BIGINT  NOT NULL,
    superseded_by   BIGINT,
    -- `time` of the snapshot stored; older snapshots are ignored.
    snapshot_time   BIGINT  NOT NULL,
    unfinished      BIGINT  NOT NULL DEFAULT 1,
    steps_status    TEXT,
    url             TEXT,
    message         TEXT,
    manifest        TEXT,
    steps           TEXT    NOT NULL,
    UNIQUE (release_pk, run_id)
);
INSERT INTO runs_reordered (
    seq, release_pk, product_id, release_id, run_id, environment, phase,
    workflow, application, status, started_at, finished_at, attempt,
    superseded_by, snapshot_time, unfinished, steps_status, url, message,
    manifest, steps
)
SELECT
    seq, release_pk, product_id, release_id, run_id, environment, phase,
    workflow, application, status, started_at, finished_at, attempt,
    superseded_by, snapshot_time, unfinished, steps_status, url, message,
    manifest, steps
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_reordered RENAME TO runs;
CREATE INDEX runs_unfinished
    ON runs (product_id, environment, phase, workflow, application, release_id)
    WHERE unfinished = 1;
