//! The shared GHL budget: pacing, the daily limit and pauses, atomically across
//! concurrent callers.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use domain::ports::{Admission, RateLimiter, RateLimits};
use sqlx::PgPool;
use storage::PgRateLimiter;

use crate::support::{location, now, other_location};

fn limits(burst: u32, window_ms: u64, daily: u64) -> RateLimits {
    RateLimits {
        burst,
        window: Duration::from_millis(window_ms),
        daily,
        headroom: 0.0,
    }
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn requests_are_paced_one_per_interval(pool: PgPool) {
    // 10 per second: one per 100 ms.
    let limiter = PgRateLimiter::new(pool, limits(10, 1_000, 1_000));
    let t0 = now();
    let loc = location();
    assert_eq!(
        limiter.acquire_at(&loc, Some(t0)).await,
        Ok(Admission::Granted)
    );
    assert_eq!(
        limiter
            .acquire_at(&loc, Some(t0 + TimeDelta::milliseconds(40)))
            .await,
        Ok(Admission::Wait(Duration::from_millis(60)))
    );
    assert_eq!(
        limiter
            .acquire_at(&loc, Some(t0 + TimeDelta::milliseconds(100)))
            .await,
        Ok(Admission::Granted)
    );
    // Another location has its own budget.
    assert_eq!(
        limiter
            .acquire_at(&other_location(), Some(t0 + TimeDelta::milliseconds(100)))
            .await,
        Ok(Admission::Granted)
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn the_daily_limit_holds_until_the_next_utc_day(pool: PgPool) {
    let limiter = PgRateLimiter::new(pool, limits(1_000, 1_000, 2));
    let t0 = now();
    let loc = location();
    for i in 0..2 {
        let at = t0 + TimeDelta::seconds(i);
        assert_eq!(
            limiter.acquire_at(&loc, Some(at)).await,
            Ok(Admission::Granted)
        );
    }
    let at = t0 + TimeDelta::seconds(5);
    let Ok(Admission::Wait(wait)) = limiter.acquire_at(&loc, Some(at)).await else {
        panic!("the third request of the day was granted");
    };
    let midnight = (at.date_naive() + TimeDelta::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let expected = (midnight - at).to_std().unwrap();
    assert!(
        wait.abs_diff(expected) < Duration::from_millis(1),
        "{wait:?}"
    );
    assert_eq!(
        limiter.acquire_at(&loc, Some(midnight)).await,
        Ok(Admission::Granted)
    );
    assert_eq!(limiter.bucket(&loc).await.unwrap().unwrap().day_count, 1);
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_pause_holds_every_caller_back_and_only_ever_extends(pool: PgPool) {
    let limiter = PgRateLimiter::new(pool.clone(), limits(1_000, 1_000, 1_000));
    let t0 = now();
    let loc = location();
    limiter
        .pause_at(&loc, Some(t0), Duration::from_secs(10), "GHL answered 429")
        .await
        .unwrap();
    limiter
        .pause_at(&loc, Some(t0), Duration::from_secs(2), "shorter")
        .await
        .unwrap();
    // A second process sees the same pause.
    let other_worker = PgRateLimiter::new(pool, limits(1_000, 1_000, 1_000));
    assert_eq!(
        other_worker
            .acquire_at(&loc, Some(t0 + TimeDelta::seconds(4)))
            .await,
        Ok(Admission::Wait(Duration::from_secs(6)))
    );
    let bucket = limiter.bucket(&loc).await.unwrap().unwrap();
    assert_eq!(bucket.paused_until, Some(t0 + TimeDelta::seconds(10)));
    assert_eq!(bucket.pause_reason.as_deref(), Some("GHL answered 429"));
    assert_eq!(
        limiter
            .acquire_at(&loc, Some(t0 + TimeDelta::seconds(10)))
            .await,
        Ok(Admission::Granted)
    );
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn concurrent_callers_never_get_more_than_the_budget(pool: PgPool) {
    // 5 per 10 s on the database's clock: of 40 concurrent callers in well under an
    // interval (2 s), exactly one is granted.
    let limiter = Arc::new(PgRateLimiter::new(pool, limits(5, 10_000, 1_000)));
    let loc = location();
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let limiter = Arc::clone(&limiter);
        let loc = loc.clone();
        tasks.push(tokio::spawn(async move { limiter.acquire(&loc).await }));
    }
    let mut granted = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == Admission::Granted {
            granted += 1;
        }
    }
    assert_eq!(granted, 1);
    assert_eq!(limiter.bucket(&loc).await.unwrap().unwrap().day_count, 1);
}
