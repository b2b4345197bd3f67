-- Browser sessions (SPEC §4.1): the cookie holds a random session id, of
-- which only a SHA-256 hash is stored. A session ends after 12 hours idle,
-- 7 days after sign-in, at sign-out, and when its token is deleted.
CREATE TABLE sessions (
    hash        TEXT    PRIMARY KEY,
    token_id    BIGINT  NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL,
    seen_at     BIGINT  NOT NULL
);
CREATE INDEX sessions_token ON sessions (token_id);
