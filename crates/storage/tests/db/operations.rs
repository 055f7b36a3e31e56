//! `DirectSync` and `SyncStats`: claiming one appointment's next job for
//! `POST /sync`, the stored answers' expiry, and the monitor's figures.

use std::time::Duration;

use chrono::Utc;
use domain::intent::SyncAction;
use domain::job::{CrmError, ErrorClass, JobOutcome, JobStatus, SyncReport};
use domain::ports::{
    AttemptLog, DeadJobFilter, DeadLetters, DirectClaim, DirectSync, StoredSyncResult, SyncQueue,
    SyncStats,
};
use sqlx::PgPool;
use storage::PgStore;

use crate::support::*;

const LEASE: Duration = Duration::from_secs(60);

fn attempt() -> AttemptLog {
    let now = Utc::now();
    AttemptLog {
        started_at: now,
        finished_at: now,
        ghl_calls: 1,
    }
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn claim_next_of_takes_only_the_appointments_next_job_of_that_action(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "a@example.com").await;
    let (appointment, create) = book(&store, &lead, slot(10, 12)).await;
    let (_, confirm) = confirm(&store, &appointment).await;

    let behind = store
        .claim_next_of(appointment.id, SyncAction::Confirm, "api", LEASE)
        .await
        .unwrap();
    assert_eq!(
        behind,
        DirectClaim::Behind {
            next: SyncAction::Create
        }
    );
    let DirectClaim::Claimed(job) = store
        .claim_next_of(appointment.id, SyncAction::Create, "api", LEASE)
        .await
        .unwrap()
    else {
        panic!("the create job is next")
    };
    assert_eq!(job.id, create);
    assert_eq!(job_row(&pool, create).await, (JobStatus::Running, 1));
    // A second request, and a worker, find it held.
    assert_eq!(
        store
            .claim_next_of(appointment.id, SyncAction::Create, "api-2", LEASE)
            .await
            .unwrap(),
        DirectClaim::InProgress
    );
    assert!(claim_all(&store, "worker").await.is_empty());

    store
        .finish(
            job.id,
            lease(&job),
            &JobOutcome::Succeeded(SyncReport::default()),
            &attempt(),
        )
        .await
        .unwrap();
    let DirectClaim::Claimed(next) = store
        .claim_next_of(appointment.id, SyncAction::Confirm, "api", LEASE)
        .await
        .unwrap()
    else {
        panic!("confirm is next")
    };
    assert_eq!(next.id, confirm);
    store
        .finish(
            next.id,
            lease(&next),
            &JobOutcome::Succeeded(SyncReport::default()),
            &attempt(),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_next_of(appointment.id, SyncAction::Confirm, "api", LEASE)
            .await
            .unwrap(),
        DirectClaim::NothingOpen {
            latest: Some(JobStatus::Succeeded)
        }
    );
    assert_eq!(
        store
            .claim_next_of(appointment.id, SyncAction::Cancel, "api", LEASE)
            .await
            .unwrap(),
        DirectClaim::NothingOpen { latest: None }
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn stored_answers_expire(pool: PgPool) {
    let store = PgStore::new(pool);
    let answer = StoredSyncResult {
        http_status: 200,
        body: r#"{"success":true}"#.into(),
    };
    let now = Utc::now();
    store
        .store_result("k", &answer, now + chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(store.stored_result("k", now).await.unwrap(), Some(answer));
    assert_eq!(
        store
            .stored_result("k", now + chrono::Duration::minutes(6))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.stored_result("other", now).await.unwrap(), None);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn figures_count_attempts_failures_and_the_live_dead_letter_queue(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "b@example.com").await;
    let (first, _) = book(&store, &lead, slot(8, 9)).await;
    let (second, _) = book(&store, &lead, slot(13, 14)).await;
    let jobs = claim_all(&store, "w").await;
    assert_eq!(jobs.len(), 2);
    let dead = |n: u16| JobOutcome::Dead {
        error: CrmError::new(
            ErrorClass::Validation,
            Some(n),
            "custom field `foo` missing",
        ),
        ghl_calls: 1,
    };
    for job in &jobs {
        let outcome = if job.appointment_id == first.id {
            JobOutcome::Succeeded(SyncReport::default())
        } else {
            dead(422)
        };
        store
            .finish(job.id, lease(job), &outcome, &attempt())
            .await
            .unwrap();
    }
    let since = Utc::now() - chrono::Duration::hours(24);
    let hour = Utc::now() - chrono::Duration::hours(1);
    let figures = store.figures(since, hour, None, 10).await.unwrap();
    assert_eq!(
        (figures.total, figures.successful, figures.failed),
        (2, 1, 1)
    );
    assert_eq!(figures.dead_letter_size, 1);
    assert_eq!(figures.failures_last_hour, 1);
    assert_eq!(figures.recent_failures.len(), 1);
    assert_eq!(figures.recent_failures[0].appointment_id, second.id);
    let only_first = store
        .figures(since, hour, Some(first.id), 10)
        .await
        .unwrap();
    assert_eq!((only_first.total, only_first.failed), (1, 0));

    let groups = store.failure_groups(since, 10).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].error_class, Some(ErrorClass::Validation));
    assert_eq!(groups[0].http_status, Some(422));
    assert_eq!(groups[0].count, 1);
    let timeline = store.timeline(since, 3600).await.unwrap();
    let (ok, failed): (u64, u64) = timeline
        .iter()
        .fold((0, 0), |(a, b), t| (a + t.succeeded, b + t.failed));
    assert_eq!((ok, failed), (1, 1));

    // A discarded dead job leaves the dead-letter queue and the recent failures.
    store.discard(&DeadJobFilter::default()).await.unwrap();
    let figures = store.figures(since, hour, None, 10).await.unwrap();
    assert_eq!(figures.dead_letter_size, 0);
    assert!(figures.recent_failures.is_empty());
}
