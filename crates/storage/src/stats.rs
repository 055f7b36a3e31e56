//! `SyncStats`: the monitor's and dashboard's figures from `sync_attempts` and
//! `sync_jobs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::health::{FailureGroup, RecentFailure, SyncFigures, TimeBucket};
use domain::ids::AppointmentId;
use domain::job::JobStatus;
use domain::ports::{RepoError, SyncStats};
use uuid::Uuid;

use crate::PgStore;
use crate::error::repo;
use crate::mapping;

/// Attempt outcomes that count as failures.
const FAILED: [&str; 2] = ["retry", "dead"];

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl SyncStats for PgStore {
    async fn figures(
        &self,
        since: DateTime<Utc>,
        failures_since: DateTime<Utc>,
        appointment: Option<AppointmentId>,
        recent: u32,
    ) -> Result<SyncFigures, RepoError> {
        let appointment = appointment.map(|a| a.as_uuid());
        let (total, failed, last_hour): (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*),
                    count(*) FILTER (WHERE a.outcome = ANY($2)),
                    count(*) FILTER (WHERE a.outcome = ANY($2) AND a.finished_at >= $3)
             FROM sync_attempts a JOIN sync_jobs j ON j.id = a.job_id
             WHERE a.finished_at >= $1 AND ($4::uuid IS NULL OR j.appointment_id = $4)",
        )
        .bind(since)
        .bind(FAILED)
        .bind(failures_since)
        .bind(appointment)
        .fetch_one(&self.pool)
        .await
        .map_err(repo)?;
        let dead: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sync_jobs
             WHERE status = $1 AND discarded_at IS NULL
               AND ($2::uuid IS NULL OR appointment_id = $2)",
        )
        .bind(mapping::job_status(JobStatus::Dead))
        .bind(appointment)
        .fetch_one(&self.pool)
        .await
        .map_err(repo)?;
        // Jobs whose latest attempt failed: dead ones and pending ones awaiting a retry.
        let rows: Vec<(Uuid, Option<String>, i32, DateTime<Utc>)> = sqlx::query_as(
            "SELECT j.appointment_id, j.last_error, j.attempts, last.finished_at
             FROM sync_jobs j
             JOIN LATERAL (SELECT a.finished_at, a.outcome FROM sync_attempts a
                           WHERE a.job_id = j.id ORDER BY a.attempt DESC LIMIT 1) last ON true
             WHERE last.outcome = ANY($1) AND j.status = ANY($2) AND j.discarded_at IS NULL
               AND ($3::uuid IS NULL OR j.appointment_id = $3)
             ORDER BY last.finished_at DESC
             LIMIT $4",
        )
        .bind(FAILED)
        .bind([
            mapping::job_status(JobStatus::Dead),
            mapping::job_status(JobStatus::Pending),
        ])
        .bind(appointment)
        .bind(i64::from(recent))
        .fetch_all(&self.pool)
        .await
        .map_err(repo)?;
        let recent_failures = rows
            .into_iter()
            .map(|(id, error, attempts, last)| RecentFailure {
                appointment_id: AppointmentId::from_uuid(id),
                error: error.unwrap_or_default(),
                attempts: u32::try_from(attempts).unwrap_or(0),
                last_attempt: last,
            })
            .collect();
        Ok(SyncFigures {
            total: count(total),
            successful: count(total - failed),
            failed: count(failed),
            dead_letter_size: count(dead),
            failures_last_hour: count(last_hour),
            recent_failures,
        })
    }

    async fn failure_groups(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FailureGroup>, RepoError> {
        let rows: Vec<(
            String,
            Option<String>,
            Option<i32>,
            Option<String>,
            i64,
            DateTime<Utc>,
            DateTime<Utc>,
        )> = sqlx::query_as(
            "SELECT j.location_id, a.error_class, a.http_status, a.error,
                    count(*), min(a.finished_at), max(a.finished_at)
             FROM sync_attempts a JOIN sync_jobs j ON j.id = a.job_id
             WHERE a.finished_at >= $1 AND a.outcome = ANY($2)
             GROUP BY 1, 2, 3, 4
             ORDER BY count(*) DESC, max(a.finished_at) DESC
             LIMIT $3",
        )
        .bind(since)
        .bind(FAILED)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(repo)?;
        Ok(rows
            .into_iter()
            .map(
                |(location_id, class, status, error, n, first_at, last_at)| FailureGroup {
                    location_id,
                    error_class: class.as_deref().and_then(mapping::parse_error_class),
                    http_status: status.and_then(|s| u16::try_from(s).ok()),
                    error: error.unwrap_or_default(),
                    count: count(n),
                    first_at,
                    last_at,
                },
            )
            .collect())
    }

    async fn timeline(
        &self,
        since: DateTime<Utc>,
        bucket_seconds: u32,
    ) -> Result<Vec<TimeBucket>, RepoError> {
        let rows: Vec<(DateTime<Utc>, i64, i64, Option<f64>, Option<f64>)> = sqlx::query_as(
            "SELECT to_timestamp(floor(extract(epoch FROM a.finished_at) / $2) * $2) AS bucket,
                    count(*) FILTER (WHERE NOT a.outcome = ANY($3)),
                    count(*) FILTER (WHERE a.outcome = ANY($3)),
                    avg(extract(epoch FROM a.finished_at - j.created_at) * 1000)::float8,
                    max(extract(epoch FROM a.finished_at - j.created_at) * 1000)::float8
             FROM sync_attempts a JOIN sync_jobs j ON j.id = a.job_id
             WHERE a.finished_at >= $1
             GROUP BY 1 ORDER BY 1",
        )
        .bind(since)
        .bind(f64::from(bucket_seconds.max(1)))
        .bind(FAILED)
        .fetch_all(&self.pool)
        .await
        .map_err(repo)?;
        Ok(rows
            .into_iter()
            .map(|(start, ok, failed, mean, max)| TimeBucket {
                start,
                succeeded: count(ok),
                failed: count(failed),
                mean_latency_ms: mean.unwrap_or(0.0),
                max_latency_ms: max.unwrap_or(0.0),
            })
            .collect())
    }

    async fn auth_paused(&self) -> Result<Vec<domain::health::AuthPaused>, RepoError> {
        Ok(crate::auth_pause::auth_paused_locations(self.pool())
            .await?
            .into_iter()
            .map(|p| domain::health::AuthPaused {
                location_id: p.location_id,
                since: p.since,
                refused_checks: p.rechecks,
            })
            .collect())
    }
}
