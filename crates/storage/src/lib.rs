//! PostgreSQL adapters for the domain's repository and outbox ports. Owns the
//! migrations (`crates/storage/migrations`, embedded in [`MIGRATOR`]).
//!
//! All queries are runtime queries (no checked macros): building never needs a
//! database.
//!
//! Table of contents:
//! - [`PgStore`]: one handle over a `PgPool` implementing the three ports:
//!   `LeadRepository` (`leads`), `AppointmentRepository` (`appointments`, with
//!   the write transactions in `booking`), and `SyncQueue` (`queue`, decoding in
//!   `jobs`). Sync jobs are written by `outbox`.
//! - `inbox`: `WebhookInbox`, the GHL webhook inbox and the inbound rules' writes.
//! - `dead_letters`: `DeadLetters` (list, preview, replay, discard dead jobs).
//! - `coalesce`: folding later pending jobs into a claimed one (coalescing).
//! - [`pool`]: connecting, migrating, readiness ping, a `LISTEN` helper.
//! - [`retention`]: pruning old succeeded and skipped jobs and their attempts.
//! - [`depth`]: queue depth per status, for the worker and the monitor.
//! - `direct_sync`: `DirectSync` (claiming one appointment's next job for
//!   `POST /sync`, and the stored answers of those requests); `stats`:
//!   `SyncStats` (the monitor's figures).
//! - [`rate_limit`]: [`PgRateLimiter`], GHL's request budget per location shared by
//!   every worker (`rate_limit_buckets`, the `rate_limit_acquire` function).
//! - `mapping`: the only place where statuses and other enumerations meet the
//!   strings stored in the database.
//! - `error`: sqlx errors mapped to the domain's `RepoError`, without row contents.
//!
//! Locks taken (PostgreSQL advisory transaction locks, released at commit):
//! - `pg_advisory_xact_lock(hashtext(location_id))`: capacity checks of a location
//!   (booking, rescheduling), so two bookings cannot both pass the check.
//! - `pg_advisory_xact_lock(1, hashtext(location_id))` (the two-key space, which
//!   never collides with the one-key space): lead resolution of a location, so
//!   two bookings of the same new person cannot create two leads.

mod appointments;
pub mod auth_pause;
mod booking;
pub mod budget;
mod calendar_links;
mod coalesce;
mod dead_letters;
pub mod depth;
mod direct_sync;
mod error;
mod inbox;
mod jobs;
mod leads;
mod mapping;
pub mod oauth;
mod outbox;
pub mod pool;
mod queue;
pub mod rate_limit;
pub mod retention;
mod stats;

use sqlx::migrate::Migrator;

pub use auth_pause::{AuthPause, auth_paused_locations};
pub use depth::{QueueDepth, queue_depth};
pub use oauth::PgTokenSource;
pub use pool::{StorageError, connect, listener, migrate, ping};
pub use rate_limit::{BucketState, PgRateLimiter};
pub use retention::{Pruned, prune_finished};
/// Re-exported so that the binaries need no sqlx dependency of their own.
pub use sqlx::PgPool;
pub use sqlx::postgres::PgListener;

/// The schema, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The `LISTEN`/`NOTIFY` channel on which every new sync job's id is announced
/// when its transaction commits.
pub const NOTIFY_CHANNEL: &str = "sync_jobs";

/// How long an idempotency key is honoured after the request that stored it.
pub const IDEMPOTENCY_TTL: chrono::Duration = chrono::Duration::hours(24);

/// The PostgreSQL implementation of `LeadRepository`, `AppointmentRepository`
/// and `SyncQueue`. Cheap to clone (the pool is shared); hold it as
/// `Arc<PgStore>` and hand it out as `Arc<dyn Port>`.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Fold not-started later jobs of an appointment into a claimed one (`coalesce`).
    coalesce: bool,
}

impl PgStore {
    /// A store; coalescing is off until [`PgStore::with_coalescing`] turns it on
    /// (the worker does, per `SYNC_COALESCE`).
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            coalesce: false,
        }
    }

    /// Turns coalescing of pending jobs at claim time on or off (`SYNC_COALESCE`).
    pub fn with_coalescing(mut self, on: bool) -> Self {
        self.coalesce = on;
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
