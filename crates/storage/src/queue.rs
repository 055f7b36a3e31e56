//! `SyncQueue`: claiming due jobs under a lease, journaling steps, finishing.
//!
//! # Why two jobs of one appointment never run at once
//!
//! A job is a claim candidate only when no earlier job of its appointment is
//! pending or running (`NOT EXISTS earlier`), so within any snapshot an
//! appointment has at most one candidate: its oldest unfinished job. Finished
//! is final, so once a job is a candidate its predecessors stay finished, and
//! the only race left is between claimers of that same row: `FOR UPDATE SKIP
//! LOCKED` lets one of them lock it; a claimer whose snapshot predates that
//! claim's commit finds the row changed, and PostgreSQL re-checks the
//! due/expired condition on the new row version (READ COMMITTED), which now
//! fails (running, lease valid). Rows locked by an uncommitted claim are skipped.
//!
//! The argument breaks if an earlier job is made unfinished again (an operator
//! replaying a dead job while a later one runs): the snapshot of a concurrent
//! claim can miss the other claim, and two different rows get locked. Hence
//! the second `NOT EXISTS` (no other running job with a valid lease) and, as
//! the guarantee that does not depend on snapshots, the unique index
//! `sync_jobs_one_running_per_appointment` (`appointment_id WHERE status =
//! 'running'`): the losing claim waits for the winner's commit, fails with a
//! unique violation, and is retried with a fresh snapshot, which skips the
//! appointment. A test exercises exactly this interleaving.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use domain::ids::SyncJobId;
use domain::job::{CrmError, ErrorClass, JobOutcome, JobStatus, Lease, SyncJob};
use domain::plan::EffectStep;
use domain::ports::{AttemptLog, LeaseError, RepoError, SyncQueue};

use crate::PgStore;
use crate::error::{is_unique_violation, repo};
use crate::jobs::JobRow;
use crate::mapping;

/// Unique index that allows one running job per appointment.
const ONE_RUNNING: &str = "sync_jobs_one_running_per_appointment";

/// Claims that collide on [`ONE_RUNNING`] are retried this often.
const CLAIM_TRIES: usize = 5;

/// $1 pending, $2 running, $3 the open statuses, $4 limit, $5 worker, $6 lease seconds.
const CLAIM: &str = "
WITH candidates AS (
    SELECT j.id
    FROM sync_jobs j
    WHERE ((j.status = $1 AND j.next_attempt_at <= now() AND j.coalesced_into IS NULL)
        OR (j.status = $2 AND j.locked_until < now()))
      AND NOT EXISTS (
          SELECT 1 FROM sync_jobs earlier
          WHERE earlier.appointment_id = j.appointment_id
            AND earlier.seq < j.seq
            AND earlier.status = ANY($3))
      AND NOT EXISTS (
          SELECT 1 FROM sync_jobs other
          WHERE other.appointment_id = j.appointment_id
            AND other.id <> j.id
            AND other.status = $2
            AND other.locked_until >= now())
      -- A location whose GHL token was refused: its jobs wait (auth_pause.rs).
      AND NOT EXISTS (
          SELECT 1 FROM ghl_auth_pauses p WHERE p.location_id = j.location_id)
    ORDER BY j.priority, j.seq
    LIMIT $4
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE sync_jobs j
SET status = $2,
    locked_by = $5,
    locked_until = now() + $6 * interval '1 second',
    lease_token = gen_random_uuid(),
    attempts = j.attempts + 1,
    updated_at = now()
FROM candidates
WHERE j.id = candidates.id
RETURNING j.id, j.seq, j.appointment_id, j.location_id, j.action, j.payload, j.status, j.priority,
          j.attempts, j.completed_steps, j.attempted_steps, j.replays, j.lease_token, j.locked_until, j.traceparent, j.created_at";

impl PgStore {
    async fn claim_once(
        &self,
        worker: &str,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<JobRow>, sqlx::Error> {
        sqlx::query_as(CLAIM)
            .bind(mapping::job_status(JobStatus::Pending))
            .bind(mapping::job_status(JobStatus::Running))
            .bind(mapping::open_job_statuses())
            .bind(i64::from(limit))
            .bind(worker)
            .bind(lease_for.as_secs_f64())
            .fetch_all(&self.pool)
            .await
    }

    /// Dead-letters a claimed job whose row does not decode, so that one bad
    /// row cannot block the queue (it would be claimed and fail forever).
    async fn bury(&self, id: SyncJobId, lease: Option<Lease>, column: &str) {
        tracing::error!(sync.job_id = %id, column, "stored sync job is unreadable; dead-lettering it");
        let Some(lease) = lease else { return };
        let now = Utc::now();
        let error = CrmError::new(
            ErrorClass::Permanent,
            None,
            format!("the stored job could not be read ({column})"),
        );
        let outcome = JobOutcome::Dead {
            error,
            ghl_calls: 0,
        };
        let attempt = AttemptLog {
            started_at: now,
            finished_at: now,
            ghl_calls: 0,
        };
        if let Err(e) = self.finish(id, lease, &outcome, &attempt).await {
            tracing::error!(sync.job_id = %id, error = %e, "could not dead-letter an unreadable sync job");
        }
    }
}

#[async_trait]
impl SyncQueue for PgStore {
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<SyncJob>, RepoError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut tries = 0;
        let mut rows = loop {
            tries += 1;
            match self.claim_once(worker, limit, lease_for).await {
                Ok(rows) => break rows,
                Err(e) if tries < CLAIM_TRIES && is_unique_violation(&e, Some(ONE_RUNNING)) => {
                    continue;
                }
                Err(e) => return Err(repo(e)),
            }
        };
        rows.sort_by_key(|row| (row.priority, row.seq));
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            let id = SyncJobId::from_uuid(row.id);
            let lease = row
                .lease_token
                .zip(row.locked_until)
                .map(|(token, until)| Lease { token, until });
            let mut job = match row.into_domain() {
                Ok(job) => job,
                Err(column) => {
                    self.bury(id, lease, column).await;
                    continue;
                }
            };
            if let Some(lease) = lease {
                match self.folded_into(id, lease).await {
                    Ok(folded) => job.folded = folded,
                    Err(e) => {
                        // Run it alone: folded jobs stay attached and are
                        // loaded again by the next claim of this job.
                        tracing::warn!(sync.job_id = %id, error = %e, "could not load coalesced jobs; releasing the job");
                        let _ = self.release(id, lease).await;
                        continue;
                    }
                }
            }
            jobs.push(job);
        }
        Ok(jobs)
    }

    async fn step_done(
        &self,
        job: SyncJobId,
        lease: Lease,
        step: EffectStep,
    ) -> Result<(), LeaseError> {
        let done = sqlx::query(
            "UPDATE sync_jobs
             SET completed_steps = CASE WHEN $3 = ANY(completed_steps) THEN completed_steps
                                        ELSE array_append(completed_steps, $3) END,
                 updated_at = now()
             WHERE id = $1 AND ((lease_token = $2 AND status = $4)
                OR coalesced_into IN (SELECT id FROM sync_jobs WHERE lease_token = $2 AND status = $4))",
        )
        .bind(job.as_uuid())
        .bind(lease.token)
        .bind(mapping::step(step))
        .bind(mapping::job_status(JobStatus::Running))
        .execute(&self.pool)
        .await
        .map_err(repo)?;
        held(done.rows_affected())
    }

    async fn finish(
        &self,
        job: SyncJobId,
        lease: Lease,
        outcome: &JobOutcome,
        attempt: &AttemptLog,
    ) -> Result<(), LeaseError> {
        let error = outcome.error();
        let (next_attempt_at, last_error) = match outcome {
            JobOutcome::Succeeded(_) => (None, None),
            JobOutcome::Skipped { reason } => (None, Some(reason.as_str())),
            JobOutcome::RetryAt { at, error, .. } => (Some(*at), Some(error.message.as_str())),
            JobOutcome::Dead { error, .. } => (None, Some(error.message.as_str())),
        };
        let status = outcome.status();
        let error_class = error.map(|e| mapping::error_class(e.class));
        let http_status = error.and_then(|e| e.status).map(i32::from);
        let mut tx = self.pool.begin().await.map_err(repo)?;
        let attempts: Option<i32> = sqlx::query_scalar(
            "UPDATE sync_jobs
             SET status = $3, next_attempt_at = $4, finished_at = CASE WHEN $5 THEN now() END,
                 last_error = $6, error_class = $7, http_status = $8,
                 locked_by = NULL, locked_until = NULL, lease_token = NULL, updated_at = now(),
                 -- Waiting for a refused token to be fixed does not use an attempt.
                 attempts = CASE WHEN $10 THEN GREATEST(attempts - 1, 0) ELSE attempts END
             WHERE id = $1 AND lease_token = $2 AND status = $9
             RETURNING attempts + CASE WHEN $10 THEN 1 ELSE 0 END",
        )
        .bind(job.as_uuid())
        .bind(lease.token)
        .bind(mapping::job_status(status))
        .bind(next_attempt_at)
        .bind(status != JobStatus::Pending)
        .bind(last_error)
        .bind(error_class)
        .bind(http_status)
        .bind(mapping::job_status(JobStatus::Running))
        .bind(outcome.waits_for_token())
        .fetch_optional(&mut *tx)
        .await
        .map_err(repo)?;
        let Some(attempt_no) = attempts else {
            return Err(LeaseError::Lost);
        };
        crate::coalesce::settle_folded(&mut tx, job, status, last_error)
            .await
            .map_err(repo)?;
        sqlx::query(
            "INSERT INTO sync_attempts
                 (job_id, attempt, started_at, finished_at, outcome, error_class, http_status, ghl_calls, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(job.as_uuid())
        .bind(attempt_no)
        .bind(attempt.started_at)
        .bind(attempt.finished_at)
        .bind(mapping::attempt_outcome(outcome))
        .bind(error_class)
        .bind(http_status)
        .bind(i32::try_from(attempt.ghl_calls).unwrap_or(i32::MAX))
        .bind(error.map(|e| e.message.as_str()))
        .execute(&mut *tx)
        .await
        .map_err(repo)?;
        tx.commit().await.map_err(repo)?;
        Ok(())
    }

    async fn renew(
        &self,
        job: SyncJobId,
        lease: Lease,
        lease_for: Duration,
    ) -> Result<(), LeaseError> {
        let done = sqlx::query(
            "UPDATE sync_jobs SET locked_until = now() + $3 * interval '1 second'
             WHERE id = $1 AND lease_token = $2 AND status = $4",
        )
        .bind(job.as_uuid())
        .bind(lease.token)
        .bind(lease_for.as_secs_f64())
        .bind(mapping::job_status(JobStatus::Running))
        .execute(&self.pool)
        .await
        .map_err(repo)?;
        held(done.rows_affected())
    }

    async fn step_attempted(
        &self,
        job: SyncJobId,
        lease: Lease,
        step: EffectStep,
    ) -> Result<(), LeaseError> {
        let done = sqlx::query(
            "UPDATE sync_jobs
             SET attempted_steps = CASE WHEN $3 = ANY(attempted_steps) THEN attempted_steps
                                        ELSE array_append(attempted_steps, $3) END,
                 updated_at = now()
             WHERE id = $1 AND ((lease_token = $2 AND status = $4)
                OR coalesced_into IN (SELECT id FROM sync_jobs WHERE lease_token = $2 AND status = $4))",
        )
        .bind(job.as_uuid())
        .bind(lease.token)
        .bind(mapping::step(step))
        .bind(mapping::job_status(JobStatus::Running))
        .execute(&self.pool)
        .await
        .map_err(repo)?;
        held(done.rows_affected())
    }

    async fn release(&self, job: SyncJobId, lease: Lease) -> Result<(), LeaseError> {
        let done = sqlx::query(
            "UPDATE sync_jobs
             SET status = $3, next_attempt_at = now(), attempts = GREATEST(attempts - 1, 0),
                 locked_by = NULL, locked_until = NULL, lease_token = NULL, updated_at = now()
             WHERE id = $1 AND lease_token = $2 AND status = $4",
        )
        .bind(job.as_uuid())
        .bind(lease.token)
        .bind(mapping::job_status(JobStatus::Pending))
        .bind(mapping::job_status(JobStatus::Running))
        .execute(&self.pool)
        .await
        .map_err(repo)?;
        held(done.rows_affected())
    }
}

/// A lease-guarded write that touched no row means the lease is gone.
fn held(rows: u64) -> Result<(), LeaseError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(LeaseError::Lost)
    }
}
