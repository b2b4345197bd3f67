-- The aggregate status of each run's steps (SPEC §2.1), NULL for a run
-- without steps. Re-deriving a release's status on every write reads it
-- instead of the steps themselves, whose JSON carries every step's message
-- and log tail.
ALTER TABLE runs ADD COLUMN steps_status TEXT;
UPDATE runs SET steps_status = (
    SELECT CASE
        WHEN COUNT(*) = 0 THEN NULL
        WHEN bool_or(s = 'error') THEN 'error'
        WHEN bool_or(s = 'failed') THEN 'failed'
        WHEN bool_or(s = 'terminated') THEN 'terminated'
        WHEN bool_or(s = 'running') THEN 'running'
        WHEN bool_or(s = 'pending') THEN 'pending'
        ELSE 'success'
    END
    FROM (SELECT step ->> 'status' AS s FROM jsonb_array_elements(runs.steps::jsonb) AS step) AS each_step
);
