//! The worker loop: claim due jobs up to the concurrency limit, run each in its
//! own task and span, wake on NOTIFY or a poll tick, and on shutdown stop
//! claiming, let running jobs finish within the grace period, and hand back
//! the leases of those that did not.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use domain::SyncJobId;
use domain::job::{JobOutcome, Lease, SyncJob};
use domain::ports::LeaseError;
use domain::service::{SyncDeps, run_job};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

/// How the loop is tuned.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub worker_id: String,
    pub concurrency: usize,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub shutdown_grace: Duration,
}

/// What a run did, for the closing log line (and tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunStats {
    pub finished: u64,
    pub released: u64,
}

pub struct Runner {
    deps: Arc<SyncDeps>,
    config: RunnerConfig,
    wake: Arc<Notify>,
}

impl Runner {
    /// `wake` is notified when new jobs may be due (the NOTIFY listener).
    pub fn new(deps: Arc<SyncDeps>, config: RunnerConfig, wake: Arc<Notify>) -> Self {
        Self { deps, config, wake }
    }

    /// Runs until `shutdown` turns true, then drains.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> RunStats {
        let mut stats = RunStats::default();
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut leases: HashMap<tokio::task::Id, (SyncJobId, Lease)> = HashMap::new();
        let concurrency = self.config.concurrency.max(1);
        tracing::info!(worker.id = %self.config.worker_id, concurrency, "worker started");

        // Leases are renewed at a third of their length, so that a job that
        // takes long is not taken over while this worker is alive.
        let mut renew =
            tokio::time::interval((self.config.lease / 3).max(Duration::from_millis(100)));
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !*shutdown.borrow() {
            let room = concurrency - tasks.len();
            let mut filled = false;
            if room > 0 {
                let limit = u32::try_from(room).unwrap_or(u32::MAX);
                match self
                    .deps
                    .queue
                    .claim(&self.config.worker_id, limit, self.config.lease)
                    .await
                {
                    Ok(jobs) => {
                        filled = jobs.len() == room;
                        for job in jobs {
                            let lease = job.lease;
                            let id = job.id;
                            let handle = tasks.spawn(run_one(self.deps.clone(), job));
                            if let Some(lease) = lease {
                                leases.insert(handle.id(), (id, lease));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming jobs failed; will try again"),
                }
            }
            let idle = !filled && tasks.len() < concurrency;
            tokio::select! {
                _ = shutdown.changed() => {}
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    settle(done, &mut leases, &mut stats);
                }
                _ = renew.tick() => self.renew_leases(&leases).await,
                () = self.wake.notified(), if idle => {}
                () = tokio::time::sleep(self.config.poll_interval), if idle => {}
            }
        }

        tracing::info!(
            running = tasks.len(),
            grace_s = self.config.shutdown_grace.as_secs(),
            "shutting down: no new claims"
        );
        let drained = tokio::time::timeout(self.config.shutdown_grace, async {
            while let Some(done) = tasks.join_next_with_id().await {
                settle(done, &mut leases, &mut stats);
            }
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
            while tasks.join_next_with_id().await.is_some() {}
            for (_, (job, lease)) in leases.drain() {
                match self.deps.queue.release(job, lease).await {
                    Ok(()) => stats.released += 1,
                    Err(e) => {
                        tracing::warn!(sync.job_id = %job, error = %e, "could not release a lease; it will expire")
                    }
                }
            }
        }
        tracing::info!(
            finished = stats.finished,
            released = stats.released,
            "worker stopped"
        );
        stats
    }
}

impl Runner {
    async fn renew_leases(&self, leases: &HashMap<tokio::task::Id, (SyncJobId, Lease)>) {
        for (job, lease) in leases.values() {
            if let Err(e) = self.deps.queue.renew(*job, *lease, self.config.lease).await {
                tracing::warn!(sync.job_id = %job, error = %e, "could not renew a lease");
            }
        }
    }
}

fn settle(
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    leases: &mut HashMap<tokio::task::Id, (SyncJobId, Lease)>,
    stats: &mut RunStats,
) {
    match done {
        Ok((id, ())) => {
            leases.remove(&id);
            stats.finished += 1;
        }
        Err(e) => {
            // A panicking job keeps its lease entry out: the lease expires and the job is retried.
            leases.remove(&e.id());
            tracing::error!(error = %e, "a job task failed");
        }
    }
}

/// The `sync.job` span of a job: its ids and action, continuing the trace of
/// the request that caused it (its stored `traceparent`).
pub fn job_span(job: &SyncJob) -> tracing::Span {
    let span = tracing::info_span!(
        "sync.job",
        sync.job_id = %job.id,
        appointment.id = %job.appointment_id,
        sync.action = %job.action,
        sync.attempt = job.attempts,
        ghl.location_id = %job.location_id,
        otel.kind = "consumer",
    );
    // Continue the trace of the request that caused the job.
    if let Some(parent) = &job.traceparent {
        otel::set_parent(&span, parent);
    }
    span
}

async fn run_one(deps: Arc<SyncDeps>, job: SyncJob) {
    let span = job_span(&job);
    async move {
        let queued_ms = (deps.clock.now() - job.created_at).num_milliseconds();
        tracing::info!(queued_ms, "job started");
        let (action, created_at) = (job.action, job.created_at);
        let job_info = crate::alerts::DeadJobInfo::from(&job);
        let result = run_job(&deps, job, rand::random::<f64>()).await;
        if let Ok(outcome) = &result {
            ghl_adapter::metered::record_job_outcome(action, created_at, outcome, "worker");
            if let JobOutcome::Dead { error, .. } = outcome {
                crate::alerts::dead_lettered(&job_info, error);
            }
        }
        match result {
            Ok(JobOutcome::Succeeded(report)) => tracing::info!(
                ghl.calls = report.ghl_calls,
                note = report.notes_created,
                task = report.task_created,
                in_doubt.lookups = report.in_doubt_lookups,
                in_doubt.found = report.in_doubt_found,
                coalesced.jobs = report.coalesced_jobs,
                coalesced.calls_saved = report.calls_saved,
                "job succeeded"
            ),
            Ok(JobOutcome::Skipped { reason }) => tracing::info!(reason = %reason, "job skipped"),
            Ok(JobOutcome::RetryAt { at, error, ghl_calls }) => tracing::warn!(
                error.class = %error.class,
                ghl.status = error.status,
                error = %error.message,
                ghl.calls = ghl_calls,
                retry_at = %at,
                "job failed; will retry"
            ),
            Ok(JobOutcome::Dead { error, ghl_calls }) => tracing::error!(
                error.class = %error.class,
                ghl.status = error.status,
                error = %error.message,
                ghl.calls = ghl_calls,
                "job dead-lettered"
            ),
            Err(LeaseError::Lost) => tracing::warn!("lease lost: another worker took the job over; nothing recorded"),
            Err(LeaseError::Repo(e)) => {
                tracing::error!(error = %e, "could not record the job's outcome; its lease will expire and it will run again")
            }
        }
    }
    .instrument(span)
    .await;
}
