-- Dead-letter operations (issue 4): a dead job can be replayed (made pending
-- again, re-planned from the appointment's current state) or discarded (it
-- leaves the dead-letter queue but stays recorded, with when it was discarded).

ALTER TABLE sync_jobs
    -- How often the job was replayed from the dead-letter queue, and when last.
    -- A replayed job (replays > 0) takes tags and fields from the appointment's
    -- current state (domain::replay).
    ADD COLUMN replays      integer     NOT NULL DEFAULT 0 CHECK (replays >= 0),
    ADD COLUMN replayed_at  timestamptz,
    -- Set when an operator discarded the dead job; only dead jobs are discarded.
    ADD COLUMN discarded_at timestamptz,
    ADD CONSTRAINT sync_jobs_discarded_only_when_dead
        CHECK (discarded_at IS NULL OR status = 'dead'),
    ADD CONSTRAINT sync_jobs_replayed_when_counted
        CHECK ((replays = 0) = (replayed_at IS NULL));

-- The dead-letter queue proper: dead and not discarded.
CREATE INDEX sync_jobs_dead_letters_idx ON sync_jobs (finished_at)
    WHERE status = 'dead' AND discarded_at IS NULL;
