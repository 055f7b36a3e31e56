//! Writing sync jobs: the outbox half of every appointment transaction.

use domain::ids::{LocationId, SyncJobId};
use domain::intent::SyncIntent;
use domain::job::{JobPriority, JobStatus};
use domain::ports::RepoError;
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::NOTIFY_CHANNEL;
use crate::error::repo;
use crate::mapping;

/// A job to write in the caller's transaction.
pub(crate) struct NewJob<'a> {
    pub id: SyncJobId,
    pub location: &'a LocationId,
    pub intent: &'a SyncIntent,
    pub priority: JobPriority,
    pub traceparent: Option<&'a str>,
}

/// Inserts the job as pending and due now, and announces it on
/// [`NOTIFY_CHANNEL`] (PostgreSQL delivers the notification at commit, and not
/// at all if the transaction rolls back).
pub(crate) async fn enqueue(conn: &mut PgConnection, job: NewJob<'_>) -> Result<(), RepoError> {
    sqlx::query(
        "INSERT INTO sync_jobs
             (id, appointment_id, location_id, action, payload, status, priority,
              attempts, next_attempt_at, completed_steps, traceparent, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, now(), '{}', $8, now(), now())",
    )
    .bind(job.id.as_uuid())
    .bind(job.intent.appointment_id.as_uuid())
    .bind(job.location.as_str())
    .bind(mapping::action(job.intent.action))
    .bind(Json(&job.intent.payload))
    .bind(mapping::job_status(JobStatus::Pending))
    .bind(mapping::priority(job.priority))
    .bind(job.traceparent)
    .execute(&mut *conn)
    .await
    .map_err(repo)?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(NOTIFY_CHANNEL)
        .bind(job.id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(repo)?;
    Ok(())
}
