//! Running one sync job: load, plan, call the CRM step by step (journaling each
//! step), then record the outcome. Used by the worker and by `POST /sync`.

use std::sync::Arc;

use chrono::Duration;

use crate::ids::GhlContactId;
use crate::job::{CrmError, ErrorClass, JobOutcome, SyncJob, SyncReport};
use crate::plan::{EffectPlan, EffectSettings, EffectStep, plan_effects};
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
    let Some(contact) = lead.and_then(|l| l.ghl_contact_id) else {
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
    for step in plan.steps() {
        if !job.completed_steps.contains(&step) {
            *calls += 1;
            call_step(deps, job, &contact, &plan, step)
                .await
                .map_err(Failure::Crm)?;
            let lease = job.lease.ok_or(LeaseError::Lost)?;
            deps.queue.step_done(job.id, lease, step).await?;
        }
        record(&mut report, &plan, step);
    }
    report.ghl_calls = *calls;
    Ok(JobOutcome::Succeeded(report))
}

async fn call_step(
    deps: &SyncDeps,
    job: &SyncJob,
    contact: &GhlContactId,
    plan: &EffectPlan,
    step: EffectStep,
) -> Result<(), CrmError> {
    let location = &job.location_id;
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
    }
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
    }
}

#[cfg(test)]
mod tests;
