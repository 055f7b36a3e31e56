//! `DeadLetters`: the dead-letter queue (dead jobs not discarded) for operators.
//!
//! - `replay` makes matching dead jobs pending again, due now, with the given
//!   priority and a fresh attempt budget (`attempts = 0`; the `sync_attempts`
//!   rows of earlier runs stay, numbered again from 1 after each replay). It
//!   counts the replay (`replays`, `replayed_at`), which makes the job take its
//!   tags and fields from the appointment's current state when it runs, and
//!   keeps only the note and task in its journal (`domain::replay`). The job
//!   keeps its id and its place (`seq`) in its appointment's order: later
//!   pending jobs of the appointment wait for it, a running one makes it wait.
//! - `discard` stamps `discarded_at`: the job stays `dead` and recorded but
//!   leaves the queue.
//! - `preview` counts what `replay` would take and the GHL calls its jobs are
//!   expected to make (`domain::replay::replay_steps`, from each job's action,
//!   the status its intent recorded, the appointment's current status and the
//!   journal).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::appointment::AppointmentStatus;
use domain::ids::{AppointmentId, LocationId, SyncJobId};
use domain::intent::IntentPayload;
use domain::job::{JobPriority, JobStatus};
use domain::plan::EffectStep;
use domain::ports::{DeadJob, DeadJobFilter, DeadLetters, ReplayPreview, RepoError};
use domain::replay::{journal_kept_on_replay, replay_steps};
use uuid::Uuid;

use crate::error::{corrupt, repo};
use crate::{NOTIFY_CHANNEL, PgStore, mapping};

/// The filter as SQL: `$1` dead, `$2` since, `$3` action, `$4` error class,
/// `$5` appointment, `$6` location, `$7` job id. Newest first.
const MATCHING: &str = "
    SELECT j.id FROM sync_jobs j
    WHERE j.status = $1 AND j.discarded_at IS NULL
      AND ($2::timestamptz IS NULL OR j.finished_at >= $2)
      AND ($3::text IS NULL OR j.action = $3)
      AND ($4::text IS NULL OR j.error_class = $4)
      AND ($5::uuid IS NULL OR j.appointment_id = $5)
      AND ($6::text IS NULL OR j.location_id = $6)
      AND ($7::uuid IS NULL OR j.id = $7)
    ORDER BY j.finished_at DESC, j.seq DESC
    LIMIT $8";

fn matching_query<'q, O>(
    sql: &'q str,
    filter: &'q DeadJobFilter,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(mapping::job_status(JobStatus::Dead))
        .bind(filter.since)
        .bind(filter.action.map(mapping::action))
        .bind(filter.error_class.map(mapping::error_class))
        .bind(filter.appointment_id.map(|a| a.as_uuid()))
        .bind(filter.location_id.as_ref().map(|l| l.as_str().to_owned()))
        .bind(filter.job_id.map(|j| j.as_uuid()))
        .bind(filter.limit.map(i64::from))
}

#[derive(sqlx::FromRow)]
struct DeadRow {
    id: Uuid,
    appointment_id: Uuid,
    location_id: String,
    action: String,
    attempts: i32,
    error_class: Option<String>,
    http_status: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl DeadRow {
    fn into_domain(self) -> Result<DeadJob, RepoError> {
        let id = self.id;
        let bad = |column| corrupt("sync_jobs", column, id);
        Ok(DeadJob {
            id: SyncJobId::from_uuid(id),
            appointment_id: AppointmentId::from_uuid(self.appointment_id),
            location_id: LocationId::parse(&self.location_id).map_err(|_| bad("location_id"))?,
            action: mapping::parse_action(&self.action).ok_or_else(|| bad("action"))?,
            attempts: u32::try_from(self.attempts).map_err(|_| bad("attempts"))?,
            error_class: self
                .error_class
                .map(|c| mapping::parse_error_class(&c).ok_or_else(|| bad("error_class")))
                .transpose()?,
            http_status: self
                .http_status
                .map(|s| u16::try_from(s).map_err(|_| bad("http_status")))
                .transpose()?,
            last_error: self.last_error,
            created_at: self.created_at,
            finished_at: self.finished_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PreviewRow {
    id: Uuid,
    action: String,
    payload: serde_json::Value,
    completed_steps: Vec<String>,
    current_status: String,
}

#[async_trait]
impl DeadLetters for PgStore {
    async fn list(&self, filter: &DeadJobFilter) -> Result<Vec<DeadJob>, RepoError> {
        let sql = format!(
            "SELECT d.id, d.appointment_id, d.location_id, d.action, d.attempts, d.error_class,
                    d.http_status, d.last_error, d.created_at, d.finished_at
             FROM sync_jobs d JOIN ({MATCHING}) m ON m.id = d.id
             ORDER BY d.finished_at DESC, d.seq DESC"
        );
        let rows: Vec<DeadRow> = matching_query(&sql, filter)
            .fetch_all(&self.pool)
            .await
            .map_err(repo)?;
        rows.into_iter().map(DeadRow::into_domain).collect()
    }

    async fn preview(&self, filter: &DeadJobFilter) -> Result<ReplayPreview, RepoError> {
        let sql = format!(
            "SELECT d.id, d.action, d.payload, d.completed_steps, a.status AS current_status
             FROM sync_jobs d JOIN ({MATCHING}) m ON m.id = d.id
             JOIN appointments a ON a.id = d.appointment_id"
        );
        let rows: Vec<PreviewRow> = matching_query(&sql, filter)
            .fetch_all(&self.pool)
            .await
            .map_err(repo)?;
        let mut preview = ReplayPreview::default();
        for row in rows {
            let bad = |column| corrupt("sync_jobs", column, row.id);
            let action = mapping::parse_action(&row.action).ok_or_else(|| bad("action"))?;
            let intent_status = serde_json::from_value::<IntentPayload>(row.payload)
                .map_err(|_| bad("payload"))?
                .status;
            let current: AppointmentStatus = mapping::parse_appointment_status(&row.current_status)
                .ok_or_else(|| corrupt("appointments", "status", row.id))?;
            let done: Vec<EffectStep> = row
                .completed_steps
                .iter()
                .filter_map(|s| mapping::parse_step(s))
                .collect();
            let calls = replay_steps(action, intent_status, current, &done).len();
            preview.jobs += 1;
            preview.estimated_ghl_calls += u32::try_from(calls).unwrap_or(u32::MAX);
        }
        Ok(preview)
    }

    async fn replay(
        &self,
        filter: &DeadJobFilter,
        priority: JobPriority,
    ) -> Result<u32, RepoError> {
        let kept: Vec<&'static str> = EffectStep::ALL
            .into_iter()
            .filter(|s| journal_kept_on_replay(*s))
            .map(mapping::step)
            .collect();
        let sql = format!(
            "WITH m AS ({MATCHING} FOR UPDATE)
             UPDATE sync_jobs j
             SET status = $9, next_attempt_at = now(), finished_at = NULL, attempts = 0,
                 priority = $10, replays = j.replays + 1, replayed_at = now(),
                 completed_steps = ARRAY(SELECT s FROM unnest(j.completed_steps) s WHERE s = ANY($11)),
                 last_error = NULL, error_class = NULL, http_status = NULL, updated_at = now()
             FROM m WHERE j.id = m.id
             RETURNING j.id"
        );
        let mut tx = self.pool.begin().await.map_err(repo)?;
        let replayed: Vec<(Uuid,)> = matching_query(&sql, filter)
            .bind(mapping::job_status(JobStatus::Pending))
            .bind(mapping::priority(priority))
            .bind(&kept)
            .fetch_all(&mut *tx)
            .await
            .map_err(repo)?;
        if let Some((first,)) = replayed.first() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(NOTIFY_CHANNEL)
                .bind(first.to_string())
                .execute(&mut *tx)
                .await
                .map_err(repo)?;
        }
        tx.commit().await.map_err(repo)?;
        Ok(u32::try_from(replayed.len()).unwrap_or(u32::MAX))
    }

    async fn discard(&self, filter: &DeadJobFilter) -> Result<u32, RepoError> {
        let sql = format!(
            "WITH m AS ({MATCHING} FOR UPDATE)
             UPDATE sync_jobs j SET discarded_at = now(), updated_at = now()
             FROM m WHERE j.id = m.id
             RETURNING j.id"
        );
        let discarded: Vec<(Uuid,)> = matching_query(&sql, filter)
            .fetch_all(&self.pool)
            .await
            .map_err(repo)?;
        Ok(u32::try_from(discarded.len()).unwrap_or(u32::MAX))
    }
}
