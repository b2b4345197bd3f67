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
