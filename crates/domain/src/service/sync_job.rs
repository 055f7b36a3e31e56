//! Running one sync job: load, plan, call the CRM step by step (journaling each
//! step), then record the outcome. Used by the worker and by `POST /sync`.

use std::sync::Arc;

use chrono::Duration;

use crate::coalesce::{CONTACT_STEPS, contact_calls, merge_contact_updates};
use crate::ids::{GhlContactId, LocationId, SyncJobId};
use crate::job::{CrmError, ErrorClass, JobOutcome, Lease, SyncJob, SyncReport};
use crate::plan::{
    CoalescedNotes, EffectPlan, EffectSettings, EffectStep, plan_effects, reference_marker,
};
use crate::ports::{
    AppointmentRepository, AttemptLog, Clock, CrmGateway, LeadRepository, LeaseError, SyncQueue,
};
use crate::retry::RetryPolicy;

/// Everything a job run needs.
pub struct SyncDeps {
    pub appointments: Arc<dyn AppointmentRepository>,
    pub leads: Arc<dyn LeadRepository>,
    pub queue: Arc<dyn SyncQueue>,
    pub crm: Arc<dyn CrmGateway>,
    pub clock: Arc<dyn Clock>,
    pub settings: EffectSettings,
    pub retry: RetryPolicy,
}

/// Runs one claimed job and records how it ended. `unit_random` ∈ [0, 1) feeds
/// the retry jitter. Returns the outcome, or `LeaseError::Lost` when another
/// worker took the job over meanwhile (then nothing more is recorded).
pub async fn run_job(
    deps: &SyncDeps,
    job: SyncJob,
    unit_random: f64,
) -> Result<JobOutcome, LeaseError> {
    let lease = job.lease.ok_or(LeaseError::Lost)?;
    let started_at = deps.clock.now();
    let mut calls = 0u32;
    let outcome = match execute(deps, &job, &mut calls).await {
        Ok(outcome) => outcome,
        Err(Failure::Lease(e)) => return Err(e),
        Err(Failure::Crm(error)) => decide(deps, &job, error, calls, unit_random),
    };
    let attempt = AttemptLog {
        started_at,
        finished_at: deps.clock.now(),
        ghl_calls: calls,
    };
    deps.queue.finish(job.id, lease, &outcome, &attempt).await?;
    Ok(outcome)
}

enum Failure {
    Crm(CrmError),
    Lease(LeaseError),
}

impl From<LeaseError> for Failure {
    fn from(e: LeaseError) -> Self {
        Failure::Lease(e)
    }
}

impl From<crate::ports::RepoError> for Failure {
    fn from(e: crate::ports::RepoError) -> Self {
        Failure::Lease(LeaseError::Repo(e))
    }
}

/// Retry when the failure is transient and attempts remain; dead-letter otherwise.
fn decide(
    deps: &SyncDeps,
    job: &SyncJob,
    error: CrmError,
    calls: u32,
    unit_random: f64,
) -> JobOutcome {
    let ended_ago = deps.clock.now() - job.payload.ends_at;
    let too_old =
        Duration::from_std(deps.retry.max_age_after_end).is_ok_and(|max_age| ended_ago > max_age);
    if (error.class.is_retryable() || error.is_refused_token()) && too_old {
        let days = deps.retry.max_age_after_end.as_secs() / 86_400;
        let error = CrmError::new(
            ErrorClass::Permanent,
            error.status,
            format!(
                "not retried: the appointment ended more than {days} day(s) ago \
                 (SYNC_MAX_AGE_DAYS); last error: {}",
                error.message
            ),
        );
        return JobOutcome::Dead {
            error,
            ghl_calls: calls,
        };
    }
    if error.is_refused_token() && !too_old {
        // Not dead-lettered: the location is paused for auth (its jobs are not claimed
        // until the token works again) and this attempt is not counted by the queue.
        // The backoff only matters where no pause is recorded.
        let backoff = deps.retry.delay_after(job.attempts, unit_random);
        let wait = error
            .retry_after
            .map_or(backoff, |asked| asked.max(backoff));
        let wait = Duration::from_std(wait).unwrap_or(Duration::hours(1));
        return JobOutcome::RetryAt {
            at: deps.clock.now() + wait,
            error,
            ghl_calls: calls,
        };
    }
    if error.class.is_retryable() && deps.retry.allows_another(job.attempts) {
        let backoff = deps.retry.delay_after(job.attempts, unit_random);
        let wait = error
            .retry_after
            .map_or(backoff, |asked| asked.max(backoff));
        let wait = Duration::from_std(wait).unwrap_or(Duration::hours(1));
        JobOutcome::RetryAt {
            at: deps.clock.now() + wait,
            error,
            ghl_calls: calls,
        }
    } else {
        JobOutcome::Dead {
            error,
            ghl_calls: calls,
        }
    }
}

async fn execute(deps: &SyncDeps, job: &SyncJob, calls: &mut u32) -> Result<JobOutcome, Failure> {
    let Some(appointment) = deps.appointments.get(job.appointment_id).await? else {
        return Err(Failure::Crm(CrmError::new(
            ErrorClass::Permanent,
            None,
            "the appointment no longer exists",
        )));
    };
    let lead = deps.leads.get(appointment.lead_id).await?;
    let Some(contact) = missing_contact::contact_of(deps, job, lead, calls).await? else {
        return Ok(JobOutcome::Skipped {
            reason: "No GoHighLevel contact associated with this appointment's lead".into(),
        });
    };
    let now = deps.clock.now();
    let plan = if job.replay {
        let current = crate::replay::current_payload(&appointment, now);
        crate::replay::replan(
            job.id,
            job.action,
            &job.payload,
            &current,
            &deps.settings,
            now,
        )
    } else {
        plan_effects(job.id, job.action, &job.payload, &deps.settings, now)
    };
    let mut report = SyncReport::default();
    let lease = job.lease.ok_or(LeaseError::Lost)?;
    // The job and the later ones folded into it (coalescing), oldest first.
    let mut units = vec![Unit {
        id: job.id,
        plan,
        completed: &job.completed_steps,
        attempted: &job.attempted_steps,
    }];
    for folded in &job.folded {
        units.push(Unit {
            id: folded.id,
            plan: plan_effects(
                folded.id,
                folded.action,
                &folded.payload,
                &deps.settings,
                now,
            ),
            completed: &folded.completed_steps,
            attempted: &folded.attempted_steps,
        });
    }
    if deps.settings.coalesced_notes == CoalescedNotes::Last {
        // Only the newest change's note; a note already written stays written.
        let newest = units.len() - 1;
        for unit in &mut units[..newest] {
            if !unit.completed.contains(&EffectStep::Note) {
                unit.plan.note = None;
                report.notes_skipped += 1;
            }
        }
    }
    let contact_update = merge_contact_updates(units.iter().map(|u| &u.plan));
    report.coalesced_jobs = u32::try_from(job.folded.len()).unwrap_or(u32::MAX);
    report.calls_saved = units
        .iter()
        .map(|u| contact_calls(&u.plan))
        .sum::<u32>()
        .saturating_sub(contact_calls(&contact_update));

    let run = Run {
        deps,
        location: &job.location_id,
        contact: &contact,
        lease,
    };
    // Notes, oldest change first; then the one merged contact update
    // (journaled on this job); then the tasks.
    for unit in &units {
        run.record_step(unit, EffectStep::Note, calls, &mut report)
            .await?;
    }
    for step in CONTACT_STEPS {
        if contact_update.steps().contains(&step) {
            if !job.completed_steps.contains(&step) {
                *calls += 1;
                call_step(deps, &job.location_id, &contact, &contact_update, step)
                    .await
                    .map_err(Failure::Crm)?;
                deps.queue.step_done(job.id, lease, step).await?;
            }
            record(&mut report, &contact_update, step);
        }
    }
    for unit in &units {
        run.record_step(unit, EffectStep::Task, calls, &mut report)
            .await?;
    }
    calendar::mirror(deps, job, lease, &appointment, &contact, calls).await?;
    report.ghl_calls = *calls;
    Ok(JobOutcome::Succeeded(report))
}

/// One job's share of a run: its plan and journal.
struct Unit<'a> {
    id: SyncJobId,
    plan: EffectPlan,
    completed: &'a [EffectStep],
    attempted: &'a [EffectStep],
}

/// What every step of a run needs.
struct Run<'a> {
    deps: &'a SyncDeps,
    location: &'a LocationId,
    contact: &'a GhlContactId,
    lease: Lease,
}

impl Run<'_> {
    /// Writes the note or task of `unit` unless journaled; marks it attempted
    /// before the call, and after an earlier attempt of unknown outcome looks
    /// for it in GHL first. Journals it on the unit's own job.
    async fn record_step(
        &self,
        unit: &Unit<'_>,
        step: EffectStep,
        calls: &mut u32,
        report: &mut SyncReport,
    ) -> Result<(), Failure> {
        if !unit.plan.steps().contains(&step) {
            return Ok(());
        }
        if !unit.completed.contains(&step) {
            let deps = self.deps;
            let mut done = false;
            if unit.attempted.contains(&step) {
                // An earlier attempt started this call and never journaled
                // it: it may have reached GHL. Look before writing again.
                *calls += 1;
                report.in_doubt_lookups += 1;
                done = find_done(deps, unit.id, self.location, self.contact, step)
                    .await
                    .map_err(Failure::Crm)?;
                if done {
                    report.in_doubt_found += 1;
                }
            } else {
                deps.queue.step_attempted(unit.id, self.lease, step).await?;
            }
            if !done {
                *calls += 1;
                call_step(deps, self.location, self.contact, &unit.plan, step)
                    .await
                    .map_err(Failure::Crm)?;
            }
            deps.queue.step_done(unit.id, self.lease, step).await?;
        }
        record(report, &unit.plan, step);
        Ok(())
    }
}

async fn call_step(
    deps: &SyncDeps,
    location: &LocationId,
    contact: &GhlContactId,
    plan: &EffectPlan,
    step: EffectStep,
) -> Result<(), CrmError> {
    let crm = &deps.crm;
    match step {
        EffectStep::Note => match &plan.note {
            Some(note) => crm.add_note(location, contact, note).await,
            None => Ok(()),
        },
        EffectStep::AddTags => crm.add_tags(location, contact, &plan.add_tags).await,
        EffectStep::RemoveTags => crm.remove_tags(location, contact, &plan.remove_tags).await,
        EffectStep::CustomFields => {
            crm.update_custom_fields(location, contact, &plan.custom_fields)
                .await
        }
        EffectStep::Task => match &plan.task {
            Some(task) => crm.create_task(location, contact, task).await,
            None => Ok(()),
        },
        // Not part of an effect plan: see `calendar::mirror`.
        EffectStep::Calendar => Ok(()),
    }
}

/// Whether the note or task of `step` is already in GHL (found by its marker).
async fn find_done(
    deps: &SyncDeps,
    job: SyncJobId,
    location: &LocationId,
    contact: &GhlContactId,
    step: EffectStep,
) -> Result<bool, CrmError> {
    let marker = reference_marker(job, step);
    let found = match step {
        EffectStep::Note => deps.crm.find_note(location, contact, &marker).await?,
        EffectStep::Task => deps.crm.find_task(location, contact, &marker).await?,
        _ => None,
    };
    Ok(found.is_some())
}

fn record(report: &mut SyncReport, plan: &EffectPlan, step: EffectStep) {
    match step {
        EffectStep::Note => report.notes_created = true,
        EffectStep::AddTags => {
            report.contact_updated = true;
            report.tags_applied = plan.add_tags.clone();
        }
        EffectStep::RemoveTags => {
            report.contact_updated = true;
            report.tags_removed = plan.remove_tags.clone();
        }
        EffectStep::CustomFields => {
            report.contact_updated = true;
            report.custom_fields_updated = plan
                .custom_fields
                .iter()
                .map(|f| (f.key.clone(), f.value.clone()))
                .collect();
        }
        EffectStep::Task => report.task_created = true,
        EffectStep::Calendar => {}
    }
}

mod calendar;
mod missing_contact;
#[cfg(test)]
mod tests;
