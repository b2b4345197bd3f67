-- What ingest reads of every run of each release it touches (its status,
-- times, identity and steps status: `statuses_of_releases`), in one index
-- ordered by release: the read walks a few index pages per release instead
-- of looking up each run's row in the table, where the runs of a release
-- are spread among those of every other release that ran at the time.
CREATE INDEX runs_status ON runs (
    release_pk, seq, snapshot_time, run_id, environment, phase, workflow,
    application, status, started_at, attempt, superseded_by, steps_status
);
