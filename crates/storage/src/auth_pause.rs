//! Locations paused because GHL refused their token (`ghl_auth_pauses`, see the migration
//! `20261129003102`). While a location is paused its jobs are not claimed: they wait with
//! their attempts untouched instead of being dead-lettered one after another. A worker
//! probes GHL when `recheck_at` comes ([`claim_auth_recheck`]) and ends the pause
//! ([`end_auth_pause`]) when the token works again.
//!
//! [`auth_paused_locations`] is the health view: which locations wait for a token, why,
//! and since when.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::ids::LocationId;
use domain::ports::RepoError;
use sqlx::{PgPool, Row as _};

use domain::job::JobStatus;

use crate::error::repo;
use crate::{NOTIFY_CHANNEL, mapping};

/// A location whose jobs wait for a working GHL token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPause {
    pub location_id: String,
    /// Free of secrets and personal data.
    pub reason: String,
    pub since: DateTime<Utc>,
    pub recheck_at: DateTime<Utc>,
    /// Probes refused again since `since`.
    pub rechecks: i32,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Begins `location`'s auth pause, with its first probe `recheck_after` from now.
/// Returns true when this began the pause, false when it was already paused (then
/// nothing changes: the pause keeps its start and its schedule).
pub async fn begin_auth_pause(
    pool: &PgPool,
    location: &LocationId,
    recheck_after: Duration,
    reason: &str,
) -> Result<bool, RepoError> {
    let inserted = sqlx::query(
        "INSERT INTO ghl_auth_pauses (location_id, reason, since, recheck_at)
         VALUES ($1, $2, now(), now() + $3 * interval '1 second')
         ON CONFLICT (location_id) DO NOTHING",
    )
    .bind(location.as_str())
    .bind(reason)
    .bind(secs(recheck_after))
    .execute(pool)
    .await
    .map_err(repo)?;
    Ok(inserted.rows_affected() == 1)
}

/// Every location paused for auth, oldest pause first: for health checks and operators.
pub async fn auth_paused_locations(pool: &PgPool) -> Result<Vec<AuthPause>, RepoError> {
    let rows = sqlx::query(
        "SELECT location_id, reason, since, recheck_at, rechecks
           FROM ghl_auth_pauses ORDER BY since, location_id",
    )
    .fetch_all(pool)
    .await
    .map_err(repo)?;
    rows.into_iter()
        .map(|row| {
            Ok(AuthPause {
                location_id: row.try_get("location_id").map_err(repo)?,
                reason: row.try_get("reason").map_err(repo)?,
                since: row.try_get("since").map_err(repo)?,
                recheck_at: row.try_get("recheck_at").map_err(repo)?,
                rechecks: row.try_get("rechecks").map_err(repo)?,
            })
        })
        .collect()
}

/// Takes the next due probe, if any: moves that location's `recheck_at` `next_after`
/// ahead under the row's lock, so exactly one worker probes a location per period.
pub async fn claim_auth_recheck(
    pool: &PgPool,
    next_after: Duration,
) -> Result<Option<LocationId>, RepoError> {
    let location: Option<String> = sqlx::query_scalar(
        "UPDATE ghl_auth_pauses p
            SET recheck_at = now() + $1 * interval '1 second'
          WHERE p.location_id = (
                SELECT location_id FROM ghl_auth_pauses
                 WHERE recheck_at <= now()
                 ORDER BY recheck_at
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED)
          RETURNING p.location_id",
    )
    .bind(secs(next_after))
    .fetch_optional(pool)
    .await
    .map_err(repo)?;
    location
        .map(|l| LocationId::parse(&l).map_err(|e| RepoError::Corrupt(e.to_string())))
        .transpose()
}

/// Counts a probe that GHL refused again (the pause stays).
pub async fn auth_recheck_refused(pool: &PgPool, location: &LocationId) -> Result<(), RepoError> {
    sqlx::query("UPDATE ghl_auth_pauses SET rechecks = rechecks + 1 WHERE location_id = $1")
        .bind(location.as_str())
        .execute(pool)
        .await
        .map_err(repo)?;
    Ok(())
}

/// Ends `location`'s auth pause (its token works again) and lets its waiting jobs run
/// now; also lifts the short budget pause that the 401 set. Returns whether a pause ended.
pub async fn end_auth_pause(pool: &PgPool, location: &LocationId) -> Result<bool, RepoError> {
    let mut tx = pool.begin().await.map_err(repo)?;
    let ended = sqlx::query("DELETE FROM ghl_auth_pauses WHERE location_id = $1")
        .bind(location.as_str())
        .execute(&mut *tx)
        .await
        .map_err(repo)?
        .rows_affected()
        == 1;
    if ended {
        sqlx::query(
            "UPDATE rate_limit_buckets SET paused_until = NULL, pause_reason = NULL, updated_at = now()
              WHERE location_id = $1 AND paused_until > now()",
        )
        .bind(location.as_str())
        .execute(&mut *tx)
        .await
        .map_err(repo)?;
        // The jobs the refusal sent waiting (the 401 itself, and the calls that then met
        // the location's budget pause) run now rather than at their backoff.
        sqlx::query(
            "UPDATE sync_jobs SET next_attempt_at = now(), updated_at = now()
              WHERE location_id = $1 AND status = $2 AND next_attempt_at > now()
                AND error_class IN ('auth', 'rate_limited')",
        )
        .bind(location.as_str())
        .bind(mapping::job_status(JobStatus::Pending))
        .execute(&mut *tx)
        .await
        .map_err(repo)?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&mut *tx)
            .await
            .map_err(repo)?;
    }
    tx.commit().await.map_err(repo)?;
    Ok(ended)
}
