//! The figures behind the monitor and the dashboard, read from the jobs and
//! their attempts. No personal data: ids, classes, statuses and error texts
//! (which the adapters keep free of personal data).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::health::{AuthPaused, FailureGroup, SyncFigures, TimeBucket};
use crate::ids::AppointmentId;
use crate::ports::RepoError;

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SyncStats: Send + Sync {
    /// Attempts finished since `since` (optionally of one appointment), the
    /// dead-letter size, failures since `failures_since`, and the most recent
    /// failing jobs (at most `recent`).
    async fn figures(
        &self,
        since: DateTime<Utc>,
        failures_since: DateTime<Utc>,
        appointment: Option<AppointmentId>,
        recent: u32,
    ) -> Result<SyncFigures, RepoError>;

    /// Failed attempts since `since`, grouped by location, class, HTTP status and
    /// error text, largest groups first (at most `limit`).
    async fn failure_groups(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FailureGroup>, RepoError>;

    /// Attempts per bucket of `bucket_seconds` since `since` (for charts).
    async fn timeline(
        &self,
        since: DateTime<Utc>,
        bucket_seconds: u32,
    ) -> Result<Vec<TimeBucket>, RepoError>;

    /// GHL locations whose token GHL refuses (their jobs wait), oldest pause first.
    async fn auth_paused(&self) -> Result<Vec<AuthPaused>, RepoError>;
}
