//! SyncQueue: leases, per-appointment order, fencing, retries, attempts.

use chrono::TimeDelta;
use domain::job::{CrmError, ErrorClass, JobOutcome, JobPriority, JobStatus, SyncReport};
use domain::plan::EffectStep;
use domain::ports::{AttemptLog, LeaseError, SyncQueue};
use sqlx::PgPool;
use storage::PgStore;

use crate::support::*;

fn attempt(ghl_calls: u32) -> AttemptLog {
    AttemptLog {
        started_at: now(),
        finished_at: now(),
        ghl_calls,
    }
}

fn succeeded() -> JobOutcome {
    JobOutcome::Succeeded(SyncReport {
        ghl_calls: 3,
        ..SyncReport::default()
    })
}

fn transient(at: chrono::DateTime<chrono::Utc>) -> JobOutcome {
    JobOutcome::RetryAt {
        at,
        error: CrmError::new(ErrorClass::Transient, Some(503), "GHL answered 503"),
        ghl_calls: 1,
    }
}

fn dead() -> JobOutcome {
    JobOutcome::Dead {
        error: CrmError::new(ErrorClass::NotFound, Some(404), "contact not found"),
        ghl_calls: 1,
    }
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_claim_takes_due_jobs_under_a_fresh_lease(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (_, job) = book(&store, &lead, slot(9, 11)).await;
    let before = now();

    let claimed = store.claim("worker-1", 10, LEASE).await.unwrap();

    assert_eq!(ids(&claimed), [job]);
    let job = &claimed[0];
    assert_eq!(job.status, JobStatus::Running);
    assert_eq!(job.priority, JobPriority::Live);
    assert_eq!(job.attempts, 1);
    assert!(job.completed_steps.is_empty());
    let until = lease(job).until;
    assert!(until > before + TimeDelta::seconds(50) && until < now() + TimeDelta::seconds(70));
    let locked_by: Option<String> = sqlx::query_scalar("SELECT locked_by FROM sync_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(locked_by.as_deref(), Some("worker-1"));
    assert!(
        claim_all(&store, "worker-2").await.is_empty(),
        "a leased job is not claimed twice"
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_claim_takes_at_most_its_limit_oldest_first(pool: PgPool) {
    let store = PgStore::new(pool);
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let mut jobs = Vec::new();
    for hour in [9, 12, 15] {
        jobs.push(book(&store, &lead, slot(hour, hour + 2)).await.1);
    }
    assert_eq!(ids(&store.claim("w", 2, LEASE).await.unwrap()), jobs[..2]);
    assert_eq!(ids(&store.claim("w", 0, LEASE).await.unwrap()), []);
    assert_eq!(ids(&claim_all(&store, "w").await), jobs[2..]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn live_jobs_are_claimed_before_bulk_jobs(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (_, backfill) = book(&store, &lead, slot(9, 11)).await;
    let (_, live) = book(&store, &lead, slot(12, 14)).await;
    sqlx::query("UPDATE sync_jobs SET priority = $2 WHERE id = $1")
        .bind(backfill.as_uuid())
        .bind(JobPriority::Bulk.rank())
        .execute(&pool)
        .await
        .unwrap();

    let claimed = claim_all(&store, "w").await;

    assert_eq!(ids(&claimed), [live, backfill]);
    assert_eq!(claimed[1].priority, JobPriority::Bulk);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_later_job_of_an_appointment_waits_until_the_earlier_one_succeeded(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, first) = book(&store, &lead, slot(9, 11)).await;
    let (_, second) = confirm(&store, &booked).await;

    // Pending: only the first is claimable.
    let claimed = claim_all(&store, "w1").await;
    assert_eq!(ids(&claimed), [first]);
    // Running: the second still waits.
    assert!(claim_all(&store, "w2").await.is_empty());

    store
        .finish(first, lease(&claimed[0]), &succeeded(), &attempt(3))
        .await
        .unwrap();
    assert_eq!(ids(&claim_all(&store, "w2").await), [second]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_later_job_waits_for_an_earlier_retry_and_runs_once_that_is_dead(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, first) = book(&store, &lead, slot(9, 11)).await;
    let (_, second) = confirm(&store, &booked).await;
    let claimed = claim_all(&store, "w").await;
    store
        .finish(
            first,
            lease(&claimed[0]),
            &transient(now() + TimeDelta::hours(1)),
            &attempt(1),
        )
        .await
        .unwrap();

    // The first waits for its retry (pending, not due): the second may not overtake it.
    assert!(claim_all(&store, "w").await.is_empty());

    make_due(&pool, first).await;
    let retried = claim_all(&store, "w").await;
    assert_eq!(ids(&retried), [first]);
    store
        .finish(first, lease(&retried[0]), &dead(), &attempt(1))
        .await
        .unwrap();

    assert_eq!(ids(&claim_all(&store, "w").await), [second]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn jobs_of_different_appointments_run_side_by_side(pool: PgPool) {
    let store = PgStore::new(pool);
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (a, a1) = book(&store, &lead, slot(9, 11)).await;
    let (_, b1) = book(&store, &lead, slot(12, 14)).await;
    confirm(&store, &a).await;
    assert_eq!(ids(&claim_all(&store, "w").await), [a1, b1]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn an_expired_lease_is_reclaimed_and_the_old_worker_can_record_nothing(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, job) = book(&store, &lead, slot(9, 11)).await;
    confirm(&store, &booked).await;
    let stale = claim_all(&store, "crashed").await.remove(0);
    store
        .step_done(job, lease(&stale), EffectStep::Note)
        .await
        .unwrap();

    expire_lease(&pool, job).await;
    let rescued = claim_all(&store, "rescuer").await;

    assert_eq!(
        ids(&rescued),
        [job],
        "only the expired job, not its successor"
    );
    let rescued = &rescued[0];
    assert_eq!(rescued.attempts, 2);
    assert_eq!(
        rescued.completed_steps,
        [EffectStep::Note],
        "the journal survives the crash"
    );
    assert_ne!(lease(rescued).token, lease(&stale).token);

    let old = lease(&stale);
    assert_eq!(
        store.step_done(job, old, EffectStep::AddTags).await,
        Err(LeaseError::Lost)
    );
    assert_eq!(
        store.finish(job, old, &succeeded(), &attempt(2)).await,
        Err(LeaseError::Lost)
    );
    assert_eq!(store.release(job, old).await, Err(LeaseError::Lost));
    assert_eq!(job_row(&pool, job).await, (JobStatus::Running, 2));
    assert_eq!(count(&pool, "sync_attempts").await, 0);
    let steps: Vec<String> =
        sqlx::query_scalar("SELECT completed_steps FROM sync_jobs WHERE id = $1")
            .bind(job.as_uuid())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(steps, ["note"]);

    store
        .finish(job, lease(rescued), &succeeded(), &attempt(3))
        .await
        .unwrap();
    assert_eq!(job_row(&pool, job).await, (JobStatus::Succeeded, 2));
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_retry_is_not_claimed_before_its_time_and_keeps_its_error(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, job) = book(&store, &lead, slot(9, 11)).await;
    let claimed = claim_all(&store, "w").await;
    let at = now() + TimeDelta::minutes(5);

    store
        .finish(job, lease(&claimed[0]), &transient(at), &attempt(1))
        .await
        .unwrap();

    assert!(claim_all(&store, "w").await.is_empty());
    let summary = store_summary(&store, booked.id).await;
    assert_eq!(summary.status, JobStatus::Pending);
    assert_eq!(summary.next_attempt_at, Some(at));
    assert_eq!(summary.last_error.as_deref(), Some("GHL answered 503"));
    assert_eq!(summary.error_class, Some(ErrorClass::Transient));
    assert_eq!(summary.finished_at, None);
    let http_status: Option<i32> = sqlx::query_scalar("SELECT http_status FROM sync_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(http_status, Some(503));

    make_due(&pool, job).await;
    let again = claim_all(&store, "w").await;
    assert_eq!(ids(&again), [job]);
    assert_eq!(again[0].attempts, 2);
    store
        .finish(job, lease(&again[0]), &succeeded(), &attempt(3))
        .await
        .unwrap();
    let summary = store_summary(&store, booked.id).await;
    assert_eq!(summary.status, JobStatus::Succeeded);
    assert_eq!(
        (
            summary.last_error,
            summary.error_class,
            summary.next_attempt_at
        ),
        (None, None, None)
    );
    assert!(summary.finished_at.is_some());
}

async fn store_summary(store: &PgStore, id: domain::AppointmentId) -> domain::ports::JobSummary {
    domain::ports::AppointmentRepository::jobs_of(store, id)
        .await
        .unwrap()
        .remove(0)
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn every_attempt_is_recorded_with_its_outcome(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (_, job) = book(&store, &lead, slot(9, 11)).await;
    let first = claim_all(&store, "w").await.remove(0);
    let started = now() - TimeDelta::seconds(2);
    let log = AttemptLog {
        started_at: started,
        finished_at: now(),
        ghl_calls: 1,
    };
    store
        .finish(job, lease(&first), &transient(now()), &log)
        .await
        .unwrap();
    let second = claim_all(&store, "w").await.remove(0);
    store
        .finish(job, lease(&second), &dead(), &attempt(2))
        .await
        .unwrap();

    type Attempt = (
        i32,
        String,
        Option<String>,
        Option<i32>,
        i32,
        Option<String>,
        chrono::DateTime<chrono::Utc>,
    );
    let rows: Vec<Attempt> = sqlx::query_as(
        "SELECT attempt, outcome, error_class, http_status, ghl_calls, error, started_at
         FROM sync_attempts WHERE job_id = $1 ORDER BY attempt",
    )
    .bind(job.as_uuid())
    .fetch_all(&pool)
    .await
    .unwrap();
    let transient = "transient".to_owned();
    assert_eq!(
        rows,
        [
            (
                1,
                "retry".into(),
                Some(transient),
                Some(503),
                1,
                Some("GHL answered 503".into()),
                started
            ),
            (
                2,
                "dead".into(),
                Some("not_found".into()),
                Some(404),
                2,
                Some("contact not found".into()),
                rows[1].6
            ),
        ]
    );
    let summary = store_summary(&store, lead_appointment(&pool, job).await).await;
    assert_eq!(summary.status, JobStatus::Dead);
    assert_eq!(summary.attempts, 2);
}

async fn lead_appointment(pool: &PgPool, job: domain::SyncJobId) -> domain::AppointmentId {
    let id: uuid::Uuid = sqlx::query_scalar("SELECT appointment_id FROM sync_jobs WHERE id = $1")
        .bind(job.as_uuid())
        .fetch_one(pool)
        .await
        .unwrap();
    domain::AppointmentId::from_uuid(id)
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_skipped_job_is_finished_and_keeps_its_reason(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, job) = book(&store, &lead, slot(9, 11)).await;
    let claimed = claim_all(&store, "w").await.remove(0);
    let skipped = JobOutcome::Skipped {
        reason: "No GoHighLevel contact".into(),
    };

    store
        .finish(job, lease(&claimed), &skipped, &attempt(0))
        .await
        .unwrap();

    let summary = store_summary(&store, booked.id).await;
    assert_eq!(summary.status, JobStatus::Skipped);
    assert_eq!(
        summary.last_error.as_deref(),
        Some("No GoHighLevel contact")
    );
    assert!(summary.finished_at.is_some());
    assert!(claim_all(&store, "w").await.is_empty());
    assert_eq!(
        store
            .finish(job, lease(&claimed), &skipped, &attempt(0))
            .await,
        Err(LeaseError::Lost)
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn steps_are_journaled_once_each(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (_, job) = book(&store, &lead, slot(9, 11)).await;
    let claimed = claim_all(&store, "w").await.remove(0);
    for step in [EffectStep::Note, EffectStep::AddTags, EffectStep::Note] {
        store.step_done(job, lease(&claimed), step).await.unwrap();
    }
    store.release(job, lease(&claimed)).await.unwrap();
    let again = claim_all(&store, "w").await.remove(0);
    assert_eq!(
        again.completed_steps,
        [EffectStep::Note, EffectStep::AddTags]
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_released_job_is_due_again_and_the_attempt_does_not_count(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (_, job) = book(&store, &lead, slot(9, 11)).await;
    let claimed = claim_all(&store, "shutting-down").await.remove(0);

    store.release(job, lease(&claimed)).await.unwrap();

    assert_eq!(job_row(&pool, job).await, (JobStatus::Pending, 0));
    assert_eq!(
        store.release(job, lease(&claimed)).await,
        Err(LeaseError::Lost)
    );
    let again = claim_all(&store, "other").await;
    assert_eq!(ids(&again), [job]);
    assert_eq!(again[0].attempts, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn an_unreadable_job_is_dead_lettered_instead_of_blocking_the_queue(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (_, broken) = book(&store, &lead, slot(9, 11)).await;
    let (_, fine) = book(&store, &lead, slot(12, 14)).await;
    sqlx::query("UPDATE sync_jobs SET payload = '{\"nonsense\": true}' WHERE id = $1")
        .bind(broken.as_uuid())
        .execute(&pool)
        .await
        .unwrap();

    assert_eq!(ids(&claim_all(&store, "w").await), [fine]);

    assert_eq!(job_row(&pool, broken).await.0, JobStatus::Dead);
    let (error, class): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT last_error, error_class FROM sync_jobs WHERE id = $1")
            .bind(broken.as_uuid())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        error.as_deref(),
        Some("the stored job could not be read (payload)")
    );
    assert_eq!(class.as_deref(), Some("permanent"));
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn queue_depth_counts_jobs_per_status_and_what_is_due(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let mut jobs = Vec::new();
    for hour in [6, 9, 12, 15] {
        jobs.push(book(&store, &lead, slot(hour, hour + 2)).await.1);
    }
    let claimed = store.claim("w", 3, LEASE).await.unwrap();
    store
        .finish(jobs[0], lease(&claimed[0]), &succeeded(), &attempt(1))
        .await
        .unwrap();
    store
        .finish(jobs[1], lease(&claimed[1]), &dead(), &attempt(1))
        .await
        .unwrap();

    let depth = storage::queue_depth(&pool).await.unwrap();

    assert_eq!(
        (
            depth.pending,
            depth.running,
            depth.succeeded,
            depth.skipped,
            depth.dead
        ),
        (1, 1, 1, 0, 1)
    );
    assert_eq!(depth.due, 1);
    assert!(depth.oldest_due_at.is_some());
    assert_eq!(depth.of(JobStatus::Dead), 1);
    expire_lease(&pool, jobs[2]).await;
    assert_eq!(storage::queue_depth(&pool).await.unwrap().due, 2);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn attempted_steps_survive_a_crash_and_are_fenced_like_the_journal(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (_, job) = book(&store, &lead, slot(9, 11)).await;
    let first = claim_all(&store, "crashed").await.remove(0);
    assert!(first.attempted_steps.is_empty());
    store
        .step_attempted(job, lease(&first), EffectStep::Note)
        .await
        .unwrap();
    store
        .step_attempted(job, lease(&first), EffectStep::Note)
        .await
        .unwrap();

    expire_lease(&pool, job).await;
    let rescued = claim_all(&store, "rescuer").await.remove(0);
    assert_eq!(rescued.attempted_steps, [EffectStep::Note], "recorded once");
    assert!(
        rescued.completed_steps.is_empty(),
        "in doubt: attempted, not done"
    );
    assert_eq!(
        store
            .step_attempted(job, lease(&first), EffectStep::Task)
            .await,
        Err(LeaseError::Lost)
    );
    store
        .step_attempted(job, lease(&rescued), EffectStep::Task)
        .await
        .unwrap();
    let steps: Vec<String> =
        sqlx::query_scalar("SELECT attempted_steps FROM sync_jobs WHERE id = $1")
            .bind(job.as_uuid())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(steps, ["note", "task"]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_renewed_lease_is_not_taken_over_and_a_lost_one_cannot_be_renewed(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (_, job) = book(&store, &lead, slot(9, 11)).await;
    let first = claim_all(&store, "slow").await.remove(0);

    expire_lease(&pool, job).await;
    store.renew(job, lease(&first), LEASE).await.unwrap();
    assert!(
        claim_all(&store, "other").await.is_empty(),
        "renewed in time"
    );

    expire_lease(&pool, job).await;
    let rescued = claim_all(&store, "other").await.remove(0);
    assert_eq!(
        store.renew(job, lease(&first), LEASE).await,
        Err(LeaseError::Lost)
    );
    store.renew(job, lease(&rescued), LEASE).await.unwrap();
}
