-- API tokens. Only a SHA-256 hash of each token is stored; the token itself
-- is printed once when created.
CREATE TABLE tokens (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'ingest')),
    hash        TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL,
    last_used_at BIGINT
);
