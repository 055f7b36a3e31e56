//! Coalescing at claim time: folding, fencing, settling, unfolding.

use domain::ids::SyncJobId;
use domain::job::{CrmError, ErrorClass, JobOutcome, JobStatus, SyncReport};
use domain::plan::EffectStep;
use domain::ports::{AppointmentRepository, AttemptLog, LeaseError, SyncQueue};
use sqlx::PgPool;
use storage::PgStore;

use crate::support::*;

fn attempt() -> AttemptLog {
    AttemptLog {
        started_at: now(),
        finished_at: now(),
        ghl_calls: 3,
    }
}

fn succeeded() -> JobOutcome {
    JobOutcome::Succeeded(SyncReport::default())
}

async fn pointer(pool: &PgPool, id: SyncJobId) -> Option<uuid::Uuid> {
    sqlx::query_scalar("SELECT coalesced_into FROM sync_jobs WHERE id = $1")
        .bind(id.as_uuid())
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Booked, confirmed and cancelled before the worker saw any of it.
async fn three_pending(store: &PgStore) -> (domain::Appointment, [SyncJobId; 3]) {
    let lead = lead_in(store, &location(), "jan@example.nl").await;
    let (booked, create) = book(store, &lead, slot(9, 11)).await;
    let (confirmed, confirm) = confirm(store, &booked).await;
    let cancel = change_of(&confirmed, confirmed.cancel(None, now()).unwrap());
    let cancelled = cancel.appointment.clone();
    let cancel = store.update(cancel).await.unwrap();
    (cancelled, [create, confirm, cancel])
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn pending_jobs_that_have_not_started_are_folded_into_the_claimed_one(pool: PgPool) {
    let store = PgStore::new(pool.clone()).with_coalescing(true);
    let (cancelled, [create, confirm, cancel]) = three_pending(&store).await;

    let claimed = claim_all(&store, "w").await;

    assert_eq!(ids(&claimed), [create]);
    let head = &claimed[0];
    let folded: Vec<_> = head.folded.iter().map(|f| f.id).collect();
    assert_eq!(folded, [confirm, cancel], "oldest first");
    assert_eq!(head.folded[1].action, domain::SyncAction::Cancel);
    assert_eq!(pointer(&pool, confirm).await, Some(create.as_uuid()));
    assert!(
        claim_all(&store, "other").await.is_empty(),
        "folded jobs are not claimable"
    );

    // Their steps are journaled on their own rows, under the head's lease.
    store
        .step_attempted(confirm, lease(head), EffectStep::Note)
        .await
        .unwrap();
    store
        .step_done(confirm, lease(head), EffectStep::Note)
        .await
        .unwrap();
    let stranger = domain::job::Lease {
        token: uuid::Uuid::new_v4(),
        until: now(),
    };
    assert_eq!(
        store.step_done(cancel, stranger, EffectStep::Note).await,
        Err(LeaseError::Lost)
    );

    store
        .finish(create, lease(head), &succeeded(), &attempt())
        .await
        .unwrap();

    for id in [create, confirm, cancel] {
        assert_eq!(job_row(&pool, id).await.0, JobStatus::Succeeded);
    }
    let jobs = store.jobs_of(cancelled.id).await.unwrap();
    assert!(jobs.iter().all(|j| j.finished_at.is_some()));
    assert!(claim_all(&store, "w").await.is_empty());
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_rescued_job_plans_with_the_same_folded_jobs_and_folds_no_new_one_once_it_wrote_the_contact(
    pool: PgPool,
) {
    let store = PgStore::new(pool.clone()).with_coalescing(true);
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, create) = book(&store, &lead, slot(9, 11)).await;
    let (confirmed, confirm) = confirm(&store, &booked).await;
    let crashed = claim_all(&store, "crashed").await.remove(0);
    store
        .step_done(create, lease(&crashed), EffectStep::AddTags)
        .await
        .unwrap();
    // A change arrives after the claim; then the worker dies.
    let cancel = change_of(&confirmed, confirmed.cancel(None, now()).unwrap());
    let cancel = store.update(cancel).await.unwrap();
    expire_lease(&pool, create).await;

    let rescued = claim_all(&store, "rescuer").await.remove(0);

    assert_eq!(rescued.id, create);
    let folded: Vec<_> = rescued.folded.iter().map(|f| f.id).collect();
    assert_eq!(
        folded,
        [confirm],
        "the same set: its tags were already written"
    );
    assert_eq!(pointer(&pool, cancel).await, None);
    store
        .finish(create, lease(&rescued), &succeeded(), &attempt())
        .await
        .unwrap();
    assert_eq!(ids(&claim_all(&store, "w").await), [cancel]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn when_the_head_dies_its_folded_jobs_run_on_their_own(pool: PgPool) {
    let store = PgStore::new(pool.clone()).with_coalescing(true);
    let (_, [create, confirm, cancel]) = three_pending(&store).await;
    let head = claim_all(&store, "w").await.remove(0);
    store
        .step_done(confirm, lease(&head), EffectStep::Note)
        .await
        .unwrap();
    let dead = JobOutcome::Dead {
        error: CrmError::new(ErrorClass::Auth, Some(401), "GHL answered 401"),
        ghl_calls: 1,
    };

    store
        .finish(create, lease(&head), &dead, &attempt())
        .await
        .unwrap();

    assert_eq!(pointer(&pool, confirm).await, None);
    let next = claim_all(&store, "w").await;
    assert_eq!(ids(&next), [confirm]);
    assert_eq!(
        next[0].completed_steps,
        [EffectStep::Note],
        "its journal stays"
    );
    let folded: Vec<_> = next[0].folded.iter().map(|f| f.id).collect();
    assert_eq!(folded, [cancel]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_retry_keeps_its_folded_jobs_and_a_skip_hands_them_its_reason(pool: PgPool) {
    let store = PgStore::new(pool.clone()).with_coalescing(true);
    let (_, [create, confirm, cancel]) = three_pending(&store).await;
    let head = claim_all(&store, "w").await.remove(0);
    let retry = JobOutcome::RetryAt {
        at: now() - chrono::TimeDelta::seconds(1),
        error: CrmError::new(ErrorClass::Transient, Some(503), "GHL answered 503"),
        ghl_calls: 1,
    };
    store
        .finish(create, lease(&head), &retry, &attempt())
        .await
        .unwrap();
    assert_eq!(job_row(&pool, confirm).await.0, JobStatus::Pending);

    let again = claim_all(&store, "w").await;
    assert_eq!(ids(&again), [create]);
    assert_eq!(again[0].folded.len(), 2);
    let skipped = JobOutcome::Skipped {
        reason: "no contact".into(),
    };
    store
        .finish(create, lease(&again[0]), &skipped, &attempt())
        .await
        .unwrap();
    for id in [confirm, cancel] {
        assert_eq!(job_row(&pool, id).await.0, JobStatus::Skipped);
    }
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn without_coalescing_every_job_runs_on_its_own(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let (_, [create, _, _]) = three_pending(&store).await;
    let claimed = claim_all(&store, "w").await;
    assert_eq!(ids(&claimed), [create]);
    assert!(claimed[0].folded.is_empty());
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_job_is_not_folded_past_one_that_already_started(pool: PgPool) {
    let store = PgStore::new(pool.clone()).with_coalescing(true);
    let (_, [create, confirm, cancel]) = three_pending(&store).await;
    // The confirm had an attempt before (e.g. the create was replayed from the
    // dead-letter queue after it): it cannot be folded, and so neither can the cancel.
    sqlx::query("UPDATE sync_jobs SET attempts = 1 WHERE id = $1")
        .bind(confirm.as_uuid())
        .execute(&pool)
        .await
        .unwrap();
    let claimed = claim_all(&store, "w").await;
    assert_eq!(ids(&claimed), [create]);
    assert!(claimed[0].folded.is_empty());
    assert_eq!(pointer(&pool, cancel).await, None);
}
