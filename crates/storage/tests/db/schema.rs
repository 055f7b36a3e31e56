//! The schema agrees with the domain: every value the domain can produce passes
//! the CHECK constraints, and values it cannot produce are refused.

use domain::appointment::AppointmentStatus;
use domain::intent::SyncAction;
use domain::job::{ErrorClass, JobStatus};
use domain::lead::Lifecycle;
use sqlx::{AssertSqlSafe, PgPool};
use storage::PgStore;

use crate::support::*;

/// Sets `column` of every row of `table` to `value`.
async fn set(pool: &PgPool, table: &str, column: &str, value: &str) -> Result<(), sqlx::Error> {
    let sql = format!("UPDATE {table} SET {column} = $1");
    sqlx::query(AssertSqlSafe(sql))
        .bind(value)
        .execute(pool)
        .await
        .map(|_| ())
}

async fn one_of_each_row(pool: &PgPool) {
    let store = PgStore::new(pool.clone());
    let lead = lead_in(&store, &location(), "jan@example.nl").await;
    let (_, job) = book(&store, &lead, slot(9, 11)).await;
    sqlx::query(
        "INSERT INTO sync_attempts (job_id, attempt, started_at, finished_at, outcome)
         VALUES ($1, 1, now(), now(), 'retry')",
    )
    .bind(job.as_uuid())
    .execute(pool)
    .await
    .unwrap();
    // Only the value lists are under test, not how status and lease go together.
    sqlx::query(
        "ALTER TABLE sync_jobs DROP CONSTRAINT sync_jobs_pending_is_scheduled,
                               DROP CONSTRAINT sync_jobs_running_holds_a_lease,
                               DROP CONSTRAINT sync_jobs_finished_when_final",
    )
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn every_domain_value_passes_the_schema_checks(pool: PgPool) {
    one_of_each_row(&pool).await;
    let mut columns: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "appointments",
            "status",
            AppointmentStatus::ALL.iter().map(|s| s.as_str()).collect(),
        ),
        (
            "leads",
            "lifecycle",
            [Lifecycle::Lead, Lifecycle::Customer]
                .iter()
                .map(|l| l.as_str())
                .collect(),
        ),
        (
            "sync_jobs",
            "status",
            JobStatus::ALL.iter().map(|s| s.as_str()).collect(),
        ),
        (
            "sync_jobs",
            "action",
            SyncAction::ALL.iter().map(|a| a.as_str()).collect(),
        ),
        (
            "sync_jobs",
            "error_class",
            ErrorClass::ALL.iter().map(|c| c.as_str()).collect(),
        ),
        (
            "sync_attempts",
            "error_class",
            ErrorClass::ALL.iter().map(|c| c.as_str()).collect(),
        ),
    ];
    let finished = [JobStatus::Succeeded, JobStatus::Skipped, JobStatus::Dead];
    let mut outcomes: Vec<&str> = finished.iter().map(|s| s.as_str()).collect();
    outcomes.push("retry");
    columns.push(("sync_attempts", "outcome", outcomes));

    for (table, column, values) in columns {
        for value in values {
            let stored = set(&pool, table, column, value).await;
            assert!(
                stored.is_ok(),
                "{table}.{column} refuses {value}: {stored:?}"
            );
        }
        let refused = set(&pool, table, column, "bogus").await;
        assert!(refused.is_err(), "{table}.{column} accepts anything");
    }
}
