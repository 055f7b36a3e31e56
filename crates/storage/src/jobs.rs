//! Reading sync jobs: the claimed `SyncJob` and the API's `JobSummary`.

use chrono::{DateTime, Utc};
use domain::ids::{AppointmentId, LocationId, SyncJobId};
use domain::intent::IntentPayload;
use domain::job::{Lease, SyncJob};
use domain::ports::{JobSummary, RepoError};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{corrupt, repo};
use crate::mapping;

/// The columns of a claimed job, as `RETURNING` lists them.
#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    pub id: Uuid,
    pub seq: i64,
    pub appointment_id: Uuid,
    pub location_id: String,
    pub action: String,
    pub payload: serde_json::Value,
    pub status: String,
    pub priority: i16,
    pub attempts: i32,
    pub completed_steps: Vec<String>,
    pub attempted_steps: Vec<String>,
    pub replays: i32,
    pub lease_token: Option<Uuid>,
    pub locked_until: Option<DateTime<Utc>>,
    pub traceparent: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl JobRow {
    /// The domain job, or the name of the column that does not parse.
    pub(crate) fn into_domain(self) -> Result<SyncJob, &'static str> {
        let lease = match (self.lease_token, self.locked_until) {
            (Some(token), Some(until)) => Some(Lease { token, until }),
            _ => None,
        };
        let completed_steps = self
            .completed_steps
            .iter()
            .map(|s| mapping::parse_step(s))
            .collect::<Option<Vec<_>>>()
            .ok_or("completed_steps")?;
        let attempted_steps = self
            .attempted_steps
            .iter()
            .map(|s| mapping::parse_step(s))
            .collect::<Option<Vec<_>>>()
            .ok_or("attempted_steps")?;
        Ok(SyncJob {
            id: SyncJobId::from_uuid(self.id),
            appointment_id: AppointmentId::from_uuid(self.appointment_id),
            location_id: LocationId::parse(&self.location_id).map_err(|_| "location_id")?,
            action: mapping::parse_action(&self.action).ok_or("action")?,
            payload: serde_json::from_value::<IntentPayload>(self.payload)
                .map_err(|_| "payload")?,
            status: mapping::parse_job_status(&self.status).ok_or("status")?,
            priority: mapping::parse_priority(self.priority).ok_or("priority")?,
            attempts: u32::try_from(self.attempts).map_err(|_| "attempts")?,
            completed_steps,
            attempted_steps,
            folded: Vec::new(),
            replay: self.replays > 0,
            lease,
            traceparent: self.traceparent,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: Uuid,
    action: String,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    error_class: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl SummaryRow {
    fn into_domain(self) -> Result<JobSummary, RepoError> {
        let id = self.id;
        let bad = |column| corrupt("sync_jobs", column, id);
        Ok(JobSummary {
            id: SyncJobId::from_uuid(id),
            action: mapping::parse_action(&self.action).ok_or_else(|| bad("action"))?,
            status: mapping::parse_job_status(&self.status).ok_or_else(|| bad("status"))?,
            attempts: u32::try_from(self.attempts).map_err(|_| bad("attempts"))?,
            last_error: self.last_error,
            error_class: self
                .error_class
                .map(|c| mapping::parse_error_class(&c).ok_or_else(|| bad("error_class")))
                .transpose()?,
            next_attempt_at: self.next_attempt_at,
            created_at: self.created_at,
            finished_at: self.finished_at,
        })
    }
}

/// The appointment's jobs, newest first.
pub(crate) async fn summaries_of(
    pool: &PgPool,
    id: AppointmentId,
) -> Result<Vec<JobSummary>, RepoError> {
    let rows: Vec<SummaryRow> = sqlx::query_as(
        "SELECT id, action, status, attempts, last_error, error_class, next_attempt_at, created_at, finished_at
         FROM sync_jobs WHERE appointment_id = $1 ORDER BY seq DESC",
    )
    .bind(id.as_uuid())
    .fetch_all(pool)
    .await
    .map_err(repo)?;
    rows.into_iter().map(SummaryRow::into_domain).collect()
}
