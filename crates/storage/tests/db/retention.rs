//! Retention: old succeeded and skipped jobs go with their attempts; dead,
//! open and recent jobs stay.

use chrono::TimeDelta;
use domain::ids::SyncJobId;
use domain::job::{CrmError, ErrorClass, JobOutcome, SyncReport};
use domain::ports::{AttemptLog, SyncQueue};
use sqlx::PgPool;
use storage::{PgStore, Pruned, prune_finished};

use crate::support::*;

async fn finish_next(store: &PgStore, outcome: JobOutcome) -> SyncJobId {
    let job = store.claim("w", 1, LEASE).await.unwrap().remove(0);
    let attempt = AttemptLog {
        started_at: now(),
        finished_at: now(),
        ghl_calls: 1,
    };
    store
        .finish(job.id, lease(&job), &outcome, &attempt)
        .await
        .unwrap();
    job.id
}

async fn age(pool: &PgPool, id: SyncJobId, days: i64) {
    sqlx::query(
        "UPDATE sync_jobs SET finished_at = now() - make_interval(days => $2::int) WHERE id = $1",
    )
    .bind(id.as_uuid())
    .bind(days as i32)
    .execute(pool)
    .await
    .unwrap();
}

async fn exists(pool: &PgPool, id: SyncJobId) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sync_jobs WHERE id = $1)")
        .bind(id.as_uuid())
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn old_succeeded_and_skipped_jobs_are_pruned_in_batches_and_dead_ones_kept(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let succeeded = || JobOutcome::Succeeded(SyncReport::default());
    let mut old = Vec::new();
    for hour in [8, 10, 12] {
        book(&store, &lead, slot(hour, hour + 1)).await;
        old.push(finish_next(&store, succeeded()).await);
    }
    book(&store, &lead, slot(14, 15)).await;
    let skipped = finish_next(
        &store,
        JobOutcome::Skipped {
            reason: "no contact".into(),
        },
    )
    .await;
    old.push(skipped);
    book(&store, &lead, slot(16, 17)).await;
    let dead = finish_next(
        &store,
        JobOutcome::Dead {
            error: CrmError::new(ErrorClass::NotFound, Some(404), "contact not found"),
            ghl_calls: 1,
        },
    )
    .await;
    book(&store, &lead, slot(18, 19)).await;
    let recent = finish_next(&store, succeeded()).await;
    let (_, pending) = book(&store, &lead, slot(20, 21)).await;
    for id in old.iter().chain([&dead]) {
        age(&pool, *id, 40).await;
    }
    age(&pool, recent, 20).await;

    let pruned = prune_finished(&pool, TimeDelta::days(30), 2).await.unwrap();

    assert_eq!(
        pruned,
        Pruned {
            jobs: 4,
            attempts: 4
        }
    );
    for id in &old {
        assert!(!exists(&pool, *id).await, "an old finished job is pruned");
    }
    for id in [dead, recent, pending] {
        assert!(exists(&pool, id).await, "dead, recent and open jobs stay");
    }
    assert_eq!(
        count(&pool, "sync_attempts").await,
        2,
        "the dead and the recent job's"
    );
    assert_eq!(
        prune_finished(&pool, TimeDelta::days(30), 2).await.unwrap(),
        Pruned::default()
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_job_named_by_a_live_idempotency_key_is_kept_and_one_with_an_expired_key_goes(
    pool: PgPool,
) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let mut jobs = Vec::new();
    for (hour, key) in [(9, "live-key"), (12, "expired-key")] {
        let (appointment, intent) = new_appointment(&lead, slot(hour, hour + 2));
        let mut booking = booking(appointment, intent, 1);
        booking.idempotency = Some(domain::ports::IdempotencyKey {
            key: key.into(),
            fingerprint: "f".into(),
        });
        domain::ports::AppointmentRepository::insert(&store, booking)
            .await
            .unwrap();
        jobs.push(finish_next(&store, JobOutcome::Succeeded(SyncReport::default())).await);
        age(&pool, jobs[jobs.len() - 1], 40).await;
    }
    sqlx::query("UPDATE idempotency_keys SET expires_at = now() - interval '1 day' WHERE key = 'expired-key'")
        .execute(&pool)
        .await
        .unwrap();

    let pruned = prune_finished(&pool, TimeDelta::days(30), 100)
        .await
        .unwrap();

    assert_eq!(pruned.jobs, 1);
    assert!(exists(&pool, jobs[0]).await);
    assert!(!exists(&pool, jobs[1]).await);
    assert_eq!(count(&pool, "idempotency_keys").await, 1);
}
