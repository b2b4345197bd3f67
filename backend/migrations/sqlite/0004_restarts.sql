-- Restarts of failed releases (SPEC §2.6) and the outbox of their
-- orchestrator webhook deliveries (SPEC §4.4). The outbox row is written in
-- the restart's transaction, so a restart is never lost between the commit
-- and the delivery: a worker drains it, also after a server restart.

CREATE TABLE restarts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    release_pk      BIGINT  NOT NULL REFERENCES releases (pk) ON DELETE CASCADE,
    -- The release's attempt once restarted.
    attempt         BIGINT  NOT NULL,
    -- [[environment, attempt], ...] reopened, in flow order (JSON).
    environments    TEXT    NOT NULL,
    -- The name of the operator token that asked, and its id.
    requested_by    TEXT    NOT NULL,
    token_id        BIGINT,
    requested_at    BIGINT  NOT NULL
);
CREATE INDEX restarts_by_release ON restarts (release_pk);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    restart_id      BIGINT  NOT NULL UNIQUE REFERENCES restarts (id) ON DELETE CASCADE,
    product_id      BIGINT  NOT NULL REFERENCES products (id),
    release_pk      BIGINT  NOT NULL,
    -- The exact bytes that are signed and sent.
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_attempt_at BIGINT,
    -- While pending: when the next try is due (or a claimed try's lease ends).
    next_attempt_at BIGINT  NOT NULL,
    delivered_at    BIGINT,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
