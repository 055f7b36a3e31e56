use chrono::TimeZone;

use super::*;
use crate::appointment::AppointmentStatus;
use crate::intent::FieldChange;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 10, 9, 0, 0).unwrap()
}

fn payload(status: AppointmentStatus) -> IntentPayload {
    IntentPayload {
        status,
        service_type: "maintenance".into(),
        // 2030-01-20 10:00 in Amsterdam (CET, UTC+1)
        starts_at: Utc.with_ymd_and_hms(2030, 1, 20, 9, 0, 0).unwrap(),
        ends_at: Utc.with_ymd_and_hms(2030, 1, 20, 11, 0, 0).unwrap(),
        address: Some("Dorpsstraat 1, Utrecht".into()),
        customer_notes: None,
        changes: vec![],
        reason: None,
        occurred_at: now(),
    }
}

fn field<'a>(plan: &'a EffectPlan, key: &str) -> Option<&'a str> {
    plan.custom_fields
        .iter()
        .find(|f| f.key == key)
        .map(|f| f.value.as_str())
}

#[test]
fn a_booking_adds_the_scheduled_tag_the_date_and_a_reminder_the_day_before() {
    let job = SyncJobId::new();
    let plan = plan_effects(
        job,
        SyncAction::Create,
        &payload(AppointmentStatus::Scheduled),
        &EffectSettings::default(),
        now(),
    );
    let note = plan.note.as_ref().unwrap();
    assert!(note.body.starts_with(
        "Appointment booked: maintenance on 2030-01-20 10:00–12:00 (Europe/Amsterdam) at Dorpsstraat 1, Utrecht."
    ));
    assert!(
        note.body
            .ends_with(&reference_marker(job, EffectStep::Note))
    );
    assert_eq!(plan.add_tags, ["appointment-scheduled"]);
    assert!(plan.remove_tags.is_empty());
    assert_eq!(field(&plan, "appointment_status"), Some("scheduled"));
    assert_eq!(field(&plan, "next_appointment_date"), Some("2030-01-20"));
    let task = plan.task.as_ref().unwrap();
    assert_eq!(
        task.due_at,
        Utc.with_ymd_and_hms(2030, 1, 19, 9, 0, 0).unwrap()
    );
    assert!(
        task.body
            .ends_with(&reference_marker(job, EffectStep::Task))
    );
    assert_eq!(
        plan.steps(),
        [
            EffectStep::Note,
            EffectStep::AddTags,
            EffectStep::CustomFields,
            EffectStep::Task
        ]
    );
}

#[test]
fn confirming_swaps_scheduled_for_confirmed() {
    let plan = plan_effects(
        SyncJobId::new(),
        SyncAction::Confirm,
        &payload(AppointmentStatus::Confirmed),
        &EffectSettings::default(),
        now(),
    );
    assert_eq!(plan.add_tags, ["appointment-confirmed"]);
    assert_eq!(plan.remove_tags, ["appointment-scheduled"]);
    assert_eq!(field(&plan, "appointment_status"), Some("confirmed"));
    assert!(
        plan.note
            .as_ref()
            .unwrap()
            .body
            .contains("confirmed by the customer")
    );
}

#[test]
fn cancelling_clears_the_next_date_and_asks_for_a_rebooking_call() {
    let mut p = payload(AppointmentStatus::Cancelled);
    p.reason = Some("moved abroad".into());
    let plan = plan_effects(
        SyncJobId::new(),
        SyncAction::Cancel,
        &p,
        &EffectSettings::default(),
        now(),
    );
    assert!(
        plan.note
            .as_ref()
            .unwrap()
            .body
            .contains("Reason: moved abroad.")
    );
    assert_eq!(plan.add_tags, ["appointment-cancelled"]);
    assert_eq!(
        plan.remove_tags,
        ["appointment-confirmed", "appointment-scheduled"]
    );
    assert_eq!(field(&plan, "next_appointment_date"), Some(""));
    let task = plan.task.unwrap();
    assert_eq!(task.due_at, now() + chrono::Duration::hours(24));
    assert!(task.title.contains("rebook"));
}

#[test]
fn completing_marks_a_customer_and_records_the_service_date() {
    let plan = plan_effects(
        SyncJobId::new(),
        SyncAction::Complete,
        &payload(AppointmentStatus::Completed),
        &EffectSettings::default(),
        now(),
    );
    assert_eq!(plan.add_tags, ["customer", "service-completed"]);
    assert_eq!(field(&plan, "last_service_date"), Some("2030-01-20"));
    assert_eq!(field(&plan, "appointment_status"), Some("completed"));
    assert_eq!(plan.task.unwrap().title, "Satisfaction call");
}

#[test]
fn a_no_show_is_tagged_and_followed_up() {
    let plan = plan_effects(
        SyncJobId::new(),
        SyncAction::NoShow,
        &payload(AppointmentStatus::NoShow),
        &EffectSettings::default(),
        now(),
    );
    assert_eq!(plan.add_tags, ["no-show"]);
    assert_eq!(field(&plan, "appointment_status"), Some("no_show"));
    assert!(plan.task.is_some());
}

#[test]
fn an_update_describes_old_and_new_values_and_needs_no_tags_or_task() {
    let mut p = payload(AppointmentStatus::Scheduled);
    p.changes = vec![FieldChange {
        field: "startTime".into(),
        old: "2030-01-19T09:00:00+00:00".into(),
        new: "2030-01-20T09:00:00+00:00".into(),
    }];
    let plan = plan_effects(
        SyncJobId::new(),
        SyncAction::Update,
        &p,
        &EffectSettings::default(),
        now(),
    );
    assert!(
        plan.note
            .as_ref()
            .unwrap()
            .body
            .contains("- startTime: 2030-01-19 10:00 → 2030-01-20 10:00")
    );
    assert_eq!(plan.steps(), [EffectStep::Note, EffectStep::CustomFields]);
}

#[test]
fn a_task_is_never_due_in_the_past() {
    let mut p = payload(AppointmentStatus::Scheduled);
    p.starts_at = now() + chrono::Duration::hours(3);
    p.ends_at = now() + chrono::Duration::hours(5);
    let plan = plan_effects(
        SyncJobId::new(),
        SyncAction::Create,
        &p,
        &EffectSettings::default(),
        now(),
    );
    assert_eq!(plan.task.unwrap().due_at, now());
}

#[test]
fn tag_and_field_names_come_from_the_settings() {
    let mut settings = EffectSettings::default();
    settings.tags.scheduled = "afspraak-gepland".into();
    settings.fields.appointment_status = "afspraak_status".into();
    let plan = plan_effects(
        SyncJobId::new(),
        SyncAction::Create,
        &payload(AppointmentStatus::Scheduled),
        &settings,
        now(),
    );
    assert_eq!(plan.add_tags, ["afspraak-gepland"]);
    assert_eq!(field(&plan, "afspraak_status"), Some("scheduled"));
}

#[test]
fn an_update_that_keeps_the_day_writes_no_custom_fields() {
    let plan_for = |changes: Vec<FieldChange>| {
        let mut p = payload(AppointmentStatus::Scheduled);
        p.changes = changes;
        plan_effects(
            SyncJobId::new(),
            SyncAction::Update,
            &p,
            &EffectSettings::default(),
            now(),
        )
        .steps()
    };
    let change = |field: &str, old: &str, new: &str| FieldChange {
        field: field.into(),
        old: old.into(),
        new: new.into(),
    };
    // Only the service type: GHL's status and next date are already right.
    assert_eq!(
        plan_for(vec![change("serviceType", "maintenance", "repair")]),
        [EffectStep::Note]
    );
    // Two hours later on the same local day.
    assert_eq!(
        plan_for(vec![change(
            "startTime",
            "2030-01-20T07:00:00+00:00",
            "2030-01-20T09:00:00+00:00"
        )]),
        [EffectStep::Note]
    );
    // 23:30 UTC on the 19th is already the 20th in Amsterdam: another local day.
    assert_eq!(
        plan_for(vec![change(
            "startTime",
            "2030-01-19T23:30:00+00:00",
            "2030-01-20T09:00:00+00:00"
        )]),
        [EffectStep::Note]
    );
    assert_eq!(
        plan_for(vec![change(
            "startTime",
            "2030-01-19T09:00:00+00:00",
            "2030-01-20T09:00:00+00:00"
        )]),
        [EffectStep::Note, EffectStep::CustomFields]
    );
}
