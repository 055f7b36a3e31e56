-- Coalescing (issue 4): a pending job of an appointment that has not started
-- may be folded into the job before it when that one is claimed. It then points
-- at that job, is never claimed itself, has its note and task journaled on its
-- own row by that job's run, and takes that job's final status (succeeded or
-- skipped) when it finishes; if that job dies it is unfolded and runs on its own.
ALTER TABLE sync_jobs
    ADD COLUMN coalesced_into uuid,
    ADD CONSTRAINT sync_jobs_not_coalesced_into_itself
        CHECK (coalesced_into IS NULL OR coalesced_into <> id),
    ADD CONSTRAINT sync_jobs_coalesced_is_pending_or_done
        CHECK (coalesced_into IS NULL OR status IN ('pending', 'succeeded', 'skipped'));

CREATE INDEX sync_jobs_coalesced_idx ON sync_jobs (coalesced_into)
    WHERE coalesced_into IS NOT NULL;
