//! The calendar step of a run (calendar mirroring, see `plan::calendar`): the
//! appointment's GHL event is created or updated to its current state. Journaled
//! on the head job as [`EffectStep::Calendar`], after the notes, the contact
//! update and the tasks.
//!
//! A create (`POST`) is not idempotent: the step is marked attempted before the
//! call; a later attempt that finds it attempted while the appointment still
//! has no event id asks GHL for the contact's event with the appointment's
//! marker first, links it when found, and only posts when there is none.

use super::{Failure, SyncDeps};
use crate::appointment::Appointment;
use crate::ids::GhlContactId;
use crate::job::{Lease, SyncJob};
use crate::plan::{EffectStep, plan_calendar};

/// Runs the calendar step unless no calendar is configured or it is journaled.
pub(super) async fn mirror(
    deps: &SyncDeps,
    job: &SyncJob,
    lease: Lease,
    appointment: &Appointment,
    contact: &GhlContactId,
    calls: &mut u32,
) -> Result<(), Failure> {
    let current = crate::replay::current_payload(appointment, deps.clock.now());
    let Some(event) = plan_calendar(appointment.id, &current, deps.settings.calendar.as_ref())
    else {
        return Ok(());
    };
    if job.completed_steps.contains(&EffectStep::Calendar) {
        return Ok(());
    }
    let crm = &deps.crm;
    let location = &job.location_id;
    let mut event_id = deps.appointments.ghl_event_id(appointment.id).await?;
    if job.attempted_steps.contains(&EffectStep::Calendar) {
        if event_id.is_none() {
            // An earlier create may have reached GHL: look before posting again.
            *calls += 1;
            event_id = crm
                .find_calendar_event(location, contact, &event.calendar_id, &event.marker)
                .await
                .map_err(Failure::Crm)?;
            if let Some(found) = &event_id {
                deps.appointments
                    .set_ghl_event_id(appointment.id, found)
                    .await?;
            }
        }
    } else {
        deps.queue
            .step_attempted(job.id, lease, EffectStep::Calendar)
            .await?;
    }
    *calls += 1;
    match event_id {
        Some(id) => crm
            .update_calendar_event(location, &id, &event)
            .await
            .map_err(Failure::Crm)?,
        None => {
            let id = crm
                .create_calendar_event(location, contact, &event)
                .await
                .map_err(Failure::Crm)?;
            deps.appointments
                .set_ghl_event_id(appointment.id, &id)
                .await?;
        }
    }
    deps.queue
        .step_done(job.id, lease, EffectStep::Calendar)
        .await?;
    Ok(())
}
