-- The id of the last change of each release in the change log: a page read
-- together with it knows which live patch applies to it (SPEC §5).
ALTER TABLE releases ADD COLUMN last_change_id BIGINT NOT NULL DEFAULT 0;
