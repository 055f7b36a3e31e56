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
        async fn upsert_contact(&self, location: &LocationId, lead: &Lead) -> Result<GhlContactId, CrmError>;
        async fn find_note(&self, location: &LocationId, contact: &GhlContactId, marker: &str) -> Result<Option<String>, CrmError>;
        async fn find_task(&self, location: &LocationId, contact: &GhlContactId, marker: &str) -> Result<Option<String>, CrmError>;
        async fn create_calendar_event(&self, location: &LocationId, contact: &GhlContactId, event: &crate::plan::CalendarEvent) -> Result<String, CrmError>;
        async fn update_calendar_event(&self, location: &LocationId, event_id: &str, event: &crate::plan::CalendarEvent) -> Result<(), CrmError>;
        async fn find_calendar_event(&self, location: &LocationId, contact: &GhlContactId, calendar_id: &str, marker: &str) -> Result<Option<String>, CrmError>;
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
    /// The linked GHL calendar event (calendar mirroring).
    event_id: Mutex<Option<String>>,
}

#[async_trait]
impl AppointmentRepository for World {
    async fn get(&self, _: AppointmentId) -> Result<Option<Appointment>, RepoError> {
        Ok(self.appointment.clone())
    }
    async fn ghl_event_id(&self, _: AppointmentId) -> Result<Option<String>, RepoError> {
        Ok(self.event_id.lock().unwrap().clone())
    }
    async fn set_ghl_event_id(&self, _: AppointmentId, id: &str) -> Result<(), RepoError> {
        *self.event_id.lock().unwrap() = Some(id.to_owned());
        Ok(())
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
    async fn link_contact(&self, _: LeadId, _: &GhlContactId) -> Result<(), RepoError> {
        unreachable!()
    }
}

/// Records what the core told the queue; `lost` simulates a rescued job.
#[derive(Default)]
struct Journal {
    steps: Mutex<Vec<EffectStep>>,
    attempted: Mutex<Vec<EffectStep>>,
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
    async fn step_attempted(
        &self,
        _: SyncJobId,
        _: Lease,
        step: EffectStep,
    ) -> Result<(), LeaseError> {
        self.attempted.lock().unwrap().push(step);
        Ok(())
    }
    async fn release(&self, _: SyncJobId, _: Lease) -> Result<(), LeaseError> {
        unreachable!()
    }
    async fn renew(
        &self,
        _: SyncJobId,
        _: Lease,
        _: std::time::Duration,
    ) -> Result<(), LeaseError> {
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
        event_id: Mutex::new(None),
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
        attempted_steps: vec![],
        folded: vec![],
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
    assert_eq!(*journal.steps.lock().unwrap(), &EffectStep::ALL[..5]);
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
        .returning(|_, _, _| Err(CrmError::new(ErrorClass::Auth, Some(403), "forbidden")));
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
async fn a_refused_token_makes_the_job_wait_even_after_its_last_attempt() {
    let w = world(Some("c1"));
    // Far beyond the attempts the policy allows.
    let job = job_for(&w, SyncAction::Confirm, 99, vec![]);
    let mut crm = MockCrm::new();
    crm.expect_add_note().returning(|_, _, _| {
        let mut e = CrmError::new(ErrorClass::Auth, Some(401), "GHL refused the token");
        e.retry_after = Some(std::time::Duration::from_secs(300));
        Err(e)
    });
    let outcome = run_job(&deps(w, crm, Arc::new(Journal::default())), job, 0.5)
        .await
        .unwrap();
    assert!(outcome.waits_for_token(), "{outcome:?}");
    let JobOutcome::RetryAt { at, .. } = outcome else {
        panic!("expected a retry")
    };
    assert!(at >= now() + chrono::Duration::seconds(300));
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

#[tokio::test]
async fn a_replayed_old_confirm_writes_the_cancelled_state_and_no_stale_task() {
    let mut w = world(Some("c1"));
    let mut job = job_for(&w, SyncAction::Confirm, 1, vec![EffectStep::Note]);
    job.replay = true;
    // Meanwhile the appointment was cancelled (a later job already synced that).
    let appointment = w.appointment.take().unwrap();
    let (confirmed, _) = appointment.confirm(now()).unwrap();
    let (cancelled, _) = confirmed.cancel(None, now()).unwrap();
    w.appointment = Some(cancelled);

    let mut crm = MockCrm::new();
    crm.expect_add_note().never();
    crm.expect_add_tags()
        .withf(|_, _, tags| tags == ["appointment-cancelled"])
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_remove_tags()
        .withf(|_, _, tags| tags.contains(&"appointment-confirmed".to_owned()))
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_update_custom_fields()
        .withf(|_, _, fields| {
            fields
                .iter()
                .any(|f| f.key == "appointment_status" && f.value == "cancelled")
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_create_task().never();
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, crm, journal.clone()), job, 0.5)
        .await
        .unwrap();
    assert!(
        matches!(outcome, JobOutcome::Succeeded(ref r) if r.ghl_calls == 3),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn notes_and_tasks_are_marked_attempted_before_their_call_on_a_first_attempt() {
    let w = world(Some("c1"));
    let job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    let journal = Arc::new(Journal::default());
    let mut crm = ok_crm();
    crm.expect_find_note().never();
    crm.expect_find_task().never();
    run_job(&deps(w, crm, journal.clone()), job, 0.5)
        .await
        .unwrap();
    assert_eq!(
        *journal.attempted.lock().unwrap(),
        [EffectStep::Note, EffectStep::Task]
    );
}

#[tokio::test]
async fn an_attempted_note_found_in_ghl_is_not_written_again() {
    let w = world(Some("c1"));
    let mut job = job_for(&w, SyncAction::Confirm, 2, vec![]);
    job.attempted_steps = vec![EffectStep::Note];
    let marker = crate::plan::reference_marker(job.id, EffectStep::Note);
    let mut crm = MockCrm::new();
    crm.expect_find_note()
        .withf(move |_, contact, m| contact.as_str() == "c1" && m == marker)
        .times(1)
        .returning(|_, _, _| Ok(Some("note-1".into())));
    crm.expect_add_note().never();
    crm.expect_find_task().never();
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
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, crm, journal.clone()), job, 0.5)
        .await
        .unwrap();
    let JobOutcome::Succeeded(report) = outcome else {
        panic!("expected success, got {outcome:?}")
    };
    assert_eq!((report.in_doubt_lookups, report.in_doubt_found), (1, 1));
    assert_eq!(report.ghl_calls, 5, "a lookup instead of the note");
    assert_eq!(*journal.steps.lock().unwrap(), &EffectStep::ALL[..5]);
    assert_eq!(*journal.attempted.lock().unwrap(), [EffectStep::Task]);
}

#[tokio::test]
async fn an_attempted_task_not_found_in_ghl_is_written_once() {
    let w = world(Some("c1"));
    let mut job = job_for(
        &w,
        SyncAction::Confirm,
        3,
        vec![
            EffectStep::Note,
            EffectStep::AddTags,
            EffectStep::RemoveTags,
            EffectStep::CustomFields,
        ],
    );
    job.attempted_steps = vec![EffectStep::Note, EffectStep::Task];
    let mut crm = MockCrm::new();
    crm.expect_find_task()
        .times(1)
        .returning(|_, _, _| Ok(None));
    crm.expect_create_task()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, crm, journal.clone()), job, 0.5)
        .await
        .unwrap();
    let JobOutcome::Succeeded(report) = outcome else {
        panic!("expected success, got {outcome:?}")
    };
    assert_eq!((report.in_doubt_lookups, report.in_doubt_found), (1, 0));
    assert_eq!(*journal.steps.lock().unwrap(), [EffectStep::Task]);
}

#[tokio::test]
async fn a_failed_lookup_is_retried_like_any_transient_failure() {
    let w = world(Some("c1"));
    let mut job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    job.attempted_steps = vec![EffectStep::Note];
    let mut crm = MockCrm::new();
    crm.expect_find_note().times(1).returning(|_, _, _| {
        Err(CrmError::new(
            ErrorClass::Transient,
            Some(502),
            "GHL answered 502",
        ))
    });
    crm.expect_add_note().never();
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, crm, journal.clone()), job, 0.5)
        .await
        .unwrap();
    assert!(matches!(outcome, JobOutcome::RetryAt { .. }), "{outcome:?}");
    assert!(journal.steps.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_job_for_an_appointment_long_past_is_dead_lettered_instead_of_retried() {
    let w = world(Some("c1"));
    let mut job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    job.payload.starts_at = now() - chrono::Duration::days(31);
    job.payload.ends_at = job.payload.starts_at + chrono::Duration::hours(2);
    let mut crm = MockCrm::new();
    crm.expect_add_note().times(1).returning(|_, _, _| {
        Err(CrmError::new(
            ErrorClass::Transient,
            Some(503),
            "GHL answered 503",
        ))
    });
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, crm, journal), job, 0.5).await.unwrap();
    let JobOutcome::Dead { error, .. } = outcome else {
        panic!("expected dead, got {outcome:?}")
    };
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        error.message.contains("ended more than 30 day(s) ago"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("GHL answered 503"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_job_for_an_appointment_that_ended_recently_is_still_retried() {
    let w = world(Some("c1"));
    let mut job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    job.payload.starts_at = now() - chrono::Duration::days(29);
    job.payload.ends_at = job.payload.starts_at + chrono::Duration::hours(2);
    let mut crm = MockCrm::new();
    crm.expect_add_note().times(1).returning(|_, _, _| {
        Err(CrmError::new(
            ErrorClass::Transient,
            Some(503),
            "GHL answered 503",
        ))
    });
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, crm, journal), job, 0.5).await.unwrap();
    assert!(matches!(outcome, JobOutcome::RetryAt { .. }), "{outcome:?}");
}

#[tokio::test]
async fn a_folded_later_job_keeps_its_note_and_task_and_shares_one_contact_update() {
    let w = world(Some("c1"));
    let appointment = w.appointment.clone().unwrap();
    let mut job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    // The head is the booking; the confirmation waits behind it, not started.
    job.action = SyncAction::Create;
    job.payload = crate::replay::current_payload(&appointment, now());
    let (_, confirm) = appointment.confirm(now()).unwrap();
    let folded_id = SyncJobId::new();
    job.folded = vec![crate::job::FoldedJob {
        id: folded_id,
        action: SyncAction::Confirm,
        payload: confirm.payload,
        completed_steps: vec![],
        attempted_steps: vec![],
    }];
    let head_id = job.id;

    let notes = Arc::new(Mutex::new(Vec::<String>::new()));
    let tasks = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut crm = MockCrm::new();
    let n = notes.clone();
    crm.expect_add_note().times(2).returning(move |_, _, note| {
        n.lock().unwrap().push(note.body.clone());
        Ok(())
    });
    crm.expect_add_tags()
        .withf(|_, _, tags| tags == ["appointment-confirmed"])
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_remove_tags()
        .withf(|_, _, tags| tags == ["appointment-scheduled"])
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_update_custom_fields()
        .withf(|_, _, fields| {
            fields
                .iter()
                .any(|f| f.key == "appointment_status" && f.value == "confirmed")
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let t = tasks.clone();
    crm.expect_create_task()
        .times(2)
        .returning(move |_, _, task| {
            t.lock().unwrap().push(task.body.clone());
            Ok(())
        });
    let journal = Arc::new(Journal::default());
    let outcome = run_job(&deps(w, crm, journal.clone()), job, 0.5)
        .await
        .unwrap();
    let JobOutcome::Succeeded(report) = outcome else {
        panic!("expected success, got {outcome:?}")
    };
    assert_eq!(report.ghl_calls, 7);
    assert_eq!((report.coalesced_jobs, report.calls_saved), (1, 2));
    let notes = notes.lock().unwrap();
    assert!(notes[0].starts_with("Appointment booked"), "{notes:?}");
    assert!(notes[0].ends_with(&crate::plan::reference_marker(head_id, EffectStep::Note)));
    assert!(notes[1].ends_with(&crate::plan::reference_marker(folded_id, EffectStep::Note)));
    let tasks = tasks.lock().unwrap();
    assert!(tasks[1].ends_with(&crate::plan::reference_marker(folded_id, EffectStep::Task)));
    assert_eq!(
        *journal.steps.lock().unwrap(),
        [
            EffectStep::Note,
            EffectStep::Note,
            EffectStep::AddTags,
            EffectStep::RemoveTags,
            EffectStep::CustomFields,
            EffectStep::Task,
            EffectStep::Task
        ]
    );
}

#[tokio::test]
async fn with_last_notes_only_the_newest_coalesced_change_writes_a_note() {
    let w = world(Some("c1"));
    let appointment = w.appointment.clone().unwrap();
    let mut job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    job.action = SyncAction::Create;
    job.payload = crate::replay::current_payload(&appointment, now());
    let (_, confirm) = appointment.confirm(now()).unwrap();
    let folded_id = SyncJobId::new();
    job.folded = vec![crate::job::FoldedJob {
        id: folded_id,
        action: SyncAction::Confirm,
        payload: confirm.payload,
        completed_steps: vec![],
        attempted_steps: vec![],
    }];
    let mut crm = MockCrm::new();
    crm.expect_add_note()
        .withf(move |_, _, note| {
            note.body
                .ends_with(&crate::plan::reference_marker(folded_id, EffectStep::Note))
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_add_tags().times(1).returning(|_, _, _| Ok(()));
    crm.expect_remove_tags()
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_update_custom_fields()
        .times(1)
        .returning(|_, _, _| Ok(()));
    crm.expect_create_task()
        .times(2)
        .returning(|_, _, _| Ok(()));
    let journal = Arc::new(Journal::default());
    let mut deps = deps(w, crm, journal);
    deps.settings.coalesced_notes = crate::plan::CoalescedNotes::Last;
    let outcome = run_job(&deps, job, 0.5).await.unwrap();
    let JobOutcome::Succeeded(report) = outcome else {
        panic!("expected success, got {outcome:?}")
    };
    assert_eq!((report.notes_skipped, report.ghl_calls), (1, 6));
}

mod calendar;
