-- In-doubt outcomes (issue 4): notes and tasks whose call an attempt started,
-- recorded before the call. Attempted but not in completed_steps = the outcome
-- is unknown (timeout, dropped connection, crash), so a later attempt looks for
-- the step's reference marker in GHL before writing it again.
ALTER TABLE sync_jobs
    ADD COLUMN attempted_steps text[] NOT NULL DEFAULT '{}';
