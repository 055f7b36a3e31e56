//! [`PgRateLimiter`]: GHL's request budget per location in `rate_limit_buckets`, shared by
//! every worker process. One call of `rate_limit_acquire` (a PL/pgSQL function, see the
//! migration `20261129003001`) takes a request under the row's lock: GCRA pacing, the
//! daily count and the pause, all on the database's clock.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ids::LocationId;
use domain::ports::{Admission, RateLimiter, RateLimits, RepoError};
use sqlx::{PgPool, Row as _};

use crate::error::repo;

/// The shared budget. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PgRateLimiter {
    pool: PgPool,
    limits: RateLimits,
}

/// A location's budget row, for operators and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketState {
    pub day_count: i64,
    pub paused_until: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
}

impl PgRateLimiter {
    pub fn new(pool: PgPool, limits: RateLimits) -> Self {
        PgRateLimiter { pool, limits }
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// [`RateLimiter::acquire`] at `now` instead of the database's clock (for tests).
    pub async fn acquire_at(
        &self,
        location: &LocationId,
        now: Option<DateTime<Utc>>,
    ) -> Result<Admission, RepoError> {
        let interval_us = i64::try_from(self.limits.interval().as_micros()).unwrap_or(i64::MAX);
        let daily = i64::try_from(self.limits.daily).unwrap_or(i64::MAX);
        let row = sqlx::query("SELECT granted, wait_us FROM rate_limit_acquire($1, $2, $3, $4)")
            .bind(location.as_str())
            .bind(now)
            .bind(interval_us)
            .bind(daily)
            .fetch_one(&self.pool)
            .await
            .map_err(repo)?;
        let granted: bool = row.try_get("granted").map_err(repo)?;
        let wait_us: i64 = row.try_get("wait_us").map_err(repo)?;
        Ok(if granted {
            Admission::Granted
        } else {
            let micros = u64::try_from(wait_us.max(1)).unwrap_or(1);
            Admission::Wait(Duration::from_micros(micros))
        })
    }

    /// [`RateLimiter::pause`] from `now` instead of the database's clock (for tests).
    pub async fn pause_at(
        &self,
        location: &LocationId,
        now: Option<DateTime<Utc>>,
        duration: Duration,
        reason: &str,
    ) -> Result<(), RepoError> {
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO rate_limit_buckets AS b (location_id, paused_until, pause_reason)
             VALUES ($1, coalesce($2, clock_timestamp()) + make_interval(secs => $3 / 1e6), $4)
             ON CONFLICT (location_id) DO UPDATE
                SET paused_until = greatest(b.paused_until, EXCLUDED.paused_until),
                    pause_reason = CASE
                        WHEN b.paused_until IS NULL OR EXCLUDED.paused_until > b.paused_until
                        THEN EXCLUDED.pause_reason ELSE b.pause_reason END,
                    updated_at = now()",
        )
        .bind(location.as_str())
        .bind(now)
        .bind(micros)
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(repo)?;
        Ok(())
    }

    /// The location's row, if it has one.
    pub async fn bucket(&self, location: &LocationId) -> Result<Option<BucketState>, RepoError> {
        let row = sqlx::query(
            "SELECT day_count::bigint AS day_count, paused_until, pause_reason
               FROM rate_limit_buckets WHERE location_id = $1",
        )
        .bind(location.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(repo)?;
        row.map(|row| {
            Ok(BucketState {
                day_count: row.try_get("day_count").map_err(repo)?,
                paused_until: row.try_get("paused_until").map_err(repo)?,
                pause_reason: row.try_get("pause_reason").map_err(repo)?,
            })
        })
        .transpose()
    }
}

#[async_trait]
impl RateLimiter for PgRateLimiter {
    async fn acquire(&self, location: &LocationId) -> Result<Admission, RepoError> {
        self.acquire_at(location, None).await
    }

    async fn pause(
        &self,
        location: &LocationId,
        duration: Duration,
        reason: &str,
    ) -> Result<(), RepoError> {
        self.pause_at(location, None, duration, reason).await
    }

    async fn pause_for_auth(
        &self,
        location: &LocationId,
        recheck_after: Duration,
        reason: &str,
    ) -> Result<bool, RepoError> {
        crate::auth_pause::begin_auth_pause(&self.pool, location, recheck_after, reason).await
    }
}
