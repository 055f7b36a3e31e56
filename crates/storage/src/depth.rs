//! Queue depth: how many sync jobs are in each state, for the worker's metrics
//! and the monitor.

use chrono::{DateTime, Utc};
use domain::job::JobStatus;
use domain::ports::RepoError;
use sqlx::PgPool;

use crate::error::{corrupt, repo};
use crate::mapping;

/// Sync jobs per status, plus how many a worker could claim right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub skipped: u64,
    /// The dead-letter queue (discarded dead jobs are not counted anywhere).
    pub dead: u64,
    /// Pending jobs whose time has come plus running jobs whose lease expired
    /// (ignoring the per-appointment order, so an upper bound of what a claim
    /// would take).
    pub due: u64,
    /// When the longest-waiting due job became due: the queue's lag.
    pub oldest_due_at: Option<DateTime<Utc>>,
}

impl QueueDepth {
    pub fn of(&self, status: JobStatus) -> u64 {
        match status {
            JobStatus::Pending => self.pending,
            JobStatus::Running => self.running,
            JobStatus::Succeeded => self.succeeded,
            JobStatus::Skipped => self.skipped,
            JobStatus::Dead => self.dead,
        }
    }

    fn slot(&mut self, status: JobStatus) -> &mut u64 {
        match status {
            JobStatus::Pending => &mut self.pending,
            JobStatus::Running => &mut self.running,
            JobStatus::Succeeded => &mut self.succeeded,
            JobStatus::Skipped => &mut self.skipped,
            JobStatus::Dead => &mut self.dead,
        }
    }
}

/// Counts the jobs of every location (one scan of `sync_jobs`).
pub async fn queue_depth(pool: &PgPool) -> Result<QueueDepth, RepoError> {
    let rows: Vec<(String, i64, i64, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT status,
                count(*) FILTER (WHERE discarded_at IS NULL),
                count(*) FILTER (WHERE (status = $1 AND next_attempt_at <= now())
                                    OR (status = $2 AND locked_until < now())),
                min(CASE WHEN status = $1 AND next_attempt_at <= now() THEN next_attempt_at
                         WHEN status = $2 AND locked_until < now() THEN locked_until END)
         FROM sync_jobs GROUP BY status",
    )
    .bind(mapping::job_status(JobStatus::Pending))
    .bind(mapping::job_status(JobStatus::Running))
    .fetch_all(pool)
    .await
    .map_err(repo)?;
    let mut depth = QueueDepth::default();
    for (status, count, due, oldest) in rows {
        let status = mapping::parse_job_status(&status)
            .ok_or_else(|| corrupt("sync_jobs", "status", "a job"))?;
        *depth.slot(status) = u64::try_from(count).unwrap_or(0);
        depth.due += u64::try_from(due).unwrap_or(0);
        depth.oldest_due_at = match (depth.oldest_due_at, oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(depth)
}
