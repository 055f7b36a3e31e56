//! Auth pauses: a location whose GHL token was refused keeps its jobs waiting (not
//! claimed, attempts untouched) until the pause ends; the health view lists it.

use std::time::Duration;

use domain::job::{CrmError, ErrorClass, JobOutcome, JobStatus};
use domain::ports::{AttemptLog, RateLimiter, RateLimits, SyncQueue};
use sqlx::PgPool;
use storage::auth_pause::{
    auth_paused_locations, auth_recheck_refused, claim_auth_recheck, end_auth_pause,
};
use storage::{PgRateLimiter, PgStore};

use crate::support::*;

const REASON: &str = "GHL refused the token (401)";

fn refused() -> JobOutcome {
    let mut error = CrmError::new(ErrorClass::Auth, Some(401), REASON);
    error.retry_after = Some(Duration::from_secs(300));
    JobOutcome::RetryAt {
        at: now() + chrono::Duration::seconds(300),
        error,
        ghl_calls: 1,
    }
}

fn attempt() -> AttemptLog {
    AttemptLog {
        started_at: now(),
        finished_at: now(),
        ghl_calls: 1,
    }
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn jobs_of_a_location_paused_for_auth_wait_without_using_attempts(pool: PgPool) {
    let store = PgStore::new(pool.clone());
    let limiter = PgRateLimiter::new(pool.clone(), RateLimits::default());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let other_lead = lead_in(&store, &other_location(), "piet@example.nl").await;
    let (_, first) = book(&store, &lead, slot(9, 11)).await;
    let (_, second) = book(&store, &lead, slot(12, 14)).await;
    let (_, elsewhere) = book(&store, &other_lead, slot(9, 11)).await;

    // The first job meets the 401: the location is paused, once.
    let job = store.claim("w", 1, LEASE).await.unwrap().remove(0);
    assert_eq!(job.id, first);
    let began = limiter
        .pause_for_auth(&location(), Duration::from_secs(300), REASON)
        .await
        .unwrap();
    assert!(began);
    let again = limiter
        .pause_for_auth(&location(), Duration::from_secs(300), "another reason")
        .await
        .unwrap();
    assert!(!again, "a second 401 does not begin a second pause");
    store
        .finish(job.id, lease(&job), &refused(), &attempt())
        .await
        .unwrap();
    assert_eq!(job_row(&pool, first).await, (JobStatus::Pending, 0));

    // Neither its retry (made due) nor the location's other job is claimed; the other
    // location's job is.
    make_due(&pool, first).await;
    let claimed = ids(&claim_all(&store, "w").await);
    assert_eq!(claimed, vec![elsewhere]);
    assert_eq!(job_row(&pool, second).await, (JobStatus::Pending, 0));

    // The health view names the location, the reason and since when.
    let paused = auth_paused_locations(&pool).await.unwrap();
    assert_eq!(paused.len(), 1);
    assert_eq!(paused[0].location_id, location().as_str());
    assert_eq!(paused[0].reason, REASON);
    assert!(paused[0].since <= paused[0].recheck_at);

    // Many refusals later the job is still pending with no attempt used.
    for _ in 0..10 {
        end_auth_pause(&pool, &location()).await.unwrap();
        make_due(&pool, first).await;
        let job = store
            .claim("w", 10, LEASE)
            .await
            .unwrap()
            .into_iter()
            .find(|j| j.id == first)
            .unwrap();
        assert_eq!(job.attempts, 1);
        limiter
            .pause_for_auth(&location(), Duration::from_secs(300), REASON)
            .await
            .unwrap();
        store
            .finish(job.id, lease(&job), &refused(), &attempt())
            .await
            .unwrap();
        // No job of the paused location is claimable.
        if let Some(other) = store.claim("w", 10, LEASE).await.unwrap().first() {
            panic!("claimed {:?} during the pause", other.id);
        }
        // The location's other job ran while the pause was lifted: hand it back.
        sqlx::query("UPDATE sync_jobs SET status = 'pending', lease_token = NULL, locked_until = NULL, locked_by = NULL, attempts = 0 WHERE id = $1 AND status = 'running'")
            .bind(second.as_uuid())
            .execute(&pool)
            .await
            .unwrap();
    }
    assert_eq!(job_row(&pool, first).await, (JobStatus::Pending, 0));
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_attempts WHERE job_id = $1")
        .bind(first.as_uuid())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, 11, "every refused attempt is still recorded");

    // The token works again: the pause ends and both jobs run at once.
    assert!(end_auth_pause(&pool, &location()).await.unwrap());
    assert!(auth_paused_locations(&pool).await.unwrap().is_empty());
    let mut claimed = ids(&claim_all(&store, "w").await);
    claimed.sort_by_key(|id| id.to_string());
    let mut expected = vec![first, second];
    expected.sort_by_key(|id| id.to_string());
    assert_eq!(claimed, expected);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn each_due_recheck_goes_to_one_worker_once_per_period(pool: PgPool) {
    let limiter = PgRateLimiter::new(pool.clone(), RateLimits::default());
    assert!(
        claim_auth_recheck(&pool, Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    limiter
        .pause_for_auth(&location(), Duration::ZERO, REASON)
        .await
        .unwrap();
    let first = claim_auth_recheck(&pool, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(first, Some(location()));
    // Not due again until the period has passed.
    assert!(
        claim_auth_recheck(&pool, Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    auth_recheck_refused(&pool, &location()).await.unwrap();
    let paused = auth_paused_locations(&pool).await.unwrap();
    assert_eq!(paused[0].rechecks, 1);
    assert!(paused[0].recheck_at > paused[0].since);
}
