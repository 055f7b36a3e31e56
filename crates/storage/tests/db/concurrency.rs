//! Races: many tasks released at once by a barrier, against a pool with a
//! connection for each, so their statements really overlap in PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use domain::ids::{AppointmentId, SyncJobId};
use domain::job::{JobOutcome, JobStatus, SyncReport};
use domain::ports::{
    AppointmentRepository, AttemptLog, IdempotencyKey, InsertError, LeadRepository, SyncQueue,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use storage::PgStore;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::support::*;

const TASKS: usize = 8;

/// Runs `TASKS` copies of `work` released together; returns their results.
async fn race<T, F, Fut>(work: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut set = JoinSet::new();
    for i in 0..TASKS {
        let barrier = barrier.clone();
        let task = work(i);
        set.spawn(async move {
            barrier.wait().await;
            task.await
        });
    }
    set.join_all().await
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn concurrent_bookings_never_exceed_capacity(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = pool_of(TASKS as u32, connect).await;
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;

    let results = race(|i| {
        let store = store.clone();
        // Every booking overlaps every other one around 10:00.
        let (appointment, intent) = new_appointment(&lead, slot(9 + (i % 2) as i64, 11));
        async move { store.insert(booking(appointment, intent, 3)).await }
    })
    .await;

    let won = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| **r == Err(InsertError::SlotTaken))
        .count();
    assert_eq!((won, refused), (3, TASKS - 3));
    assert_eq!(count(&pool, "appointments").await, 3);
    assert_eq!(count(&pool, "sync_jobs").await, 3);
    pool.close().await;
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn concurrent_requests_with_one_idempotency_key_book_once(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of(TASKS as u32, connect).await;
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;

    let results = race(|i| {
        let store = store.clone();
        let (appointment, intent) = new_appointment(&lead, slot(i as i64 * 2, i as i64 * 2 + 1));
        let mut request = booking(appointment, intent, 1);
        request.idempotency = Some(IdempotencyKey {
            key: "retry-me".into(),
            fingerprint: "same-body".into(),
        });
        async move { store.insert(request).await }
    })
    .await;

    let winners: Vec<SyncJobId> = results.iter().filter_map(|r| r.clone().ok()).collect();
    assert_eq!(winners.len(), 1);
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(InsertError::IdempotencyRace))
    );
    assert_eq!(
        store
            .find_idempotent("retry-me")
            .await
            .unwrap()
            .unwrap()
            .sync_job_id,
        winners[0]
    );
    assert_eq!(count(&pool, "appointments").await, 1);
    pool.close().await;
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn concurrent_resolutions_of_one_new_person_create_one_lead(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of(TASKS as u32, connect).await;
    let store = PgStore::new(pool.clone());

    // No GHL contact, so no unique constraint helps: only the lock keeps them
    // from creating one lead each. (All share the phone: an email-only and a
    // phone-only request could rightly resolve to two different leads.)
    let leads = race(|i| {
        let store = store.clone();
        let person = match i % 2 {
            0 => customer(Some("jan@example.nl"), Some("0612345678")),
            _ => customer(None, Some("06 1234 5678")),
        };
        async move {
            store
                .resolve_for_booking(&location(), &person, None, now())
                .await
                .unwrap()
        }
    })
    .await;

    let distinct: HashSet<_> = leads.iter().map(|l| l.id).collect();
    assert_eq!(distinct.len(), 1, "one person, one lead");
    assert_eq!(count(&pool, "leads").await, 1);
    pool.close().await;
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn concurrent_resolutions_with_and_without_the_contact_id_agree(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of(TASKS as u32, connect).await;
    let store = PgStore::new(pool.clone());

    let leads = race(|i| {
        let store = store.clone();
        let known = (i % 2 == 0).then(|| contact("c-1"));
        let person = customer(Some("jan@example.nl"), None);
        async move {
            store
                .resolve_for_booking(&location(), &person, known, now())
                .await
                .unwrap()
        }
    })
    .await;

    let distinct: HashSet<_> = leads.iter().map(|l| l.id).collect();
    assert_eq!(distinct.len(), 1, "one person, one lead");
    let lead = stored_lead(&store, leads[0].id).await;
    assert_eq!(lead.ghl_contact_id, Some(contact("c-1")));
    pool.close().await;
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_resolution_waits_for_one_in_progress_and_finds_its_lead(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of(3, connect).await;
    let store = PgStore::new(pool.clone());
    let person = customer(Some("jan@example.nl"), None);
    // Another resolution of the same person has looked and found nothing, and
    // is inserting its new lead, not yet committed ...
    let mut other = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(1, hashtext($1))")
        .bind(location().as_str())
        .execute(&mut *other)
        .await
        .unwrap();
    let theirs = domain::LeadId::new();
    sqlx::query(
        "INSERT INTO leads (id, location_id, email, name, source, created_at, updated_at)
         VALUES ($1, $2, 'jan@example.nl', 'Jan', 'booking', now(), now())",
    )
    .bind(theirs.as_uuid())
    .bind(location().as_str())
    .execute(&mut *other)
    .await
    .unwrap();
    // ... when ours starts: it must wait, then find that lead.
    let resolver = store.clone();
    let ours = tokio::spawn(async move {
        resolver
            .resolve_for_booking(&location(), &person, None, now())
            .await
    });
    wait_until_blocked(&pool, &ours).await;
    other.commit().await.unwrap();

    assert_eq!(ours.await.unwrap().unwrap().id, theirs);
    assert_eq!(count(&pool, "leads").await, 1);
    pool.close().await;
}

/// What the workers have observed: which job of an appointment is running, in
/// which order each appointment's jobs ran, and any overlap seen.
#[derive(Default)]
struct Observed {
    running: HashMap<AppointmentId, SyncJobId>,
    order: HashMap<AppointmentId, Vec<SyncJobId>>,
    overlaps: Vec<(SyncJobId, SyncJobId)>,
    done: usize,
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn concurrent_claimers_never_run_two_jobs_of_one_appointment(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of(TASKS as u32, connect).await;
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    // 6 appointments with 3 jobs each (create, confirm, cancel), in creation order.
    let mut created: HashMap<AppointmentId, Vec<SyncJobId>> = HashMap::new();
    for n in 0..6 {
        let (booked, first) = book(&store, &lead, slot(n * 2, n * 2 + 1)).await;
        let (confirmed, second) = confirm(&store, &booked).await;
        let cancel = change_of(&confirmed, confirmed.cancel(None, now()).unwrap());
        let third = store.update(cancel).await.unwrap();
        created.insert(booked.id, vec![first, second, third]);
    }
    let total = 18;
    let observed = Arc::new(Mutex::new(Observed::default()));

    race(|worker| {
        let store = store.clone();
        let observed = observed.clone();
        async move {
            let name = format!("worker-{worker}");
            loop {
                if observed.lock().unwrap().done == total {
                    break;
                }
                let jobs = store
                    .claim(&name, 1 + (worker % 3) as u32, LEASE)
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    tokio::task::yield_now().await;
                    continue;
                }
                {
                    let mut seen = observed.lock().unwrap();
                    for job in &jobs {
                        if let Some(other) = seen.running.insert(job.appointment_id, job.id) {
                            seen.overlaps.push((other, job.id));
                        }
                        seen.order
                            .entry(job.appointment_id)
                            .or_default()
                            .push(job.id);
                    }
                }
                tokio::task::yield_now().await;
                for job in jobs {
                    // Forget the job before finishing it: its successor becomes
                    // claimable only once `finish` commits.
                    observed.lock().unwrap().running.remove(&job.appointment_id);
                    let outcome = JobOutcome::Succeeded(SyncReport::default());
                    let log = AttemptLog {
                        started_at: now(),
                        finished_at: now(),
                        ghl_calls: 0,
                    };
                    store
                        .finish(job.id, job.lease.unwrap(), &outcome, &log)
                        .await
                        .unwrap();
                    observed.lock().unwrap().done += 1;
                }
            }
        }
    })
    .await;

    {
        let observed = observed.lock().unwrap();
        assert_eq!(
            observed.overlaps,
            [],
            "two jobs of one appointment ran at once"
        );
        assert_eq!(observed.order, created, "jobs ran out of creation order");
    }
    let depth = storage::queue_depth(&pool).await.unwrap();
    assert_eq!(depth.of(JobStatus::Succeeded), total as u64);
    pool.close().await;
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_replayed_earlier_job_cannot_start_beside_a_running_later_one(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = pool_of(4, connect).await;
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (booked, first) = book(&store, &lead, slot(9, 11)).await;
    let (_, second) = confirm(&store, &booked).await;
    let claimed = claim_all(&store, "w").await.remove(0);
    let dead = JobOutcome::Dead {
        error: domain::job::CrmError::new(domain::job::ErrorClass::Permanent, None, "boom"),
        ghl_calls: 0,
    };
    let log = AttemptLog {
        started_at: now(),
        finished_at: now(),
        ghl_calls: 0,
    };
    store
        .finish(first, claimed.lease.unwrap(), &dead, &log)
        .await
        .unwrap();

    // Worker A is claiming the second job and has not committed yet ...
    let mut worker_a = pool.begin().await.unwrap();
    sqlx::query(
        "UPDATE sync_jobs SET status = $2, locked_by = 'a', locked_until = now() + interval '1 minute',
                lease_token = gen_random_uuid(), attempts = attempts + 1
         WHERE id = $1",
    )
    .bind(second.as_uuid())
    .bind(JobStatus::Running.as_str())
    .execute(&mut *worker_a)
    .await
    .unwrap();
    // ... when an operator replays the dead first job ...
    sqlx::query(
        "UPDATE sync_jobs SET status = $2, finished_at = NULL, next_attempt_at = now() WHERE id = $1",
    )
    .bind(first.as_uuid())
    .bind(JobStatus::Pending.as_str())
    .execute(&pool)
    .await
    .unwrap();
    // ... and worker B claims: its snapshot cannot see A's claim, so the first
    // job looks free. B must wait for A and then stay away from the appointment.
    let claimer = store.clone();
    let worker_b = tokio::spawn(async move { claimer.claim("b", 10, LEASE).await });
    wait_until_blocked(&pool, &worker_b).await;
    worker_a.commit().await.unwrap();

    let taken = worker_b.await.unwrap().unwrap();

    assert_eq!(ids(&taken), [], "B started a job beside A's");
    assert_eq!(job_row(&pool, second).await.0, JobStatus::Running);
    assert_eq!(job_row(&pool, first).await.0, JobStatus::Pending);
    pool.close().await;
}

/// Polls the server (no sleeping) until `task` waits for a lock in the test
/// database, or is done without waiting (then the caller's assertions tell what
/// it did).
async fn wait_until_blocked<T>(pool: &sqlx::PgPool, task: &tokio::task::JoinHandle<T>) {
    for _ in 0..10_000 {
        if task.is_finished() {
            return;
        }
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the task neither finished nor waited for a lock");
}
