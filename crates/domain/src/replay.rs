//! Replaying a dead-lettered job: which effects it writes, planned from the
//! appointment's *current* state.
//!
//! A dead job can be older than later jobs of its appointment that already
//! succeeded (a `confirm` died, then a `cancel` went through). Re-running the
//! old plan would put stale tags and fields back (`appointment-confirmed` on a
//! cancelled visit). The rule:
//!
//! - **Note**: written (unless journaled): it is history, "this happened then".
//! - **Tags and custom fields**: those of the appointment's current status and
//!   details, whatever the job's action was (setting them is idempotent, so
//!   they are written again even if the first run had journaled them).
//! - **Task**: only while the appointment's status is still the one the job's
//!   change led to (a "prepare the visit" task for a visit cancelled meanwhile
//!   would be wrong), and not when already journaled.

use chrono::{DateTime, Utc};

use crate::appointment::{Appointment, AppointmentStatus};
use crate::ids::SyncJobId;
use crate::intent::{IntentPayload, SyncAction};
use crate::plan::{EffectPlan, EffectSettings, EffectStep, plan_effects};

/// The action whose plan sets the contact to reflect an appointment in `status`.
pub fn action_for_status(status: AppointmentStatus) -> SyncAction {
    match status {
        AppointmentStatus::Scheduled => SyncAction::Create,
        AppointmentStatus::Confirmed => SyncAction::Confirm,
        AppointmentStatus::Cancelled => SyncAction::Cancel,
        AppointmentStatus::Completed => SyncAction::Complete,
        AppointmentStatus::NoShow => SyncAction::NoShow,
    }
}

/// The facts of the appointment as it is now.
pub fn current_payload(appointment: &Appointment, now: DateTime<Utc>) -> IntentPayload {
    IntentPayload {
        status: appointment.status,
        service_type: appointment.service_type.as_str().to_owned(),
        starts_at: appointment.slot.starts_at(),
        ends_at: appointment.slot.ends_at(),
        address: appointment
            .customer
            .address
            .as_ref()
            .map(|a| a.as_str().to_owned()),
        customer_notes: appointment.notes.clone(),
        changes: Vec::new(),
        reason: appointment.cancellation_reason.clone(),
        occurred_at: now,
    }
}

/// The plan of a replayed job: history (note, task) from the job's own intent,
/// contact state (tags, fields) from `current`. See the module documentation.
pub fn replan(
    job: SyncJobId,
    action: SyncAction,
    intent: &IntentPayload,
    current: &IntentPayload,
    settings: &EffectSettings,
    now: DateTime<Utc>,
) -> EffectPlan {
    let history = plan_effects(job, action, intent, settings, now);
    let state = plan_effects(
        job,
        action_for_status(current.status),
        current,
        settings,
        now,
    );
    EffectPlan {
        note: history.note,
        add_tags: state.add_tags,
        remove_tags: state.remove_tags,
        custom_fields: state.custom_fields,
        task: history.task.filter(|_| intent.status == current.status),
    }
}

/// The steps a replay of a job will call, without planning texts: what
/// [`replan`] yields minus the journaled note and task. Used to preview a replay.
pub fn replay_steps(
    action: SyncAction,
    intent_status: AppointmentStatus,
    current_status: AppointmentStatus,
    completed: &[EffectStep],
) -> Vec<EffectStep> {
    let mut steps = Vec::with_capacity(5);
    if !completed.contains(&EffectStep::Note) {
        steps.push(EffectStep::Note);
    }
    // Every status has a tag to add; only a scheduled appointment has none to remove.
    steps.push(EffectStep::AddTags);
    if current_status != AppointmentStatus::Scheduled {
        steps.push(EffectStep::RemoveTags);
    }
    steps.push(EffectStep::CustomFields);
    let has_task = action != SyncAction::Update;
    if has_task && intent_status == current_status && !completed.contains(&EffectStep::Task) {
        steps.push(EffectStep::Task);
    }
    steps
}

/// The journal a replayed job starts with: its note and task stay done (they
/// are history and carry the job's marker); the contact-state steps are redone.
pub fn journal_kept_on_replay(step: EffectStep) -> bool {
    matches!(step, EffectStep::Note | EffectStep::Task)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn payload(status: AppointmentStatus) -> IntentPayload {
        let start = Utc.with_ymd_and_hms(2030, 5, 1, 9, 0, 0).unwrap();
        IntentPayload {
            status,
            service_type: "repair".into(),
            starts_at: start,
            ends_at: start + chrono::Duration::hours(2),
            address: None,
            customer_notes: None,
            changes: Vec::new(),
            reason: None,
            occurred_at: start - chrono::Duration::days(3),
        }
    }

    fn status_of(action: SyncAction) -> AppointmentStatus {
        match action {
            SyncAction::Create | SyncAction::Update => AppointmentStatus::Scheduled,
            SyncAction::Confirm => AppointmentStatus::Confirmed,
            SyncAction::Cancel => AppointmentStatus::Cancelled,
            SyncAction::Complete => AppointmentStatus::Completed,
            SyncAction::NoShow => AppointmentStatus::NoShow,
        }
    }

    #[test]
    fn an_old_confirm_replayed_after_a_cancel_writes_its_note_but_the_cancelled_state() {
        let settings = EffectSettings::default();
        let job = SyncJobId::new();
        let plan = replan(
            job,
            SyncAction::Confirm,
            &payload(AppointmentStatus::Confirmed),
            &payload(AppointmentStatus::Cancelled),
            &settings,
            Utc::now(),
        );
        let note = plan.note.unwrap().body;
        assert!(note.starts_with("Appointment confirmed"), "{note}");
        assert_eq!(plan.add_tags, ["appointment-cancelled"]);
        assert!(
            plan.remove_tags
                .contains(&"appointment-confirmed".to_owned())
        );
        assert!(
            plan.custom_fields
                .iter()
                .any(|f| f.key == "appointment_status" && f.value == "cancelled")
        );
        assert!(
            plan.task.is_none(),
            "no preparation task for a cancelled visit"
        );
    }

    #[test]
    fn a_replay_of_the_latest_change_is_its_own_plan() {
        let settings = EffectSettings::default();
        let job = SyncJobId::new();
        let now = Utc::now();
        let p = payload(AppointmentStatus::Confirmed);
        assert_eq!(
            replan(job, SyncAction::Confirm, &p, &p, &settings, now),
            plan_effects(job, SyncAction::Confirm, &p, &settings, now)
        );
    }

    #[test]
    fn the_preview_counts_exactly_the_steps_of_the_replanned_job() {
        let settings = EffectSettings::default();
        let now = Utc::now();
        for action in SyncAction::ALL {
            for current in AppointmentStatus::ALL {
                for done in [
                    vec![],
                    vec![EffectStep::Note],
                    vec![EffectStep::Note, EffectStep::Task],
                ] {
                    let intent = payload(status_of(action));
                    let plan = replan(
                        SyncJobId::new(),
                        action,
                        &intent,
                        &payload(current),
                        &settings,
                        now,
                    );
                    let planned: Vec<_> = plan
                        .steps()
                        .into_iter()
                        .filter(|s| !(journal_kept_on_replay(*s) && done.contains(s)))
                        .collect();
                    assert_eq!(
                        replay_steps(action, intent.status, current, &done),
                        planned,
                        "{action} now {current} done {done:?}"
                    );
                }
            }
        }
    }
}
