-- Faster ingest and search.

-- The event log only serves idempotency: (source, event_id), type and time
-- are enough. The payload was written for every event and never read.
ALTER TABLE events DROP COLUMN data;

-- 1 while a run may still be pending or running and is not superseded, so
-- supersede (SPEC §2.5) reads only those candidates instead of every run of
-- the workflow in every older release. Rows stored before this column
-- existed start at 1 (unknown) unless superseded; ingest checks their steps
-- and clears the mark when they turn out finished.
ALTER TABLE runs ADD COLUMN unfinished BIGINT NOT NULL DEFAULT 1;
UPDATE runs SET unfinished = 0 WHERE superseded_by IS NOT NULL;
DROP INDEX runs_by_workflow;
CREATE INDEX runs_unfinished
    ON runs (product_id, environment, phase, workflow, application, release_id)
    WHERE unfinished = 1;

-- Substring search of the releases page (`q`): trigram indexes serve the
-- `LOWER(column) LIKE '%…%'` terms of the page query unchanged, and a
-- pattern index its sha prefix term.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX releases_search_sha
    ON releases (product_id, LOWER(commit_sha) text_pattern_ops);
CREATE INDEX releases_search_message
    ON releases USING gin (LOWER(commit_message) gin_trgm_ops);
CREATE INDEX releases_search_author
    ON releases USING gin (LOWER(author_name) gin_trgm_ops);
CREATE INDEX releases_search_email
    ON releases USING gin (LOWER(COALESCE(author_email, '')) gin_trgm_ops);
