-- Retention (issue 4): succeeded and skipped jobs are pruned by age, oldest first.
CREATE INDEX sync_jobs_prunable_idx ON sync_jobs (finished_at)
    WHERE status IN ('succeeded', 'skipped');
