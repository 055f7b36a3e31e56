//! DeadLetters: listing with filters, previewing, replaying from the current
//! state, discarding.

use chrono::TimeDelta;
use domain::SyncAction;
use domain::ids::SyncJobId;
use domain::job::{CrmError, ErrorClass, JobOutcome, JobPriority, JobStatus, SyncReport};
use domain::plan::EffectStep;
use domain::ports::{
    AppointmentRepository, AttemptLog, DeadJobFilter, DeadLetters, ReplayPreview, SyncQueue,
};
use sqlx::PgPool;
use storage::PgStore;

use crate::support::*;

fn attempt() -> AttemptLog {
    AttemptLog {
        started_at: now(),
        finished_at: now(),
        ghl_calls: 1,
    }
}

/// Claims the appointment's next job, journals `steps`, and finishes it with `outcome`.
async fn run_next(store: &PgStore, steps: &[EffectStep], outcome: JobOutcome) -> SyncJobId {
    let job = store.claim("w", 1, LEASE).await.unwrap().remove(0);
    for step in steps {
        store.step_done(job.id, lease(&job), *step).await.unwrap();
    }
    store
        .finish(job.id, lease(&job), &outcome, &attempt())
        .await
        .unwrap();
    job.id
}

fn dead(class: ErrorClass, status: u16) -> JobOutcome {
    JobOutcome::Dead {
        error: CrmError::new(class, Some(status), format!("GHL answered {status}")),
        ghl_calls: 1,
    }
}

fn succeeded() -> JobOutcome {
    JobOutcome::Succeeded(SyncReport::default())
}

fn only(id: SyncJobId) -> DeadJobFilter {
    DeadJobFilter {
        job_id: Some(id),
        ..DeadJobFilter::default()
    }
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn the_list_shows_dead_jobs_newest_first_and_honours_every_filter(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (a, _) = book(&store, &lead, slot(9, 11)).await;
    let create_a = run_next(&store, &[], dead(ErrorClass::NotFound, 404)).await;
    let (_, _) = book(&store, &lead, slot(12, 14)).await;
    let create_b = run_next(&store, &[], dead(ErrorClass::Validation, 422)).await;
    let (_, _) = confirm(&store, &a).await;
    let confirm_a = run_next(&store, &[], dead(ErrorClass::Transient, 503)).await;
    let (_, _) = book(&store, &lead, slot(15, 17)).await;
    run_next(&store, &[], succeeded()).await;

    let all = store.list(&DeadJobFilter::default()).await.unwrap();
    let listed: Vec<_> = all.iter().map(|j| j.id).collect();
    assert_eq!(
        listed,
        [confirm_a, create_b, create_a],
        "dead only, newest first"
    );
    let first = &all[0];
    assert_eq!(first.action, SyncAction::Confirm);
    assert_eq!(first.appointment_id, a.id);
    assert_eq!(first.error_class, Some(ErrorClass::Transient));
    assert_eq!(first.http_status, Some(503));
    assert_eq!(first.last_error.as_deref(), Some("GHL answered 503"));
    assert_eq!(first.attempts, 1);
    assert!(first.finished_at.is_some());

    let by = |filter: DeadJobFilter| {
        let store = store.clone();
        async move {
            store
                .list(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|j| j.id)
                .collect::<Vec<_>>()
        }
    };
    let action = DeadJobFilter {
        action: Some(SyncAction::Create),
        ..DeadJobFilter::default()
    };
    assert_eq!(by(action).await, [create_b, create_a]);
    let class = DeadJobFilter {
        error_class: Some(ErrorClass::Validation),
        ..DeadJobFilter::default()
    };
    assert_eq!(by(class).await, [create_b]);
    let appointment = DeadJobFilter {
        appointment_id: Some(a.id),
        ..DeadJobFilter::default()
    };
    assert_eq!(by(appointment).await, [confirm_a, create_a]);
    let limit = DeadJobFilter {
        limit: Some(1),
        ..DeadJobFilter::default()
    };
    assert_eq!(by(limit).await, [confirm_a]);
    let location = DeadJobFilter {
        location_id: Some(other_location()),
        ..DeadJobFilter::default()
    };
    assert_eq!(by(location).await, []);
    assert_eq!(by(only(create_b)).await, [create_b]);

    sqlx::query("UPDATE sync_jobs SET finished_at = now() - interval '2 days' WHERE id = $1")
        .bind(create_a.as_uuid())
        .execute(&pool)
        .await
        .unwrap();
    let since = DeadJobFilter {
        since: Some(now() - TimeDelta::days(1)),
        ..DeadJobFilter::default()
    };
    assert_eq!(by(since).await, [confirm_a, create_b]);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_replayed_old_confirm_is_pending_again_and_replans_from_the_current_state(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, _) = book(&store, &lead, slot(9, 11)).await;
    run_next(&store, &[], succeeded()).await;
    let (confirmed, _) = confirm(&store, &booked).await;
    // The confirm wrote its note and added its tag, then died.
    let old_confirm = run_next(
        &store,
        &[EffectStep::Note, EffectStep::AddTags],
        dead(ErrorClass::Validation, 422),
    )
    .await;
    // A later cancel went through.
    let cancel = change_of(&confirmed, confirmed.cancel(None, now()).unwrap());
    store.update(cancel).await.unwrap();
    run_next(&store, &[], succeeded()).await;

    // Replaying it writes no note (journaled) and no task (the visit is
    // cancelled now), but the cancelled state's tags and fields: 3 calls.
    assert_eq!(
        store.preview(&only(old_confirm)).await.unwrap(),
        ReplayPreview {
            jobs: 1,
            estimated_ghl_calls: 3
        }
    );
    assert_eq!(
        store
            .replay(&only(old_confirm), JobPriority::Live)
            .await
            .unwrap(),
        1
    );

    assert!(
        store
            .list(&DeadJobFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    let (status, attempts) = job_row(&pool, old_confirm).await;
    assert_eq!((status, attempts), (JobStatus::Pending, 0));
    let claimed = claim_all(&store, "w").await;
    assert_eq!(ids(&claimed), [old_confirm]);
    let job = &claimed[0];
    assert!(job.replay, "a replayed job re-plans from the current state");
    assert_eq!(
        job.completed_steps,
        [EffectStep::Note],
        "only history stays journaled"
    );
    assert_eq!(job.attempts, 1, "a fresh attempt budget");
    let summary = &store.jobs_of(booked.id).await.unwrap()[1];
    assert_eq!(summary.id, old_confirm);
    assert_eq!(
        (summary.last_error.clone(), summary.error_class),
        (None, None)
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_replay_takes_its_priority_and_keeps_its_place_before_later_jobs(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, _) = book(&store, &lead, slot(9, 11)).await;
    let create = run_next(&store, &[], dead(ErrorClass::Auth, 401)).await;
    let (_, later) = confirm(&store, &booked).await;
    let (_, live) = book(&store, &lead, slot(12, 14)).await;

    assert_eq!(
        store
            .replay(&DeadJobFilter::default(), JobPriority::Bulk)
            .await
            .unwrap(),
        1
    );

    // The later confirm waits for the replayed create; the live job goes first.
    let claimed = claim_all(&store, "w").await;
    assert_eq!(ids(&claimed), [live, create]);
    assert_eq!(claimed[1].priority, JobPriority::Bulk);
    assert!(!ids(&claimed).contains(&later));
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_discarded_job_leaves_the_queue_but_stays_recorded(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    book(&store, &lead, slot(9, 11)).await;
    let first = run_next(&store, &[], dead(ErrorClass::NotFound, 404)).await;
    book(&store, &lead, slot(12, 14)).await;
    let second = run_next(&store, &[], dead(ErrorClass::NotFound, 404)).await;
    assert_eq!(storage::queue_depth(&pool).await.unwrap().dead, 2);

    assert_eq!(store.discard(&only(first)).await.unwrap(), 1);
    assert_eq!(store.discard(&only(first)).await.unwrap(), 0, "once");

    let listed: Vec<_> = store
        .list(&DeadJobFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(listed, [second]);
    assert_eq!(job_row(&pool, first).await.0, JobStatus::Dead);
    let discarded: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT discarded_at FROM sync_jobs WHERE id = $1")
            .bind(first.as_uuid())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(discarded.is_some());
    assert_eq!(storage::queue_depth(&pool).await.unwrap().dead, 1);
    assert_eq!(
        store.preview(&DeadJobFilter::default()).await.unwrap().jobs,
        1
    );
    assert_eq!(
        store
            .replay(&DeadJobFilter::default(), JobPriority::Live)
            .await
            .unwrap(),
        1,
        "a discarded job is not replayed"
    );
    assert_eq!(job_row(&pool, first).await.0, JobStatus::Dead);
    assert_eq!(job_row(&pool, second).await.0, JobStatus::Pending);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn the_preview_sums_the_calls_of_every_matching_job(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    book(&store, &lead, slot(9, 11)).await;
    run_next(&store, &[], dead(ErrorClass::Auth, 401)).await;
    book(&store, &lead, slot(12, 14)).await;
    run_next(&store, &[EffectStep::Note], dead(ErrorClass::Auth, 401)).await;

    // A create of a still scheduled visit: note, +tag, fields, task (no tag to remove) = 4;
    // the second has its note journaled = 3.
    assert_eq!(
        store.preview(&DeadJobFilter::default()).await.unwrap(),
        ReplayPreview {
            jobs: 2,
            estimated_ghl_calls: 7
        }
    );
    assert_eq!(
        store
            .preview(&DeadJobFilter {
                action: Some(SyncAction::Cancel),
                ..DeadJobFilter::default()
            })
            .await
            .unwrap(),
        ReplayPreview::default()
    );
}
