//! Retention: succeeded and skipped sync jobs, with their attempts, are deleted
//! once they finished longer ago than the retention period, so the outbox stays
//! small. Dead jobs (discarded ones included) are kept for the operators.
//!
//! Deletes run in batches (one statement each, oldest first) so that no single
//! transaction holds many locks. A job still named by an idempotency key that
//! has not expired is kept; expired keys of pruned jobs go with them.

use chrono::{Duration, Utc};
use domain::job::JobStatus;
use domain::ports::RepoError;
use sqlx::PgPool;

use crate::error::repo;
use crate::mapping;

/// Rows deleted by one [`prune_finished`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub jobs: u64,
    pub attempts: u64,
}

/// $1 prunable statuses, $2 cut-off, $3 batch size.
const PRUNE_BATCH: &str = "
WITH doomed AS (
    SELECT j.id FROM sync_jobs j
    WHERE j.status = ANY($1) AND j.finished_at < $2
      AND NOT EXISTS (SELECT 1 FROM idempotency_keys k
                      WHERE k.sync_job_id = j.id AND k.expires_at > now())
    ORDER BY j.finished_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), keys AS (
    DELETE FROM idempotency_keys k USING doomed WHERE k.sync_job_id = doomed.id
), attempts AS (
    DELETE FROM sync_attempts a USING doomed WHERE a.job_id = doomed.id RETURNING a.id
), jobs AS (
    DELETE FROM sync_jobs j USING doomed WHERE j.id = doomed.id RETURNING j.id
)
SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM attempts)";

/// Deletes succeeded and skipped jobs that finished more than `older_than`
/// ago, and their attempts, `batch` jobs per statement until none is left.
pub async fn prune_finished(
    pool: &PgPool,
    older_than: Duration,
    batch: u32,
) -> Result<Pruned, RepoError> {
    let statuses: Vec<&str> = [JobStatus::Succeeded, JobStatus::Skipped]
        .map(mapping::job_status)
        .to_vec();
    let cutoff = Utc::now() - older_than;
    let batch = i64::from(batch.max(1));
    let mut total = Pruned::default();
    loop {
        let (jobs, attempts): (i64, i64) = sqlx::query_as(PRUNE_BATCH)
            .bind(&statuses)
            .bind(cutoff)
            .bind(batch)
            .fetch_one(pool)
            .await
            .map_err(repo)?;
        total.jobs += u64::try_from(jobs).unwrap_or(0);
        total.attempts += u64::try_from(attempts).unwrap_or(0);
        if jobs < batch {
            return Ok(total);
        }
    }
}
