//! Ports: what the core needs from the outside world. Adapters implement them
//! (`storage` for the repositories and the outbox, `ghl-adapter` for the CRM);
//! binaries wire them together at start-up. All are `Send + Sync` and held as
//! `Arc<dyn Port>`.

mod dead_letters;
pub use dead_letters::*;
mod direct_sync;
pub use direct_sync::*;
mod sync_stats;
pub use sync_stats::*;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::appointment::Appointment;
use crate::contact::Customer;
use crate::ids::{AppointmentId, GhlContactId, LeadId, LocationId, SyncJobId};
use crate::intent::SyncIntent;
use crate::job::{CrmError, ErrorClass, JobOutcome, JobStatus, Lease, SyncJob};
use crate::lead::{Lead, LeadQuery};
use crate::plan::{EffectStep, FieldValue, NoteEffect, TaskEffect};
use crate::slot::TimeSlot;

mod inbox;
pub use inbox::*;
mod rate_limit;
pub use rate_limit::*;
mod token_source;
pub use token_source::*;

/// Time, injected so that tests control it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A storage failure the caller cannot fix (the database is down, a row is corrupt).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait LeadRepository: Send + Sync {
    async fn get(&self, id: LeadId) -> Result<Option<Lead>, RepoError>;

    /// Leads of `location` matching every criterion of `query`.
    async fn find(&self, location: &LocationId, query: &LeadQuery) -> Result<Vec<Lead>, RepoError>;

    /// The lead a booking is for, created when there is none. Matching order:
    /// the GHL contact id when given, then the email, then the phone. A lead
    /// found by email or phone that has no GHL contact id yet gets the given one.
    async fn resolve_for_booking(
        &self,
        location: &LocationId,
        customer: &Customer,
        ghl_contact_id: Option<GhlContactId>,
        now: DateTime<Utc>,
    ) -> Result<Lead, RepoError>;

    /// Records that `lead` is the GHL contact `contact` (after the worker created or
    /// found it). A lead that has a contact keeps it; a contact already linked to another
    /// lead of the location stays there.
    async fn link_contact(&self, lead: LeadId, contact: &GhlContactId) -> Result<(), RepoError>;
}

/// A client-chosen key that makes a create request safe to repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    /// A hash of the request body: the same key with another body is refused.
    pub fingerprint: String,
}

/// What an earlier request with the same idempotency key produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResult {
    pub fingerprint: String,
    pub appointment_id: AppointmentId,
    pub sync_job_id: SyncJobId,
}

/// A new appointment with its `create` intent, written in one transaction.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub appointment: Appointment,
    pub intent: SyncIntent,
    /// Overlapping active appointments allowed at any moment.
    pub capacity: u32,
    pub idempotency: Option<IdempotencyKey>,
    pub traceparent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsertError {
    #[error("the time slot is fully booked")]
    SlotTaken,
    #[error("a request with the same idempotency key was stored concurrently")]
    IdempotencyRace,
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// A changed appointment with its intent, written in one transaction if the
/// stored version still equals `expected_version`.
#[derive(Debug, Clone)]
pub struct AppointmentChange {
    pub appointment: Appointment,
    pub expected_version: i64,
    pub intent: SyncIntent,
    /// `Some(capacity)` when the slot moved and must be checked again.
    pub recheck_capacity: Option<u32>,
    /// A completed visit makes its lead a customer (in the same transaction).
    pub lead_becomes_customer: bool,
    pub traceparent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error("the appointment was changed concurrently")]
    VersionConflict,
    #[error("the appointment does not exist")]
    NotFound,
    #[error("the time slot is fully booked")]
    SlotTaken,
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// The sync state of an appointment's latest job, as shown by the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    pub id: SyncJobId,
    pub action: crate::intent::SyncAction,
    pub status: JobStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub error_class: Option<ErrorClass>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AppointmentRepository: Send + Sync {
    async fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, RepoError>;

    async fn find_idempotent(&self, key: &str) -> Result<Option<IdempotentResult>, RepoError>;

    /// Writes the appointment and its sync job in one transaction (and NOTIFYs
    /// the workers); refuses when the slot would exceed capacity.
    async fn insert(&self, booking: NewBooking) -> Result<SyncJobId, InsertError>;

    /// Writes the change and its sync job in one transaction (and NOTIFYs).
    async fn update(&self, change: AppointmentChange) -> Result<SyncJobId, UpdateError>;

    /// Slots of appointments that still hold them and overlap `[from, to)`.
    async fn active_slots(
        &self,
        location: &LocationId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<TimeSlot>, RepoError>;

    /// The appointment's sync jobs, newest first.
    async fn jobs_of(&self, id: AppointmentId) -> Result<Vec<JobSummary>, RepoError>;

    /// The id of the GHL calendar event linked to the appointment (calendar mirroring).
    async fn ghl_event_id(&self, id: AppointmentId) -> Result<Option<String>, RepoError>;

    /// Links the appointment to the GHL calendar event `event_id`.
    async fn set_ghl_event_id(&self, id: AppointmentId, event_id: &str) -> Result<(), RepoError>;
}

/// A write about a running job failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// The lease expired and the job was claimed again (or finished) by someone else.
    #[error("the job's lease was lost")]
    Lost,
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// One attempt of a job, as recorded in `sync_attempts`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptLog {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub ghl_calls: u32,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SyncQueue: Send + Sync {
    /// Claims up to `limit` due jobs under a lease of `lease_for`: pending jobs
    /// whose time has come and running jobs whose lease expired, only the oldest
    /// unfinished job of each appointment, live before bulk, oldest first.
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<SyncJob>, RepoError>;

    /// Journals one completed step of a job we hold.
    async fn step_done(
        &self,
        job: SyncJobId,
        lease: Lease,
        step: EffectStep,
    ) -> Result<(), LeaseError>;

    /// Records the attempt and the job's new state, if we still hold it.
    async fn finish(
        &self,
        job: SyncJobId,
        lease: Lease,
        outcome: &JobOutcome,
        attempt: &AttemptLog,
    ) -> Result<(), LeaseError>;

    /// Gives a job back unfinished (shutdown): pending again, due now, this attempt not counted.
    async fn release(&self, job: SyncJobId, lease: Lease) -> Result<(), LeaseError>;

    /// Extends the lease of a job we still hold to `lease_for` from now (the
    /// worker renews the leases of its running jobs, so that only a dead
    /// worker's jobs are taken over). `LeaseError::Lost` when it was taken over.
    async fn renew(
        &self,
        job: SyncJobId,
        lease: Lease,
        lease_for: Duration,
    ) -> Result<(), LeaseError>;

    /// Records, before its call is made, that a step which must not be done
    /// twice (a note, a task) is being attempted: a later attempt that finds it
    /// attempted but not journaled looks in GHL before writing again.
    async fn step_attempted(
        &self,
        job: SyncJobId,
        lease: Lease,
        step: EffectStep,
    ) -> Result<(), LeaseError>;
}

/// The CRM as the core sees it. Every call names the GHL location it acts in.
///
/// No method has a default body: a decorator (such as `ghl_adapter::Metered`) that
/// forgot to forward one would otherwise silently lose its behaviour.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait CrmGateway: Send + Sync {
    async fn add_note(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        note: &NoteEffect,
    ) -> Result<(), CrmError>;
    async fn add_tags(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        tags: &[String],
    ) -> Result<(), CrmError>;
    async fn remove_tags(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        tags: &[String],
    ) -> Result<(), CrmError>;
    async fn update_custom_fields(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        fields: &[FieldValue],
    ) -> Result<(), CrmError>;
    async fn create_task(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        task: &TaskEffect,
    ) -> Result<(), CrmError>;
    async fn get_contact(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
    ) -> Result<CrmContact, CrmError>;

    /// The id of the contact's note whose body contains `marker` (see
    /// `plan::reference_marker`), if there is one. Asked before a note whose
    /// earlier attempt had an unknown outcome is written again.
    async fn find_note(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        marker: &str,
    ) -> Result<Option<String>, CrmError>;

    /// Like [`CrmGateway::find_note`], for the contact's tasks (title or body).
    async fn find_task(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        marker: &str,
    ) -> Result<Option<String>, CrmError>;

    /// Finds the contact with the lead's email or phone in `location`, or creates it
    /// (GHL's upsert), and returns its id. Used only when missing contacts are to be
    /// created (`EffectSettings::upsert_missing_contacts`).
    async fn upsert_contact(
        &self,
        location: &LocationId,
        lead: &Lead,
    ) -> Result<GhlContactId, CrmError>;

    /// Creates the calendar event (`POST /calendars/events/appointments`) and
    /// returns its id. Not idempotent: see [`CrmGateway::find_calendar_event`].
    async fn create_calendar_event(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        event: &crate::plan::CalendarEvent,
    ) -> Result<String, CrmError>;

    /// Makes the calendar event `event_id` equal to `event` (`PUT`).
    async fn update_calendar_event(
        &self,
        location: &LocationId,
        event_id: &str,
        event: &crate::plan::CalendarEvent,
    ) -> Result<(), CrmError>;

    /// The id of the contact's event in `calendar_id` whose title contains
    /// `marker`, if any: asked before a create of unknown outcome is repeated.
    async fn find_calendar_event(
        &self,
        location: &LocationId,
        contact: &GhlContactId,
        calendar_id: &str,
        marker: &str,
    ) -> Result<Option<String>, CrmError>;
}

/// What we read of a GHL contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmContact {
    pub id: GhlContactId,
    pub tags: Vec<String>,
    /// Custom-field values by field id.
    pub custom_fields: Vec<(String, String)>,
}
