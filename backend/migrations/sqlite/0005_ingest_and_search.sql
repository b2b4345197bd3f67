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

-- Substring search of the releases page (`q`): a trigram index over the
-- searched columns narrows the candidates; the page query still applies the
-- exact predicate, so results are those of a full scan. Kept in step with
-- `releases` by triggers, whichever statement writes it.
CREATE VIRTUAL TABLE release_search USING fts5(
    commit_sha, commit_message, author_name, author_email,
    content = 'releases', content_rowid = 'pk', tokenize = 'trigram'
);
CREATE TRIGGER releases_search_insert AFTER INSERT ON releases BEGIN
    INSERT INTO release_search (rowid, commit_sha, commit_message, author_name, author_email)
    VALUES (new.pk, new.commit_sha, new.commit_message, new.author_name, new.author_email);
END;
CREATE TRIGGER releases_search_delete AFTER DELETE ON releases BEGIN
    INSERT INTO release_search
        (release_search, rowid, commit_sha, commit_message, author_name, author_email)
    VALUES ('delete', old.pk, old.commit_sha, old.commit_message, old.author_name, old.author_email);
END;
CREATE TRIGGER releases_search_update
AFTER UPDATE OF pk, commit_sha, commit_message, author_name, author_email ON releases BEGIN
    INSERT INTO release_search
        (release_search, rowid, commit_sha, commit_message, author_name, author_email)
    VALUES ('delete', old.pk, old.commit_sha, old.commit_message, old.author_name, old.author_email);
    INSERT INTO release_search (rowid, commit_sha, commit_message, author_name, author_email)
    VALUES (new.pk, new.commit_sha, new.commit_message, new.author_name, new.author_email);
END;
INSERT INTO release_search (release_search) VALUES ('rebuild');
