-- The aggregate status of each run's steps (SPEC §2.1), NULL for a run
-- without steps. Re-deriving a release's status on every write reads it
-- instead of the steps themselves, whose JSON carries every step's message
-- and log tail.
ALTER TABLE runs ADD COLUMN steps_status TEXT;
UPDATE runs SET steps_status = (
    SELECT CASE
        WHEN COUNT(*) = 0 THEN NULL
        WHEN SUM(s = 'error') > 0 THEN 'error'
        WHEN SUM(s = 'failed') > 0 THEN 'failed'
        WHEN SUM(s = 'terminated') > 0 THEN 'terminated'
        WHEN SUM(s = 'running') > 0 THEN 'running'
        WHEN SUM(s = 'pending') > 0 THEN 'pending'
        ELSE 'success'
    END
    FROM (SELECT json_extract(value, '$.status') AS s FROM json_each(runs.steps))
);

-- With the aggregate at hand, `unfinished` (0005) is exact for every row,
-- rows stored before that column included: the run is not superseded and
-- its status (SPEC §2.1: the steps' aggregate, or the reported status when
-- a failure outranks it or there are no steps) is pending or running.
UPDATE runs SET unfinished = CASE
    WHEN superseded_by IS NULL AND (
        (steps_status IS NULL AND status IN ('pending', 'running'))
        OR (steps_status IN ('pending', 'running')
            AND status NOT IN ('error', 'failed', 'terminated')))
    THEN 1 ELSE 0
END;
