//! The calendar step of a run (calendar mirroring).

use super::*;
use crate::plan::CalendarSettings;

fn calendar_deps(world: World, crm: MockCrm, journal: Arc<Journal>) -> (SyncDeps, Arc<World>) {
    let world = Arc::new(world);
    let settings = EffectSettings {
        calendar: Some(CalendarSettings {
            calendar_id: "cal-1".into(),
            notify: false,
        }),
        ..EffectSettings::default()
    };
    let deps = SyncDeps {
        appointments: world.clone(),
        leads: world.clone(),
        queue: journal,
        crm: Arc::new(crm),
        clock: Arc::new(FixedClock(now())),
        settings,
        retry: RetryPolicy::JOB_DEFAULT,
    };
    (deps, world)
}

const CONTACT_DONE: [EffectStep; 5] = [
    EffectStep::Note,
    EffectStep::AddTags,
    EffectStep::RemoveTags,
    EffectStep::CustomFields,
    EffectStep::Task,
];

#[tokio::test]
async fn the_first_run_creates_the_event_marks_it_attempted_and_links_it() {
    let w = world(Some("c1"));
    let job = job_for(&w, SyncAction::Confirm, 1, CONTACT_DONE.to_vec());
    let mut crm = MockCrm::new();
    crm.expect_create_calendar_event()
        .times(1)
        .withf(|_, contact, event| {
            // The world's appointment is still scheduled: its current state is written.
            contact.as_str() == "c1" && event.calendar_id == "cal-1" && event.status == "new"
        })
        .returning(|_, _, _| Ok("ev-1".into()));
    let journal = Arc::new(Journal::default());
    let (deps, world) = calendar_deps(w, crm, journal.clone());
    let outcome = run_job(&deps, job, 0.5).await.unwrap();
    assert!(
        matches!(outcome, JobOutcome::Succeeded(ref r) if r.ghl_calls == 1),
        "{outcome:?}"
    );
    assert_eq!(*journal.attempted.lock().unwrap(), [EffectStep::Calendar]);
    assert_eq!(*journal.steps.lock().unwrap(), [EffectStep::Calendar]);
    assert_eq!(world.event_id.lock().unwrap().as_deref(), Some("ev-1"));
}

#[tokio::test]
async fn a_linked_event_is_updated_not_created_again() {
    let w = world(Some("c1"));
    *w.event_id.lock().unwrap() = Some("ev-1".into());
    let job = job_for(&w, SyncAction::Confirm, 1, CONTACT_DONE.to_vec());
    let mut crm = MockCrm::new();
    crm.expect_create_calendar_event().never();
    crm.expect_update_calendar_event()
        .times(1)
        .withf(|_, id, _| id == "ev-1")
        .returning(|_, _, _| Ok(()));
    let journal = Arc::new(Journal::default());
    let (deps, _) = calendar_deps(w, crm, journal.clone());
    run_job(&deps, job, 0.5).await.unwrap();
    assert_eq!(*journal.steps.lock().unwrap(), [EffectStep::Calendar]);
}

#[tokio::test]
async fn after_a_create_of_unknown_outcome_the_event_is_looked_up_and_not_posted_twice() {
    let w = world(Some("c1"));
    let mut job = job_for(&w, SyncAction::Confirm, 2, CONTACT_DONE.to_vec());
    job.attempted_steps = vec![EffectStep::Calendar];
    let marker = crate::plan::calendar_marker(job.appointment_id);
    let mut crm = MockCrm::new();
    crm.expect_find_calendar_event()
        .times(1)
        .withf(move |_, _, calendar, m| calendar == "cal-1" && m == marker)
        .returning(|_, _, _, _| Ok(Some("ev-9".into())));
    crm.expect_create_calendar_event().never();
    crm.expect_update_calendar_event()
        .times(1)
        .withf(|_, id, _| id == "ev-9")
        .returning(|_, _, _| Ok(()));
    let journal = Arc::new(Journal::default());
    let (deps, world) = calendar_deps(w, crm, journal.clone());
    run_job(&deps, job, 0.5).await.unwrap();
    assert_eq!(world.event_id.lock().unwrap().as_deref(), Some("ev-9"));
    assert!(
        journal.attempted.lock().unwrap().is_empty(),
        "already marked"
    );
}

#[tokio::test]
async fn after_a_create_that_never_reached_ghl_it_is_posted_once() {
    let w = world(Some("c1"));
    let mut job = job_for(&w, SyncAction::Confirm, 2, CONTACT_DONE.to_vec());
    job.attempted_steps = vec![EffectStep::Calendar];
    let mut crm = MockCrm::new();
    crm.expect_find_calendar_event()
        .times(1)
        .returning(|_, _, _, _| Ok(None));
    crm.expect_create_calendar_event()
        .times(1)
        .returning(|_, _, _| Ok("ev-2".into()));
    let journal = Arc::new(Journal::default());
    let (deps, world) = calendar_deps(w, crm, journal.clone());
    let outcome = run_job(&deps, job, 0.5).await.unwrap();
    assert!(
        matches!(outcome, JobOutcome::Succeeded(ref r) if r.ghl_calls == 2),
        "{outcome:?}"
    );
    assert_eq!(world.event_id.lock().unwrap().as_deref(), Some("ev-2"));
}

#[tokio::test]
async fn a_journaled_calendar_step_is_not_repeated_and_no_calendar_means_no_call() {
    let w = world(Some("c1"));
    let mut done = CONTACT_DONE.to_vec();
    done.push(EffectStep::Calendar);
    let job = job_for(&w, SyncAction::Confirm, 2, done);
    let mut crm = MockCrm::new();
    crm.expect_create_calendar_event().never();
    crm.expect_update_calendar_event().never();
    let (deps, _) = calendar_deps(w, crm, Arc::new(Journal::default()));
    run_job(&deps, job, 0.5).await.unwrap();

    // Without GHL_CALENDAR_ID the contact steps run and nothing else.
    let w = world(Some("c1"));
    let job = job_for(&w, SyncAction::Confirm, 1, vec![]);
    let journal = Arc::new(Journal::default());
    run_job(&super::deps(w, ok_crm(), journal.clone()), job, 0.5)
        .await
        .unwrap();
    assert_eq!(*journal.steps.lock().unwrap(), CONTACT_DONE);
}
