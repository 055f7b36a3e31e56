//! `DirectSync`: claiming one appointment's next job for `POST /sync`, and the
//! stored answers of those requests (`sync_requests`).
//!
//! The claim locks the appointment's oldest unfinished job (`FOR UPDATE`, which
//! a worker's `SKIP LOCKED` claim passes by) and takes it under a lease only if
//! its action is the requested one and no valid lease holds it. A pending job
//! waiting for its retry time is taken too: the operator asked to sync now.
//! The unique index `sync_jobs_one_running_per_appointment` still refuses a
//! second running job of the appointment; that race is reported as in progress.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ids::AppointmentId;
use domain::intent::SyncAction;
use domain::job::JobStatus;
use domain::ports::{DirectClaim, DirectSync, RepoError, StoredSyncResult};
use uuid::Uuid;

use crate::PgStore;
use crate::error::{corrupt, is_unique_violation, repo};
use crate::jobs::JobRow;
use crate::mapping;

const CLAIM_ONE: &str = "
UPDATE sync_jobs j
SET status = $2,
    locked_by = $3,
    locked_until = now() + $4 * interval '1 second',
    lease_token = gen_random_uuid(),
    attempts = j.attempts + 1,
    next_attempt_at = NULL,
    updated_at = now()
WHERE j.id = $1
RETURNING j.id, j.seq, j.appointment_id, j.location_id, j.action, j.payload, j.status, j.priority,
          j.attempts, j.completed_steps, j.attempted_steps, j.replays, j.lease_token, j.locked_until, j.traceparent, j.created_at";

#[async_trait]
impl DirectSync for PgStore {
    async fn claim_next_of(
        &self,
        appointment: AppointmentId,
        action: SyncAction,
        holder: &str,
        lease_for: Duration,
    ) -> Result<DirectClaim, RepoError> {
        let mut tx = self.pool.begin().await.map_err(repo)?;
        let next: Option<(Uuid, String, String, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT id, action, status, locked_until FROM sync_jobs
             WHERE appointment_id = $1 AND status = ANY($2) AND coalesced_into IS NULL
             ORDER BY seq LIMIT 1
             FOR UPDATE",
        )
        .bind(appointment.as_uuid())
        .bind(mapping::open_job_statuses())
        .fetch_optional(&mut *tx)
        .await
        .map_err(repo)?;
        let Some((id, next_action, status, locked_until)) = next else {
            let latest: Option<String> = sqlx::query_scalar(
                "SELECT status FROM sync_jobs WHERE appointment_id = $1 AND action = $2
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(appointment.as_uuid())
            .bind(mapping::action(action))
            .fetch_optional(&mut *tx)
            .await
            .map_err(repo)?;
            let latest = latest
                .map(|s| {
                    mapping::parse_job_status(&s)
                        .ok_or_else(|| corrupt("sync_jobs", "status", "a job"))
                })
                .transpose()?;
            return Ok(DirectClaim::NothingOpen { latest });
        };
        let running = mapping::parse_job_status(&status) == Some(JobStatus::Running);
        if running && locked_until.is_some_and(|until| until >= Utc::now()) {
            return Ok(DirectClaim::InProgress);
        }
        let next_action = mapping::parse_action(&next_action)
            .ok_or_else(|| corrupt("sync_jobs", "action", "a job"))?;
        if next_action != action {
            return Ok(DirectClaim::Behind { next: next_action });
        }
        let claimed: Result<JobRow, sqlx::Error> = sqlx::query_as(CLAIM_ONE)
            .bind(id)
            .bind(mapping::job_status(JobStatus::Running))
            .bind(holder)
            .bind(lease_for.as_secs_f64())
            .fetch_one(&mut *tx)
            .await;
        let row = match claimed {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e, None) => return Ok(DirectClaim::InProgress),
            Err(e) => return Err(repo(e)),
        };
        tx.commit().await.map_err(repo)?;
        // A row that does not decode stays claimed until its lease expires;
        // then a worker's claim dead-letters it (see `queue::bury`).
        let mut job = row
            .into_domain()
            .map_err(|column| corrupt("sync_jobs", column, "a job"))?;
        // As a worker's claim does: fold later not-started jobs into this one
        // (when coalescing is on) and load those folded into it.
        if let Some(lease) = job.lease {
            match self.folded_into(job.id, lease).await {
                Ok(folded) => job.folded = folded,
                Err(e) => {
                    let _ = domain::ports::SyncQueue::release(self, job.id, lease).await;
                    return Err(RepoError::Unavailable(format!(
                        "could not load the jobs coalesced into the claimed one: {e}"
                    )));
                }
            }
        }
        Ok(DirectClaim::Claimed(Box::new(job)))
    }

    async fn stored_result(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredSyncResult>, RepoError> {
        let row: Option<(i16, String)> = sqlx::query_as(
            "SELECT http_status, body FROM sync_requests WHERE key = $1 AND expires_at > $2",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(repo)?;
        row.map(|(status, body)| {
            Ok(StoredSyncResult {
                http_status: u16::try_from(status)
                    .map_err(|_| corrupt("sync_requests", "http_status", "a request"))?,
                body,
            })
        })
        .transpose()
    }

    async fn store_result(
        &self,
        key: &str,
        result: &StoredSyncResult,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let mut tx = self.pool.begin().await.map_err(repo)?;
        // Expired answers are removed on the way (the table stays small).
        sqlx::query("DELETE FROM sync_requests WHERE expires_at <= now()")
            .execute(&mut *tx)
            .await
            .map_err(repo)?;
        sqlx::query(
            "INSERT INTO sync_requests (key, http_status, body, expires_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE
             SET http_status = EXCLUDED.http_status, body = EXCLUDED.body,
                 created_at = now(), expires_at = EXCLUDED.expires_at",
        )
        .bind(key)
        .bind(i16::try_from(result.http_status).unwrap_or(500))
        .bind(&result.body)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(repo)?;
        tx.commit().await.map_err(repo)?;
        Ok(())
    }
}
