//! Coalescing at claim time (see `domain::coalesce` for the merge itself).
//!
//! When a job is claimed and none of its contact-update steps is journaled yet,
//! the later pending jobs of its appointment that have not started (never
//! claimed, nothing attempted, not replayed) are folded into it: they get
//! `coalesced_into = <job>` and are no longer claimable. Only a contiguous run
//! is folded: a job is not folded past an open job that cannot be. Every claim
//! of the job (also after a crash) loads the jobs folded into it, so a rescued
//! run plans exactly what the first one did. `finish` hands the job's final
//! status to them (succeeded, skipped), or unfolds them when it died, so that
//! they run on their own as they would have without coalescing.

use domain::ids::SyncJobId;
use domain::intent::IntentPayload;
use domain::job::{FoldedJob, JobStatus, Lease};
use domain::plan::EffectStep;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::PgStore;
use crate::mapping;

/// A job that has not started: the only kind that may be folded.
const NOT_STARTED: &str = "(x.status = $3 AND x.coalesced_into IS NULL AND x.attempts = 0
      AND x.replays = 0 AND cardinality(x.completed_steps) = 0
      AND cardinality(x.attempted_steps) = 0)";

/// $1 head, $2 lease token, $3 pending, $4 running, $5 contact steps, $6 open statuses.
fn fold_sql() -> String {
    let f = NOT_STARTED.replace("x.", "f.");
    let b = NOT_STARTED.replace("x.", "b.");
    format!(
        "UPDATE sync_jobs f SET coalesced_into = h.id, updated_at = now()
         FROM sync_jobs h
         WHERE h.id = $1 AND h.lease_token = $2 AND h.status = $4
           AND NOT (h.completed_steps && $5::text[])
           AND f.appointment_id = h.appointment_id AND f.seq > h.seq AND {f}
           AND NOT EXISTS (
               SELECT 1 FROM sync_jobs b
               WHERE b.appointment_id = h.appointment_id AND b.seq > h.seq AND b.seq < f.seq
                 AND b.status = ANY($6) AND b.coalesced_into IS DISTINCT FROM h.id
                 AND NOT {b})"
    )
}

#[derive(sqlx::FromRow)]
struct FoldedRow {
    id: Uuid,
    action: String,
    payload: serde_json::Value,
    completed_steps: Vec<String>,
    attempted_steps: Vec<String>,
}

impl FoldedRow {
    fn into_domain(self) -> Result<FoldedJob, &'static str> {
        let steps = |names: &[String], column| {
            names
                .iter()
                .map(|s| mapping::parse_step(s))
                .collect::<Option<Vec<_>>>()
                .ok_or(column)
        };
        Ok(FoldedJob {
            id: SyncJobId::from_uuid(self.id),
            action: mapping::parse_action(&self.action).ok_or("action")?,
            payload: serde_json::from_value::<IntentPayload>(self.payload)
                .map_err(|_| "payload")?,
            completed_steps: steps(&self.completed_steps, "completed_steps")?,
            attempted_steps: steps(&self.attempted_steps, "attempted_steps")?,
        })
    }
}

impl PgStore {
    /// Folds what may be folded into the claimed `head` (when coalescing is on)
    /// and returns every job folded into it, oldest first.
    pub(crate) async fn folded_into(
        &self,
        head: SyncJobId,
        lease: Lease,
    ) -> Result<Vec<FoldedJob>, String> {
        if self.coalesce {
            let contact: Vec<&str> = EffectStep::ALL
                .into_iter()
                .filter(|s| !s.creates_a_record())
                .map(mapping::step)
                .collect();
            sqlx::query(sqlx::AssertSqlSafe(fold_sql()))
                .bind(head.as_uuid())
                .bind(lease.token)
                .bind(mapping::job_status(JobStatus::Pending))
                .bind(mapping::job_status(JobStatus::Running))
                .bind(&contact)
                .bind(mapping::open_job_statuses())
                .execute(&self.pool)
                .await
                .map_err(|e| crate::error::repo(e).to_string())?;
        }
        let rows: Vec<FoldedRow> = sqlx::query_as(
            "SELECT id, action, payload, completed_steps, attempted_steps
             FROM sync_jobs WHERE coalesced_into = $1 AND status = $2 ORDER BY seq",
        )
        .bind(head.as_uuid())
        .bind(mapping::job_status(JobStatus::Pending))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| crate::error::repo(e).to_string())?;
        rows.into_iter()
            .map(|r| r.into_domain().map_err(str::to_owned))
            .collect()
    }
}

/// In `finish`'s transaction: the folded jobs take the head's final status, or
/// are unfolded (pending on their own, due now) when the head died. Nothing
/// happens while the head waits for a retry.
pub(crate) async fn settle_folded(
    conn: &mut PgConnection,
    head: SyncJobId,
    status: JobStatus,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    match status {
        JobStatus::Succeeded | JobStatus::Skipped => {
            sqlx::query(
                "UPDATE sync_jobs SET status = $2, next_attempt_at = NULL, finished_at = now(),
                     last_error = $3, error_class = NULL, http_status = NULL, updated_at = now()
                 WHERE coalesced_into = $1 AND status = $4",
            )
            .bind(head.as_uuid())
            .bind(mapping::job_status(status))
            .bind(reason)
            .bind(mapping::job_status(JobStatus::Pending))
            .execute(&mut *conn)
            .await?;
        }
        JobStatus::Dead => {
            sqlx::query(
                "UPDATE sync_jobs SET coalesced_into = NULL, next_attempt_at = now(), updated_at = now()
                 WHERE coalesced_into = $1 AND status = $2",
            )
            .bind(head.as_uuid())
            .bind(mapping::job_status(JobStatus::Pending))
            .execute(&mut *conn)
            .await?;
        }
        JobStatus::Pending | JobStatus::Running => {}
    }
    Ok(())
}
