//! Sync jobs (outbox rows), their outcomes, and the classification of failures.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{AppointmentId, LocationId, SyncJobId};
use crate::intent::{IntentPayload, SyncAction};
use crate::plan::EffectStep;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Running,
    Succeeded,
    Skipped,
    Dead,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Skipped,
        JobStatus::Dead,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Skipped => "skipped",
            JobStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        JobStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Live changes run before bulk work (backfills, replays of many jobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobPriority {
    Live,
    Bulk,
}

impl JobPriority {
    /// Lower runs first.
    pub fn rank(&self) -> i16 {
        match self {
            JobPriority::Live => 0,
            JobPriority::Bulk => 10,
        }
    }
}

/// Why a call to GHL failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// 401/403: the token is wrong, expired or lacks a scope.
    Auth,
    /// 404 (or GHL's 400 "not found"): the contact or resource is gone.
    NotFound,
    /// 400/422: GHL refused what we sent.
    Validation,
    /// 429: over GHL's budget.
    RateLimited,
    /// Timeouts, connection errors, 408, 5xx: may work next time.
    Transient,
    /// Anything else that will not get better by retrying.
    Permanent,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 6] = [
        ErrorClass::Auth,
        ErrorClass::NotFound,
        ErrorClass::Validation,
        ErrorClass::RateLimited,
        ErrorClass::Transient,
        ErrorClass::Permanent,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorClass::Auth => "auth",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Validation => "validation",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ErrorClass::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether waiting and trying again can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ErrorClass::RateLimited | ErrorClass::Transient)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call to the CRM, classified by the adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct CrmError {
    pub class: ErrorClass,
    /// The HTTP status GHL answered, if it answered.
    pub status: Option<u16>,
    /// Free of personal data: the adapter never copies request bodies here.
    pub message: String,
    /// How long GHL asked us to wait, if it did.
    pub retry_after: Option<Duration>,
}

impl CrmError {
    pub fn new(class: ErrorClass, status: Option<u16>, message: impl Into<String>) -> Self {
        Self {
            class,
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// GHL refused the token (401, after a refresh where there is one): every call of
    /// the location fails alike until the token is fixed, so jobs wait instead of dying.
    pub fn is_refused_token(&self) -> bool {
        self.class == ErrorClass::Auth && self.status == Some(401)
    }
}

/// A claimed job: the row plus the lease that proves we hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncJob {
    pub id: SyncJobId,
    pub appointment_id: AppointmentId,
    pub location_id: LocationId,
    pub action: SyncAction,
    pub payload: IntentPayload,
    pub status: JobStatus,
    pub priority: JobPriority,
    /// Attempts started so far, this one included once claimed.
    pub attempts: u32,
    pub completed_steps: Vec<EffectStep>,
    /// Notes and tasks whose call was started by some attempt (journaled before
    /// the call): not journaled as done means the outcome is unknown.
    pub attempted_steps: Vec<EffectStep>,
    /// Later pending jobs of the same appointment run together with this one
    /// (`crate::coalesce`), oldest first; empty when nothing was folded in.
    pub folded: Vec<FoldedJob>,
    /// Replayed from the dead-letter queue: tags and fields are planned from the
    /// appointment's current state (`crate::replay`).
    pub replay: bool,
    pub lease: Option<Lease>,
    /// W3C traceparent of the request that caused the job.
    pub traceparent: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A job folded into an earlier one of its appointment (coalescing): its note
/// and task are written by that job's run, its contact update merged into it.
/// Steps are journaled on the folded job's own row.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedJob {
    pub id: SyncJobId,
    pub action: SyncAction,
    pub payload: IntentPayload,
    pub completed_steps: Vec<EffectStep>,
    pub attempted_steps: Vec<EffectStep>,
}

/// Proof of a claim. Every write about a running job names its token, so a
/// worker whose lease expired (and was rescued by another) cannot record anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub token: Uuid,
    pub until: DateTime<Utc>,
}

/// What the GHL side received, in the seed's `syncDetails` terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub notes_created: bool,
    pub contact_updated: bool,
    pub task_created: bool,
    pub tags_applied: Vec<String>,
    pub tags_removed: Vec<String>,
    pub custom_fields_updated: std::collections::BTreeMap<String, String>,
    /// GHL calls made by this attempt.
    pub ghl_calls: u32,
    /// Notes and tasks of unknown outcome looked up in GHL by this attempt.
    #[serde(skip)]
    pub in_doubt_lookups: u32,
    /// Of those, how many were found done (and so not written again).
    #[serde(skip)]
    pub in_doubt_found: u32,
    /// Later jobs of the appointment run together with this one (coalescing).
    #[serde(skip)]
    pub coalesced_jobs: u32,
    /// Contact-update calls that coalescing made unnecessary.
    #[serde(skip)]
    pub calls_saved: u32,
    /// Notes of older coalesced changes not written (`CoalescedNotes::Last`).
    #[serde(skip)]
    pub notes_skipped: u32,
}

/// How one attempt of a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Succeeded(SyncReport),
    /// Nothing to do in GHL (e.g. the lead has no GHL contact); the reason is kept.
    Skipped {
        reason: String,
    },
    /// Failed for now; try again at `at`.
    RetryAt {
        at: DateTime<Utc>,
        error: CrmError,
        ghl_calls: u32,
    },
    /// Failed for good (permanent error, or attempts exhausted): dead-lettered.
    Dead {
        error: CrmError,
        ghl_calls: u32,
    },
}

impl JobOutcome {
    pub fn status(&self) -> JobStatus {
        match self {
            JobOutcome::Succeeded(_) => JobStatus::Succeeded,
            JobOutcome::Skipped { .. } => JobStatus::Skipped,
            JobOutcome::RetryAt { .. } => JobStatus::Pending,
            JobOutcome::Dead { .. } => JobStatus::Dead,
        }
    }

    pub fn error(&self) -> Option<&CrmError> {
        match self {
            JobOutcome::RetryAt { error, .. } | JobOutcome::Dead { error, .. } => Some(error),
            _ => None,
        }
    }

    /// A retry because GHL refused the token (401): the job waits for the location's
    /// auth pause to end and the attempt is not counted (the queue gives it back).
    pub fn waits_for_token(&self) -> bool {
        matches!(self, JobOutcome::RetryAt { error, .. } if error.is_refused_token())
    }

    pub fn ghl_calls(&self) -> u32 {
        match self {
            JobOutcome::Succeeded(report) => report.ghl_calls,
            JobOutcome::Skipped { .. } => 0,
            JobOutcome::RetryAt { ghl_calls, .. } | JobOutcome::Dead { ghl_calls, .. } => {
                *ghl_calls
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rate_limits_and_transient_failures_are_retried() {
        let retryable: Vec<_> = ErrorClass::ALL
            .into_iter()
            .filter(|c| c.is_retryable())
            .collect();
        assert_eq!(retryable, [ErrorClass::RateLimited, ErrorClass::Transient]);
    }

    #[test]
    fn names_round_trip() {
        for class in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(class.as_str()), Some(class));
        }
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
    }
}
