//! Running an appointment's next sync job *now*, on request (`POST /sync`), and
//! remembering the answer for a while so that a repeated request does not sync
//! twice. The job itself still runs through `service::run_job`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::AppointmentId;
use crate::intent::SyncAction;
use crate::job::{JobStatus, SyncJob};
use crate::ports::RepoError;

/// What asking for an appointment's next job of `action` found.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectClaim {
    /// The appointment's oldest unfinished job has the requested action and is
    /// now ours under a lease (even when its retry was scheduled for later).
    Claimed(Box<SyncJob>),
    /// That job is running elsewhere (a worker holds a valid lease).
    InProgress,
    /// An earlier job of another action must sync first (jobs of one
    /// appointment run strictly in order).
    Behind { next: SyncAction },
    /// The appointment has no unfinished job; `latest` is how its newest job of
    /// the requested action ended, if there is one.
    NothingOpen { latest: Option<JobStatus> },
}

/// A stored answer to a `POST /sync` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSyncResult {
    pub http_status: u16,
    /// The JSON body, as sent.
    pub body: String,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait DirectSync: Send + Sync {
    /// Claims the appointment's oldest unfinished job if its action is `action`.
    async fn claim_next_of(
        &self,
        appointment: AppointmentId,
        action: SyncAction,
        holder: &str,
        lease_for: Duration,
    ) -> Result<DirectClaim, RepoError>;

    /// The answer stored under `key`, if it has not expired at `now`.
    async fn stored_result(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredSyncResult>, RepoError>;

    /// Stores (or replaces) the answer under `key` until `expires_at`.
    async fn store_result(
        &self,
        key: &str,
        result: &StoredSyncResult,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError>;
}
