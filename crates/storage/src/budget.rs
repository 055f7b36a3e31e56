//! GHL request budgets as operators see them: every location's row of
//! `rate_limit_buckets` (written by `PgRateLimiter`), for the metrics and the
//! dashboard.

use chrono::{DateTime, Utc};
use domain::ports::RepoError;
use sqlx::PgPool;

use crate::error::repo;

/// One location's use of GHL's daily budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationBudget {
    pub location_id: String,
    /// Requests made today (UTC); 0 when the row is from an earlier day.
    pub used_today: u64,
    pub paused_until: Option<DateTime<Utc>>,
}

/// Every location that has made GHL requests.
pub async fn budgets(pool: &PgPool) -> Result<Vec<LocationBudget>, RepoError> {
    let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT location_id,
                CASE WHEN day = (now() AT TIME ZONE 'UTC')::date THEN day_count ELSE 0 END::bigint,
                CASE WHEN paused_until > now() THEN paused_until END
         FROM rate_limit_buckets ORDER BY location_id",
    )
    .fetch_all(pool)
    .await
    .map_err(repo)?;
    Ok(rows
        .into_iter()
        .map(|(location_id, used, paused_until)| LocationBudget {
            location_id,
            used_today: u64::try_from(used).unwrap_or(0),
            paused_until,
        })
        .collect())
}
