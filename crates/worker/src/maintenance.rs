//! Housekeeping next to the job loop: pruning old succeeded and skipped jobs
//! (`SYNC_RETENTION_DAYS`) at start-up and then every [`PRUNE_EVERY`]. Every
//! worker process does it; the batched deletes skip rows another process is
//! deleting, so running it twice at once costs nothing.

use std::time::Duration;

/// How often the outbox is pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Jobs deleted per statement.
pub const PRUNE_BATCH: u32 = 500;

/// Prunes now and then every `every`, forever (abort the task to stop).
pub async fn prune_periodically(pool: storage::PgPool, retention_days: u32, every: Duration) {
    let older_than = chrono::Duration::days(i64::from(retention_days));
    loop {
        match storage::prune_finished(&pool, older_than, PRUNE_BATCH).await {
            Ok(pruned) if pruned.jobs > 0 => tracing::info!(
                jobs = pruned.jobs,
                attempts = pruned.attempts,
                retention_days,
                "pruned old finished sync jobs"
            ),
            Ok(_) => tracing::debug!("nothing to prune"),
            Err(e) => tracing::warn!(error = %e, "pruning old sync jobs failed; will try again"),
        }
        tokio::time::sleep(every).await;
    }
}
