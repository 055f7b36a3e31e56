//! The dead-letter queue as operators see it: list dead jobs, replay them,
//! discard them. Used by `worker dlq …` and by the api's monitor and dashboard.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{AppointmentId, LocationId, SyncJobId};
use crate::intent::SyncAction;
use crate::job::{ErrorClass, JobPriority};
use crate::ports::RepoError;

/// Which dead jobs an operation is about; every given criterion must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadJobFilter {
    /// Exactly this job.
    pub job_id: Option<SyncJobId>,
    /// Dead-lettered at or after this instant.
    pub since: Option<DateTime<Utc>>,
    pub action: Option<SyncAction>,
    pub error_class: Option<ErrorClass>,
    pub appointment_id: Option<AppointmentId>,
    pub location_id: Option<LocationId>,
    /// At most this many (newest first); `None` = no limit.
    pub limit: Option<u32>,
}

/// One dead-lettered job, without personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadJob {
    pub id: SyncJobId,
    pub appointment_id: AppointmentId,
    pub location_id: LocationId,
    pub action: SyncAction,
    pub attempts: u32,
    pub error_class: Option<ErrorClass>,
    pub http_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a replay would do, shown before it is done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayPreview {
    pub jobs: u32,
    /// GHL calls the replayed jobs are expected to make (from their effect plans).
    pub estimated_ghl_calls: u32,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn list(&self, filter: &DeadJobFilter) -> Result<Vec<DeadJob>, RepoError>;

    /// What `replay` with the same filter would do.
    async fn preview(&self, filter: &DeadJobFilter) -> Result<ReplayPreview, RepoError>;

    /// Makes the matching dead jobs run again (re-planned from the appointment's
    /// current state), with `priority`. Returns how many were replayed.
    async fn replay(&self, filter: &DeadJobFilter, priority: JobPriority)
    -> Result<u32, RepoError>;

    /// Removes the matching dead jobs from the dead-letter queue for good (they
    /// stay recorded as discarded). Returns how many.
    async fn discard(&self, filter: &DeadJobFilter) -> Result<u32, RepoError>;
}
