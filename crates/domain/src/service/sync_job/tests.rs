//! `run_job` with in-memory fakes for the stores and a mockall CRM.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use mockall::mock;

use super::*;
use crate::appointment::{Appointment, NewAppointment, ServiceType};
use crate::contact::{Customer, Email, PersonName};
use crate::ids::{AppointmentId, GhlContactId, LeadId, LocationId, SyncJobId};
use crate::intent::SyncAction;
use crate::job::{JobPriority, JobStatus, Lease};
use crate::lead::{Lead, LeadQuery, Lifecycle};
use crate::plan::{FieldValue, NoteEffect, TaskEffect};
use crate::ports::{
    AppointmentChange, CrmContact, IdempotentResult, InsertError, JobSummary, NewBooking,
    RepoError, UpdateError,
};
use crate::slot::TimeSlot;

mock! {
    Crm {}
    #[async_trait]
    impl CrmGateway for Crm {
        async fn add_note(&self, location: &LocationId, contact: &GhlContactId, note: &NoteEffect) -> Result<(), CrmError>;
        async fn add_tags(&self, location: &LocationId, contact: &GhlContactId, tags: &[String]) -> Result<(), CrmError>;
        async fn remove_tags(&self, location: &LocationId, contact: &GhlContactId, tags: &[String]) -> Result<(), CrmError>;
        async fn update_custom_fields(&self, location: &LocationId, contact: &GhlContactId, fields: &[FieldValue]) -> Result<(), CrmError>;
        async fn create_task(&self, location: &LocationId, contact: &GhlContactId, task: &TaskEffect) -> Result<(), CrmError>;
        async fn get_contact(&self, location: &LocationId, contact: &GhlContactId) -> Result<CrmContact, CrmError>;
    }
}

struct FixedClock(DateTime<Utc>);
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 10, 9, 0, 0).unwrap()
}

/// Holds one appointment and its lead.
struct World {
    appointment: Option<Appointment>,
    lead: Option<Lead>,
}

#[async_trait]
impl AppointmentRepository for World {
    async fn get(&self, _: AppointmentId) -> Result<Option<Appointment>, RepoError> {
        Ok(self.appointment.clone())
    }
    async fn find_idempotent(&self, _: &str) -> Result<Option<IdempotentResult>, RepoError> {
        unreachable!()
    }
    async fn insert(&self, _: NewBooking) -> Result<SyncJobId, InsertError> {
        unreachable!()
    }
    async fn update(&self, _: AppointmentChange) -> Result<SyncJobId, UpdateError> {
        unreachable!()
    }
    async fn active_slots(
        &self,
        _: &LocationId,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<Vec<TimeSlot>, RepoError> {
        unreachable!()
    }
    async fn jobs_of(&self, _: AppointmentId) -> Result<Vec<JobSummary>, RepoError> {
        unreachable!()
    }
}

#[async_trait]
impl LeadRepository for World {
    async fn get(&self, _: LeadId) -> Result<Option<Lead>, RepoError> {
        Ok(self.lead.clone())
    }
    async fn find(&self, _: &LocationId, _: &LeadQuery) -> Result<Vec<Lead>, RepoError> {
        unreachable!()
    }
    async fn resolve_for_booking(
        &self,
        _: &LocationId,
        _: &Customer,
        _: Option<GhlContactId>,
        _: DateTime<Utc>,
    ) -> Result<Lead, RepoError> {
        unreachable!()
    }
}

/// Records what the core told the queue; `lost` simulates a rescued job.
#[derive(Default)]
struct Journal {
    steps: Mutex<Vec<EffectStep>>,
    finished: Mutex<Vec<(JobOutcome, AttemptLog)>>,
    lost: bool,
}

#[async_trait]
impl SyncQueue for Journal {
    async fn claim(
        &self,
        _: &str,
        _: u32,
        _: std::time::Duration,
    ) -> Result<Vec<SyncJob>, RepoError> {
        unreachable!()
    }
    async fn step_done(&self, _: SyncJobId, _: Lease, step: EffectStep) -> Result<(), LeaseError> {
        if self.lost {
            return Err(LeaseError::Lost);
        }
        self.steps.lock().unwrap().push(step);
        Ok(())
    }
    async fn finish(
        &self,
        _: SyncJobId,
        _: Lease,
        outcome: &JobOutcome,
        attempt: &AttemptLog,
    ) -> Result<(), LeaseError> {
        if self.lost {
            return Err(LeaseError::Lost);
        }
        self.finished
            .lock()
            .unwrap()
            .push((outcome.clone(), attempt.clone()));
        Ok(())
    }
    async fn release(&self, _: SyncJobId, _: Lease) -> Result<(), LeaseError> {
        unreachable!()
    }
}

fn world(contact: Option<&str>) -> World {
    let start = now() + chrono::Duration::days(3);
    let lead_id = LeadId::new();
    let (appointment, _) = Appointment::book(
        NewAppointment {
            location_id: LocationId::parse("loc1").unwrap(),
            lead_id,
            customer: Customer::new(
                PersonName::parse("Jan").unwrap(),
                Some(Email::parse("jan@example.nl").unwrap()),
                None,
                None,
            )
            .unwrap(),
            service_type: ServiceType::parse("repair").unwrap(),
            slot: TimeSlot::new(start, start + chrono::Duration::hours(2)).unwrap(),
            notes: None,
        },
        AppointmentId::new(),
        now(),
    )
    .unwrap();
    let lead = Lead {
        id: lead_id,
        location_id: LocationId::parse("loc1").unwrap(),
        ghl_contact_id: contact.map(|c| GhlContactId::parse(c).unwrap()),
        name: None,
        email: None,
        phone: None,
        address: None,
        source: "booking".into(),
        lifecycle: Lifecycle::Lead,
        customer_since: None,
        services_completed: 0,
        created_at: now(),
        updated_at: now(),
    };
    World {
        appointment: Some(appointment),
        lead: Some(lead),
    }
}

fn job_for(world: &World, action: SyncAction, attempts: u32, done: Vec<EffectStep>) -> SyncJob {
    let appointment = world.appointment.as_ref().unwrap();
    let (_, intent) = match action {
        SyncAction::Confirm => appointment.confirm(now()).unwrap(),
        _ => appointment.clone().cancel(None, now()).unwrap(),
    };
    SyncJob {
        id: SyncJobId::new(),
        appointment_id: appointment.id,
        location_id: appointment.location_id.clone(),
        action,
        payload: intent.payload,
        status: JobStatus::Running,
        priority: JobPriority::Live,
        attempts,
        completed_steps: done,
        replay: false,
        lease: Some(Lease {
            token: uuid::Uuid::new_v4(),
            until: now() + chrono::Duration::minutes(5),
        }),
        traceparent: None,
        created_at: now(),
    }
}

fn deps(world: World, crm: MockCrm, journal: Arc<Journal>) -> SyncDeps {
    let world = Arc::new(world);
    SyncDeps {
        appointments: world.clone(),
        leads: world,
        queue: journal,
        crm: Arc::new(crm),
        clock: Arc::new(FixedClock(now())),
        settings: EffectSettings::default(),
        retry: RetryPolicy::JOB_DEFAULT,
    }
}

fn ok_crm() -> MockCrm {
    let mut crm = MockCrm::new();
    crm.expect_add_note().times(1).returning(|_, _, _| Ok(()));
    crm.expect_add_tags().times(1).returning(|_, _, _| Ok(()));
    crm.expect_remove_tags()
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_update_custom_fields()
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_create_task()
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm
}

#[tokio::test]
async fn a_confirmation_makes_every_planned_call_once_and_journals_each_step() {
    let w = world(Some("c1"));
    let job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, ok_crm(), journal.clone()), job, 0.5)
        .await
        .unwrap();
    let JobOutcome::Succeeded(report) = outcome else {
        panic!("expected success, got {outcome:?}")
    };
    assert_eq!(report.ghl_calls, 5);
    assert!(report.notes_created && report.task_created && report.contact_updated);
    assert_eq!(report.tags_applied, ["appointment-confirmed"]);
    assert_eq!(
        report.custom_fields_updated["appointment_status"],
        "confirmed"
    );
    assert_eq!(*journal.steps.lock().unwrap(), EffectStep::ALL);
    let finished = journal.finished.lock().unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].1.ghl_calls, 5);
}

#[tokio::test]
async fn a_retry_resumes_at_the_first_step_not_done() {
    let w = world(Some("c1"));
    let job = job_for(
        &w,
        SyncAction::Confirm,
        2,
        vec![EffectStep::Note, EffectStep::AddTags],
    );
    let mut crm = MockCrm::new();
    crm.expect_add_note().never();
    crm.expect_add_tags().never();
    crm.expect_remove_tags()
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_update_custom_fields()
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_create_task()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, crm, journal.clone()), job, 0.5)
        .await
        .unwrap();
    let JobOutcome::Succeeded(report) = outcome else {
        panic!("expected success")
    };
    assert_eq!(report.ghl_calls, 3);
    // The report still tells what the job as a whole did.
    assert!(report.notes_created);
    assert_eq!(report.tags_applied, ["appointment-confirmed"]);
}

#[tokio::test]
async fn a_lead_without_a_ghl_contact_is_skipped_without_any_call() {
    let w = world(None);
    let job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, MockCrm::new(), journal.clone()), job, 0.5)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, JobOutcome::Skipped { reason } if reason.contains("No GoHighLevel contact"))
    );
    assert_eq!(journal.finished.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_transient_failure_is_retried_with_backoff_and_keeps_the_steps_done() {
    let w = world(Some("c1"));
    let job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    let mut crm = MockCrm::new();
    crm.expect_add_note().times(1).returning(|_, _, _| Ok(()));
    crm.expect_add_tags().times(1).returning(|_, _, _| {
        Err(CrmError::new(
            ErrorClass::Transient,
            Some(503),
            "add tags: 503",
        ))
    });
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, crm, journal.clone()), job, 0.0)
        .await
        .unwrap();
    let JobOutcome::RetryAt {
        at,
        error,
        ghl_calls,
    } = outcome
    else {
        panic!("expected a retry")
    };
    assert_eq!(at, now() + chrono::Duration::minutes(5));
    assert_eq!(error.status, Some(503));
    assert_eq!(ghl_calls, 2);
    assert_eq!(*journal.steps.lock().unwrap(), [EffectStep::Note]);
}

#[tokio::test]
async fn retry_after_from_ghl_is_honoured_when_longer_than_the_backoff() {
    let w = world(Some("c1"));
    let job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    let mut crm = MockCrm::new();
    crm.expect_add_note().returning(|_, _, _| {
        let mut e = CrmError::new(ErrorClass::RateLimited, Some(429), "rate limited");
        e.retry_after = Some(std::time::Duration::from_secs(3600));
        Err(e)
    });
    let outcome = run_job(&deps(w, crm, Arc::new(Journal::default())), job, 0.0)
        .await
        .unwrap();
    let JobOutcome::RetryAt { at, .. } = outcome else {
        panic!("expected a retry")
    };
    assert_eq!(at, now() + chrono::Duration::hours(1));
}

#[tokio::test]
async fn the_last_attempt_dead_letters_the_job() {
    let w = world(Some("c1"));
    let job = job_for(
        &w,
        SyncAction::Confirm,
        RetryPolicy::JOB_DEFAULT.max_attempts,
        vec![],
    );
    let mut crm = MockCrm::new();
    crm.expect_add_note()
        .returning(|_, _, _| Err(CrmError::new(ErrorClass::Transient, None, "timeout")));
    let outcome = run_job(&deps(w, crm, Arc::new(Journal::default())), job, 0.5)
        .await
        .unwrap();
    assert!(matches!(outcome, JobOutcome::Dead { .. }), "{outcome:?}");
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_at_once() {
    let w = world(Some("c1"));
    let job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    let mut crm = MockCrm::new();
    crm.expect_add_note()
        .returning(|_, _, _| Err(CrmError::new(ErrorClass::Auth, Some(401), "invalid token")));
    let outcome = run_job(&deps(w, crm, Arc::new(Journal::default())), job, 0.5)
        .await
        .unwrap();
    let JobOutcome::Dead { error, ghl_calls } = outcome else {
        panic!("expected dead")
    };
    assert_eq!(error.class, ErrorClass::Auth);
    assert_eq!(ghl_calls, 1);
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_records_nothing_and_stops_calling_ghl() {
    let w = world(Some("c1"));
    let job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    let mut crm = MockCrm::new();
    crm.expect_add_note().times(1).returning(|_, _, _| Ok(()));
    crm.expect_add_tags().never();
    let journal = Arc::new(Journal {
        lost: true,
        ..Journal::default()
    });
    let result = run_job(&deps(w, crm, journal.clone()), job, 0.5).await;
    assert_eq!(result, Err(LeaseError::Lost));
    assert!(journal.finished.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_job_whose_appointment_vanished_is_dead_lettered() {
    let mut w = world(Some("c1"));
    let job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    w.appointment = None;
    let outcome = run_job(
        &deps(w, MockCrm::new(), Arc::new(Journal::default())),
        job,
        0.5,
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, JobOutcome::Dead { ref error, .. } if error.class == ErrorClass::Permanent)
    );
}
