//! The one place where statuses and other enumerations meet the strings stored
//! in the database. Every query binds these values as parameters instead of
//! spelling status strings in SQL; the schema's CHECK constraints list the same
//! strings, and a test proves that every domain value passes them.

use domain::appointment::AppointmentStatus;
use domain::intent::SyncAction;
use domain::job::{ErrorClass, JobOutcome, JobPriority, JobStatus};
use domain::lead::Lifecycle;
use domain::plan::EffectStep;

/// `sync_attempts.outcome` of an attempt that scheduled a retry (the other
/// outcomes are the job status the attempt led to).
pub(crate) const RETRY_OUTCOME: &str = "retry";

/// `leads.source` of a lead created by a booking.
pub(crate) const BOOKING_SOURCE: &str = "booking";

pub(crate) fn job_status(status: JobStatus) -> &'static str {
    status.as_str()
}

pub(crate) fn parse_job_status(s: &str) -> Option<JobStatus> {
    JobStatus::parse(s)
}

/// Statuses of jobs that are not finished yet.
pub(crate) fn open_job_statuses() -> Vec<&'static str> {
    [JobStatus::Pending, JobStatus::Running]
        .map(job_status)
        .to_vec()
}

pub(crate) fn appointment_status(status: AppointmentStatus) -> &'static str {
    status.as_str()
}

pub(crate) fn parse_appointment_status(s: &str) -> Option<AppointmentStatus> {
    s.parse().ok()
}

/// Statuses of appointments that occupy their slot (the domain decides which).
pub(crate) fn slot_holding_statuses() -> Vec<&'static str> {
    AppointmentStatus::ALL
        .into_iter()
        .filter(AppointmentStatus::holds_slot)
        .map(appointment_status)
        .collect()
}

pub(crate) fn action(action: SyncAction) -> &'static str {
    action.as_str()
}

pub(crate) fn parse_action(s: &str) -> Option<SyncAction> {
    s.parse().ok()
}

pub(crate) fn step(step: EffectStep) -> &'static str {
    step.as_str()
}

pub(crate) fn parse_step(s: &str) -> Option<EffectStep> {
    EffectStep::parse(s)
}

pub(crate) fn priority(priority: JobPriority) -> i16 {
    priority.rank()
}

pub(crate) fn parse_priority(rank: i16) -> Option<JobPriority> {
    // The match makes a new domain priority a compile error here.
    let all = |p: JobPriority| match p {
        JobPriority::Live | JobPriority::Bulk => [JobPriority::Live, JobPriority::Bulk],
    };
    all(JobPriority::Live)
        .into_iter()
        .find(|p| p.rank() == rank)
}

pub(crate) fn error_class(class: ErrorClass) -> &'static str {
    class.as_str()
}

pub(crate) fn parse_error_class(s: &str) -> Option<ErrorClass> {
    ErrorClass::parse(s)
}

pub(crate) fn lifecycle(lifecycle: Lifecycle) -> &'static str {
    lifecycle.as_str()
}

pub(crate) fn parse_lifecycle(s: &str) -> Option<Lifecycle> {
    Lifecycle::parse(s)
}

/// `sync_attempts.outcome` of an attempt that ended with `outcome`.
pub(crate) fn attempt_outcome(outcome: &JobOutcome) -> &'static str {
    match outcome {
        JobOutcome::RetryAt { .. } => RETRY_OUTCOME,
        other => job_status(other.status()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_round_trip_through_their_rank() {
        for p in [JobPriority::Live, JobPriority::Bulk] {
            assert_eq!(parse_priority(priority(p)), Some(p));
        }
        assert_eq!(parse_priority(-1), None);
    }

    #[test]
    fn only_scheduled_and_confirmed_appointments_hold_a_slot() {
        assert_eq!(slot_holding_statuses(), ["scheduled", "confirmed"]);
    }

    #[test]
    fn open_jobs_are_pending_or_running() {
        assert_eq!(open_job_statuses(), ["pending", "running"]);
    }
}
