-- With the aggregate of 0006 at hand, `unfinished` (0005) is exact for every
-- row, rows stored before that column included: the run is not superseded
-- and its status (SPEC §2.1: the steps' aggregate, or the reported status
-- when a failure outranks it or there are no steps) is pending or running.
UPDATE runs SET unfinished = CASE
    WHEN superseded_by IS NULL AND (
        (steps_status IS NULL AND status IN ('pending', 'running'))
        OR (steps_status IN ('pending', 'running')
            AND status NOT IN ('error', 'failed', 'terminated')))
    THEN 1 ELSE 0
END;
